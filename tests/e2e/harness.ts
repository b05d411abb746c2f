// End-to-end harness: a real local upstream (node:http or node:https with the
// test CA), the real proxy started as a child process the way a user runs it,
// and clients that speak raw bytes when a test needs to see them exactly.

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';

export const ROOT = join(import.meta.dirname, '..', '..');
const TLS_DIR = join(ROOT, 'tests', 'fixtures', 'tls');
export const TEST_CA_PATH = join(TLS_DIR, 'ca.pem');

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly rawHeaders: readonly string[];
  readonly httpVersion: string;
  /** TLS server name the client asked for (https upstreams only). */
  readonly servername: string | undefined;
  body: Buffer;
  /** True once the request body was fully received. */
  complete: boolean;
  /** True when the client side (the proxy) closed before the response finished. */
  aborted: boolean;
}

export type UpstreamHandler = (req: http.IncomingMessage, res: http.ServerResponse, recorded: RecordedRequest) => void;

export interface TestUpstream {
  readonly port: number;
  readonly origin: string;
  readonly requests: RecordedRequest[];
  /** Distinct TCP connections accepted so far. */
  connections(): number;
  handler: UpstreamHandler;
  close(): Promise<void>;
}

export async function startUpstream(handler: UpstreamHandler, options: { tls?: boolean } = {}): Promise<TestUpstream> {
  const requests: RecordedRequest[] = [];
  let connections = 0;
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const recorded: RecordedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      rawHeaders: req.rawHeaders,
      httpVersion: req.httpVersion,
      servername: (req.socket as TLSSocket).servername || undefined,
      body: Buffer.alloc(0),
      complete: false,
      aborted: false,
    };
    requests.push(recorded);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      recorded.body = Buffer.concat(chunks);
      recorded.complete = true;
    });
    res.on('close', () => {
      if (!res.writableFinished) recorded.aborted = true;
    });
    upstream.handler(req, res, recorded);
  };
  const server = options.tls === true
    ? https.createServer({ key: readFileSync(join(TLS_DIR, 'server.key')), cert: readFileSync(join(TLS_DIR, 'server.pem')) }, onRequest)
    : http.createServer(onRequest);
  server.on(options.tls === true ? 'secureConnection' : 'connection', () => connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const upstream: TestUpstream = {
    port,
    origin: `${options.tls === true ? 'https://localhost' : 'http://127.0.0.1'}:${port}`,
    requests,
    connections: () => connections,
    handler,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return upstream;
}

/** Reads a whole request body. */
export async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export interface ProxyProcess {
  readonly port: number;
  readonly origin: string;
  readonly child: ChildProcess;
  /** Every stdout line so far. */
  readonly stdout: string[];
  readonly stderr: string[];
  /** Resolves with the first stdout/stderr line (seen or future) matching, or rejects after timeoutMs. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends a signal (default SIGTERM) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startProxy(options: { upstream: string; args?: readonly string[]; env?: Readonly<Record<string, string>> }): Promise<ProxyProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), '--upstream', options.upstream, '--listen', '127.0.0.1:0', ...(options.args ?? [])],
    { cwd: ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const collect = (stream: NodeJS.ReadableStream, into: string[]): void => {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        into.push(line);
        for (let i = waiters.length - 1; i >= 0; i--) {
          const waiter = waiters[i];
          if (waiter !== undefined && waiter.pattern.test(line)) {
            waiters.splice(i, 1);
            waiter.resolve(line);
          }
        }
      }
    });
  };
  collect(child.stdout!, stdout);
  collect(child.stderr!, stderr);
  const exited = once(child, 'exit').then(([code]) => code as number | null);

  const waitForLine = (pattern: RegExp, timeoutMs = 10_000): Promise<string> => {
    const seen = [...stdout, ...stderr].find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; stdout:\n${stdout.join('\n')}\nstderr:\n${stderr.join('\n')}`));
      }, timeoutMs);
      waiters.push({ pattern, resolve: (line) => { clearTimeout(timer); resolve(line); } });
    });
  };

  const listening = await Promise.race([
    waitForLine(/Listening on/),
    exited.then((code) => {
      throw new Error(`proxy exited with ${code} before listening:\n${stderr.join('\n')}`);
    }),
  ]);
  const port = Number(/:(\d+)\b/.exec(listening.slice(listening.indexOf('Listening on')))?.[1]);
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    child,
    stdout,
    stderr,
    waitForLine,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export interface ProxyRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the proxy as startProxy would, for a start that is meant to fail: resolves with its exit code and whole output (killed after limitMs). */
export async function runProxyToExit(options: { upstream: string; args?: readonly string[]; env?: Readonly<Record<string, string>>; limitMs?: number }): Promise<ProxyRun> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), '--upstream', options.upstream, '--listen', '127.0.0.1:0', ...(options.args ?? [])],
    { cwd: ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const guard = setTimeout(() => child.kill('SIGKILL'), options.limitMs ?? 20_000);
  try {
    // 'close', not 'exit': every byte of its output has been read by then.
    const [code] = (await once(child, 'close')) as [number | null];
    return { code, stdout, stderr };
  } finally {
    clearTimeout(guard);
  }
}

/** The ledger's entries so far (SPEC §4: one JSON object per line); [] while the file does not exist. */
export function readLedger(path: string): Record<string, unknown>[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Record<string, unknown>);
}

export interface ClientResponse {
  readonly status: number;
  readonly rawHeaders: readonly string[];
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/** One request through node:http with the given raw header list; resolves with the whole response. */
export function request(
  origin: string,
  options: { method?: string; path: string; headers?: readonly string[] | Record<string, string>; body?: Buffer | string; agent?: http.Agent | false },
): Promise<ClientResponse> {
  return new Promise((resolve, reject) => {
    const url = new URL(origin);
    const req = http.request({
      host: url.hostname,
      port: url.port,
      method: options.method ?? 'GET',
      path: options.path,
      headers: options.headers as http.OutgoingHttpHeaders | undefined,
      agent: options.agent ?? false,
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, rawHeaders: res.rawHeaders, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.end(options.body);
  });
}

/** Writes raw bytes to the proxy and resolves with every byte it sends back until it closes (or idleMs of silence). */
export function rawExchange(port: number, bytes: string | Buffer, idleMs = 1_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(idleMs, () => socket.end());
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? resolve(Buffer.concat(chunks)) : reject(err)));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.write(bytes);
  });
}

/** The names of a flat raw header list, in order. */
export function headerNames(raw: readonly string[]): string[] {
  return raw.filter((_, i) => i % 2 === 0);
}

/** Every value of a header (case-insensitive), in order. */
export function headerValues(raw: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]?.toLowerCase() === name) out.push(raw[i + 1] ?? '');
  return out;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One request as a raw upstream read it: the head as sent, the body by its Content-Length. */
export interface RawUpstreamRequest {
  readonly method: string;
  readonly url: string;
  /** The request head, request line included, without the blank line. */
  readonly head: string;
  readonly body: Buffer;
  /** 1 for the first TCP connection the raw upstream accepted, and so on. */
  readonly connection: number;
  /** 1 for the first request on its connection: above 1 means the socket was reused. */
  readonly indexOnConnection: number;
}

export type RawUpstreamHandler = (socket: net.Socket, request: RawUpstreamRequest) => void;

export interface RawUpstream {
  readonly port: number;
  readonly origin: string;
  readonly requests: RawUpstreamRequest[];
  /** Every accepted socket, in order (index 0 is connection 1). */
  readonly sockets: net.Socket[];
  handler: RawUpstreamHandler;
  close(): Promise<void>;
}

/**
 * An upstream that speaks raw bytes, for responses node:http will not produce (malformed heads,
 * resets at chosen points, lying Content-Length). It reads request heads and Content-Length
 * bodies (not chunked ones) and hands each request with its socket to the handler, which writes
 * whatever it likes. Sockets stay open until the handler or the proxy closes them.
 */
export async function startRawUpstream(handler: RawUpstreamHandler): Promise<RawUpstream> {
  const requests: RawUpstreamRequest[] = [];
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    const connection = sockets.length;
    let indexOnConnection = 0;
    let buffered = Buffer.alloc(0);
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const headEnd = buffered.indexOf('\r\n\r\n');
        if (headEnd < 0) return;
        const head = buffered.subarray(0, headEnd).toString('latin1');
        const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length < headEnd + 4 + length) return;
        const body = buffered.subarray(headEnd + 4, headEnd + 4 + length);
        buffered = buffered.subarray(headEnd + 4 + length);
        const [method = '', url = ''] = (head.split('\r\n', 1)[0] ?? '').split(' ');
        const request: RawUpstreamRequest = { method, url, head, body, connection, indexOnConnection: ++indexOnConnection };
        requests.push(request);
        upstream.handler(socket, request);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const upstream: RawUpstream = {
    port,
    origin: `http://127.0.0.1:${port}`,
    requests,
    sockets,
    handler,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return upstream;
}

/** Peak resident memory of a process so far, in MiB, from its own accounting (Linux /proc). */
export function peakRssMib(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (match?.[1] === undefined) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

/** Polls until check() is true, or throws with `what` after timeoutMs. */
export async function waitUntil(check: () => boolean, what: string, timeoutMs = 3_000, stepMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await delay(stepMs);
  }
}

export interface ResponseEnding {
  readonly status: number;
  /** 'end': the response ended cleanly; 'error': the connection was cut first. */
  readonly ending: 'end' | 'error';
  readonly body: Buffer;
}

/** One request on its own connection; resolves with how its response ended instead of rejecting on a cut. */
export function responseEnding(
  origin: string,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer | string },
): Promise<ResponseEnding> {
  return new Promise((resolve, reject) => {
    const url = new URL(origin);
    const req = http.request({ host: url.hostname, port: url.port, method: options.method ?? 'GET', path: options.path, headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      const done = (ending: 'end' | 'error'): void => resolve({ status: res.statusCode ?? 0, ending, body: Buffer.concat(chunks) });
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => done('end'));
      res.on('error', () => done('error'));
      // A cut response may emit neither; 'close' without 'end' is a cut too.
      res.on('close', () => done('error'));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** SPEC §8 `key_id`: the first 12 hex digits of the key's SHA-256, as usage lines and the ledger show it. */
export function keyIdOf(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}
