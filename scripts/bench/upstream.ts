// The Node upstream of the benchmark: SSE chat streams that stamp each event with its send time,
// large embeddings bodies, the small chat JSON (when nginx is not installed), and a count of the
// streams still open. It never delays a write on purpose beyond the requested event spacing.
//   node --import tsx scripts/bench/upstream.ts --listen 127.0.0.1:8080
//
// Routes (the query string carries the shape, so every proxy forwards it unchanged):
//   POST /v1/chat/completions                 small chat JSON (usage included)
//   POST /v1/chat/completions?events=N&interval=MS[&hold=1]
//        SSE: N chunks MS apart, each with "bench_sent_ns" (process.hrtime, CLOCK_MONOTONIC, so
//        comparable across processes); hold=1 keeps the stream open after the last event until
//        the client goes; a usage chunk follows when the body asks for include_usage.
//   GET|POST /v1/embeddings?bytes=N           one embeddings JSON body of about N bytes
//   GET /_bench/stats                         {"open": streams not yet closed, "opened": total}

import http from 'node:http';
import { pathToFileURL } from 'node:url';

export const SMALL_CHAT_JSON =
  '{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini",' +
  '"choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?"},"finish_reason":"stop"}],' +
  '"usage":{"prompt_tokens":15,"completion_tokens":9,"total_tokens":24}}';

const HOLD_LIMIT_MS = 60_000; // a held stream ends by itself after a minute, so nothing lingers

let open = 0;
let opened = 0;

function chunk(content: string, finish: string | null): string {
  return (
    '{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini",' +
    `"choices":[{"index":0,"delta":{"content":${JSON.stringify(content)}},"finish_reason":${finish === null ? 'null' : JSON.stringify(finish)}}]`
  );
}

function serveSse(res: http.ServerResponse, body: string, events: number, intervalMs: number, hold: boolean): void {
  open++;
  opened++;
  res.once('close', () => open--);
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const wantsUsage = /"include_usage"\s*:\s*true/.test(body);
  const start = performance.now();
  let sent = 0;
  let timer: NodeJS.Timeout | undefined;
  res.once('close', () => clearTimeout(timer));
  const send = (): void => {
    if (res.destroyed) return;
    res.write(`data: ${chunk(' token', null)},"bench_sent_ns":${process.hrtime.bigint()}}\n\n`);
    sent++;
    if (sent < events) {
      // Scheduled from the start time, so timer lateness does not accumulate across events.
      timer = setTimeout(send, Math.max(0, start + sent * intervalMs - performance.now()));
      return;
    }
    if (hold) {
      timer = setTimeout(() => res.end(), HOLD_LIMIT_MS);
      return;
    }
    res.write(`data: ${chunk('', 'stop')}}\n\n`);
    if (wantsUsage) {
      res.write('data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":15,"completion_tokens":' + events + ',"total_tokens":' + (15 + events) + '}}\n\n');
    }
    res.end('data: [DONE]\n\n');
  };
  send();
}

/** An embeddings-shaped JSON body of about `bytes` bytes, as a header, a repeated block and a tail. */
export function embeddingsBody(bytes: number): { head: Buffer; block: Buffer; blocks: number; tail: Buffer; length: number } {
  const floats: string[] = [];
  let seed = 7;
  for (let i = 0; i < 1536; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    floats.push(((seed / 2147483648) * 0.2 - 0.1).toFixed(9));
  }
  const item = `{"object":"embedding","index":0,"embedding":[${floats.join(',')}]}`;
  const head = Buffer.from(`{"object":"list","data":[${item}`);
  const tail = Buffer.from('],"model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}}');
  // 16 items per block, each preceded by a comma: ~300 KB per write.
  const block = Buffer.from(`,${item}`.repeat(16));
  const blocks = Math.max(0, Math.round((bytes - head.length - tail.length) / block.length));
  return { head, block, blocks, tail, length: head.length + blocks * block.length + tail.length };
}

const bodyCache = new Map<number, ReturnType<typeof embeddingsBody>>();

function serveLarge(res: http.ServerResponse, bytes: number): void {
  const body = bodyCache.get(bytes) ?? embeddingsBody(bytes);
  bodyCache.set(bytes, body);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) });
  res.write(body.head);
  let left = body.blocks;
  const pump = (): void => {
    while (left > 0) {
      left--;
      if (!res.write(body.block)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end(body.tail);
  };
  res.once('close', () => (left = 0));
  pump();
}

export function createUpstream(): http.Server {
  const server = http.createServer({ noDelay: true, keepAliveTimeout: 120_000, requestTimeout: 0 }, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://upstream');
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => {
      const body = Buffer.concat(parts).toString('utf8');
      const q = (name: string, fallback: number): number => Number(url.searchParams.get(name) ?? fallback);
      if (url.pathname === '/_bench/stats') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ open, opened }));
      } else if (url.pathname.endsWith('/embeddings')) {
        serveLarge(res, q('bytes', 1_000_000));
      } else if (url.pathname.endsWith('/chat/completions') && url.searchParams.has('events')) {
        serveSse(res, body, q('events', 200), q('interval', 5), url.searchParams.get('hold') === '1');
      } else if (url.pathname.endsWith('/chat/completions')) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(SMALL_CHAT_JSON)) });
        res.end(SMALL_CHAT_JSON);
      } else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"error":{"message":"not found"}}');
      }
    });
  });
  server.headersTimeout = 130_000;
  return server;
}

function main(): void {
  const listen = process.argv[process.argv.indexOf('--listen') + 1] ?? '127.0.0.1:0';
  const [host, port] = listen.split(':');
  createUpstream().listen(Number(port), host, () => console.log(`listening on ${listen}`));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
