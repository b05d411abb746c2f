// Drives an lm-proxy child process from the outside, for scripts/demo.ts and scripts/smoke.ts:
// picks a free loopback port, starts the proxy and waits for its `Listening on` line (SPEC §7),
// collects its stdout lines (the `[USAGE]` lines of SPEC §4), sends loopback HTTP requests, and
// stops it by its own PID. It never talks to anything but 127.0.0.1.

import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';

// SPEC §2's variables: removed from the child's environment so a developer's shell cannot change
// what the scripts see (a LOG_FORMAT=json would turn the [USAGE] lines into JSON).
export const PROXY_ENV_VARS = [
  'UPSTREAM_URL',
  'LISTEN_ADDR',
  'USAGE_LOG',
  'LOG_FORMAT',
  'METRICS_ADDR',
  'INJECT_STREAM_USAGE',
  'UPSTREAM_TIMEOUT_MS',
  'SHUTDOWN_GRACE_MS',
] as const;

const STOP_GRACE_MS = 5_000;

export interface UsageNumbers {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
}

export interface ProxyProcess {
  readonly child: ChildProcess;
  /** host:port from the `Listening on` line. */
  readonly listening: string;
  /** Every stdout line so far, in order. */
  readonly lines: readonly string[];
  readonly stderr: () => string;
  /** The first line at index >= `from` that matches; rejects after `timeoutMs` or when the proxy exits. */
  waitForLine(pattern: RegExp, timeoutMs: number, from?: number): Promise<string>;
  /** SIGTERM, then SIGKILL after a grace period; resolves with the exit code (null when killed). */
  stop(): Promise<number | null>;
}

/** A port that was free a moment ago on 127.0.0.1 (the OS picks it; another process could take it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The environment of the caller without SPEC §2's variables, plus `extra`. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of PROXY_ENV_VARS) delete env[name];
  return { ...env, ...extra };
}

export async function startProxy(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<ProxyProcess> {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderrText = '';
  let partial = '';
  const waiters = new Set<() => void>();
  const wake = (): void => waiters.forEach((waiter) => waiter());
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    const parts = (partial + text).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts.map((line) => line.replace(/\r$/, '')));
    wake();
  });
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderrText += text;
  });
  let exited = false;
  // If this script dies first (an uncaught error), take the proxy down with it rather than orphan it.
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  const exit = new Promise<number | null>((resolve) => {
    child.once('error', (error) => {
      stderrText += `${error.message}\n`;
      exited = true;
      wake();
      resolve(null);
    });
    child.once('exit', (code) => {
      exited = true;
      wake();
      resolve(code);
    });
  });

  const waitForLine = (pattern: RegExp, timeoutMs: number, from = 0): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = lines.slice(from).find((line) => pattern.test(line));
        if (found !== undefined) finish(() => resolve(found));
        else if (exited) finish(() => reject(new Error(`the proxy exited before printing ${pattern}${describe()}`)));
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms${describe()}`))),
        timeoutMs,
      );
      const finish = (settle: () => void): void => {
        clearTimeout(timer);
        waiters.delete(check);
        settle();
      };
      waiters.add(check);
      check();
    });
  const describe = (): string =>
    `\n  stdout: ${lines.join('\n          ') || '(nothing)'}\n  stderr: ${stderrText.trim() || '(nothing)'}`;

  const stop = async (): Promise<number | null> => {
    if (!exited) child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (!exited) child.kill('SIGKILL');
    }, STOP_GRACE_MS);
    const code = await exit;
    clearTimeout(timer);
    return code;
  };

  try {
    const line = await waitForLine(/Listening on /, options.timeoutMs);
    const listening = line.slice(line.indexOf('Listening on ') + 'Listening on '.length).trim();
    return { child, listening, lines, stderr: () => stderrText, waitForLine, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Numbers of a `[USAGE] prompt_tokens=.. completion_tokens=.. total_tokens=..` line, or null. */
export function parseUsageLine(line: string): UsageNumbers | null {
  const match = /^\[USAGE\] prompt_tokens=(\d+) completion_tokens=(\d+) total_tokens=(\d+)(?: |$)/.exec(line);
  if (match === null) return null;
  return { prompt_tokens: Number(match[1]), completion_tokens: Number(match[2]), total_tokens: Number(match[3]) };
}

export interface LoopbackResponse {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
}

/** POSTs JSON on a fresh connection (no keep-alive, so stopping the proxy never waits on an idle socket). */
export function postJson(url: string, body: unknown, timeoutMs: number): Promise<LoopbackResponse> {
  const target = new URL(url);
  if (target.hostname !== '127.0.0.1' && target.hostname !== 'localhost') {
    return Promise.reject(new Error(`refusing to send outside loopback: ${url}`));
  }
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method: 'POST',
        agent: false,
        timeout: timeoutMs,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: res.headers['content-type'] ?? '',
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** The JSON payloads of an SSE body's `data:` events, with `[DONE]` kept as the string. */
export function sseData(text: string): unknown[] {
  return text
    .split(/\r?\n\r?\n/)
    .map((event) =>
      event
        .split(/\r?\n/)
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''))
        .join('\n'),
    )
    .filter((data) => data !== '')
    .map((data) => {
      if (data === '[DONE]') return data;
      try {
        return JSON.parse(data) as unknown;
      } catch {
        return data;
      }
    });
}
