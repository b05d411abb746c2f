// The parent side of the far-upstream scenarios: starts the far upstream (one lane per target,
// far-upstream.ts) and the targets on their lanes — direct, the bare pipe on an https.Agent (bundled
// into .bench/ as setup.ts does for the others, so no reference under test pays for tsx's loader),
// lm-proxy as built — and reads a process's CPU time from /proc. Proxies trust the test CA through
// NODE_EXTRA_CA_CERTS, as tests/e2e/https-upstream.test.ts does.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { READY_PREFIX, relaysFlags, upstreamsFlags, type ReadyLine, type RelayStats, type UpstreamStats, type UpstreamsArgs } from './far-upstream.ts';
import { freePort, sleep, startChild, waitForPort, type Child } from './processes.ts';
import { ROOT, type BenchEnv } from './setup.ts';
import { proxyCommand } from './targets.ts';
import { TEST_CA_PATH, TEST_CERT_HOST, TEST_TLS_DIR } from './tls-upstream.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));

/**
 * Where the children's stdout goes: a folder of its own, because setup.ts clears stdout-*.log from
 * .bench/ when any bench run starts, and another run may start while this one is going.
 */
function stdoutPath(env: BenchEnv, name: string): string {
  const dir = join(env.benchDir, 'far');
  mkdirSync(dir, { recursive: true });
  return join(dir, `${name.replaceAll(/[^a-z0-9]+/g, '-')}-${process.pid}-${Math.round(performance.now() * 1000)}.log`);
}

export type FarTargetName = 'direct' | 'bare pipe' | 'lm-proxy';

export interface FarScripts {
  readonly farUpstream: string;
  readonly barePipeHttps: string;
}

export async function bundleFarScripts(benchDir: string): Promise<FarScripts> {
  await esbuild.build({
    entryPoints: [join(HERE, 'bare-pipe-https-proxy.ts')],
    outdir: benchDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'silent',
  });
  // The far upstream runs from source under tsx: it is not under test, and a bundle of it would also
  // run upstream.ts's own main (in one bundle every module has the bundle's import.meta.url).
  return { farUpstream: join(HERE, 'far-upstream.ts'), barePipeHttps: join(benchDir, 'bare-pipe-https-proxy.mjs') };
}

export interface LaneStats {
  /** Connections the lane's relay accepted: new upstream connections (TCP, and TLS unless plain). */
  readonly accepted: number;
  /** TLS handshakes the lane's upstream completed, and how many resumed a session. */
  readonly handshakes: number;
  readonly resumed: number;
}

export interface FarUpstreamSpec extends Omit<UpstreamsArgs, 'tlsDir'> {
  readonly delayMs: number;
}

export interface FarUpstream {
  /** Per lane, the origin of its relay, by the certificate's name (what proxies are given). */
  readonly origins: readonly string[];
  /** The same by address, for this process's own clients (no name lookup per connection). */
  readonly directOrigins: readonly string[];
  stats(): Promise<LaneStats[]>;
  stop(): Promise<void>;
}

interface ReadyChild {
  readonly child: Child;
  readonly ready: ReadyLine;
  stats(): Promise<unknown>;
  stop(): Promise<void>;
}

/** Starts far-upstream.ts in one role on the load CPU; resolves once it printed its ports. */
async function startRole(env: BenchEnv, script: string, flags: readonly string[]): Promise<ReadyChild> {
  const stdoutFile = stdoutPath(env, flags[0] ?? 'upstream');
  const child = startChild(`far ${flags[0] ?? ''}`, process.execPath, ['--import', 'tsx', script, ...flags], { cpu: env.loadCpu, stdoutFile, cwd: ROOT });
  const stop = async (): Promise<void> => {
    await child.stop();
    rmSync(stdoutFile, { force: true });
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    const line = readFileSync(stdoutFile, 'utf8').split('\n').find((l) => l.startsWith(READY_PREFIX));
    if (line) {
      const ready = JSON.parse(line.slice(READY_PREFIX.length)) as ReadyLine;
      return { child, ready, stop, stats: async () => (await fetch(`http://127.0.0.1:${ready.statsPort}/`)).json() };
    }
    if (child.exited() || Date.now() > deadline) {
      const tail = child.tail();
      await stop();
      throw new Error(`far-upstream ${flags[0] ?? ''} did not start:\n${tail}`);
    }
    await sleep(10);
  }
}

/** Starts the lanes' upstreams and, in a process of its own, their relays. */
export async function startFarUpstream(env: BenchEnv, scripts: FarScripts, spec: FarUpstreamSpec): Promise<FarUpstream> {
  const upstreams = await startRole(env, scripts.farUpstream, upstreamsFlags({ ...spec, tlsDir: TEST_TLS_DIR }));
  let relays: ReadyChild;
  try {
    relays = await startRole(env, scripts.farUpstream, relaysFlags({ to: upstreams.ready.ports, delayMs: spec.delayMs }));
  } catch (error) {
    await upstreams.stop();
    throw error;
  }
  const scheme = spec.tls ? 'https' : 'http';
  return {
    origins: relays.ready.ports.map((port) => `${scheme}://${TEST_CERT_HOST}:${port}`),
    directOrigins: relays.ready.ports.map((port) => `${scheme}://127.0.0.1:${port}`),
    async stats() {
      const [up, relay] = (await Promise.all([upstreams.stats(), relays.stats()])) as [UpstreamStats[], RelayStats[]];
      return relay.map((r, lane) => ({ accepted: r.accepted, handshakes: up[lane]?.handshakes ?? Number.NaN, resumed: up[lane]?.resumed ?? Number.NaN }));
    },
    async stop() {
      await Promise.all([relays.stop(), upstreams.stop()]);
    },
  };
}

export interface FarTarget {
  readonly name: FarTargetName;
  /** Where clients send: the lane itself for direct, the proxy otherwise. */
  readonly origin: string;
  /** The proxy's process, null for direct. */
  readonly child: Child | null;
  stop(): Promise<void>;
}

/** Starts `name` on `lane` of `far`; proxies run pinned to the proxy CPU. */
export async function startFarTarget(env: BenchEnv, scripts: FarScripts, name: FarTargetName, far: FarUpstream, lane: number): Promise<FarTarget> {
  if (name === 'direct') return { name, origin: far.directOrigins[lane] ?? '', child: null, stop: async () => {} };
  const laneOrigin = far.origins[lane] ?? '';
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const trust = { NODE_EXTRA_CA_CERTS: TEST_CA_PATH };
  const command =
    name === 'lm-proxy'
      ? proxyCommand(env, 'lm-proxy', laneOrigin, listen)
      : { cmd: process.execPath, args: [scripts.barePipeHttps, '--upstream', laneOrigin, '--listen', listen], env: process.env };
  const stdoutFile = stdoutPath(env, name);
  const child = startChild(name, command.cmd, command.args, { cpu: env.proxyCpu, env: { ...command.env, ...trust }, stdoutFile, countLines: '[USAGE]' });
  try {
    await waitForPort(port, 10_000, 5, child);
  } catch (error) {
    await child.stop();
    rmSync(stdoutFile, { force: true });
    throw error;
  }
  return {
    name,
    origin: `http://${listen}`,
    child,
    async stop() {
      await child.stop();
      rmSync(stdoutFile, { force: true });
    },
  };
}

let ticksPerSecond: number | null = null;

/** User + system CPU time of a process (all its threads) so far, in seconds; NaN when unreadable. */
export function procCpuSeconds(pid: number): number {
  try {
    ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces: state is field 3,
    // utime field 14 and stime field 15 (proc(5)).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return Number.NaN;
  }
}

/** Busy and total clock ticks of each CPU so far ("0", "1", …), from /proc/stat; empty where unreadable. */
export function cpuTicks(): Map<string, { busy: number; total: number }> {
  const ticks = new Map<string, { busy: number; total: number }>();
  try {
    for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
      const match = /^cpu(\d+)\s+(.*)$/.exec(line);
      if (!match?.[1] || match[2] === undefined) continue;
      const fields = match[2].trim().split(/\s+/).map(Number);
      const total = fields.reduce((sum, v) => sum + v, 0);
      ticks.set(match[1], { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0), total }); // less idle and iowait
    }
  } catch {
    // not Linux: no figures
  }
  return ticks;
}

/** Share (0-1) of the listed CPUs ("0", "1-3", "0,2") busy between two cpuTicks(); NaN when unknown. */
export function busyShare(before: Map<string, { busy: number; total: number }>, after: Map<string, { busy: number; total: number }>, cpuList: string | null): number {
  if (cpuList === null) return Number.NaN;
  let busy = 0;
  let total = 0;
  for (const part of cpuList.split(',')) {
    const [from, to] = part.split('-').map(Number);
    for (let cpu = from ?? 0; cpu <= (to ?? from ?? 0); cpu++) {
      const a = before.get(String(cpu));
      const b = after.get(String(cpu));
      if (!a || !b) return Number.NaN;
      busy += b.busy - a.busy;
      total += b.total - a.total;
    }
  }
  return total > 0 ? busy / total : Number.NaN;
}
