/**
 * Throughput of the SSE parser (src/usage/sse.ts) on OpenAI-style chat chunk events
 * (`data: {...}\n\n`, 150-250 bytes each) fed in 64 KiB chunks with a trivial onEvent.
 * Run: node --import tsx scripts/bench/sse-parser.ts [sizeMB=100] [--runs=5] [--compare]
 * `--compare` also times eventsource-parser v4 on the same stream (decoded to strings).
 */
import { Buffer } from 'node:buffer';
import { pathToFileURL } from 'node:url';
import { createSseParser } from '../../src/usage/sse.ts';

const CHUNK_BYTES = 64 * 1024;
const RUNS = 5;

export interface SseBenchResult {
  readonly mbPerSec: number; // best of RUNS, 1 MB = 1e6 bytes
  readonly events: number;
  readonly bytes: number;
}

/** A deterministic stream of chat.completion.chunk events, about `sizeMB` MB long. */
export function openAiChatStream(sizeMB: number): Buffer {
  const target = Math.max(1, Math.round(sizeMB * 1e6));
  const words = ['the', 'quick', 'brown', 'fox', 'jumps', 'over', 'lazy', 'dog', 'héllo', '世界', 'token', 'stream'];
  const parts: Buffer[] = [];
  let bytes = 0;
  let seed = 1;
  for (let i = 0; bytes < target; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    let content = '';
    const count = 1 + (seed >>> 16) % 12;
    for (let w = 0; w < count; w++) content += ' ' + words[(seed >>> (w % 16)) % words.length];
    const event =
      `data: {"id":"chatcmpl-C4Hq${i % 100000}","object":"chat.completion.chunk","created":1755137921,` +
      `"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":${JSON.stringify(content)}},` +
      `"finish_reason":null}],"usage":null}\n\n`;
    const encoded = Buffer.from(event);
    parts.push(encoded);
    bytes += encoded.length;
  }
  parts.push(Buffer.from('data: [DONE]\n\n'));
  return Buffer.concat(parts);
}

function chunksOf(stream: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < stream.length; i += CHUNK_BYTES) chunks.push(stream.subarray(i, i + CHUNK_BYTES));
  return chunks;
}

function bestOf(runs: number, bytes: number, once: () => number): SseBenchResult {
  let best = Infinity;
  let events = 0;
  for (let r = 0; r < runs; r++) {
    const started = process.hrtime.bigint();
    events = once();
    const ns = Number(process.hrtime.bigint() - started);
    best = Math.min(best, ns);
  }
  return { mbPerSec: bytes / 1e6 / (best / 1e9), events, bytes };
}

export async function benchSseParser(sizeMB: number, runs = RUNS): Promise<SseBenchResult> {
  const stream = openAiChatStream(sizeMB);
  const chunks = chunksOf(stream);
  return bestOf(runs, stream.length, () => {
    let events = 0;
    const parser = createSseParser({ onEvent: () => void events++ });
    for (const chunk of chunks) parser.feed(chunk);
    parser.end();
    return events;
  });
}

/** eventsource-parser v4 on the same stream, its UTF-8 decoding included (it takes strings). */
export async function benchEventsourceParser(sizeMB: number): Promise<SseBenchResult> {
  // Loaded here, so that the main bench, which runs only benchSseParser, never needs it.
  const { createParser } = await import('eventsource-parser');
  const stream = openAiChatStream(sizeMB);
  const chunks = chunksOf(stream);
  return bestOf(RUNS, stream.length, () => {
    let events = 0;
    const decoder = new TextDecoder();
    const parser = createParser({ onEvent: () => void events++ });
    for (const chunk of chunks) parser.feed(decoder.decode(chunk, { stream: true }));
    return events;
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const sizeMB = Number(process.argv.find((arg) => /^\d+(\.\d+)?$/.test(arg)) ?? 100);
  const runsArg = process.argv.find((arg) => arg.startsWith('--runs='));
  const runs = runsArg === undefined ? RUNS : Number(runsArg.slice('--runs='.length));
  const ours = await benchSseParser(sizeMB, runs);
  console.log(`sse-parser: ${ours.mbPerSec.toFixed(0)} MB/s (${ours.events} events, ${(ours.bytes / 1e6).toFixed(1)} MB in 64 KiB chunks, best of ${runs})`);
  if (process.argv.includes('--compare')) {
    const theirs = await benchEventsourceParser(sizeMB);
    console.log(`eventsource-parser v4 (with TextDecoder): ${theirs.mbPerSec.toFixed(0)} MB/s (${theirs.events} events)`);
  }
}
