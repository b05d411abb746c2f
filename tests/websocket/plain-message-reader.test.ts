// The side reader for uncompressed sessions (SPEC §13): the same messages as message-reader.ts,
// in the same order, on random frame streams cut at random — except those its judge turns down on
// their first bytes, which it skips without joining them — and the same end on a protocol fault.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, test } from 'node:test';
import { createPlainMessageReader, PEEK_BYTES } from '../../src/websocket/plain-message-reader.ts';
import { closeFrame, cutAt, cutRandomly, frame, messageFrames, randomStream, readMessages, TEXT, BINARY } from '../helpers/ws-frames.ts';
import { prng } from '../helpers/prng.ts';

interface PlainRun {
  readonly texts: string[];
  readonly prefixes: string[];
  readonly problems: string[];
  readonly closes: (number | undefined)[];
  readonly ends: number;
  readonly skipped: number;
  readonly maxHeld: number;
}

function readPlain(chunks: readonly Uint8Array[], wanted: (prefix: Buffer) => boolean, maxMessageBytes?: number): PlainRun {
  const texts: string[] = [];
  const prefixes: string[] = [];
  const problems: string[] = [];
  const closes: (number | undefined)[] = [];
  let ends = 0;
  let maxHeld = 0;
  const reader = createPlainMessageReader(
    { onText: (m) => void texts.push(m.toString('hex')), onClose: (c) => void closes.push(c), onProblem: (p) => void problems.push(p), onEnd: () => void ends++ },
    {
      wanted: (prefix) => {
        prefixes.push(prefix.toString('hex'));
        return wanted(prefix);
      },
      ...(maxMessageBytes === undefined ? {} : { maxMessageBytes }),
    },
  );
  for (const chunk of chunks) {
    reader.feed(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    maxHeld = Math.max(maxHeld, reader.heldBytes);
  }
  reader.end();
  return { texts, prefixes, problems, closes, ends, skipped: reader.skippedMessages, maxHeld };
}

// Judges on the first byte of the prefix only, so that skipping is exercised at every size.
const oddFirst = (prefix: Buffer): boolean => prefix.length === 0 || ((prefix[0] as number) & 1) === 1;

describe('the plain message reader', () => {
  test('with a judge that wants everything it delivers exactly what message-reader.ts delivers, on random streams cut at random', async () => {
    const random = prng(21);
    for (let round = 0; round < 150; round++) {
      const { bytes } = randomStream(random, 1 + Math.floor(random() * 12));
      const chunks = cutRandomly(bytes, random, Math.floor(random() * 30));
      const expected = await readMessages(chunks);
      const got = readPlain(chunks, () => true);
      assert.deepEqual([got.texts, got.problems, got.closes, got.ends], [expected.texts, expected.problems, expected.closes, 1], `round ${round}`);
    }
  });

  test('a judge sees each text message\'s first PEEK_BYTES bytes (or all of a shorter one), and what it turns down is never delivered', async () => {
    const random = prng(22);
    for (let round = 0; round < 150; round++) {
      const { bytes, messages } = randomStream(random, 1 + Math.floor(random() * 12));
      const texts = messages.filter((m) => m.opcode === TEXT).map((m) => m.payload);
      const got = readPlain(cutRandomly(bytes, random, Math.floor(random() * 30)), oddFirst);
      const seen = bytes.includes(closeFrame(1000, 'bye')) ? got.prefixes.length : texts.length;
      assert.deepEqual(got.prefixes, texts.slice(0, seen).map((t) => t.subarray(0, PEEK_BYTES).toString('hex')), `round ${round}`);
      assert.deepEqual(got.texts, texts.slice(0, seen).filter((t) => oddFirst(t)).map((t) => t.toString('hex')), `round ${round}`);
    }
  });

  test('a message turned down is skipped however it is fragmented and cut, holding no more than a peek', () => {
    const payload = Buffer.concat([Buffer.from('{"type":"response.output_audio.delta","delta":"'), Buffer.alloc(50_000, 0x41), Buffer.from('"}')]);
    const bytes = Buffer.concat([...messageFrames(TEXT, payload, 7), frame({ opcode: TEXT, payload: '{"type":"response.done"}' })]);
    for (const at of [1, 5, 20, 60, 79, 80, 81, 200, 30_000]) {
      const got = readPlain(cutAt(bytes, [at, at + 3, at + 90]), (prefix) => !prefix.toString().startsWith('{"type":"response.output'));
      assert.deepEqual(got.texts, [Buffer.from('{"type":"response.done"}').toString('hex')], `cut at ${at}`);
      assert.ok(got.maxHeld <= PEEK_BYTES + 10, `held ${got.maxHeld} bytes`);
    }
  });

  test('binary messages are never judged nor delivered; a message over the cap is skipped and counted, once its fragments add up past it', () => {
    const got = readPlain([frame({ opcode: BINARY, payload: 'bin' }), ...messageFrames(TEXT, Buffer.alloc(200, 0x61), 2), frame({ opcode: TEXT, payload: 'ok' })], () => true, 100);
    // The judge saw the first fragment's first bytes: the length to come is not known then.
    assert.deepEqual(got.prefixes, [Buffer.alloc(PEEK_BYTES, 0x61).toString('hex'), Buffer.from('ok').toString('hex')]);
    assert.deepEqual(got.texts, [Buffer.from('ok').toString('hex')]);
    assert.equal(got.skipped, 1);
  });

  test('a protocol fault ends reading once, after the messages before it, and onEnd comes exactly once', async () => {
    const random = prng(23);
    for (let round = 0; round < 100; round++) {
      const { bytes } = randomStream(random, 1 + Math.floor(random() * 8), { insert: frame({ opcode: TEXT, payload: 'masked', mask: Buffer.from([9, 8, 7, 6]) }) });
      const chunks = cutRandomly(bytes, random, Math.floor(random() * 20));
      const expected = await readMessages(chunks);
      const got = readPlain(chunks, () => true);
      assert.deepEqual([got.texts, got.problems, got.ends], [expected.texts, expected.problems, 1], `round ${round}`);
    }
  });
});
