import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createFrameParser } from '../../src/websocket/frame-parser.ts';
import type { FrameCallbacks } from '../../src/websocket/frame-parser.ts';
import {
  BINARY,
  CLOSE,
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
  parseFrames,
  randomStream,
} from '../helpers/ws-frames.ts';
import { prng } from '../helpers/prng.ts';

const parse = (...frames: Buffer[]): unknown[] => parseFrames([Buffer.concat(frames)]);
const parseDeflate = (...frames: Buffer[]): unknown[] => parseFrames([Buffer.concat(frames)], { perMessageDeflate: true });

describe('payload lengths', () => {
  test('a 7-bit length (0 to 125) is read from the second byte', () => {
    assert.deepEqual(parse(frame({ opcode: TEXT, payload: 'hi' })), [['frame', TEXT, TEXT, true, false, false, 2], ['payload', hex('hi')]]);
  });

  test('an empty data frame is a header and an empty payload', () => {
    assert.deepEqual(parse(frame({ opcode: TEXT })), [['frame', TEXT, TEXT, true, false, false, 0], ['payload', '']]);
  });

  test('a 16-bit length (126) is read from the next two bytes', () => {
    const payload = Buffer.alloc(300, 0x61);
    assert.deepEqual(parse(frame({ opcode: TEXT, payload })), [['frame', TEXT, TEXT, true, false, false, 300], ['payload', payload.toString('hex')]]);
  });

  test('a 64-bit length (127) is read from the next eight bytes', () => {
    const payload = Buffer.alloc(70_000, 0x62);
    assert.deepEqual(parse(frame({ opcode: BINARY, payload })), [['frame', BINARY, BINARY, true, false, false, 70_000], ['payload', payload.toString('hex')]]);
  });

  test('a length in a longer form than needed is still read, as clients read it', () => {
    for (const lengthBits of [16, 64] as const) {
      assert.deepEqual(parse(frame({ opcode: TEXT, payload: 'ok', lengthBits })), [['frame', TEXT, TEXT, true, false, false, 2], ['payload', hex('ok')]]);
    }
  });

  test('a 64-bit length up to 2^53 - 1 is announced without its payload being awaited whole', () => {
    const events = parse(frame({ opcode: BINARY, declaredLength: 2n ** 53n - 1n }), Buffer.from('abc'));
    assert.deepEqual(events, [['frame', BINARY, BINARY, true, false, false, Number.MAX_SAFE_INTEGER]]);
  });

  test('a 64-bit length with its most significant bit set is a problem', () => {
    assert.deepEqual(parse(frame({ opcode: TEXT, declaredLength: 2n ** 63n })), [['problem', 'invalid_length']]);
  });

  test('a 64-bit length past 2^53 - 1 is a problem of its own', () => {
    assert.deepEqual(parse(frame({ opcode: TEXT, declaredLength: 2n ** 53n })), [['problem', 'unsupported_length']]);
  });
});

describe('fragmentation', () => {
  test('continuation frames carry the opcode and compression of their message', () => {
    const frames = messageFrames(TEXT, Buffer.from('abcdef'), 3, true);
    assert.deepEqual(parseDeflate(...frames), [
      ['frame', TEXT, TEXT, false, true, true, 2],
      ['payload', hex('ab')],
      ['frame', CONTINUATION, TEXT, false, false, true, 2],
      ['payload', hex('cd')],
      ['frame', CONTINUATION, TEXT, true, false, true, 2],
      ['payload', hex('ef')],
    ]);
  });

  test('control frames between fragments are reported where they come', () => {
    const [first, last] = messageFrames(BINARY, Buffer.from('abcd'), 2);
    const events = parse(first!, frame({ opcode: PING, payload: 'p' }), frame({ opcode: PONG, payload: 'q' }), last!);
    assert.deepEqual(events, [
      ['frame', BINARY, BINARY, false, false, false, 2],
      ['payload', hex('ab')],
      ['ping', hex('p')],
      ['pong', hex('q')],
      ['frame', CONTINUATION, BINARY, true, false, false, 2],
      ['payload', hex('cd')],
    ]);
  });

  test('a message after a finished fragmented one starts afresh', () => {
    const events = parse(...messageFrames(TEXT, Buffer.from('ab'), 2), frame({ opcode: BINARY, payload: 'c' }));
    assert.deepEqual(events.at(-2), ['frame', BINARY, BINARY, true, false, false, 1]);
  });

  test('a continuation frame with no message in progress is a problem', () => {
    assert.deepEqual(parse(frame({ opcode: CONTINUATION, payload: 'x' })), [['problem', 'unexpected_continuation']]);
  });

  test('a new message inside a fragmented one is a problem', () => {
    const events = parse(frame({ opcode: TEXT, payload: 'a', fin: false }), frame({ opcode: TEXT, payload: 'b' }));
    assert.deepEqual(events.at(-1), ['problem', 'expected_continuation']);
  });
});

describe('control frames', () => {
  test('a close frame gives its code and reason, and nothing after it is read', () => {
    assert.deepEqual(parse(closeFrame(1000, 'done'), frame({ opcode: TEXT, payload: 'late' })), [['close', 1000, 'done']]);
  });

  test('an empty close frame has no code', () => {
    assert.deepEqual(parse(closeFrame()), [['close', undefined, '']]);
  });

  test('a close frame with a 1-byte payload is a problem', () => {
    assert.deepEqual(parse(frame({ opcode: CLOSE, payload: 'x' })), [['problem', 'invalid_close_payload']]);
  });

  test('a control payload of 125 bytes is read; 126 is a problem', () => {
    const payload = Buffer.alloc(125, 1);
    assert.deepEqual(parse(frame({ opcode: PING, payload })), [['ping', payload.toString('hex')]]);
    assert.deepEqual(parse(frame({ opcode: PING, payload: Buffer.alloc(126) })), [['problem', 'control_too_long']]);
  });

  test('a fragmented control frame is a problem', () => {
    assert.deepEqual(parse(frame({ opcode: PING, fin: false })), [['problem', 'fragmented_control']]);
  });
});

describe('protocol problems stop the parser', () => {
  const after = frame({ opcode: TEXT, payload: 'never read' });
  const cases: [string, Buffer, string][] = [
    ['a masked frame', frame({ opcode: TEXT, payload: 'x', mask: Buffer.from([1, 2, 3, 4]) }), 'masked_frame'],
    ['a masked frame with a zero mask key', frame({ opcode: TEXT, payload: 'x', mask: Buffer.alloc(4) }), 'masked_frame'],
    ['reserved data opcode 0x3', frame({ opcode: 0x3 }), 'reserved_opcode'],
    ['reserved control opcode 0xB', frame({ opcode: 0xb }), 'reserved_opcode'],
    ['RSV1 without a negotiated extension', frame({ opcode: TEXT, rsv1: true }), 'reserved_bits'],
    ['RSV2', frame({ opcode: TEXT, rsv2: true }), 'reserved_bits'],
    ['RSV3', frame({ opcode: TEXT, rsv3: true }), 'reserved_bits'],
  ];
  for (const [name, bytes, problem] of cases) {
    test(`${name} is reported once, and nothing after it is read`, () => {
      assert.deepEqual(parse(bytes, after, bytes), [['problem', problem]]);
    });
  }

  test('RSV1 is allowed on a first frame once permessage-deflate is negotiated, not on a continuation or control frame', () => {
    assert.deepEqual(parseDeflate(frame({ opcode: TEXT, rsv1: true, payload: 'a' })).length, 2);
    assert.deepEqual(parseDeflate(frame({ opcode: TEXT, fin: false }), frame({ opcode: CONTINUATION, rsv1: true })).at(-1), ['problem', 'reserved_bits']);
    assert.deepEqual(parseDeflate(frame({ opcode: PING, rsv1: true })), [['problem', 'reserved_bits']]);
  });

  test('the problem is reported as soon as the first two bytes show it', () => {
    const masked = frame({ opcode: TEXT, payload: Buffer.alloc(300), mask: Buffer.from([9, 9, 9, 9]) });
    assert.deepEqual(parseFrames([masked.subarray(0, 2)]), [['problem', 'masked_frame']]);
  });

  test('the parser never throws, whatever the bytes', () => {
    const rand = prng(7);
    for (let i = 0; i < 500; i++) {
      const bytes = Buffer.from(Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256)));
      assert.doesNotThrow(() => parseFrames(cutRandomly(bytes, rand, 4), { perMessageDeflate: rand() < 0.5 }));
    }
  });
});

describe('the same bytes cut anywhere give the same frames', () => {
  const stream = Buffer.concat([
    frame({ opcode: TEXT, payload: 'é€😀' }),
    frame({ opcode: BINARY, payload: Buffer.alloc(200, 7), fin: false }),
    frame({ opcode: PING, payload: 'ping' }),
    frame({ opcode: CONTINUATION, payload: Buffer.alloc(70_000, 8), lengthBits: 64 }),
    frame({ opcode: PONG }),
    frame({ opcode: TEXT, payload: 'x', lengthBits: 16 }),
    closeFrame(1001, 'going'),
  ]);
  const whole = parseFrames([stream]);

  test('cut once at every boundary', () => {
    // Every boundary of the headers and control frames, and a stride through the long payload.
    for (let i = 0; i <= stream.length; i += i < 300 || i > stream.length - 300 ? 1 : 997) {
      assert.deepEqual(parseFrames(cutAt(stream, [i])), whole, `cut at ${i}`);
    }
  });

  test('cut into single bytes', () => {
    const small = Buffer.concat([frame({ opcode: TEXT, payload: 'ab', fin: false }), frame({ opcode: PING, payload: 'p' }), frame({ opcode: CONTINUATION, payload: 'c' }), closeFrame(1000)]);
    const bytes = [...small].map((byte) => Buffer.from([byte]));
    assert.deepEqual(parseFrames(bytes), parseFrames([small]));
  });

  test('random streams cut at random, with empty chunks', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rand = prng(seed);
      const { bytes } = randomStream(rand, 12, { deflate: seed % 2 === 0 ? { contextTakeover: true } : undefined });
      const options = { perMessageDeflate: seed % 2 === 0 };
      assert.deepEqual(parseFrames(cutRandomly(bytes, rand, 1 + Math.floor(rand() * 30)), options), parseFrames([bytes], options), `seed ${seed}`);
    }
  });
});

describe('what the parser holds', () => {
  function maxBuffered(chunks: readonly Uint8Array[]): number {
    let max = 0;
    const ignore = (): void => undefined;
    const callbacks: FrameCallbacks = { onDataFrame: ignore, onPayload: ignore, onDataFrameEnd: ignore, onClose: ignore, onProblem: ignore };
    const parser = createFrameParser(callbacks);
    for (const chunk of chunks) {
      parser.feed(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      max = Math.max(max, parser.bufferedBytes);
    }
    return max;
  }

  test('a data payload is never held, only a split header (at most 10 bytes)', () => {
    const bytes = frame({ opcode: BINARY, payload: Buffer.alloc(200_000), lengthBits: 64 });
    const headerByteByByte = [...bytes.subarray(0, 10)].map((byte) => Buffer.from([byte]));
    assert.equal(maxBuffered([...headerByteByByte, ...cutRandomly(bytes.subarray(10), prng(3), 50)]), 9);
  });

  test('a control payload split across chunks is held, at most 125 bytes', () => {
    const bytes = frame({ opcode: PING, payload: Buffer.alloc(125, 3) });
    assert.equal(maxBuffered([bytes.subarray(0, 126)]), 124);
  });

  test('payload pieces are views of the fed chunk, not copies', () => {
    const chunk = frame({ opcode: TEXT, payload: 'shared' });
    let piece: Buffer | undefined;
    const ignore = (): void => undefined;
    const parser = createFrameParser({ onDataFrame: ignore, onPayload: (p) => void (piece = p), onDataFrameEnd: ignore, onClose: ignore, onProblem: ignore });
    parser.feed(chunk);
    assert.equal(piece?.buffer, chunk.buffer);
  });
});
