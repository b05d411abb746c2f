/**
 * Throughput of the JSON sniffer (src/usage/json-sniffer.ts) with the usage capture paths (SPEC §4) on response
 * bodies fed in 64 KiB chunks: OpenAI embeddings (float and base64; the speed targets are judged on these),
 * a chat completion whose content is one huge string full of escapes, one with logprobs (dense structure
 * below the paths), an Ollama NDJSON stream, and SSE-sized documents sniffed one at a time with reset().
 * Run: node --import tsx scripts/bench/json-sniffer.ts [sizeMB=100]
 */
import { Buffer } from 'node:buffer';
import { pathToFileURL } from 'node:url';
import { createJsonSniffer } from '../../src/usage/json-sniffer.ts';
import { USAGE_CAPTURE_PATHS } from '../../src/usage/usage.ts';

const CHUNK_BYTES = 64 * 1024;
const RUNS = 5;

export interface JsonSnifferBenchResult {
  readonly shape: string;
  readonly mbPerSec: number; // best of RUNS, 1 MB = 1e6 bytes
  readonly bytes: number;
  readonly values: number; // captured values reported per run
  readonly fed: string; // how the input was fed
}

/** A deterministic pseudo-random source (LCG) so every run scans the same bytes. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

const EMBEDDINGS_TAIL = '],"model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}}';

/** `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1536 floats]},…],"model":…,"usage":…}` */
export function embeddingsBody(sizeMB: number, encoding: 'float' | 'base64' = 'float'): Buffer {
  const random = lcg(7);
  const target = sizeMB * 1e6;
  const parts: Buffer[] = [Buffer.from('{"object":"list","data":[')];
  let bytes = parts[0]!.length;
  for (let index = 0; bytes < target; index++) {
    let embedding: string;
    if (encoding === 'float') {
      const floats: string[] = [];
      for (let d = 0; d < 1536; d++) floats.push(((random() - 0.5) * 0.08).toPrecision(8 + Math.floor(random() * 3)));
      embedding = `[${floats.join(',')}]`;
    } else {
      const raw = Buffer.alloc(1536 * 4);
      for (let d = 0; d < 1536; d++) raw.writeFloatLE((random() - 0.5) * 0.08, d * 4);
      embedding = `"${raw.toString('base64')}"`;
    }
    const item = Buffer.from(`${index === 0 ? '' : ','}{"object":"embedding","index":${index},"embedding":${embedding}}`);
    parts.push(item);
    bytes += item.length;
  }
  parts.push(Buffer.from(EMBEDDINGS_TAIL));
  return Buffer.concat(parts);
}

/** A chat completion whose message content is one string of `sizeMB` MB: code-like text, quotes and newlines escaped. */
export function longContentBody(sizeMB: number): Buffer {
  const random = lcg(11);
  const lines = [
    'const x = "hello";',
    'if (a && b) { return "a\\\\b"; }',
    '  print(f"{name!r} = {value}")',
    'He said "stop" — then left.',
    '\tindent with a tab',
    'path = "C:\\\\Users\\\\me"',
    'emoji 🚀 and 中文 text',
    'plain words with no escapes at all, just text to read through',
  ];
  const pieces: string[] = [];
  let length = 0;
  while (length < sizeMB * 1e6) {
    const line = lines[Math.floor(random() * lines.length)]!;
    pieces.push(line);
    length += line.length + 1;
  }
  const content = JSON.stringify(pieces.join('\n'));
  return Buffer.from(
    `{"id":"chatcmpl-abc","object":"chat.completion","created":1755137921,"model":"gpt-4o",` +
      `"choices":[{"index":0,"message":{"role":"assistant","content":${content},"refusal":null},"finish_reason":"stop"}],` +
      `"usage":{"prompt_tokens":12,"completion_tokens":100000,"total_tokens":100012}}`,
  );
}

/** Ollama /api/chat stream: one small JSON object per line, the usage counts on the last one. */
export function ollamaNdjsonBody(sizeMB: number): Buffer {
  const lines: string[] = [];
  let bytes = 0;
  for (let i = 0; bytes < sizeMB * 1e6; i++) {
    const line = `{"model":"llama3.2","created_at":"2025-10-17T23:14:07.${String(i % 1e6).padStart(6, '0')}Z","message":{"role":"assistant","content":" token${i % 97}"},"done":false}\n`;
    lines.push(line);
    bytes += line.length;
  }
  lines.push('{"model":"llama3.2","created_at":"2025-10-17T23:14:08Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":174560334,"prompt_eval_count":11,"eval_count":18}\n');
  return Buffer.from(lines.join(''));
}

/** A chat completion with logprobs: a small object and arrays per token, all below the capture paths. */
export function logprobsBody(sizeMB: number): Buffer {
  const tokens = ['Hello', ' world', ',', ' "quoted"', '\n', ' the'];
  const items: string[] = [];
  let bytes = 0;
  for (let i = 0; bytes < sizeMB * 1e6; i++) {
    const token = JSON.stringify(tokens[i % tokens.length]);
    const item =
      `{"token":${token},"logprob":-${((i % 1000) / 997).toFixed(6)},"bytes":[72,101,108],` +
      `"top_logprobs":[{"token":"a","logprob":-1.5,"bytes":[97]},{"token":"b","logprob":-2.25,"bytes":null}]}`;
    items.push(item);
    bytes += item.length + 1;
  }
  return Buffer.from(
    `{"id":"chatcmpl-abc","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,` +
      `"message":{"role":"assistant","content":"Hello world"},"logprobs":{"content":[${items.join(',')}]}}],` +
      `"usage":{"prompt_tokens":12,"completion_tokens":${items.length},"total_tokens":${items.length + 12}}}`,
  );
}

/** OpenAI chat.completion.chunk event data (about 190 bytes each), as the SSE parser hands them over. */
export function chatChunkDocuments(sizeMB: number): Buffer[] {
  const documents: Buffer[] = [];
  let bytes = 0;
  for (let i = 0; bytes < sizeMB * 1e6; i++) {
    const document = Buffer.from(
      `{"id":"chatcmpl-C4Hq${i % 100000}","object":"chat.completion.chunk","created":1755137921,"model":"gpt-4o-mini",` +
        `"choices":[{"index":0,"delta":{"content":" token ${i % 77}"},"finish_reason":null}],"usage":null}`,
    );
    documents.push(document);
    bytes += document.length;
  }
  return documents;
}

/** Best of RUNS: each document (a list of chunks) sniffed by one sniffer, reset between documents. */
function measure(shape: string, documents: readonly (readonly Buffer[])[], fed: string): JsonSnifferBenchResult {
  let bytes = 0;
  for (const chunks of documents) for (const chunk of chunks) bytes += chunk.length;
  let best = Infinity;
  let values = 0;
  for (let r = 0; r < RUNS; r++) {
    values = 0;
    const started = process.hrtime.bigint();
    const sniffer = createJsonSniffer({ capture: USAGE_CAPTURE_PATHS, onValue: () => void values++ });
    for (const chunks of documents) {
      sniffer.reset();
      for (const chunk of chunks) sniffer.feed(chunk);
      const end = sniffer.end();
      if (end !== 'ok') throw new Error(`bench input "${shape}" sniffed as ${end}`);
    }
    best = Math.min(best, Number(process.hrtime.bigint() - started));
  }
  return { shape, mbPerSec: bytes / 1e6 / (best / 1e9), bytes, values, fed };
}

function measureBody(shape: string, body: Buffer): JsonSnifferBenchResult {
  const chunks: Buffer[] = [];
  for (let i = 0; i < body.length; i += CHUNK_BYTES) chunks.push(body.subarray(i, i + CHUNK_BYTES));
  return measure(shape, [chunks], '64 KiB chunks');
}

export function benchJsonSniffer(sizeMB: number): JsonSnifferBenchResult[] {
  return [
    measureBody('embeddings (float)', embeddingsBody(sizeMB, 'float')),
    measureBody('embeddings (base64)', embeddingsBody(sizeMB, 'base64')),
    measureBody('chat, long escaped content', longContentBody(sizeMB)),
    measureBody('chat with logprobs (dense)', logprobsBody(sizeMB)),
    measureBody('ollama ndjson lines', ollamaNdjsonBody(sizeMB)),
    measure('sse-sized documents', chatChunkDocuments(sizeMB).map((document) => [document]), 'one feed per document, reset between'),
  ];
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const sizeMB = Number(process.argv.find((arg) => /^\d+(\.\d+)?$/.test(arg)) ?? 100);
  for (const result of benchJsonSniffer(sizeMB)) {
    console.log(
      `json-sniffer ${result.shape}: ${result.mbPerSec.toFixed(0)} MB/s ` +
        `(${(result.bytes / 1e6).toFixed(1)} MB, ${result.fed}, ${result.values} values reported, best of ${RUNS})`,
    );
  }
}
