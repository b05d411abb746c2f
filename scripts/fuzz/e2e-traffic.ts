/**
 * The traffic of the end-to-end fuzz (scripts/fuzz/e2e.ts), from a seed: raw client requests (methods,
 * targets, header bytes, bodies, Content-Length and chunked framing, right and wrong, sometimes mutated
 * byte by byte) and raw upstream responses (status lines, 1xx, heads, JSON, SSE, NDJSON, gzip/deflate/br,
 * framing right and wrong, cut short). Pure: bytes from a PRNG.
 */
import { Buffer } from 'node:buffer';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { int, mutate, pick, type Rand } from './mutate.ts';

export interface ResponsePlan {
  readonly parts: Buffer[];
  readonly pauseMs: number;
  /** What the upstream does after the last part: keep the connection, end it, or cut it. */
  readonly end: 'keep' | 'end' | 'destroy';
}

const METHODS = ['GET', 'POST', 'POST', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE', 'G@T', 'get'];
const TARGETS = [
  '/v1/chat/completions', '/v1/chat/completions', '/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/models', '/v1/responses',
  '/v1/../x', '/v1/%2e%2e/%2e%2e/x', '//evil.example/x', 'http://elsewhere/v1/x', '*', 'example.com:443', '/v1/x?key=sk-secret&a=%zz', '/v1/\u00e9',
];
const HEADERS = [
  'Content-Type: application/json', 'Authorization: Bearer sk-fuzz', 'x-api-key: k', 'Connection: close', 'Connection: keep-alive',
  'Connection: upgrade', 'Upgrade: websocket', 'Upgrade: h2c', 'Expect: 100-continue', 'LM-Proxy-Tags: team=fuzz, env=e2e',
  'Accept-Encoding: gzip, br', 'Connection: x-fuzz-case', 'Proxy-Connection: keep-alive', 'TE: trailers', 'Keep-Alive: timeout=1',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13', 'Forwarded: host=evil', 'X-Forwarded-Host: evil',
  'Host: evil.example', 'X-Bad: a\u0000b', ' folded: line', 'NoColon', `X-Big: ${'b'.repeat(17_000)}`, 'Content-Length: abc',
];

function chatBody(rand: Rand): string {
  const stream = pick(rand, ['true', 'true', 'false', '"yes"']);
  const options = pick(rand, ['', ',"stream_options":{}', ',"stream_options":{"include_usage":false}', ',"stream_options":null']);
  return `{"model":"gpt-4o","messages":[{"role":"user","content":"hi ${int(rand, 1000)}"}],"stream":${stream}${options}}`;
}

/** A request as raw bytes, and where the client pauses while writing it. */
export function randomRequest(rand: Rand, caseSeed: number): { request: Buffer; pieces: number[] } {
  const lines = [`${pick(rand, METHODS)} ${pick(rand, TARGETS)} ${pick(rand, ['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 x'])}`];
  if (rand() < 0.95) lines.push('Host: proxy.local');
  if (rand() < 0.9) lines.push(`X-Fuzz-Case: ${caseSeed}`);
  for (let n = int(rand, 4); n > 0; n--) lines.push(pick(rand, HEADERS));
  const body = Buffer.from(rand() < 0.6 ? chatBody(rand) : rand() < 0.5 ? '' : 'x'.repeat(int(rand, 3000)));
  let framed: Buffer = body;
  const framing = rand();
  if (framing < 0.5) lines.push(`Content-Length: ${body.length}`);
  else if (framing < 0.6) lines.push(`Content-Length: ${Math.max(0, body.length + pick(rand, [-5, 7, 100000]))}`);
  else if (framing < 0.65) lines.push(`Content-Length: ${body.length}`, `Content-Length: ${body.length + 1}`);
  else if (framing < 0.85) {
    lines.push('Transfer-Encoding: chunked');
    const half = body.length >> 1;
    const chunk = (b: Buffer): string => `${b.length.toString(16)}\r\n${b.toString('latin1')}\r\n`;
    framed = Buffer.from(`${chunk(body.subarray(0, half))}${chunk(body.subarray(half))}${pick(rand, ['0\r\n\r\n', '0\r\n\r\n', 'zz\r\n', '', '0\r\nTrailer: x\r\n\r\n'])}`, 'latin1');
    if (rand() < 0.1) lines.push(`Content-Length: ${body.length}`); // both: request smuggling's shape
  } else if (framing < 0.9) framed = Buffer.alloc(0);
  let request: Buffer = Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), framed]);
  if (rand() < 0.2) request = mutate(rand, request, Buffer.from(chatBody(rand)), 3, 40_000);
  if (rand() < 0.05) request = Buffer.concat([request, Buffer.from(`GET /v1/models HTTP/1.1\r\nHost: p\r\nX-Fuzz-Case: ${caseSeed}\r\n\r\n`)]); // pipelined
  const pieces = Array.from({ length: int(rand, 3) }, () => int(rand, request.length + 1)).sort((a, b) => a - b);
  return { request, pieces };
}

const USAGE_JSON = '{"id":"c1","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}';

function sseBody(rand: Rand): string {
  const events = [
    'data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"hi"}}],"usage":null}\n\n',
    'data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}\n\n',
    'data: [DONE]\n\n', ': ping\n\n', 'event: message_delta\ndata: {"usage":{"output_tokens":3}}\n\n', 'data: {"usage":{"prompt_tokens":1},"x":[1,,2]}\n\n',
  ];
  let body = '';
  for (let n = 1 + int(rand, 6); n > 0; n--) body += pick(rand, events);
  return body;
}

/** A response as raw bytes in parts, with how the upstream ends the connection. */
export function randomResponse(rand: Rand): ResponsePlan {
  const kind = rand();
  let type = 'application/json';
  let body: Buffer;
  if (kind < 0.4) body = Buffer.from(USAGE_JSON);
  else if (kind < 0.75) {
    type = 'text/event-stream';
    body = Buffer.from(sseBody(rand));
  } else if (kind < 0.85) {
    type = 'application/x-ndjson';
    body = Buffer.from('{"model":"llama3","done":false}\n{"model":"llama3","done":true,"prompt_eval_count":3,"eval_count":4}\n');
  } else body = Buffer.from(Array.from({ length: int(rand, 200) }, () => int(rand, 256)));
  const headers = [`Content-Type: ${pick(rand, [type, type, type, 'text/plain', 'application/json; charset=utf-8'])}`];
  const coding = rand();
  if (coding < 0.1) {
    headers.push('Content-Encoding: gzip');
    body = gzipSync(body);
  } else if (coding < 0.15) {
    headers.push('Content-Encoding: deflate');
    body = deflateSync(body);
  } else if (coding < 0.2) {
    headers.push('Content-Encoding: br');
    body = brotliCompressSync(body);
  } else if (coding < 0.23) {
    headers.push(pick(rand, ['Content-Encoding: gzip', 'Content-Encoding: zstd', 'Content-Encoding: gzip, br']));
    body = Buffer.concat([gzipSync(body).subarray(0, 20), Buffer.from('not really')]); // corrupt or undecodable
  }
  if (rand() < 0.1) body = Buffer.from(mutate(rand, body, Buffer.from(USAGE_JSON), 3, 10_000));
  const status = pick(rand, ['200 OK', '200 OK', '200 OK', '200 OK', '404 Not Found', '500 Oops', '204 No Content', '304 Not Modified', '101 Switching Protocols', '999 Nope', 'abc', '200']);
  const framing = rand();
  let framed = body;
  if (framing < 0.45) headers.push(`Content-Length: ${body.length}`);
  else if (framing < 0.5) headers.push(`Content-Length: ${Math.max(0, body.length + pick(rand, [-3, 10]))}`);
  else if (framing < 0.8) {
    headers.push('Transfer-Encoding: chunked');
    framed = Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from(pick(rand, ['\r\n0\r\n\r\n', '\r\n0\r\n\r\n', '\r\nzz\r\n', '\r\n']))]);
  }
  const keep = framing < 0.45 || (framing >= 0.5 && framing < 0.8);
  if (!keep || rand() < 0.3) headers.push('Connection: close');
  else if (rand() < 0.3) headers.push('Keep-Alive: timeout=1');
  if (rand() < 0.05) headers.push('X-Bad: \u0001');
  const interim = rand() < 0.1 ? `HTTP/1.1 ${pick(rand, ['100 Continue', '102 Processing', '103 Early Hints\r\nLink: </a>; rel=preload'])}\r\n\r\n` : '';
  let head = `${interim}HTTP/1.1 ${status}\r\n${headers.join('\r\n')}\r\n\r\n`;
  if (rand() < 0.03) head = pick(rand, ['garbage\r\n\r\n', 'HTTP/1.1 200 OK\r\nX: y', '']);
  const whole = Buffer.concat([Buffer.from(head, 'latin1'), framed]);
  const cut = rand() < 0.15;
  const bytes = cut ? whole.subarray(0, int(rand, whole.length + 1)) : whole;
  const parts: Buffer[] = [];
  for (let from = 0, n = 1 + int(rand, 3); n > 0 && from < bytes.length; n--) {
    const to = n === 1 ? bytes.length : from + int(rand, bytes.length - from + 1);
    parts.push(bytes.subarray(from, to));
    from = to;
  }
  return { parts, pauseMs: rand() < 0.3 ? int(rand, 30) : 0, end: cut ? 'destroy' : keep && !headers.includes('Connection: close') ? 'keep' : rand() < 0.5 ? 'end' : 'destroy' };
}
