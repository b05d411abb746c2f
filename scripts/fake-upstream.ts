// A tiny OpenAI-like upstream for the demo, the smoke test and end-to-end tests: chat completions
// (JSON, or SSE with the usage-only chunk only when stream_options.include_usage is true, as OpenAI
// does), embeddings and the model list. Token counts are words of the input, so callers can predict
// them with expectedChatUsage / expectedEmbeddingsUsage. It listens on loopback only, never elsewhere.
// Run alone: `node --import tsx scripts/fake-upstream.ts [--port N]` prints its base URL.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export const FAKE_MODEL = 'fake-gpt-1';
export const FAKE_EMBEDDING_MODEL = 'fake-embedding-1';
const MAX_BODY_BYTES = 1024 * 1024;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);

export interface Usage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
}

export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  /** The parsed JSON body; undefined for GET or a body that is not JSON. */
  readonly body: unknown;
}

export interface FakeUpstream {
  /** Base URL including `/v1`, e.g. `http://127.0.0.1:41234/v1`. */
  readonly url: string;
  readonly port: number;
  /** Every request answered so far, oldest first: shows what the proxy sent upstream. */
  readonly received: readonly ReceivedRequest[];
  close(): Promise<void>;
}

/** Whitespace-separated words; the fake's stand-in for a tokenizer. */
export function countWords(text: string): number {
  const trimmed = text.trim();
  return trimmed === '' ? 0 : trimmed.split(/\s+/).length;
}

/** The text of a message's `content`: a string, or an array of `{type: 'text', text}` parts. */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part: unknown) => (isRecord(part) && typeof part['text'] === 'string' ? part['text'] : ''))
    .join(' ');
}

function messagesOf(body: unknown): Array<{ role: string; text: string }> {
  const messages = isRecord(body) && Array.isArray(body['messages']) ? body['messages'] : [];
  return messages.filter(isRecord).map((m) => ({
    role: typeof m['role'] === 'string' ? m['role'] : '',
    text: contentText(m['content']),
  }));
}

/** The assistant's reply: "You said: " and the last user message, so its length follows the input. */
export function fakeReply(body: unknown): string {
  const lastUser = messagesOf(body).filter((m) => m.role === 'user').at(-1)?.text ?? '';
  return `You said: ${lastUser.trim().split(/\s+/).join(' ')}`.trim();
}

/** prompt_tokens = words in all messages; completion_tokens = words in the reply. */
export function expectedChatUsage(body: unknown): Usage {
  const prompt = messagesOf(body).reduce((sum, m) => sum + countWords(m.text), 0);
  const completion = countWords(fakeReply(body));
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

function embeddingInputs(body: unknown): unknown[] {
  const input = isRecord(body) ? body['input'] : undefined;
  // `input` is a string, an array of strings, an array of token ids, or an array of such arrays.
  if (typeof input === 'string') return [input];
  if (Array.isArray(input) && input.every((x) => typeof x === 'number')) return [input];
  return Array.isArray(input) ? input : [];
}

/** prompt_tokens = words of string inputs plus the length of token-id inputs; no completion. */
export function expectedEmbeddingsUsage(body: unknown): Usage {
  const prompt = embeddingInputs(body).reduce<number>(
    (sum, x) => sum + (typeof x === 'string' ? countWords(x) : Array.isArray(x) ? x.length : 0),
    0,
  );
  return { prompt_tokens: prompt, completion_tokens: 0, total_tokens: prompt };
}

export async function startFakeUpstream(options: { port?: number; host?: string } = {}): Promise<FakeUpstream> {
  const host = options.host ?? '127.0.0.1';
  if (!LOOPBACK_HOSTS.has(host)) throw new Error(`fake upstream listens on loopback only, not ${host}`);
  const received: ReceivedRequest[] = [];
  const server = createServer((req, res) => {
    handle(req, res, received).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, 500, `fake upstream failed: ${String(error)}`);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}/v1`,
    port,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, received: ReceivedRequest[]): Promise<void> {
  const method = req.method ?? '';
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const route = `${method} ${path}`;
  const body = parseJson(await readBody(req));
  received.push({ method, path, body });
  if (route === 'GET /v1/models') {
    sendJson(res, 200, {
      object: 'list',
      data: [FAKE_MODEL, FAKE_EMBEDDING_MODEL].map((id) => ({ id, object: 'model', created: 0, owned_by: 'fake' })),
    });
  } else if (route !== 'POST /v1/chat/completions' && route !== 'POST /v1/embeddings') {
    sendError(res, 404, `fake upstream has no route ${route}`);
  } else if (body === undefined) {
    sendError(res, 400, 'request body is not JSON');
  } else if (route === 'POST /v1/embeddings') {
    sendEmbeddings(res, body);
  } else if (isRecord(body) && body['stream'] === true) {
    streamChat(res, body);
  } else {
    sendChat(res, body);
  }
}

function parseJson(text: string): unknown {
  try {
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  } catch {
    return undefined;
  }
}

function sendChat(res: ServerResponse, body: unknown): void {
  sendJson(res, 200, {
    id: 'chatcmpl-fake',
    object: 'chat.completion',
    created: 0,
    model: FAKE_MODEL,
    choices: [{ index: 0, message: { role: 'assistant', content: fakeReply(body) }, finish_reason: 'stop' }],
    usage: expectedChatUsage(body),
  });
}

function streamChat(res: ServerResponse, body: Record<string, unknown>): void {
  const streamOptions = body['stream_options'];
  const includeUsage = isRecord(streamOptions) && streamOptions['include_usage'] === true;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  // With include_usage, OpenAI puts `"usage": null` on every ordinary chunk, then one usage-only chunk.
  const chunk = (choices: unknown[], usage?: Usage | null): string =>
    `data: ${JSON.stringify({
      id: 'chatcmpl-fake',
      object: 'chat.completion.chunk',
      created: 0,
      model: FAKE_MODEL,
      choices,
      ...(includeUsage ? { usage: usage ?? null } : {}),
    })}\n\n`;
  res.write(chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]));
  const words = fakeReply(body).split(' ');
  words.forEach((word, i) => {
    const content = i === 0 ? word : ` ${word}`;
    res.write(chunk([{ index: 0, delta: { content }, finish_reason: null }]));
  });
  res.write(chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]));
  if (includeUsage) res.write(chunk([], expectedChatUsage(body)));
  res.end('data: [DONE]\n\n');
}

function sendEmbeddings(res: ServerResponse, body: unknown): void {
  const data = embeddingInputs(body).map((input, index) => {
    // Four deterministic numbers per input, derived from its text.
    const seed = JSON.stringify(input).length;
    return { object: 'embedding', index, embedding: [1, 2, 3, 4].map((k) => ((seed * k) % 97) / 97) };
  });
  const { prompt_tokens, total_tokens } = expectedEmbeddingsUsage(body);
  sendJson(res, 200, { object: 'list', data, model: FAKE_EMBEDDING_MODEL, usage: { prompt_tokens, total_tokens } });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error(`request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { error: { message, type: 'invalid_request_error', code: null } });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, host: { type: 'string' } } });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port: expected a port number 0-65535, got ${JSON.stringify(values.port)}`);
    process.exit(2);
  }
  const upstream = await startFakeUpstream({ port, ...(values.host === undefined ? {} : { host: values.host }) });
  console.log(upstream.url);
  const stop = (): void => void upstream.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
