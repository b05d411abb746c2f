/**
 * Test helpers for the SSE parser: a generator of random but plausible
 * event streams (every field kind, CR/LF/CRLF, comments, BOMs, multibyte text), ways to
 * cut a stream into chunks, and a run of src/usage/sse.ts that records everything it reports.
 */
import { Buffer } from 'node:buffer';
import { createSseParser } from '../../src/usage/sse.ts';
import type { SseParserOptions } from '../../src/usage/sse.ts';

// Other test files import the PRNG from here; its home is prng.ts.
export { prng } from './prng.ts';

export function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

// Text of values: spaces and colons (which must survive inside values), multibyte
// characters of 2, 3 and 4 bytes (cut across chunks), NUL (invalidates an id) and U+FEFF.
const VALUE_PIECES = ['a', 'b', 'z', '0', '7', '42', ' ', ':', ': ', '{"k":1}', 'é', '€', '世', '😀', '\u0000', '\uFEFF', 'data', '[DONE]'];
const FIELD_NAMES = ['data', 'data', 'data', 'event', 'id', 'retry', 'Data', 'dat', 'datas', 'foo', 'é', ''];
const LINE_ENDS = ['\n', '\n', '\r\n', '\r'];

export interface RandomStreamOptions {
  /** Also emit bytes that are not valid UTF-8 (our parser keeps them; decoders replace them). */
  invalidUtf8?: boolean;
}

/** A random event stream: mostly well-formed SSE with every kind of oddity the spec allows. */
export function randomSseStream(rand: () => number, lineCount: number, options: RandomStreamOptions = {}): Buffer {
  const parts: Buffer[] = [];
  const roll = rand();
  if (roll < 0.15) parts.push(Buffer.from([0xef, 0xbb, 0xbf]));
  else if (roll < 0.2) parts.push(Buffer.from([0xef, 0xbb])); // the start of a BOM that is not one
  for (let i = 0; i < lineCount; i++) {
    parts.push(Buffer.from(randomLine(rand)));
    if (options.invalidUtf8 === true && rand() < 0.05) parts.push(Buffer.from([pick(rand, [0xff, 0x80, 0xe2, 0xf0])]));
    parts.push(Buffer.from(pick(rand, LINE_ENDS)));
  }
  // Sometimes the stream stops inside a line or an event: that must be discarded.
  if (rand() < 0.3) parts.push(Buffer.from(randomLine(rand)));
  return Buffer.concat(parts);
}

function randomLine(rand: () => number): string {
  const kind = rand();
  if (kind < 0.25) return ''; // blank line: dispatch
  if (kind < 0.32) return ':' + randomValue(rand); // comment
  if (kind < 0.37) return pick(rand, FIELD_NAMES); // field without a colon
  const field = pick(rand, FIELD_NAMES);
  const separator = pick(rand, [':', ': ', ': ', ':  ']);
  if (field === 'retry' && rand() < 0.6) return field + separator + String(Math.floor(rand() * 100000));
  if (field === 'id' && rand() < 0.5) return field + separator + String(Math.floor(rand() * 1000));
  return field + separator + randomValue(rand);
}

function randomValue(rand: () => number): string {
  let value = '';
  const length = Math.floor(rand() * 6);
  for (let i = 0; i < length; i++) value += pick(rand, VALUE_PIECES);
  return value;
}

/** The stream cut before each of `positions` (sorted, within the stream). */
export function cutAt(bytes: Uint8Array, positions: readonly number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const position of positions) {
    chunks.push(bytes.subarray(start, position));
    start = position;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

/** The stream cut at `count` random positions (repeats allowed: empty chunks are fed too). */
export function cutRandomly(bytes: Uint8Array, rand: () => number, count: number): Uint8Array[] {
  const positions: number[] = [];
  for (let i = 0; i < count; i++) positions.push(Math.floor(rand() * (bytes.length + 1)));
  return cutAt(bytes, positions.sort((a, b) => a - b));
}

export interface RecordedEvent {
  readonly type: string;
  readonly data: string; // decoded as UTF-8, a leading U+FEFF kept
  readonly id: string | undefined;
}

export interface ParseRecord {
  readonly events: RecordedEvent[];
  /** The raw data bytes of each event, as hex: proves bytes, not only text, are identical. */
  readonly rawData: string[];
  readonly comments: string[];
  readonly retries: number[];
  readonly droppedLines: number;
  readonly droppedEvents: number;
}

const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

export function decodeUtf8(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}

/** Feeds the chunks to a new parser, then ends the stream, and records what it reported. */
export function parseChunks(chunks: readonly Uint8Array[], options?: SseParserOptions): ParseRecord {
  const events: RecordedEvent[] = [];
  const rawData: string[] = [];
  const comments: string[] = [];
  const retries: number[] = [];
  const parser = createSseParser(
    {
      onEvent(event) {
        events.push({ type: event.type, data: decodeUtf8(event.data), id: event.id });
        rawData.push(Buffer.from(event.data).toString('hex'));
      },
      onComment: (text) => void comments.push(text),
      onRetry: (ms) => void retries.push(ms),
    },
    options,
  );
  for (const chunk of chunks) parser.feed(chunk);
  parser.end();
  return { events, rawData, comments, retries, droppedLines: parser.droppedLines, droppedEvents: parser.droppedEvents };
}

export function parseText(...chunks: readonly (string | number[])[]): ParseRecord {
  return parseChunks(chunks.map((chunk) => (typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk))));
}
