import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import * as zlib from 'node:zlib';
import { createMessageReader } from '../../src/websocket/message-reader.ts';
import type { PerMessageDeflateSettings } from '../../src/websocket/extensions.ts';
import { BINARY, PING, ServerDeflater, TEXT, cutRandomly, frame, hex, messageFrames, readMessages } from '../helpers/ws-frames.ts';
import { prng } from '../helpers/prng.ts';

const MiB = 1024 * 1024;
const TAKEOVER: PerMessageDeflateSettings = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
const NO_TAKEOVER: PerMessageDeflateSettings = { ...TAKEOVER, serverNoContextTakeover: true };
const bytes = (...values: number[]): Buffer => Buffer.from(values);
const compressed = (payload: Buffer, opcode = TEXT, fragments = 1): Buffer => Buffer.concat(messageFrames(opcode, payload, fragments, true));

/** Random text that deflate shrinks only a little, so no expansion cap is near. */
function noise(rand: () => number, length: number): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  return Buffer.from(Array.from({ length }, () => alphabet.charCodeAt(Math.floor(rand() * 64))));
}

describe('the examples of RFC 7692 §7.2.3', () => {
  const hello = hex('Hello');

  test('7.2.3.1: "Hello" in one compressed frame, and in two fragments', async () => {
    assert.deepEqual((await readMessages([bytes(0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00)], { deflate: TAKEOVER })).texts, [hello]);
    const fragmented = bytes(0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00);
    assert.deepEqual((await readMessages([fragmented], { deflate: TAKEOVER })).texts, [hello]);
  });

  test('7.2.3.2: a second "Hello" that refers back into the first one\'s window', async () => {
    const stream = bytes(0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00);
    assert.deepEqual((await readMessages([stream], { deflate: TAKEOVER })).texts, [hello, hello]);
  });

  test('7.2.3.3: a DEFLATE block with no compression', async () => {
    const stream = bytes(0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00);
    assert.deepEqual((await readMessages([stream], { deflate: TAKEOVER })).texts, [hello]);
  });

  test('7.2.3.4: a block with BFINAL set, and a message after it in a fresh inflater', async () => {
    const final = bytes(0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00);
    const after = compressed(new ServerDeflater(true).compress(Buffer.from('after')));
    const record = await readMessages([Buffer.concat([final, final, after])], { deflate: TAKEOVER });
    assert.deepEqual(record.texts, [hello, hello, hex('after')]);
  });

  test('a final block that ends exactly at a message\'s last byte: the next message is read from a fresh inflater, not lost as an empty text', async () => {
    // Found by the ws-deflate fuzz target: zlib consumes the whole first message (trailer
    // included) and says nothing of the stream's end, so the second went into a dead inflater.
    const endsStream = Buffer.from('c10b4a4c4a4e1c45a388da0810', 'hex');
    const alone = Buffer.from('c10b4a4c4a4e1c45a388da0800', 'hex');
    const abc = hex('abc'.repeat(200));
    for (const deflate of [TAKEOVER, NO_TAKEOVER]) {
      assert.deepEqual((await readMessages([Buffer.concat([endsStream, alone])], { deflate })).texts, [abc, abc]);
      assert.deepEqual((await readMessages([endsStream, alone], { deflate })).texts, [abc, abc]);
      const record = await readMessages(cutRandomly(Buffer.concat([endsStream, endsStream, alone, endsStream]), prng(7), 5), { deflate });
      assert.deepEqual(record.texts, [abc, abc, abc, abc]);
      assert.deepEqual(record.problems, []);
    }
    const fragmented = Buffer.concat([endsStream, ...messageFrames(TEXT, new ServerDeflater(true).compress(Buffer.from('after')), 3, true)]);
    assert.deepEqual((await readMessages([fragmented], { deflate: TAKEOVER })).texts, [abc, hex('after')]);
  });

  test('a final block that ends inside a message, fed slowly at every cut: the bytes after it are ignored, not inflated from their middle', async () => {
    // Found by the ws-deflate fuzz target: once zlib had said the stream ended, the rest of the
    // message went to a fresh inflater, which decoded it as if a stream began there ("hellomore",
    // or a decode error that lost the message and every later one).
    const finalBlock = zlib.deflateRawSync(Buffer.from('hello'));
    const more = new ServerDeflater(true).compress(Buffer.from('more'));
    const endsInside = compressed(Buffer.concat([finalBlock, more]));
    const after = compressed(new ServerDeflater(true).compress(Buffer.from('after')));
    const stream = Buffer.concat([endsInside, after]);
    for (const deflate of [TAKEOVER, NO_TAKEOVER]) {
      for (let cut = 1; cut < endsInside.length; cut++) {
        const record = await readMessages([stream.subarray(0, cut), stream.subarray(cut)], { deflate }, 1);
        assert.deepEqual(record.texts, [hex('hello'), hex('after')], `cut at ${cut}`);
        assert.deepEqual(record.problems, [], `cut at ${cut}`);
      }
    }
  });

  test('7.2.3.5: two DEFLATE blocks in one message', async () => {
    const stream = bytes(0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00);
    assert.deepEqual((await readMessages([stream], { deflate: TAKEOVER })).texts, [hello]);
  });
});

describe('context takeover', () => {
  test('a binary message goes through the inflater too: the next text refers back into it', async () => {
    const deflater = new ServerDeflater(true);
    const shared = noise(prng(1), 2000);
    const text = Buffer.concat([Buffer.from('{"t":"'), shared, Buffer.from('"}')]);
    const first = deflater.compress(shared);
    const second = deflater.compress(text);
    assert.ok(second.length < 100, 'the second message is made of back-references');
    const record = await readMessages([Buffer.concat([compressed(first, BINARY), compressed(second)])], { deflate: TAKEOVER });
    assert.deepEqual(record.texts, [text.toString('hex')]);
  });

  test('an over-long message is inflated and dropped, so the window stays in step for the next one', async () => {
    const deflater = new ServerDeflater(true);
    const long = noise(prng(2), 200_000);
    const tail = long.subarray(-20_000);
    const wire = [deflater.compress(long), deflater.compress(tail)];
    assert.ok((wire[1]?.length ?? 0) < 200, 'the second message refers into the skipped one');
    const stream = Buffer.concat([compressed(wire[0]!, TEXT, 7), compressed(wire[1]!)]);
    const record = await readMessages(cutRandomly(stream, prng(3), 30), { deflate: TAKEOVER, maxMessageBytes: 64 * 1024 });
    assert.deepEqual(record.texts, [tail.toString('hex')]);
    assert.equal(record.skipped, 1);
    assert.deepEqual(record.problems, []);
  });

  test('at the default limit, a 9 MiB compressed message is skipped and the next is read', async () => {
    const deflater = new ServerDeflater(true);
    const long = noise(prng(4), 9 * MiB);
    const next = Buffer.concat([Buffer.from('{"type":"response.done","x":"'), long.subarray(-1000), Buffer.from('"}')]);
    const stream = Buffer.concat([compressed(deflater.compress(long), TEXT, 5), compressed(deflater.compress(next))]);
    const record = await readMessages([stream], { deflate: TAKEOVER, maxBacklogBytes: 16 * MiB });
    assert.deepEqual(record.texts, [next.toString('hex')]);
    assert.equal(record.skipped, 1);
  });
});

describe('no context takeover', () => {
  test('each message is decoded with an empty window', async () => {
    const deflater = new ServerDeflater(false);
    const texts = ['{"a":1}', '{"a":1}{"a":1}', 'x'.repeat(5000)].map((t) => Buffer.from(t));
    const stream = Buffer.concat(texts.map((t) => compressed(deflater.compress(t), TEXT, 2)));
    const record = await readMessages(cutRandomly(stream, prng(5), 10), { deflate: NO_TAKEOVER });
    assert.deepEqual(record.texts, texts.map((t) => t.toString('hex')));
  });

  test('an over-long message is given up part way, and the next one is read', async () => {
    const deflater = new ServerDeflater(false);
    const long = noise(prng(6), 300_000);
    const stream = Buffer.concat([compressed(deflater.compress(long), TEXT, 4), compressed(deflater.compress(Buffer.from('next')))]);
    const record = await readMessages([stream], { deflate: NO_TAKEOVER, maxMessageBytes: 50_000 });
    assert.deepEqual(record.texts, [hex('next')]);
    assert.equal(record.skipped, 1);
  });
});

describe('order', () => {
  test('a plain message after a compressed one waits for it: messages come out in stream order', async () => {
    const deflater = new ServerDeflater(false);
    const first = Buffer.alloc(300_000, 'z');
    const stream = Buffer.concat([compressed(deflater.compress(first)), frame({ opcode: TEXT, payload: 'plain' }), compressed(deflater.compress(Buffer.from('last')))]);
    const record = await readMessages([stream], { deflate: NO_TAKEOVER });
    assert.deepEqual(record.texts, [first.toString('hex'), hex('plain'), hex('last')]);
  });

  test('a protocol problem after compressed messages comes after them', async () => {
    const deflater = new ServerDeflater(true);
    const events: string[] = [];
    const reader = createMessageReader(
      { onText: (m) => void events.push(m.toString()), onProblem: (p) => void events.push(p), onEnd: () => void events.push('end') },
      { deflate: TAKEOVER },
    );
    reader.feed(Buffer.concat([compressed(deflater.compress(Buffer.from('one'))), compressed(deflater.compress(Buffer.from('two'))), frame({ opcode: PING, rsv1: true })]));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(events, ['one', 'two', 'reserved_bits', 'end']);
  });

  test('the end of input waits for messages still inflating', async () => {
    const deflater = new ServerDeflater(true);
    const texts = Array.from({ length: 20 }, (_, i) => Buffer.from(`{"i":${i}}`));
    const record = await readMessages([Buffer.concat(texts.map((t) => compressed(deflater.compress(t))))], { deflate: TAKEOVER });
    assert.deepEqual(record.texts, texts.map((t) => t.toString('hex')));
  });
});

describe('the window bits the server agreed to', () => {
  for (const bits of [8, 9, 10, 12, 15]) {
    test(`a server compressing with a ${bits}-bit window is read (Node deflates 8 as 9)`, async () => {
      const deflater = new ServerDeflater(true, bits);
      const texts = [noise(prng(bits), 3000), Buffer.from('{"ok":true}'), noise(prng(bits), 3000)];
      const stream = Buffer.concat(texts.map((t) => compressed(deflater.compress(t))));
      const record = await readMessages([stream], { deflate: { ...TAKEOVER, serverMaxWindowBits: bits } });
      assert.deepEqual(record.texts, texts.map((t) => t.toString('hex')));
    });
  }

  test('a server that promised 8 bits but refers 32 KiB back is still read', async () => {
    const deflater = new ServerDeflater(true, 15);
    const text = noise(prng(9), 20_000);
    const stream = Buffer.concat([compressed(deflater.compress(text)), compressed(deflater.compress(text))]);
    const record = await readMessages([stream], { deflate: { ...TAKEOVER, serverMaxWindowBits: 8 } });
    assert.equal(record.texts.length, 2);
  });
});

describe('decompression is capped like the body decoder (1 MiB, then 100:1)', () => {
  test('a compression bomb in one message stops usage reading for the session', async () => {
    const bomb = zlib.deflateRawSync(Buffer.alloc(64 * MiB), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
    const record = await readMessages([compressed(bomb)], { deflate: TAKEOVER });
    assert.deepEqual(record.problems, ['expansion_limit']);
    assert.deepEqual(record.texts, []);
    assert.equal(record.ends, 1);
  });

  test('many small bombs are caught too: the cap counts over the whole session', async () => {
    const deflater = new ServerDeflater(false);
    const wire = compressed(deflater.compress(Buffer.alloc(512 * 1024)));
    const record = await readMessages([Buffer.concat(Array.from({ length: 40 }, () => wire))], { deflate: NO_TAKEOVER });
    assert.deepEqual(record.problems, ['expansion_limit']);
    // 1 MiB free plus 100 × about 40 × 520 compressed bytes: a handful of 512 KiB messages.
    assert.ok(record.texts.length >= 2 && record.texts.length < 10, `${record.texts.length} messages`);
  });

  test('without context takeover, an over-long bomb is not even inflated to its end: no cap is reached', async () => {
    const bomb = zlib.deflateRawSync(Buffer.alloc(64 * MiB), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
    // The limit is met (at 256 KiB) before the cap (about 1.1 MiB into a bomb of this ratio).
    const record = await readMessages([compressed(bomb), frame({ opcode: TEXT, payload: 'after' })], { deflate: NO_TAKEOVER, maxMessageBytes: 256 * 1024 });
    assert.deepEqual(record.problems, []);
    assert.deepEqual(record.texts, [hex('after')]);
    assert.equal(record.skipped, 1);
  });

  test('a highly compressible message within the free first MiB is read', async () => {
    const zeros = Buffer.alloc(900 * 1024, '0');
    const record = await readMessages([compressed(new ServerDeflater(true).compress(zeros))], { deflate: TAKEOVER });
    assert.deepEqual(record.problems, []);
    assert.equal(record.texts.length, 1);
  });

  test('a long fragmented message after a final block is read whole, fed slowly or at once, its kept pieces within the backlog bound', async () => {
    // Fed slowly, zlib keeps up, so the inflater learns of the dead stream after the next
    // message's first piece: it must move the message to a fresh inflater then, not its middle
    // (which fails on the next fragment, as `ws` does), and not keep its pieces past the bound.
    const endsStream = Buffer.from('c10b4a4c4a4e1c45a388da0810', 'hex');
    const long = new ServerDeflater(true).compress(noise(prng(3), 600_000));
    const chunks = cutRandomly(Buffer.concat([endsStream, ...messageFrames(TEXT, long, 50, true)]), prng(4), 16 * 1024);
    const slow = await readMessages(chunks, { deflate: TAKEOVER, maxBacklogBytes: 128 * 1024 }, 2);
    assert.deepEqual(slow.problems, []);
    assert.deepEqual(slow.texts.map((t) => t.length / 2), [600, 600_000]);
    assert.ok(slow.maxHeld <= 600_000 + 128 * 1024, `held ${slow.maxHeld}`); // the decoded message is gathered whole
    const atOnce = await readMessages(chunks, { deflate: TAKEOVER });
    assert.deepEqual(atOnce.problems, []);
    assert.deepEqual(atOnce.texts.map((t) => t.length / 2), [600, 600_000]);
  });
});

describe('failures of the side decoder', () => {
  test('compressed bytes that are not DEFLATE are a decode error', async () => {
    const record = await readMessages([compressed(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff])), frame({ opcode: TEXT, payload: 'after' })], { deflate: TAKEOVER });
    assert.deepEqual(record.problems, ['decode_error']);
    assert.deepEqual(record.texts, []);
    assert.equal(record.ends, 1);
  });

  test('a side decoder that falls behind past its bound gives up, never buffers on', async () => {
    const deflater = new ServerDeflater(true);
    const wire = Buffer.concat(Array.from({ length: 10 }, (_, i) => compressed(deflater.compress(noise(prng(i), 100_000)))));
    const record = await readMessages([wire], { deflate: TAKEOVER, maxBacklogBytes: 256 * 1024 });
    assert.deepEqual(record.problems, ['backlog_limit']);
    assert.ok(record.maxHeld <= 256 * 1024 + 8 * MiB);
  });
});
