// The message reader against the `ws` client's own Receiver (ws/lib/receiver.js, exported by the
// package though @types/ws leaves it out), on the same random frame streams cut at random, with
// and without permessage-deflate, with and without a protocol fault put somewhere in them: both
// must deliver the same text messages, and fail (or not) on the same streams.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import type { Writable } from 'node:stream';
import * as ws from 'ws';
import type { PerMessageDeflateSettings } from '../../src/websocket/extensions.ts';
import { CLOSE, CONTINUATION, PING, TEXT, cutRandomly, frame, randomStream, readMessages } from '../helpers/ws-frames.ts';
import { pick } from '../helpers/sse-streams.ts';
import { prng } from '../helpers/prng.ts';

interface ReceiverLike extends Writable {
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'conclude', listener: (code: number) => void): this;
  on(event: string, listener: (...args: never[]) => void): this;
}
interface WsInternals {
  Receiver: new (options: object) => ReceiverLike;
  PerMessageDeflate: new (options: object) => { accept(params: object[]): void };
}
const { Receiver, PerMessageDeflate } = ws as unknown as WsInternals;

interface Outcome {
  readonly texts: string[];
  readonly failed: boolean;
}

/** What the ws client's Receiver makes of the chunks. */
function receive(chunks: readonly Uint8Array[], deflate: PerMessageDeflateSettings | null): Promise<Outcome> {
  const extensions: Record<string, unknown> = {};
  if (deflate !== null) {
    const pmd = new PerMessageDeflate({});
    // The client accepts the server's response; values come as lists, as ws's header parser gives them.
    pmd.accept([deflate.serverNoContextTakeover ? { server_no_context_takeover: [true] } : {}]);
    extensions['permessage-deflate'] = pmd;
  }
  const receiver = new Receiver({ isServer: false, extensions, skipUTF8Validation: true });
  const texts: string[] = [];
  let failed = false;
  receiver.on('message', (data, isBinary) => {
    // The Receiver reports its error a tick late, and may parse chunks written meanwhile past
    // the fault (seed 1040 below: a message after a reserved opcode). RFC 6455 §7.1.7 fails the
    // connection at the fault, as the reader does: only messages before the error count.
    if (!isBinary && !failed) texts.push(Buffer.from(data).toString('hex'));
  });
  receiver.on('error', () => void (failed = true));
  const done = new Promise<Outcome>((resolve) => receiver.on('close', () => resolve({ texts, failed })));
  for (const chunk of chunks) {
    // After a close frame the Receiver ends itself; writing on would be an error of ours.
    if (receiver.writableEnded || receiver.destroyed) break;
    receiver.write(Buffer.from(chunk));
  }
  if (!receiver.writableEnded && !receiver.destroyed) receiver.end();
  return done;
}

async function ours(chunks: readonly Uint8Array[], deflate: PerMessageDeflateSettings | null): Promise<Outcome> {
  const record = await readMessages(chunks, { deflate });
  return { texts: record.texts, failed: record.problems.length > 0 };
}

// Faults both must fail on, wherever they land (a continuation frame is one only outside a message).
const FAULTS: readonly Buffer[] = [
  frame({ opcode: TEXT, payload: 'masked', mask: Buffer.from([7, 7, 7, 7]) }),
  frame({ opcode: 0x3 }),
  frame({ opcode: 0xc, payload: 'x' }),
  frame({ opcode: TEXT, rsv2: true }),
  frame({ opcode: TEXT, rsv3: true, payload: 'z' }),
  frame({ opcode: PING, rsv1: true }),
  frame({ opcode: PING, fin: false }),
  frame({ opcode: PING, payload: Buffer.alloc(126) }),
  frame({ opcode: CLOSE, payload: 'x' }),
  frame({ opcode: TEXT, declaredLength: 2n ** 63n }),
  frame({ opcode: TEXT, declaredLength: 2n ** 53n }),
  frame({ opcode: CONTINUATION, payload: 'c' }),
  frame({ opcode: CONTINUATION, rsv1: true, payload: 'c' }),
];

const SETTINGS = {
  takeover: { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 },
  noTakeover: { serverNoContextTakeover: true, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 },
} as const;

const variants = [
  { name: 'plain', deflate: undefined, settings: null },
  { name: 'permessage-deflate with context takeover', deflate: { contextTakeover: true }, settings: SETTINGS.takeover },
  { name: 'permessage-deflate without context takeover', deflate: { contextTakeover: false }, settings: SETTINGS.noTakeover },
] as const;

describe('the reader and the ws Receiver agree', () => {
  for (const variant of variants) {
    test(`${variant.name}: on valid random streams, the same text messages`, async () => {
      for (let seed = 1; seed <= 100; seed++) {
        const rand = prng(seed);
        const { bytes } = randomStream(rand, 1 + Math.floor(rand() * 20), { deflate: variant.deflate, maxMessageBytes: 20_000 });
        const chunks = cutRandomly(bytes, rand, Math.floor(rand() * 30));
        const [theirs, mine] = await Promise.all([receive(chunks, variant.settings), ours(chunks, variant.settings)]);
        assert.equal(theirs.failed, false, `seed ${seed}: ws failed on a valid stream`);
        assert.deepEqual(mine, theirs, `seed ${seed}`);
      }
    });

    test(`${variant.name}: on streams with a fault, the same messages before it, and both fail`, async () => {
      let failures = 0;
      for (let seed = 1000; seed < 1200; seed++) {
        const rand = prng(seed);
        const insert = pick(rand, FAULTS);
        const { bytes } = randomStream(rand, 1 + Math.floor(rand() * 12), { deflate: variant.deflate, maxMessageBytes: 5000, insert });
        const chunks = cutRandomly(bytes, rand, Math.floor(rand() * 20));
        const [theirs, mine] = await Promise.all([receive(chunks, variant.settings), ours(chunks, variant.settings)]);
        assert.deepEqual(mine, theirs, `seed ${seed}, fault ${insert.subarray(0, 2).toString('hex')}`);
        if (theirs.failed) failures++;
      }
      assert.ok(failures > 120, `${failures} of 200 streams had a fault both failed on`);
    });
  }

  test('RSV1 without a negotiated extension fails both', async () => {
    const chunks = [frame({ opcode: TEXT, rsv1: true, payload: 'x' })];
    assert.deepEqual(await ours(chunks, null), await receive(chunks, null));
    assert.equal((await ours(chunks, null)).failed, true);
  });
});
