/**
 * Throughput of the usage-only chunk filter (src/injection/usage-chunk-filter.ts) on an OpenAI-style stream
 * with include_usage on (every chunk carries "usage":null, the worst case for its pre-check), fed in
 * 64 KiB chunks and in one chunk per event (how small streams arrive from a socket).
 * Run: node --import tsx scripts/bench/usage-chunk-filter.ts [sizeMB=100]
 */
import { Buffer } from 'node:buffer';
import { createUsageChunkFilter } from '../../src/injection/usage-chunk-filter.ts';
import { openAiChatStream } from './sse-parser.ts';

const RUNS = 5;
const USAGE_ONLY = Buffer.from(
  'data: {"id":"chatcmpl-C4Hq1","object":"chat.completion.chunk","created":1755137921,"model":"gpt-4o-mini",' +
    '"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":100,"total_tokens":112}}\n\n',
);

function bestMbPerSec(chunks: readonly Buffer[], bytes: number): { mbPerSec: number; outBytes: number } {
  let best = Infinity;
  let outBytes = 0;
  for (let r = 0; r < RUNS; r++) {
    const started = process.hrtime.bigint();
    const filter = createUsageChunkFilter();
    outBytes = 0;
    for (const chunk of chunks) for (const out of filter.push(chunk)) outBytes += out.length;
    for (const out of filter.end()) outBytes += out.length;
    best = Math.min(best, Number(process.hrtime.bigint() - started));
  }
  return { mbPerSec: bytes / 1e6 / (best / 1e9), outBytes };
}

function main(): void {
  const sizeMB = Number(process.argv[2] ?? 100);
  const body = openAiChatStream(sizeMB);
  const done = body.subarray(body.length - 'data: [DONE]\n\n'.length);
  const stream = Buffer.concat([body.subarray(0, body.length - done.length), USAGE_ONLY, done]);

  const big: Buffer[] = [];
  for (let i = 0; i < stream.length; i += 64 * 1024) big.push(stream.subarray(i, i + 64 * 1024));
  const perEvent: Buffer[] = [];
  for (let from = 0, at = stream.indexOf('\n\n'); at >= 0; from = at + 2, at = stream.indexOf('\n\n', from)) perEvent.push(stream.subarray(from, at + 2));

  for (const [name, chunks] of [['64 KiB chunks', big], ['one chunk per event', perEvent]] as const) {
    const { mbPerSec, outBytes } = bestMbPerSec(chunks, stream.length);
    if (outBytes !== stream.length - USAGE_ONLY.length) throw new Error(`${name}: wrong output size ${outBytes}`);
    console.log(`usage-chunk-filter ${name}: ${mbPerSec.toFixed(0)} MB/s (${(stream.length / 1e6).toFixed(0)} MB, ${perEvent.length} events, best of ${RUNS})`);
  }
}

main();
