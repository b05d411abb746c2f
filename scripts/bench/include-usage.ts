/**
 * Cost of the request-body edit (src/injection/include-usage.ts): microseconds per call on a typical chat body
 * and on bodies near the 8 MiB limit, streaming (scan + validation + edit) and not (scan only).
 * Run: node --import tsx scripts/bench/include-usage.ts
 */
import { Buffer } from 'node:buffer';
import { injectIncludeUsage, MAX_INJECT_BODY_BYTES } from '../../src/injection/include-usage.ts';

function body(bytes: number, stream: boolean): Buffer {
  const messages: unknown[] = [];
  let size = 0;
  for (let i = 0; size < bytes - 200; i++) {
    const message = { role: i % 2 === 0 ? 'user' : 'assistant', content: `Message ${i}: the quick brown fox "jumps" over the lazy dog — héllo 世界.` };
    messages.push(message);
    size += Buffer.byteLength(JSON.stringify(message)) + 1;
  }
  return Buffer.from(JSON.stringify({ model: 'gpt-4o', messages, temperature: 0.2, stream }));
}

function timePerCall(input: Buffer, runs: number): number {
  let best = Infinity;
  for (let r = 0; r < runs; r++) {
    const started = process.hrtime.bigint();
    injectIncludeUsage(input);
    best = Math.min(best, Number(process.hrtime.bigint() - started));
  }
  return best / 1e3;
}

for (const [label, bytes, runs] of [['2 KB', 2_000, 2000], ['100 KB', 100_000, 200], ['8 MiB', MAX_INJECT_BODY_BYTES, 10]] as const) {
  for (const stream of [true, false]) {
    const input = body(bytes, stream);
    if (injectIncludeUsage(input).injected !== stream) throw new Error(`${label}: unexpected result`);
    const us = timePerCall(input, runs);
    const mbPerSec = input.length / 1e6 / (us / 1e6);
    console.log(`include-usage ${label} body, stream=${stream}: ${us.toFixed(1)} µs per call (${mbPerSec.toFixed(0)} MB/s, best of ${runs})`);
  }
}
