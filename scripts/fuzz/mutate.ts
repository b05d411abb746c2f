/**
 * The mutation engine of the fuzz harness (issue 17): a seeded PRNG, byte-level mutations (flips, sets,
 * inserts, deletions, duplications, splices with another corpus entry, truncation), a dictionary of the
 * grammars' tokens, and chunk re-cutting. Everything is a pure function of its seed, so a case replays
 * from its seed alone. No dependency: tests/helpers/prng.ts is the one PRNG of the project.
 */
import { Buffer } from 'node:buffer';
import { prng } from '../../tests/helpers/prng.ts';

export type Rand = () => number;
export { prng };

/** Tokens of the grammars the targets read: JSON, SSE, HTTP, paths, WebSocket-ish bytes. */
export const DICTIONARY: readonly string[] = [
  // JSON structure, escapes and numbers
  '{', '}', '[', ']', '"', ':', ',', '\\', '\\"', '\\\\', '\\u', '\\u0022', '\\u005c', '\\ud800', '\\udc00', '\\uDBFF\\uDFFF',
  '\\n', '\\/', '\\x', 'true', 'false', 'null', 'tru', 'nul', '-', '-0', '0', '01', '1.', '.5', '1e', '1e+', '1E-7', '-0.0e-0',
  '9007199254740993', '1e400', '-1e-400', '123456789012345678901234567890', '0.1e1', ' ', '\t', '\n', '\r', '\r\n',
  '"usage"', '"usage":', '"usage":{', '"usage":null', '"model"', '"message"', '"response"', '"usageMetadata"', '"eval_count"',
  '"prompt_eval_count"', '"choices":[]', '"choices":[', '"stream":true', '"stream_options"', '"include_usage":true',
  '"include_usage"', '"us\\u0061ge"', '"prompt_tokens":', '"total_tokens":7', '{"usage":{"prompt_tokens":1}}', ',,', '[,', ',]',
  '\ufeff', '\u2028', '\u0000', '\u001f', '\u007f', 'é', '😀',
  // SSE
  'data:', 'data: ', 'data', 'event:', 'event: ', 'id:', 'id: ', 'retry:', 'retry: 1000', ':', ': ping', '\n\n', '\r\r', '\r\n\r\n',
  'data: [DONE]', 'event: message_delta', 'event: response.completed',
  // HTTP heads, paths and targets
  'HTTP/1.1', 'Transfer-Encoding: chunked', 'Content-Length: ', 'Connection: close', '0\r\n\r\n', '..', '.', '/', '//',
  '%2e', '%2E', '%2f', '%2F', '%5c', '%5C', '%00', '%', '%zz', '?', '#', '@', 'http://', 'evil.example', '/v1', '/..',
  // Tags and flags
  '=', 'name=value', '--upstream', '--listen=', '--tags', '-h', '--', ',',
];

const DICTIONARY_BYTES: readonly Buffer[] = DICTIONARY.map((token) => Buffer.from(token));

/** Interesting single bytes: structural ASCII, controls, UTF-8 lead and continuation bytes, a BOM byte. */
const INTERESTING_BYTES = [0x00, 0x09, 0x0a, 0x0d, 0x20, 0x22, 0x2c, 0x2e, 0x2f, 0x30, 0x3a, 0x5b, 0x5c, 0x5d, 0x7b, 0x7d, 0x7f, 0x80, 0xbf, 0xc0, 0xe2, 0xef, 0xf0, 0xff];

export function int(rand: Rand, n: number): number {
  return Math.floor(rand() * n);
}

export function pick<T>(rand: Rand, items: readonly T[]): T {
  return items[int(rand, items.length)] as T;
}

/** A seed for a sub-generator, so one case seed fans out to independent streams. */
export function fork(rand: Rand): Rand {
  return prng(Math.floor(rand() * 0x1_0000_0000));
}

/**
 * One to `maxEdits` mutations of `input`, with `other` (another corpus entry) for splices. The result is
 * capped at `maxBytes`: fuzzing wants many small cases, and the linearity check grows inputs on purpose.
 */
export function mutate(rand: Rand, input: Uint8Array, other: Uint8Array, maxEdits = 6, maxBytes = 64 * 1024): Buffer {
  let bytes: Buffer = Buffer.from(input);
  for (let edits = 1 + int(rand, maxEdits); edits > 0; edits--) bytes = mutateOnce(rand, bytes, other);
  return bytes.length > maxBytes ? bytes.subarray(0, maxBytes) : bytes;
}

function mutateOnce(rand: Rand, bytes: Buffer, other: Uint8Array): Buffer {
  const n = bytes.length;
  const at = int(rand, n + 1);
  switch (int(rand, 11)) {
    case 0: { // flip one bit
      if (n === 0) return bytes;
      const copy = Buffer.from(bytes);
      const p = Math.min(at, n - 1);
      copy[p] = (copy[p] as number) ^ (1 << int(rand, 8));
      return copy;
    }
    case 1: { // set one byte to an interesting value
      if (n === 0) return Buffer.from([pick(rand, INTERESTING_BYTES)]);
      const copy = Buffer.from(bytes);
      copy[Math.min(at, n - 1)] = pick(rand, INTERESTING_BYTES);
      return copy;
    }
    case 2: // insert a random byte
      return Buffer.concat([bytes.subarray(0, at), Buffer.from([int(rand, 256)]), bytes.subarray(at)]);
    case 3: // insert a dictionary token
    case 4:
      return Buffer.concat([bytes.subarray(0, at), pick(rand, DICTIONARY_BYTES), bytes.subarray(at)]);
    case 5: // replace a short run by a dictionary token
      return Buffer.concat([bytes.subarray(0, at), pick(rand, DICTIONARY_BYTES), bytes.subarray(Math.min(n, at + 1 + int(rand, 4)))]);
    case 6: // delete a run
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(n, at + 1 + int(rand, 16)))]);
    case 7: { // duplicate a run in place
      const end = Math.min(n, at + 1 + int(rand, 32));
      return Buffer.concat([bytes.subarray(0, end), bytes.subarray(at, end), bytes.subarray(end)]);
    }
    case 8: { // splice: our head, another entry's tail
      const from = int(rand, other.length + 1);
      return Buffer.concat([bytes.subarray(0, at), other.subarray(from)]);
    }
    case 9: { // insert a piece of another entry
      const from = int(rand, other.length + 1);
      return Buffer.concat([bytes.subarray(0, at), other.subarray(from, from + 1 + int(rand, 64)), bytes.subarray(at)]);
    }
    default: // truncate
      return bytes.subarray(0, at);
  }
}

/** Cut positions, sorted, repeats allowed (an empty chunk is a chunk too). */
export function randomCuts(rand: Rand, length: number, count: number): number[] {
  const cuts: number[] = [];
  for (let i = 0; i < count; i++) cuts.push(int(rand, length + 1));
  return cuts.sort((a, b) => a - b);
}

/** The bytes cut before each position; subarrays of a Buffer stay Buffers. */
export function cutAt(bytes: Buffer, positions: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let start = 0;
  for (const position of positions) {
    chunks.push(bytes.subarray(start, position));
    start = position;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

/** A random way to cut: whole, byte by byte, a few random cuts, or many. */
export function rechunk(rand: Rand, bytes: Buffer): Buffer[] {
  const roll = rand();
  if (roll < 0.15) return [bytes];
  if (roll < 0.25 && bytes.length <= 4096) return cutAt(bytes, Array.from({ length: bytes.length }, (_, i) => i));
  if (roll < 0.7) return cutAt(bytes, randomCuts(rand, bytes.length, 1 + int(rand, 4)));
  return cutAt(bytes, randomCuts(rand, bytes.length, 1 + int(rand, Math.min(200, bytes.length + 1))));
}

/** A copy of each chunk in a fresh ArrayBuffer: catches a module that keeps views of chunks it was handed. */
export function copies(chunks: readonly Buffer[]): Buffer[] {
  return chunks.map((chunk) => Buffer.from(Uint8Array.prototype.slice.call(chunk)));
}

/** FNV-1a, 32 bits, as 8 hex digits: names a crash file after its input. */
export function hashHex(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ (bytes[i] as number), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}
