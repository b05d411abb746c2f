/**
 * Fuzz target: src/injection/usage-chunk-filter.ts (SPEC §5) on random OpenAI-style event streams. The
 * client's bytes must be the upstream's minus exactly the usage-only events, worked out on the whole stream
 * by a reference written from WHATWG HTML §9.2.6 (lines, blank-line dispatch, data fields) and the module's
 * documented rule: an event of at most maxEventBytes (its blank line aside) whose data JSON.parses to an
 * object with `choices: []` and an object `usage`, spelled `"choices"`, `:`, `[`, `]` in its bytes. Whatever
 * the cuts; and never more held back than one event.
 */
import { Buffer } from 'node:buffer';
import { createUsageChunkFilter, DEFAULT_MAX_EVENT_BYTES } from '../../../src/injection/usage-chunk-filter.ts';
import { USAGE_FIXTURES } from '../../../tests/fixtures/usage/index.ts';
import { expect, type FuzzTarget } from '../engine.ts';
import { copies, int, pick, rechunk, type Rand } from '../mutate.ts';
import { preview } from './json-sniffer.ts';

const EMPTY_CHOICES = /"choices"[ \t\n\r]*:[ \t\n\r]*\[[ \t\n\r]*\]/;

function isUsageOnly(event: Buffer, maxEventBytes: number, first: boolean): boolean {
  if (event.length > maxEventBytes || !EMPTY_CHOICES.test(event.toString('latin1'))) return false;
  // WHATWG: the decoder strips one leading BOM of the stream, before any line is read.
  const text = event.toString('latin1');
  const data: string[] = [];
  for (const line of (first && text.startsWith('\u00ef\u00bb\u00bf') ? text.slice(3) : text).split(/\r\n|\n|\r/)) {
    const colon = line.indexOf(':');
    const name = colon < 0 ? line : line.slice(0, colon);
    if (name !== 'data') continue;
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    data.push(Buffer.from(value, 'latin1').toString('utf8'));
  }
  if (data.length === 0) return false;
  try {
    const value = JSON.parse(data.join('\n')) as Record<string, unknown>;
    const usage = value['usage'];
    return typeof value === 'object' && value !== null && Array.isArray(value['choices']) && value['choices'].length === 0 &&
      typeof usage === 'object' && usage !== null && !Array.isArray(usage);
  } catch {
    return false;
  }
}

/** The stream without its usage-only events (each with its blank line), by the reference. */
interface Removal {
  readonly start: number;
  readonly blank: number; // where its blank line's line end begins: the filter decides there
  readonly end: number;
}

export function expectedClientBytes(stream: Buffer, maxEventBytes: number): { bytes: Buffer; removed: number; removals: Removal[] } {
  const removals: Removal[] = [];
  const kept: Buffer[] = [];
  let keptFrom = 0;
  let eventStart = 0;
  let removed = 0;
  let lineStart = 0;
  for (let i = 0; i < stream.length; ) {
    const c = stream[i];
    if (c !== 0x0a && c !== 0x0d) {
      i++;
      continue;
    }
    const lineEnd = i;
    i += c === 0x0d && stream[i + 1] === 0x0a ? 2 : 1;
    if (lineEnd === lineStart) {
      // A blank line: the event [eventStart, lineEnd) is dispatched.
      if (isUsageOnly(stream.subarray(eventStart, lineEnd), maxEventBytes, eventStart === 0)) {
        kept.push(stream.subarray(keptFrom, eventStart));
        removals.push({ start: eventStart, blank: lineEnd, end: i });
        keptFrom = i;
        removed++;
      }
      eventStart = i;
    }
    lineStart = i;
  }
  kept.push(stream.subarray(keptFrom));
  return { bytes: Buffer.concat(kept), removed, removals };
}

const ORDINARY = [
  '{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}],"usage":null}',
  '{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}', '[DONE]', 'not json', '{"choices":[],"usage":null}',
  '{"choices":[],"usage":[]}', '{"x":{"choices":[]},"usage":{"a":1}}', '{"note":"\\"choices\\":[]","usage":{"a":1},"choices":[1]}',
];
const USAGE_ONLY = [
  '{"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}',
  '{"usage":{"total_tokens":1},"choices":[]}', '{ "choices" : [ ] , "usage" : { } }', '{"choices":[],"usage":{},"choices":[]}',
  '{"ch\\u006fices":[],"usage":{},"n":"\\"choices\\":[]"}',
];

function randomEvent(rand: Rand): string {
  const eol = pick(rand, ['\n', '\n', '\r\n', '\r']);
  const data = rand() < 0.4 ? pick(rand, USAGE_ONLY) : pick(rand, ORDINARY);
  const lines: string[] = [];
  if (rand() < 0.1) lines.push(pick(rand, [': ping', 'event: message', 'id: 7', 'retry: 10']));
  const roll = rand();
  if (roll < 0.1) {
    const cut = int(rand, data.length + 1); // one JSON text over two data lines
    lines.push(`data: ${data.slice(0, cut)}`, `data:${data.slice(cut)}`);
  } else lines.push(`${pick(rand, ['data: ', 'data:', 'data:  ', 'Data: ', 'data '])}${data}`);
  return `${lines.join(eol)}${eol}${eol}`;
}

function randomStream(rand: Rand): Buffer {
  let text = '';
  for (let n = 1 + int(rand, 8); n > 0; n--) text += randomEvent(rand);
  if (rand() < 0.2) text += pick(rand, ['data: {"choices":[],"usage":{}}', 'data: x\n', '\n']); // cut short
  return Buffer.from(text);
}

export const usageChunkFilterTarget: FuzzTarget = {
  name: 'usage-chunk-filter',
  description: 'src/injection/usage-chunk-filter.ts: the client gets the upstream bytes minus exactly the usage-only events, whatever the cuts',
  seeds(rand) {
    const seeds: Buffer[] = USAGE_FIXTURES.filter((f) => f.contentType.startsWith('text/event-stream')).map((f) => Buffer.from(f.body));
    for (let n = 0; n < 30; n++) seeds.push(randomStream(rand));
    return seeds;
  },
  generate: randomStream,
  check(input, rand) {
    const maxEventBytes = rand() < 0.7 ? DEFAULT_MAX_EVENT_BYTES : pick(rand, [0, 10, 40, 100, 150]);
    const expected = expectedClientBytes(input, maxEventBytes);
    for (let round = 0; round < 3; round++) {
      const chunks = rechunk(rand, input);
      const filter = createUsageChunkFilter({ maxEventBytes });
      const out: Buffer[] = [];
      let pushed = 0;
      let forwarded = 0;
      for (const chunk of round === 2 ? copies(chunks) : chunks) {
        const pieces = filter.push(chunk);
        pushed += chunk.length;
        for (const piece of pieces) forwarded += piece.length;
        out.push(...pieces);
        // Held back: what came in, less what went out and what was removed: at most the event in progress.
        let removedBytes = 0;
        for (const r of expected.removals) if (r.blank < pushed) removedBytes += Math.min(r.end, pushed) - r.start;
        const held = pushed - forwarded - removedBytes;
        expect(held >= 0 && held <= Math.max(maxEventBytes, 0), 'memory-unbounded', () => `held ${held} bytes (max ${maxEventBytes}) after ${pushed}: ${preview(input)}`);
      }
      out.push(...filter.end());
      const got = Buffer.concat(out);
      expect(Number.isSafeInteger(filter.removedEvents) && filter.removedEvents >= 0, 'bad-count', () => `removedEvents ${filter.removedEvents}`);
      expect(got.equals(expected.bytes) && filter.removedEvents === expected.removed, 'client-bytes-differ', () =>
        `max ${maxEventBytes}, cut ${chunks.map((c) => c.length).join('+')}: ${preview(input)}\ngot ${preview(got)} (${filter.removedEvents} removed)\nwant ${preview(expected.bytes)} (${expected.removed})`);
    }
  },
  grow(input, factor) {
    return Buffer.concat(Array.from({ length: factor }, () => input));
  },
  work(input) {
    const filter = createUsageChunkFilter();
    for (let i = 0; i < input.length; i += 1024) filter.push(input.subarray(i, i + 1024));
    filter.end();
  },
};
