/**
 * Throughput of the usage-side body decoder (src/usage/body-decoder.ts): decoded MB/s for identity, gzip
 * and br bodies of OpenAI-style chat chunk events fed in 16 KiB chunks, next to a bare zlib stream
 * on the same bytes, and the cost of stopping a 10 MB gzip bomb (~10 GiB of zeros).
 * Run: node --import tsx scripts/bench/body-decoder.ts [sizeMB=50]
 */
import { Buffer } from 'node:buffer';
import { pathToFileURL } from 'node:url';
import * as zlib from 'node:zlib';
import type { Transform } from 'node:stream';
import { createBodyDecoder } from '../../src/usage/body-decoder.ts';
import { openAiChatStream } from './sse-parser.ts';

const CHUNK_BYTES = 16 * 1024; // a typical upstream socket read
const RUNS = 5;

function chunksOf(bytes: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += CHUNK_BYTES) chunks.push(bytes.subarray(at, at + CHUNK_BYTES));
  return chunks;
}

/** Decoded bytes per second through createBodyDecoder, best of RUNS, 1 MB = 1e6 bytes. */
async function viaDecoder(encoding: string | undefined, chunks: readonly Buffer[]): Promise<number> {
  let best = 0;
  for (let run = 0; run < RUNS; run++) {
    let decoded = 0;
    const start = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      const decoder = createBodyDecoder(encoding, {
        onData: (chunk) => (decoded += chunk.length),
        onEnd: resolve,
        onProblem: (problem, detail) => reject(new Error(`${problem}: ${detail}`)),
      });
      for (const chunk of chunks) decoder.write(chunk);
      decoder.end();
    });
    best = Math.max(best, decoded / 1e6 / (Number(process.hrtime.bigint() - start) / 1e9));
  }
  return best;
}

/** The same through a bare zlib stream, for the decoder's own overhead. */
async function viaZlib(create: () => Transform, chunks: readonly Buffer[]): Promise<number> {
  let best = 0;
  for (let run = 0; run < RUNS; run++) {
    let decoded = 0;
    const start = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      const stream = create();
      stream.on('data', (chunk: Buffer) => (decoded += chunk.length));
      stream.on('end', resolve);
      stream.on('error', reject);
      for (const chunk of chunks) stream.write(chunk);
      stream.end();
    });
    best = Math.max(best, decoded / 1e6 / (Number(process.hrtime.bigint() - start) / 1e9));
  }
  return best;
}

/** Wall and CPU milliseconds to stop a gzip bomb fed 16 KiB per millisecond, like a fast network. */
async function stopBomb(): Promise<{ wallMs: number; cpuMs: number; decoded: number; fed: number }> {
  const deflate = zlib.createDeflateRaw({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on('data', (part: Buffer) => parts.push(part));
  deflate.write(Buffer.alloc(1024 * 1024));
  await new Promise<void>((resolve) => deflate.flush(zlib.constants.Z_FULL_FLUSH, () => resolve()));
  const segment = Buffer.concat(parts); // repeats exactly: the full flush resets the compressor
  const bomb = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), ...Array<Buffer>(Math.ceil(10e6 / segment.length)).fill(segment)]);

  let decoded = 0;
  let ended = false;
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  const decoder = createBodyDecoder('gzip', { onData: (c) => (decoded += c.length), onEnd: () => (ended = true), onProblem: () => {} });
  let fed = 0;
  for (const chunk of chunksOf(bomb)) {
    if (ended) break;
    decoder.write(chunk);
    fed += chunk.length;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  decoder.destroy();
  const used = process.cpuUsage(cpu);
  return { wallMs: Number(process.hrtime.bigint() - start) / 1e6, cpuMs: (used.user + used.system) / 1000, decoded, fed };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const sizeMB = Number(process.argv[2] ?? 50);
  const body = openAiChatStream(sizeMB);
  const gzip = zlib.gzipSync(body);
  const br = zlib.brotliCompressSync(body, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 } });
  const fmt = (n: number): string => n.toFixed(0).padStart(7);
  console.log(`body ${(body.length / 1e6).toFixed(1)} MB; gzip ${(body.length / gzip.length).toFixed(1)}:1, br ${(body.length / br.length).toFixed(1)}:1; ${CHUNK_BYTES / 1024} KiB chunks, best of ${RUNS}`);
  console.log(`identity  decoder ${fmt(await viaDecoder(undefined, chunksOf(body)))} MB/s`);
  const gz = chunksOf(gzip);
  console.log(`gzip      decoder ${fmt(await viaDecoder('gzip', gz))} MB/s   bare gunzip ${fmt(await viaZlib(() => zlib.createGunzip(), gz))} MB/s`);
  const b = chunksOf(br);
  console.log(`br        decoder ${fmt(await viaDecoder('br', b))} MB/s   bare brotli ${fmt(await viaZlib(() => zlib.createBrotliDecompress(), b))} MB/s`);
  const bomb = await stopBomb();
  console.log(`10 MB gzip bomb: stopped after ${(bomb.fed / 1024).toFixed(0)} KiB fed, ${(bomb.decoded / 1048576).toFixed(2)} MiB decoded, ${bomb.wallMs.toFixed(1)} ms wall, ${bomb.cpuMs.toFixed(1)} ms CPU`);
}
