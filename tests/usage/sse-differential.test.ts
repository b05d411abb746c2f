/**
 * Differential test: src/usage/sse.ts against eventsource-parser v4 on seeded random streams.
 * eventsource-parser takes strings, so it is fed the same chunks through a streaming
 * TextDecoder (ignoreBOM, so that the BOM is its own to strip, as ours is).
 *
 * Where it and the WHATWG spec disagree we follow the spec, and map or filter:
 * - its `event` is undefined without an `event:` field: mapped to "message";
 * - its event `id` is the `id` of the event's own block only, while the spec's last
 *   event ID buffer persists across events: we track its `onId` reports instead, which
 *   equal the spec's buffer at each dispatch;
 * - it also strips the text "ï»¿" (U+00EF U+00BB U+00BF, a BOM mis-decoded as Latin-1)
 *   from the start of the stream: the generator never starts a stream with it, and the
 *   last test pins the difference.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createParser } from 'eventsource-parser';
import { cutRandomly, parseChunks, randomSseStream } from '../helpers/sse-streams.ts';
import { prng } from '../helpers/prng.ts';
import type { RecordedEvent } from '../helpers/sse-streams.ts';

interface Comparable {
  readonly events: RecordedEvent[];
  readonly comments: string[];
  readonly retries: number[];
}

function viaEventsourceParser(chunks: readonly Uint8Array[]): Comparable {
  const events: RecordedEvent[] = [];
  const comments: string[] = [];
  const retries: number[] = [];
  let lastEventId: string | undefined;
  const parser = createParser({
    onId: (id) => void (lastEventId = id), // called before the block's onEvent
    onEvent: (event) => void events.push({ type: event.event ?? 'message', data: event.data, id: lastEventId }),
    onComment: (text) => void comments.push(text),
    onRetry: (ms) => void retries.push(ms),
  });
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  for (const chunk of chunks) parser.feed(decoder.decode(chunk, { stream: true }));
  // End of stream: the spec discards the pending line and event, as a reset without `consume` does.
  parser.reset();
  return { events, comments, retries };
}

function viaOurs(chunks: readonly Uint8Array[]): Comparable {
  const { events, comments, retries } = parseChunks(chunks);
  return { events, comments, retries };
}

describe('src/usage/sse.ts agrees with eventsource-parser v4', () => {
  test('on 3000 random streams, each cut at random positions', () => {
    const rand = prng(20_240_601);
    let eventCount = 0;
    for (let round = 0; round < 3000; round++) {
      const stream = randomSseStream(rand, 1 + Math.floor(rand() * 60), { invalidUtf8: round % 2 === 1 });
      const chunks = cutRandomly(stream, rand, Math.floor(rand() * 12));
      const ours = viaOurs(chunks);
      assert.deepEqual(ours, viaEventsourceParser(chunks), `round ${round}: ${JSON.stringify(stream.toString('latin1'))}`);
      eventCount += ours.events.length;
    }
    // The streams must exercise something: most rounds yield events.
    assert.ok(eventCount > 3000, `only ${eventCount} events`);
  });

  test('on random streams fed one byte at a time', () => {
    const rand = prng(7);
    for (let round = 0; round < 200; round++) {
      const stream = randomSseStream(rand, 1 + Math.floor(rand() * 30));
      const chunks = Array.from(stream, (_, i) => stream.subarray(i, i + 1));
      assert.deepEqual(viaOurs(chunks), viaEventsourceParser(chunks), `round ${round}`);
    }
  });

  test('known difference: only a real BOM is stripped, not the text "ï»¿" (we follow the spec)', () => {
    const stream = [Buffer.from('ï»¿data: x\n\ndata: y\n\n')];
    // WHATWG: the first line's field name is "ï»¿data", an unknown field.
    assert.deepEqual(viaOurs(stream).events.map((event) => event.data), ['y']);
    assert.deepEqual(viaEventsourceParser(stream).events.map((event) => event.data), ['x', 'y']);
  });
});
