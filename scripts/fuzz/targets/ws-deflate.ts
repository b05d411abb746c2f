/**
 * Fuzz target: src/websocket/message-reader.ts with permessage-deflate (RFC 7692), the frame parser and the
 * inflater together, against the `ws` client's Receiver with its PerMessageDeflate, on random streams of
 * compressed and plain text messages (fragmented, pings between fragments, faults, mutated bytes), fed to
 * ours at random cuts: the same text messages and a failure on the same streams, with and without context
 * takeover. Messages are compressed one by one (deflateRawSync, trailer stripped), which a decoder with
 * context takeover must read just as well: it only keeps a window nobody refers to.
 */
import { Buffer } from 'node:buffer';
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import * as ws from 'ws';
import type { PerMessageDeflateSettings } from '../../../src/websocket/extensions.ts';
import { createFrameParser } from '../../../src/websocket/frame-parser.ts';
import { createMessageReader } from '../../../src/websocket/message-reader.ts';
import { expect, type FuzzTarget } from '../engine.ts';
import { int, pick, rechunk, type Rand } from '../mutate.ts';
import { frame } from './ws-frames.ts';
import { preview } from './json-sniffer.ts';

interface ReceiverLike {
  on(event: string, listener: (...args: never[]) => void): void;
  write(chunk: Buffer): boolean;
  end(): void;
}
interface WsInternals {
  Receiver: new (options: object) => ReceiverLike;
  PerMessageDeflate: new (options: object) => { accept(params: object[]): void };
}
const { Receiver, PerMessageDeflate } = ws as unknown as WsInternals;

/** An outcome short enough to read: each message as its byte length and first bytes. */
function brief(outcome: { readonly failed: boolean } & Record<string, unknown>): string {
  return JSON.stringify(outcome, (_key, v: unknown) => (typeof v === 'string' && v.length > 24 ? `${v.length / 2} bytes ${v.slice(0, 16)}…` : v));
}

interface Outcome {
  readonly texts: string[];
  readonly failed: boolean;
}

const TIMEOUT_MS = 5000;

function settings(takeover: boolean): PerMessageDeflateSettings {
  return { serverNoContextTakeover: !takeover, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
}

function theirs(stream: Buffer, takeover: boolean): Promise<Outcome> {
  const pmd = new PerMessageDeflate({});
  pmd.accept([takeover ? {} : { server_no_context_takeover: [true] }]);
  const receiver = new Receiver({ isServer: false, skipUTF8Validation: true, extensions: { 'permessage-deflate': pmd } });
  const texts: string[] = [];
  let failed = false;
  receiver.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary && !failed) texts.push(Buffer.from(data).toString('hex'));
  });
  receiver.on('conclude', (code: number) => {
    if (!((code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999) || code === 1005)) failed = true;
  });
  receiver.on('error', () => void (failed = true));
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ texts, failed: true }), TIMEOUT_MS);
    receiver.on('close', () => {
      clearTimeout(timer);
      resolve({ texts, failed });
    });
    receiver.write(stream);
    receiver.end();
  });
}

function ours(chunks: readonly Buffer[], takeover: boolean, slowly: boolean): Promise<Outcome> {
  const texts: string[] = [];
  let failed = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve({ texts: [...texts, 'onEnd never came'], failed }), TIMEOUT_MS);
    const reader = createMessageReader(
      {
        onText: (message) => void texts.push(Buffer.from(message).toString('hex')),
        onClose(code) {
          if (code !== undefined && !((code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999))) failed = true;
        },
        onProblem: () => void (failed = true),
        onEnd() {
          clearTimeout(timer);
          resolve({ texts, failed });
        },
      },
      { deflate: settings(takeover) },
    );
    // Fed at once, zlib sees all of it before any callback; fed a turn apart, the inflater sees zlib's
    // progress (and a stream's end) between pieces, as it does from a socket.
    void (async () => {
      for (const chunk of chunks) {
        reader.feed(chunk);
        expect(Number.isSafeInteger(reader.heldBytes) && reader.heldBytes >= 0, 'bad-count', () => `heldBytes ${reader.heldBytes}`);
        if (slowly) await new Promise((next) => setTimeout(next, 0));
      }
      reader.end();
    })().catch(reject);
  });
}

const TEXTS = ['', 'hi', '{"type":"response.done","response":{"usage":{"input_tokens":5,"output_tokens":2}}}', 'é😀'.repeat(20), 'abc'.repeat(200)];

function compressed(text: Buffer): Buffer {
  const data = deflateRawSync(text, { finishFlush: constants.Z_SYNC_FLUSH });
  return data.subarray(0, data.length - 4); // RFC 7692 §7.2.1: the 00 00 ff ff tail is left off
}

function randomStream(rand: Rand): Buffer {
  const frames: Buffer[] = [];
  for (let m = 1 + int(rand, 6); m > 0; m--) {
    const text = Buffer.from(pick(rand, TEXTS));
    const deflate = rand() < 0.7;
    const payload = deflate ? compressed(text) : text;
    const pieces = 1 + int(rand, 3);
    let from = 0;
    for (let p = 0; p < pieces; p++) {
      const to = p === pieces - 1 ? payload.length : from + int(rand, payload.length - from + 1);
      frames.push(frame({ opcode: p === 0 ? pick(rand, [1, 1, 1, 2]) : 0, fin: p === pieces - 1, rsv: p === 0 && deflate ? 0x40 : 0, payload: payload.subarray(from, to) }));
      from = to;
      if (rand() < 0.1) frames.push(frame({ opcode: 0x9, payload: Buffer.from('p') }));
    }
  }
  if (rand() < 0.15) frames.push(frame({ opcode: 1, rsv: 0x40, payload: Buffer.from('not deflate data') }));
  if (rand() < 0.15) frames.push(frame({ opcode: 0x8, payload: Buffer.from([0x03, 0xe8]) }));
  return Buffer.concat(frames);
}

/**
 * The stream without its binary messages, up to its first frame fault. The reader skips binary messages
 * and, without context takeover, never inflates them (SPEC §13), so a corrupt one is not its concern; ws
 * inflates every message and fails the connection on it. Reported in docs/SECURITY.md.
 */
function withoutBinaryMessages(stream: Buffer): Buffer {
  const kept: Buffer[] = [];
  const held: Buffer[] = [];
  let inBinary = false;
  let inMessage = false;
  for (let i = 0; i < stream.length; ) {
    const b0 = stream[i] as number;
    const b1 = stream[i + 1] ?? 0;
    const opcode = b0 & 0x0f;
    const length7 = b1 & 0x7f;
    const control = opcode >= 8;
    const continuation = opcode === 0;
    const fault = (b1 & 0x80) !== 0 || (b0 & 0x30) !== 0 || ![0, 1, 2, 8, 9, 10].includes(opcode) || (control && (length7 > 125 || (b0 & 0xc0) !== 0x80)) ||
      (continuation && !inMessage) || (!control && !continuation && inMessage) || (continuation && (b0 & 0x40) !== 0);
    const headerBytes = length7 === 126 ? 4 : length7 === 127 ? 10 : 2;
    if (fault || i + headerBytes > stream.length || length7 === 127) {
      kept.push(...held, stream.subarray(i)); // from the first fault (or a 64-bit length) on, as it came
      return Buffer.concat(kept);
    }
    const end = Math.min(stream.length, i + headerBytes + (length7 === 126 ? stream.readUInt16BE(i + 2) : length7));
    if (!control && !continuation) inBinary = opcode === 2;
    // A binary message's frames are dropped only once it is whole: a fault inside it must stay a fault.
    if (inBinary && !control) held.push(stream.subarray(i, end));
    else kept.push(stream.subarray(i, end));
    if (!control) inMessage = (b0 & 0x80) === 0;
    if (!control && !inMessage) {
      inBinary = false;
      held.length = 0;
    }
    i = end;
  }
  return Buffer.concat([...kept, ...held]);
}

/** Whether the stream stops (ends, or its close frame comes) inside a data message: a fragment without FIN, or a frame cut short. */
function endsInsideMessage(stream: Buffer): boolean {
  let inside = false;
  let frameOpen = false;
  let atClose: boolean | null = null;
  const parser = createFrameParser(
    {
      onDataFrame: () => void (frameOpen = true),
      onPayload() {},
      onDataFrameEnd(f) {
        frameOpen = false;
        inside = !f.fin;
      },
      onClose: () => void (atClose = inside),
      onProblem() {},
    },
    { perMessageDeflate: true },
  );
  parser.feed(stream);
  return atClose ?? (!parser.stopped && (inside || frameOpen));
}

/**
 * What an inflater that knows where each DEFLATE stream ends gives, used only to judge a difference
 * between ours and ws: the messages (split by our frame parser, which the ws-frames target checks
 * against ws) are inflated synchronously, each as the continuation of everything since its stream's
 * start. A byte appended after the message tells whether the stream ended (zlib consumes it only
 * while the stream is open); a stream that ended starts afresh with the next message, which is what
 * a final block (RFC 1951 §3.2.3, allowed by RFC 7692 §7.2.3.3) means.
 */
interface Model {
  readonly texts: string[];
  readonly inflateFailed: boolean;
  /** A stream ended exactly at a compressed message's last byte (its restored tail included). */
  readonly endedAtMessageEnd: boolean;
}

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const PROBE = Buffer.from([0x00]);

function modelled(stream: Buffer, takeover: boolean): Model {
  const messages: { opcode: number; compressed: boolean; payload: Buffer }[] = [];
  let pieces: Buffer[] = [];
  const parser = createFrameParser(
    {
      onDataFrame() {},
      onPayload: (piece) => void pieces.push(Buffer.from(piece)),
      onDataFrameEnd(f) {
        if (!f.fin) return;
        messages.push({ opcode: f.messageOpcode, compressed: f.compressed, payload: Buffer.concat(pieces) });
        pieces = [];
      },
      onClose() {},
      onProblem() {},
    },
    { perMessageDeflate: true },
  );
  parser.feed(stream);
  parser.end();
  const texts: string[] = [];
  let history = Buffer.alloc(0); // the compressed bytes of the current stream so far
  let historyOut = 0;
  let endedAtMessageEnd = false;
  for (const message of messages) {
    if (!message.compressed) {
      if (message.opcode === 1) texts.push(message.payload.toString('hex'));
      continue;
    }
    if (!takeover && message.opcode === 2) continue; // never inflated without takeover (SPEC §13)
    const data = Buffer.concat([history, message.payload, TAIL]);
    let out: Buffer;
    let consumed: number;
    try {
      const { buffer, engine } = inflateRawSync(Buffer.concat([data, PROBE]), { finishFlush: constants.Z_SYNC_FLUSH, info: true }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
      out = buffer;
      consumed = engine.bytesWritten;
    } catch {
      return { texts, inflateFailed: true, endedAtMessageEnd };
    }
    if (message.opcode === 1) texts.push(out.subarray(historyOut).toString('hex'));
    const ended = consumed <= data.length;
    if (ended && consumed === data.length) endedAtMessageEnd = true;
    if (ended || !takeover) {
      history = Buffer.alloc(0);
      historyOut = 0;
    } else {
      history = data;
      historyOut = out.length;
    }
  }
  return { texts, inflateFailed: false, endedAtMessageEnd };
}

export const wsDeflateTarget: FuzzTarget = {
  name: 'ws-deflate',
  description: "src/websocket/message-reader.ts with permessage-deflate vs ws's Receiver: the same text messages and failures, any cuts",
  seeds(rand) {
    return Array.from({ length: 30 }, () => randomStream(rand));
  },
  generate: randomStream,
  maxBytes: 16 * 1024,
  knownKinds: ['ws-late-final-block'],
  async check(input, rand) {
    const takeover = rand() < 0.5;
    const reference = await theirs(takeover ? input : withoutBinaryMessages(input), takeover);
    const got = await ours(rechunk(rand, input), takeover, rand() < 0.1);
    // ws inflates each frame once it is whole; the reader writes each payload piece to zlib as it comes, but
    // fed at once it is abandoned at the end before zlib has judged any of it. So a stream that stops inside
    // a message with bad bytes in it may fail on either side only: the same texts, and no usage either way.
    const failedAlike = got.failed === reference.failed || endsInsideMessage(input);
    const same = failedAlike && JSON.stringify(got.texts) === JSON.stringify(reference.texts);
    if (same) return;
    // ws notices that a DEFLATE stream ended through its inflater's `endEmitted`, which Node sets a
    // tick after it learns of the end, and learns of it only when input is left over: after a final
    // block that ends exactly at a message's last byte, ws writes the next message into the dead
    // inflater (an empty text) or, the next frame, into a fresh one from the middle of the message
    // (an inflate error). Ours writes the message again to a fresh inflater (the bug was ours too,
    // found here). When ours agrees with the model and ws's difference is that one, it is ws's.
    const model = modelled(input, takeover);
    const oursIsTheModels = JSON.stringify(got.texts) === JSON.stringify(model.texts) && (!got.failed || reference.failed || model.inflateFailed);
    expect(!(takeover && model.endedAtMessageEnd && oursIsTheModels), 'ws-late-final-block', () => `${preview(input)}\nours ${brief({ ...got })}\nws ${brief({ ...reference })}`);
    expect(false, 'differs-from-ws', () => `takeover ${takeover}: ${preview(input)}\nours ${brief({ ...got })}\nws ${brief({ ...reference })}\nmodel ${brief({ ...model, failed: model.inflateFailed })}`);
  },
};
