// The proxy under soak: dist/lm-proxy.cjs (rebuilt first when src/ is newer, scripts/build.ts),
// run as shipped with scripts/soak/probe.cjs preloaded, on a free loopback port with a ledger.
// Its stdout is read line by line and counted, never kept: `[USAGE]` lines go into a tally
// (usage-tally.ts), other lines are counted by level. It is stopped by its own PID only.

import { spawn } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { BUNDLE_PATH, ROOT } from '../build.ts';
import { cleanEnv, freePort } from '../proxy-harness.ts';
import { createTally, tallyUsageLine, type UsageTally } from './usage-tally.ts';

const PROBE_PATH = fileURLToPath(new URL('./probe.cjs', import.meta.url));
const START_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 10_000;
const STDERR_KEPT = 4_000;

export interface ProbeSample {
  /** performance.now() in the soak when the line arrived. */
  readonly at: number;
  readonly handles: number;
  readonly byType: Readonly<Record<string, number>>;
  readonly heapUsed: number;
}

export interface SoakProxy {
  readonly pid: number;
  readonly origin: string;
  readonly usage: UsageTally;
  /** stdout lines that are not usage lines, by their `[LEVEL]`. */
  readonly otherLines: Map<string, number>;
  /** The first few stdout lines that are neither usage nor info. */
  readonly oddLines: string[];
  stderr(): string;
  latestProbe(): ProbeSample | null;
  exited(): boolean;
  /** SIGTERM (SPEC §2's graceful shutdown), SIGKILL after a grace period; the exit code, null if killed. */
  stop(): Promise<number | null>;
  /** SIGKILL at once, for the soak's exit hooks. */
  kill(): void;
}

async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, (await stat(join(entry.parentPath, entry.name))).mtimeMs);
  }
  return newest;
}

/** Builds dist/lm-proxy.cjs when it is missing or older than src/ or package.json; says which. */
export async function ensureBundle(): Promise<'up to date' | 'rebuilt'> {
  const bundle = await stat(BUNDLE_PATH).catch(() => null);
  const sources = Math.max(await newestMtime(join(ROOT, 'src')), (await stat(join(ROOT, 'package.json'))).mtimeMs);
  if (bundle !== null && bundle.mtimeMs >= sources) return 'up to date';
  // esbuild is loaded only when a build is due.
  const { buildBundle } = await import('../build.ts');
  await buildBundle();
  return 'rebuilt';
}

const SOAK_UPSTREAM_IDLE_MS = 4_000;

export async function startSoakProxy(options: { upstream: string; ledger: string; requests: number; probeMs: number }): Promise<SoakProxy> {
  const port = await freePort();
  const args = ['--require', PROBE_PATH, BUNDLE_PATH, '--upstream', `${options.upstream}/v1`, '--listen', `127.0.0.1:${port}`, '--usage-log', options.ledger];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    // UPSTREAM_IDLE_MS well inside the soak's settle wait, so the check that the pool empties
    // after the load sees the proxy retire every idle upstream socket itself.
    env: cleanEnv({ SOAK_PROBE_MS: String(options.probeMs), UPSTREAM_IDLE_MS: String(SOAK_UPSTREAM_IDLE_MS) }),
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  const [, stdout, stderr, probeStream] = child.stdio;
  if (child.pid === undefined || stdout === null || stderr === null || !(probeStream instanceof Readable)) {
    throw new Error('could not start the proxy');
  }
  const pid = child.pid;
  const usage = createTally(options.requests);
  const otherLines = new Map<string, number>();
  const oddLines: string[] = [];
  let stderrText = '';
  let listening: (() => void) | null = null;
  let exitCode: number | null = null;
  let hasExited = false;
  let probe: ProbeSample | null = null;

  forEachLine(stdout, (line) => {
    if (line.startsWith('[USAGE] ')) {
      tallyUsageLine(usage, line);
      return;
    }
    const level = /^\[([A-Z]+)\]/.exec(line)?.[1] ?? 'unlabelled';
    otherLines.set(level, (otherLines.get(level) ?? 0) + 1);
    if (level !== 'INFO' && oddLines.length < 10) oddLines.push(line);
    if (line.startsWith('[INFO] Listening on ')) listening?.();
  });
  stderr.setEncoding('utf8').on('data', (text: string) => {
    stderrText = (stderrText + text).slice(-STDERR_KEPT);
  });
  forEachLine(probeStream, (line) => {
    try {
      const sample = JSON.parse(line) as Omit<ProbeSample, 'at'>;
      probe = { at: performance.now(), handles: sample.handles, byType: sample.byType, heapUsed: sample.heapUsed };
    } catch {
      // a torn sample: the next one follows within probeMs
    }
  });
  const exit = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      hasExited = true;
      exitCode = code;
      resolve(code);
    });
  });

  const proxy: SoakProxy = {
    pid,
    origin: `http://127.0.0.1:${port}`,
    usage,
    otherLines,
    oddLines,
    stderr: () => stderrText,
    latestProbe: () => probe,
    exited: () => hasExited,
    async stop() {
      if (hasExited) return exitCode;
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => proxy.kill(), STOP_GRACE_MS);
      const code = await exit;
      clearTimeout(timer);
      return code;
    },
    kill() {
      if (hasExited) return;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    },
  };

  const started = await Promise.race([
    new Promise<boolean>((resolve) => (listening = () => resolve(true))),
    exit.then(() => false),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), START_TIMEOUT_MS).unref()),
  ]);
  if (!started) {
    proxy.kill();
    throw new Error(`the proxy did not start listening within ${START_TIMEOUT_MS} ms\n${stderrText}`);
  }
  return proxy;
}

/** Calls back with each whole line of a text stream; a partial line waits for its end. */
function forEachLine(stream: Readable, onLine: (line: string) => void): void {
  let carry = '';
  stream.setEncoding('utf8');
  stream.on('data', (text: string) => {
    const lines = (carry + text).split('\n');
    carry = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
}
