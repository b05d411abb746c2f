import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createMessageReader } from '../../src/websocket/message-reader.ts';
import type { MessageCallbacks } from '../../src/websocket/message-reader.ts';
import {
  BINARY,
  CONTINUATION,
  PING,
  PONG,
  TEXT,
  closeFrame,
  cutAt,
  cutRandomly,
  frame,
  hex,
  messageFrames,
  randomStream,
  readMessages,
  textsOf,
} from '../helpers/ws-frames.ts';
import { prng } from '../helpers/prng.ts';

const MiB = 1024 * 1024;
const read = (...frames: Buffer[]) => readMessages([Buffer.concat(frames)]);

describe('text messages', () => {
  test('a text message in one frame is delivered whole', async () => {
    const record = await read(frame({ opcode: TEXT, payload: '{"type":"response.done"}' }));
    assert.deepEqual(record.texts, [hex('{"type":"response.done"}')]);
    assert.equal(record.ends, 1);
  });

  test('fragments are joined, with pings and pongs between them', async () => {
    const record = await read(
      frame({ opcode: TEXT, payload: '{"a":', fin: false }),
      frame({ opcode: PING, payload: 'p' }),
      frame({ opcode: CONTINUATION, payload: '1', fin: false }),
      frame({ opcode: PONG }),
      frame({ opcode: CONTINUATION, payload: '}' }),
    );
    assert.deepEqual(record.texts, [hex('{"a":1}')]);
  });

  test('a multibyte character cut between fragments comes out whole', async () => {
    const euro = Buffer.from('€');
    const record = await read(frame({ opcode: TEXT, payload: euro.subarray(0, 1), fin: false }), frame({ opcode: CONTINUATION, payload: euro.subarray(1) }));
    assert.deepEqual(record.texts, [euro.toString('hex')]);
  });

  test('an empty text message is delivered, empty', async () => {
    assert.deepEqual((await read(frame({ opcode: TEXT }))).texts, ['']);
  });

  test('binary messages are skipped and are not counted as too long', async () => {
    const record = await read(...messageFrames(BINARY, Buffer.from('bin'), 2), frame({ opcode: TEXT, payload: 't' }));
    assert.deepEqual(record.texts, [hex('t')]);
    assert.equal(record.skipped, 0);
  });

  test('a close frame is reported with its code, and nothing after it is read', async () => {
    const record = await read(frame({ opcode: TEXT, payload: 'a' }), closeFrame(1000, 'bye'), frame({ opcode: TEXT, payload: 'b' }));
    assert.deepEqual(record.texts, [hex('a')]);
    assert.deepEqual(record.closes, [1000]);
    assert.equal(record.ends, 1);
  });

  test('a message cut short by the end of input is dropped', async () => {
    const record = await read(frame({ opcode: TEXT, payload: 'a' }), frame({ opcode: TEXT, payload: 'bc', fin: false }));
    assert.deepEqual(record.texts, [hex('a')]);
    assert.deepEqual(record.problems, []);
  });

  test('a message in one frame is a view of the fed chunk; a joined one is the reader\'s own', () => {
    const texts: Buffer[] = [];
    const reader = createMessageReader({ onText: (m) => void texts.push(m), onProblem: () => undefined, onEnd: () => undefined });
    const chunk = Buffer.concat([frame({ opcode: TEXT, payload: 'one' }), ...messageFrames(TEXT, Buffer.from('two'), 2)]);
    reader.feed(chunk);
    chunk.fill(0x2a);
    assert.equal(texts[0]?.toString(), '***');
    assert.equal(texts[1]?.toString(), 'two');
  });
});

describe('protocol problems end usage reading, not the messages before them', () => {
  test('messages before a masked frame are delivered, then the problem, then the end', async () => {
    const events: string[] = [];
    const callbacks: MessageCallbacks = {
      onText: (m) => void events.push(`text ${m.toString()}`),
      onProblem: (p) => void events.push(`problem ${p}`),
      onEnd: () => void events.push('end'),
    };
    const reader = createMessageReader(callbacks);
    reader.feed(Buffer.concat([frame({ opcode: TEXT, payload: 'a' }), frame({ opcode: TEXT, payload: 'b', mask: Buffer.from([1, 2, 3, 4]) }), frame({ opcode: TEXT, payload: 'c' })]));
    reader.feed(frame({ opcode: TEXT, payload: 'd' }));
    reader.end();
    assert.deepEqual(events, ['text a', 'problem masked_frame', 'end']);
  });

  const problems: [string, Buffer, string][] = [
    ['RSV1 without permessage-deflate', frame({ opcode: TEXT, rsv1: true, payload: 'x' }), 'reserved_bits'],
    ['a reserved opcode', frame({ opcode: 0x5 }), 'reserved_opcode'],
    ['a fragmented ping', frame({ opcode: PING, fin: false }), 'fragmented_control'],
    ['a ping of 126 bytes', frame({ opcode: PING, payload: Buffer.alloc(126) }), 'control_too_long'],
    ['a stray continuation', frame({ opcode: CONTINUATION }), 'unexpected_continuation'],
    ['a 64-bit length with the top bit set', frame({ opcode: TEXT, declaredLength: 2n ** 63n + 5n }), 'invalid_length'],
  ];
  for (const [name, bytes, problem] of problems) {
    test(`${name} is reported once, with one end`, async () => {
      const record = await read(frame({ opcode: TEXT, payload: 'ok' }), bytes, frame({ opcode: TEXT, payload: 'late' }));
      assert.deepEqual(record.texts, [hex('ok')]);
      assert.deepEqual(record.problems, [problem]);
      assert.equal(record.ends, 1);
    });
  }
});

describe('the same bytes cut anywhere give the same messages', () => {
  const variants = [
    { name: 'plain', deflate: undefined, settings: null },
    { name: 'permessage-deflate with context takeover', deflate: { contextTakeover: true }, settings: { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 } },
    { name: 'permessage-deflate without context takeover', deflate: { contextTakeover: false }, settings: { serverNoContextTakeover: true, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 } },
  ] as const;

  for (const variant of variants) {
    test(`${variant.name}: cut once at every boundary`, async () => {
      const { bytes, messages } = randomStream(prng(11), 8, { deflate: variant.deflate, maxMessageBytes: 300 });
      const expected = textsOf(messages);
      assert.ok(expected.length >= 3);
      for (let i = 0; i <= bytes.length; i++) {
        const record = await readMessages(cutAt(bytes, [i]), { deflate: variant.settings });
        assert.deepEqual(record.texts, expected, `cut at ${i}`);
        assert.deepEqual(record.problems, []);
      }
    });

    test(`${variant.name}: random streams cut at random`, async () => {
      for (let seed = 1; seed <= 60; seed++) {
        const rand = prng(seed);
        const { bytes, messages } = randomStream(rand, 1 + Math.floor(rand() * 15), { deflate: variant.deflate, maxMessageBytes: 5000 });
        const record = await readMessages(cutRandomly(bytes, rand, Math.floor(rand() * 40)), { deflate: variant.settings });
        assert.deepEqual(record.texts, textsOf(messages), `seed ${seed}`);
        assert.deepEqual(record.problems, [], `seed ${seed}`);
        assert.equal(record.ends, 1);
      }
    });
  }

  test('with a small message limit, the same messages are skipped wherever the stream is cut', async () => {
    for (let seed = 100; seed < 130; seed++) {
      const rand = prng(seed);
      const { bytes, messages } = randomStream(rand, 10, { maxMessageBytes: 3000 });
      const record = await readMessages(cutRandomly(bytes, rand, 20), { maxMessageBytes: 1000 });
      assert.deepEqual(record.texts, textsOf(messages, 1000), `seed ${seed}`);
      assert.equal(record.skipped, messages.filter((m) => m.opcode === TEXT && m.payload.length > 1000).length);
    }
  });
});

describe('messages over the limit are skipped as they stream, never held', () => {
  // A payload fed in 64 KiB chunks, as a socket delivers it.
  const inChunks = (bytes: Buffer): Buffer[] => Array.from({ length: Math.ceil(bytes.length / 65536) }, (_, i) => bytes.subarray(i * 65536, (i + 1) * 65536));
  const big = Buffer.alloc(9 * MiB, 'a');

  test('a 9 MiB message in one frame is skipped from its header on: nothing of it is held', async () => {
    const bytes = Buffer.concat([frame({ opcode: TEXT, payload: big }), frame({ opcode: TEXT, payload: 'after' })]);
    const record = await readMessages(inChunks(bytes));
    assert.deepEqual(record.texts, [hex('after')]);
    assert.equal(record.skipped, 1);
    assert.ok(record.maxHeld <= 10, `held ${record.maxHeld} bytes`);
  });

  test('a 9 MiB message in 1 MiB fragments is held up to the 8 MiB limit, then dropped', async () => {
    const bytes = Buffer.concat([...messageFrames(TEXT, big, 9), frame({ opcode: TEXT, payload: 'after' })]);
    const record = await readMessages(inChunks(bytes));
    assert.deepEqual(record.texts, [hex('after')]);
    assert.equal(record.skipped, 1);
    assert.ok(record.maxHeld <= 8 * MiB, `held ${record.maxHeld} bytes`);
  });

  test('a message of exactly the limit is delivered', async () => {
    const exact = Buffer.alloc(8 * MiB, 'b');
    const record = await readMessages(inChunks(Buffer.concat(messageFrames(TEXT, exact, 3))));
    assert.equal(record.texts.length, 1);
    assert.equal(record.texts[0]?.length, exact.length * 2);
  });
});

describe('ending', () => {
  test('destroy() ends at once, and nothing is delivered after it', async () => {
    let ends = 0;
    const texts: string[] = [];
    const reader = createMessageReader({ onText: (m) => void texts.push(m.toString()), onProblem: () => undefined, onEnd: () => void ends++ });
    reader.destroy();
    reader.feed(frame({ opcode: TEXT, payload: 'x' }));
    reader.end();
    reader.destroy();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(ends, 1);
    assert.deepEqual(texts, []);
  });

  test('a callback may destroy the reader in the middle of a chunk', async () => {
    const texts: string[] = [];
    let ends = 0;
    const reader = createMessageReader({
      onText(m) {
        texts.push(m.toString());
        reader.destroy();
      },
      onProblem: () => undefined,
      onEnd: () => void ends++,
    });
    reader.feed(Buffer.concat([frame({ opcode: TEXT, payload: 'a' }), frame({ opcode: TEXT, payload: 'b' })]));
    assert.deepEqual(texts, ['a']);
    assert.equal(ends, 1);
  });
});
