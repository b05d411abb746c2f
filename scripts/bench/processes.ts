// Child processes of the benchmark: spawn (optionally pinned to a CPU with taskset), wait until a
// port accepts connections, read a process's memory from /proc, and stop everything on exit.
// It only ever signals the PIDs it spawned itself — never a process found by name.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { createServer, connect } from 'node:net';

export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly proc: ChildProcess;
  /** stdout+stderr tail, for error messages. */
  tail(): string;
  /** Lines of the stdout file that started with `SpawnOptions.countLines` so far (the `[USAGE]` count). */
  countedLines(): number;
  exited(): boolean;
  stop(): Promise<void>;
}

const running = new Set<Child>();
let hooksInstalled = false;

/** Kills what is still running when the bench exits, whether it ends well, throws or is interrupted. */
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      killAllNow();
      process.exit(130);
    });
  }
}

export function killAllNow(): void {
  for (const child of running) {
    if (!child.exited()) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  running.clear();
}

export interface SpawnOptions {
  readonly cpu?: string | null;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /**
   * Send stdout to this file instead of a pipe, and count its lines starting with `countLines`.
   * A file never pushes back: with a pipe, a reader slowed by the load on its CPU would block the
   * proxy's synchronous stdout writes and the bench would measure its own reader.
   */
  readonly stdoutFile?: string;
  readonly countLines?: string;
}

/** Counts lines starting with `prefix` in a file that another process appends to. */
function fileLineCounter(path: string, prefix: string): { count(): number; tail(): string } {
  let offset = 0;
  let carry = '';
  let counted = 0;
  const buffer = Buffer.allocUnsafe(1 << 20);
  return {
    count() {
      const fd = openSync(path, 'r');
      try {
        for (;;) {
          const n = readSync(fd, buffer, 0, buffer.length, offset);
          if (n === 0) break;
          offset += n;
          const text = carry + buffer.toString('latin1', 0, n);
          const lastNewline = text.lastIndexOf('\n');
          counted += countLineStarts(text.slice(0, lastNewline + 1), prefix);
          carry = text.slice(lastNewline + 1);
        }
      } finally {
        closeSync(fd);
      }
      return counted;
    },
    tail() {
      const fd = openSync(path, 'r');
      try {
        const size = fstatSync(fd).size;
        const n = readSync(fd, buffer, 0, Math.min(2000, size), Math.max(0, size - 2000));
        return buffer.toString('utf8', 0, n);
      } finally {
        closeSync(fd);
      }
    },
  };
}

/** Starts `cmd args`, under `taskset -c cpu` when a CPU is given (taskset execs, so the PID is the program's). */
export function startChild(name: string, cmd: string, args: readonly string[], options: SpawnOptions = {}): Child {
  installExitHooks();
  const pinned = options.cpu !== undefined && options.cpu !== null;
  const file = pinned ? 'taskset' : cmd;
  const argv = pinned ? ['-c', String(options.cpu), cmd, ...args] : [...args];
  const stdoutFd = options.stdoutFile ? openSync(options.stdoutFile, 'w') : null;
  const proc = spawn(file, argv, {
    stdio: ['ignore', stdoutFd ?? 'pipe', 'pipe'],
    env: options.env ?? process.env,
    cwd: options.cwd,
  });
  if (stdoutFd !== null) closeSync(stdoutFd);
  if (proc.pid === undefined) throw new Error(`could not start ${name} (${file})`);
  const pid = proc.pid;
  const counter = options.stdoutFile ? fileLineCounter(options.stdoutFile, options.countLines ?? '\u0000') : null;
  let tailText = '';
  let exitedFlag = false;
  const keepTail = (chunk: Buffer): void => {
    tailText = (tailText + chunk.toString('utf8')).slice(-4000);
  };
  // Pipes are drained as they fill, so no child ever blocks on its output.
  proc.stdout?.on('data', keepTail);
  proc.stderr?.on('data', keepTail);
  const exitPromise = new Promise<void>((resolve) => {
    proc.on('exit', () => {
      exitedFlag = true;
      running.delete(child);
      resolve();
    });
    proc.on('error', (error) => {
      tailText += `\n${String(error)}`;
      exitedFlag = true;
      running.delete(child);
      resolve();
    });
  });
  const child: Child = {
    name,
    pid,
    proc,
    tail: () => `${counter?.tail() ?? ''}${tailText}`.trim(),
    countedLines: () => counter?.count() ?? 0,
    exited: () => exitedFlag,
    async stop() {
      if (exitedFlag) return;
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        if (!exitedFlag) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }, 2000);
      await exitPromise;
      clearTimeout(timer);
    },
  };
  running.add(child);
  return child;
}

function countLineStarts(text: string, prefix: string): number {
  let n = 0;
  if (text.startsWith(prefix)) n++;
  let at = text.indexOf(`\n${prefix}`);
  while (at !== -1) {
    n++;
    at = text.indexOf(`\n${prefix}`, at + 1);
  }
  return n;
}

/** Runs a command to completion (bounded by `timeoutMs`), returning its stdout. */
export function runToEnd(cmd: string, args: readonly string[], timeoutMs: number, cpu?: string | null): Promise<{ code: number | null; stdout: string; stderr: string }> {
  installExitHooks();
  const pinned = cpu !== undefined && cpu !== null;
  const proc = spawn(pinned ? 'taskset' : cmd, pinned ? ['-c', String(cpu), cmd, ...args] : [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const pid = proc.pid;
  const entry: Child | undefined =
    pid === undefined
      ? undefined
      : { name: cmd, pid, proc, tail: () => stderr, countedLines: () => 0, exited: () => proc.exitCode !== null || proc.signalCode !== null, stop: async () => {} };
  if (entry) running.add(entry);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }, timeoutMs);
    const finish = (code: number | null): void => {
      clearTimeout(timer);
      if (entry) running.delete(entry);
      resolve({ code, stdout, stderr });
    };
    proc.on('close', finish);
    proc.on('error', (error) => {
      stderr += String(error);
      finish(null);
    });
  });
}

/** A port that was free a moment ago on 127.0.0.1 (the listen-then-close race is harmless on loopback). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once a TCP connect to the port succeeds; polls every `everyMs`. Rejects after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs: number, everyMs = 5, child?: Child): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child?.exited()) throw new Error(`${child.name} exited before listening:\n${child.tail()}`);
    if (await canConnect(port)) return;
    await sleep(everyMs);
  }
  throw new Error(`nothing accepted connections on 127.0.0.1:${port} within ${timeoutMs} ms${child ? `\n${child.tail()}` : ''}`);
}

export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A `kB` field of /proc/PID/status (`VmRSS`, `VmHWM`), in bytes; null when unreadable. */
export function procStatusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match?.[1] ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** True when `cmd` is on PATH. */
export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function cpuTimes(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((sum, v) => sum + v, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

/** Share of all CPUs busy over the next `ms` (0-1), from /proc/stat; null where unreadable. */
export async function cpuBusyShare(ms: number): Promise<number | null> {
  try {
    const before = cpuTimes();
    await sleep(ms);
    const after = cpuTimes();
    return after.total === before.total ? 0 : (after.busy - before.busy) / (after.total - before.total);
  } catch {
    return null;
  }
}
