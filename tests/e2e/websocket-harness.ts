// Peers for the WebSocket end-to-end tests (SPEC §13): a real `ws` upstream on node:http or
// node:https (the test CA) that records every upgrade request it sees and can answer one any
// way a test likes, a Realtime-shaped and a Responses-shaped session for it to play, and
// `ws` clients that resolve on open and collect what they receive.

import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import { WebSocket, WebSocketServer, type ClientOptions, type PerMessageDeflateOptions } from 'ws';
import { ROOT } from './harness.ts';

export interface RecordedUpgrade {
  readonly url: string;
  readonly rawHeaders: readonly string[];
  readonly servername: string | undefined;
}

/** Answers an upgrade itself (a refusal, a 200 with a body, a raw fault); return false to let `ws` accept it. */
export type UpgradeHook = (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => boolean;

export interface WsUpstream {
  readonly port: number;
  /** `http://127.0.0.1:port` or `https://localhost:port`, for UPSTREAM_URL. */
  readonly origin: string;
  readonly upgrades: RecordedUpgrade[];
  /** Every accepted session, in order. */
  readonly sessions: WebSocket[];
  onSession: (ws: WebSocket, req: http.IncomingMessage) => void;
  onUpgrade: UpgradeHook | null;
  /** Plain HTTP requests (no upgrade) that reached it. */
  readonly requests: string[];
  close(): Promise<void>;
}

export async function startWsUpstream(
  onSession: (ws: WebSocket, req: http.IncomingMessage) => void,
  options: { tls?: boolean; perMessageDeflate?: boolean | PerMessageDeflateOptions; maxPayload?: number } = {},
): Promise<WsUpstream> {
  const tlsDir = join(ROOT, 'tests', 'fixtures', 'tls');
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    upstream.requests.push(`${req.method} ${req.url}`);
    res.writeHead(426, { 'content-type': 'application/json' }).end('{"error":{"message":"upgrade required"}}');
  };
  const server = options.tls === true
    ? https.createServer({ key: readFileSync(join(tlsDir, 'server.key')), cert: readFileSync(join(tlsDir, 'server.pem')) }, onRequest)
    : http.createServer(onRequest);
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: options.perMessageDeflate ?? false, maxPayload: options.maxPayload ?? 100 * 1024 * 1024 });
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('secureConnection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    socket.on('error', () => undefined);
    upstream.upgrades.push({ url: req.url ?? '', rawHeaders: req.rawHeaders, servername: (socket as net.Socket & { servername?: string }).servername || undefined });
    if (upstream.onUpgrade?.(req, socket, head) === true) return;
    wss.handleUpgrade(req, socket, head, (ws) => {
      upstream.sessions.push(ws);
      ws.on('error', () => undefined);
      upstream.onSession(ws, req);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const upstream: WsUpstream = {
    port,
    origin: `${options.tls === true ? 'https://localhost' : 'http://127.0.0.1'}:${port}`,
    upgrades: [],
    sessions: [],
    onSession,
    onUpgrade: null,
    requests: [],
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      for (const socket of sockets) socket.destroy();
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return upstream;
}

/** A `ws` client, with every text message it got (logged from the start: the first frames may come with the 101) and how it closed. */
export interface Client {
  readonly ws: WebSocket;
  readonly texts: string[];
  readonly closed: Promise<{ code: number; reason: string }>;
}

/** A `ws` client that resolves once open (rejects on an unexpected response or an error first). */
export async function openClient(url: string, options: ClientOptions & { protocols?: string | string[] } = {}): Promise<Client> {
  const { protocols, ...rest } = options;
  const ws = new WebSocket(url, protocols ?? [], rest);
  const client = logClient(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
  });
  ws.on('error', () => undefined);
  return client;
}

export function logClient(ws: WebSocket): Client {
  const texts: string[] = [];
  ws.on('message', (data, isBinary) => {
    if (!isBinary) texts.push(String(data));
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
  return { ws, texts, closed };
}

/** A Realtime usage object (GA `response.done`), input counts including cached and audio ones. */
export function realtimeUsage(input: number, output: number, extra: { cached?: number; audioIn?: number; audioOut?: number } = {}): Record<string, unknown> {
  return {
    total_tokens: input + output,
    input_tokens: input,
    output_tokens: output,
    input_token_details: { text_tokens: input - (extra.audioIn ?? 0), audio_tokens: extra.audioIn ?? 0, image_tokens: 0, cached_tokens: extra.cached ?? 0, cached_tokens_details: { text_tokens: extra.cached ?? 0, audio_tokens: 0, image_tokens: 0 } },
    output_token_details: { text_tokens: output - (extra.audioOut ?? 0), audio_tokens: extra.audioOut ?? 0 },
  };
}

/** Base64 audio of about `bytes` characters, as a Realtime `response.output_audio.delta` carries. */
export function audioDelta(bytes: number, seed = 0): string {
  const raw = Buffer.alloc(Math.ceil((bytes * 3) / 4));
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 31 + seed * 7) & 0xff;
  return raw.toString('base64').slice(0, bytes);
}

/**
 * Plays a Realtime session as the GA API shapes it: `session.created` on open, then for each
 * client `response.create`: `response.created`, `deltas` audio deltas, `response.done` with the
 * next usage of `usages` (its id `resp_N`).
 */
export function playRealtime(ws: WebSocket, options: { model: string; usages: readonly Record<string, unknown>[]; deltas?: number; deltaBytes?: number }): void {
  let turn = 0;
  ws.send(JSON.stringify({ type: 'session.created', event_id: 'event_0', session: { type: 'realtime', object: 'realtime.session', id: 'sess_1', model: options.model, output_modalities: ['audio'] } }));
  ws.on('message', (data) => {
    const event = JSON.parse(String(data)) as { type?: string };
    if (event.type !== 'response.create') return;
    const id = `resp_${++turn}`;
    const usage = options.usages[(turn - 1) % options.usages.length];
    ws.send(JSON.stringify({ type: 'response.created', event_id: `event_c${turn}`, response: { object: 'realtime.response', id, status: 'in_progress', output: [], usage: null } }));
    for (let i = 0; i < (options.deltas ?? 3); i++) {
      ws.send(JSON.stringify({ type: 'response.output_audio.delta', event_id: `event_d${turn}_${i}`, response_id: id, item_id: 'item_1', output_index: 0, content_index: 0, delta: audioDelta(options.deltaBytes ?? 4096, i) }));
    }
    ws.send(JSON.stringify({ type: 'response.done', event_id: `event_f${turn}`, response: { object: 'realtime.response', id, status: 'completed', output: [], usage } }));
  });
}

/** Plays the Responses API's WebSocket mode: each `response.create` streams a response ending in `response.completed`. */
export function playResponses(ws: WebSocket, options: { usages: readonly Record<string, unknown>[]; finals?: readonly string[] }): void {
  let turn = 0;
  ws.on('message', (data) => {
    const event = JSON.parse(String(data)) as { type?: string; model?: string };
    if (event.type !== 'response.create') return;
    const n = turn++;
    const id = `resp_${n + 1}`;
    const model = event.model ?? 'gpt-5-codex';
    const final = options.finals?.[n % options.finals.length] ?? 'response.completed';
    const base = { id, object: 'response', created_at: 1_764_000_000 + n, model, output: [] as unknown[] };
    let seq = 0;
    ws.send(JSON.stringify({ type: 'response.created', sequence_number: seq++, response: { ...base, status: 'in_progress', usage: null } }));
    ws.send(JSON.stringify({ type: 'response.in_progress', sequence_number: seq++, response: { ...base, status: 'in_progress', usage: null } }));
    for (const word of ['Hello', ' from', ` turn ${n + 1}`]) ws.send(JSON.stringify({ type: 'response.output_text.delta', sequence_number: seq++, item_id: 'msg_1', output_index: 0, content_index: 0, delta: word }));
    const status = final === 'response.completed' ? 'completed' : final === 'response.incomplete' ? 'incomplete' : 'failed';
    ws.send(JSON.stringify({ type: final, sequence_number: seq++, response: { ...base, status, output: [{ type: 'message', content: [{ type: 'output_text', text: `Hello from turn ${n + 1}` }] }], usage: options.usages[n % options.usages.length] } }));
  });
}

/** A Responses usage object (SPEC §4). */
export function responsesUsage(input: number, output: number, cached = 0, reasoning = 0): Record<string, unknown> {
  return { input_tokens: input, input_tokens_details: { cached_tokens: cached }, output_tokens: output, output_tokens_details: { reasoning_tokens: reasoning }, total_tokens: input + output };
}

/** Parses the proxy's JSON log lines (LOG_FORMAT=json) that match a message. */
export function jsonLines(lines: readonly string[], msg?: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    const parsed = JSON.parse(line) as Record<string, unknown>;
    if (msg === undefined || parsed['msg'] === msg) out.push(parsed);
  }
  return out;
}

/** The ledger's records so far (one JSON object per line); [] while there is no file. */
export function ledgerRecords(path: string): Record<string, unknown>[] {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Record<string, unknown>);
}

const HANDSHAKE_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** RFC 6455 §4.2.2: the Sec-WebSocket-Accept for a key. */
export function acceptFor(key: string): string {
  return createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
}

/** The 101 a raw upstream answers with, for the request it got. */
export function switchingProtocols(req: http.IncomingMessage): string {
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(String(req.headers['sec-websocket-key']))}\r\n\r\n`;
}

export interface RawSession {
  readonly socket: net.Socket;
  /** The response head, up to and without its blank line. */
  readonly head: string;
  /** Every byte received after the head so far (grows while the socket is read). */
  readonly received: Buffer[];
  receivedBytes(): number;
  readonly closed: Promise<void>;
}

/** A client that speaks the handshake by hand, then only collects bytes (it can stop reading: socket.pause()). */
export async function rawSession(port: number, path: string, extra = ''): Promise<RawSession> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(`GET ${path} HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${HANDSHAKE_KEY}\r\n${extra}\r\n`);
  const received: Buffer[] = [];
  let bytes = 0;
  const head = await new Promise<string>((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const rest = buffered.subarray(end + 4);
      if (rest.length > 0) {
        received.push(rest);
        bytes += rest.length;
      }
      socket.on('data', (more: Buffer) => {
        received.push(more);
        bytes += more.length;
      });
      resolve(buffered.subarray(0, end).toString('latin1'));
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed before a response head: ${buffered.toString('latin1')}`)));
  });
  return { socket, head, received, receivedBytes: () => bytes, closed };
}
