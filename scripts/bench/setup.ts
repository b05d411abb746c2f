// Prepares a bench run: finds the tools (taskset, wrk, nginx), chooses the CPUs, bundles the bench's
// own child scripts into .bench/, builds lm-proxy from the tree when dist/ is missing or stale, and
// installs http-proxy into .bench/ (never into the project). Every fallback is written into `notes`.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { cpuBusyShare, hasCommand, runToEnd } from './processes.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BENCH_DIR = join(ROOT, '.bench');
const HERE = join(ROOT, 'scripts', 'bench');

export interface BenchEnv {
  readonly benchDir: string;
  /** taskset CPU list for the proxy under test, and for everything else (load, upstream, this process). */
  readonly proxyCpu: string | null;
  readonly loadCpu: string | null;
  readonly wrk: boolean;
  readonly nginx: boolean;
  readonly scripts: { readonly barePipe: string; readonly upstream: string; readonly loadNode: string; readonly httpProxyPeer: string | null };
  readonly lmProxyBundle: string | null;
  readonly lmProxySea: string | null;
  /** Where lm-proxy writes V8 CPU profiles (`--cpu-prof`), or null. */
  readonly cpuProfDir: string | null;
  readonly notes: string[];
}

export interface SetupOptions {
  readonly lmProxyOverride: string | null;
  readonly wantSea: boolean;
  readonly httpProxy: boolean;
  readonly cpuProf: boolean;
  readonly log: (line: string) => void;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function isStale(artifact: string): boolean {
  if (!existsSync(artifact)) return true;
  const src = join(ROOT, 'src');
  return existsSync(src) && newestMtime(src) > statSync(artifact).mtimeMs;
}

function chooseCpus(notes: string[]): { proxyCpu: string | null; loadCpu: string | null } {
  const cpus = availableParallelism();
  if (!hasCommand('taskset')) {
    notes.push(`taskset not found: nothing is pinned (${cpus} CPUs shared by proxy, load and upstream).`);
    return { proxyCpu: null, loadCpu: null };
  }
  if (cpus < 2) {
    notes.push('1 CPU: nothing is pinned; proxy, load and upstream share it.');
    return { proxyCpu: null, loadCpu: null };
  }
  const loadCpu = cpus === 2 ? '1' : `1-${cpus - 1}`;
  // This process (SSE and body clients) and every child it starts inherit the load CPUs;
  // only the proxy under test is started on CPU 0.
  execFileSync('taskset', ['-a', '-p', '-c', loadCpu, String(process.pid)], { stdio: 'ignore' });
  notes.push(`${cpus} CPUs: the proxy under test is pinned to CPU 0 (taskset -c 0); load generators, upstreams and this runner to CPU ${loadCpu}.`);
  return { proxyCpu: '0', loadCpu };
}

async function bundleScripts(benchDir: string, httpProxy: boolean): Promise<BenchEnv['scripts']> {
  // Bundled like lm-proxy's own dist file, so that no reference pays for tsx's loader at run time.
  const out = (name: string): string => join(benchDir, `${name}.mjs`);
  const entries = ['bare-pipe-proxy', 'upstream', 'load-node', 'http-proxy-peer'];
  await esbuild.build({
    entryPoints: entries.map((name) => join(HERE, `${name}.ts`)),
    outdir: benchDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['http-proxy'],
    logLevel: 'silent',
  });
  const peerInstalled = httpProxy && existsSync(join(benchDir, 'node_modules', 'http-proxy'));
  return { barePipe: out('bare-pipe-proxy'), upstream: out('upstream'), loadNode: out('load-node'), httpProxyPeer: peerInstalled ? out('http-proxy-peer') : null };
}

async function installHttpProxy(benchDir: string, log: (line: string) => void, notes: string[]): Promise<void> {
  if (existsSync(join(benchDir, 'node_modules', 'http-proxy'))) return;
  log('installing http-proxy into .bench/ (npm i --no-save; not a project dependency)…');
  // A package.json of its own keeps npm from walking up to the project's.
  writeFileSync(join(benchDir, 'package.json'), '{"private":true,"description":"lm-proxy bench scratch"}\n');
  const result = await runToEnd('npm', ['i', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--prefix', benchDir, 'http-proxy@1'], 120_000);
  if (result.code !== 0) notes.push(`http-proxy could not be installed (npm exit ${result.code}); its rows are skipped.`);
}

async function ensureBuilt(script: 'build' | 'sea', artifact: string, log: (line: string) => void, notes: string[]): Promise<string | null> {
  if (existsSync(join(ROOT, 'scripts', `${script}.ts`)) && isStale(artifact)) {
    log(`npm run ${script} (${artifact.replace(ROOT, '')} missing or older than src/)…`);
    const result = await runToEnd('npm', ['run', script], 300_000);
    if (result.code !== 0) notes.push(`npm run ${script} failed (exit ${result.code}): ${result.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
  return existsSync(artifact) ? artifact : null;
}

export async function setup(options: SetupOptions): Promise<BenchEnv> {
  const notes: string[] = [];
  mkdirSync(BENCH_DIR, { recursive: true });
  // Proxy stdout files left by an interrupted run (a normal run removes its own).
  for (const name of readdirSync(BENCH_DIR)) if (/^stdout-.*\.log$/.test(name)) rmSync(join(BENCH_DIR, name), { force: true });
  // Other work on the machine shifts every figure; ratios within one run soften that but do not cancel it.
  const busy = await cpuBusyShare(1000);
  if (busy !== null && busy > 0.1) notes.push(`WARNING: other processes kept the CPUs ${Math.round(busy * 100)}% busy just before the run; figures are unreliable.`);
  const { proxyCpu, loadCpu } = chooseCpus(notes);
  const wrk = hasCommand('wrk');
  if (!wrk) notes.push('wrk not found: scenarios 1-2 use the Node load generator (scripts/bench/load-node.ts), which saturates sooner.');
  const nginx = hasCommand('nginx');
  if (!nginx) notes.push('nginx not found: the Node upstream serves the small JSON too, and may limit scenarios 1-2.');
  if (options.httpProxy) await installHttpProxy(BENCH_DIR, options.log, notes);
  else notes.push('http-proxy skipped (--no-http-proxy).');
  const scripts = await bundleScripts(BENCH_DIR, options.httpProxy);

  let lmProxyBundle: string | null;
  if (options.lmProxyOverride) {
    lmProxyBundle = options.lmProxyOverride;
    notes.push(`lm-proxy row runs ${options.lmProxyOverride} (--lm-proxy), not dist/lm-proxy.cjs.`);
  } else {
    lmProxyBundle = await ensureBuilt('build', join(ROOT, 'dist', 'lm-proxy.cjs'), options.log, notes);
    if (!lmProxyBundle) notes.push('dist/lm-proxy.cjs is missing and could not be built: lm-proxy rows are skipped.');
  }
  const lmProxySea = options.wantSea && !options.lmProxyOverride ? await ensureBuilt('sea', join(ROOT, 'dist', 'lm-proxy'), options.log, notes) : null;
  if (options.wantSea && !lmProxySea && !options.lmProxyOverride) notes.push('dist/lm-proxy (single executable) is missing: its start-up row is skipped.');
  const cpuProfDir = options.cpuProf ? join(BENCH_DIR, 'cpu-prof') : null;
  if (cpuProfDir) {
    mkdirSync(cpuProfDir, { recursive: true });
    notes.push('lm-proxy runs with node --cpu-prof (one .cpuprofile per process in .bench/cpu-prof/); profiling slows it down.');
  }
  return { benchDir: BENCH_DIR, proxyCpu, loadCpu, wrk, nginx, scripts, lmProxyBundle, lmProxySea, cpuProfDir, notes };
}

/** What every scenario receives. */
export interface BenchContext {
  readonly env: BenchEnv;
  readonly quick: boolean;
  /** Rounds per scenario (targets alternate within each round); figures are medians of rounds. */
  readonly rounds: number;
  readonly log: (line: string) => void;
}
