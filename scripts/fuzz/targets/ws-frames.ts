/**
 * Fuzz target: src/websocket/frame-parser.ts (RFC 6455 §5, the upstream's direction) against the `ws`
 * client's own Receiver (test-only dependency) on random frame streams, fed to ours at random cuts: the
 * same data messages (fragments joined), pings, pongs and close, and a failure on the same streams. The
 * parser's own invariants too: payload pieces add up to each frame's length, never more than 135 bytes
 * held, and nothing reported after a close or a problem.
 */
import { Buffer } from 'node:buffer';
import * as ws from 'ws';
import { createFrameParser } from '../../../src/websocket/frame-parser.ts';
import { expect, type FuzzTarget } from '../engine.ts';
import { copies, int, pick, rechunk, type Rand } from '../mutate.ts';
import { preview } from './json-sniffer.ts';

interface ReceiverLike {
  on(event: string, listener: (...args: never[]) => void): void;
  _write(chunk: Buffer, encoding: string, cb: (error?: Error | null) => void): void;
}
const { Receiver } = ws as unknown as { Receiver: new (options: object) => ReceiverLike };

type Event = string; // "text:<hex>", "binary:<hex>", "ping:<hex>", "pong:<hex>", "close:<code>"

/** An outcome short enough to read: each message as its byte length and first bytes. */
function brief(outcome: { readonly failed: boolean } & Record<string, unknown>): string {
  return JSON.stringify(outcome, (_key, v: unknown) => (typeof v === 'string' && v.length > 24 ? `${v.length / 2} bytes ${v.slice(0, 16)}…` : v));
}

interface Outcome {
  readonly events: Event[];
  readonly failed: boolean;
}

/** RFC 6455 §7.4: the close codes a peer may send (ws/lib/validation.js isValidStatusCode). */
function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

function theirs(stream: Buffer): Outcome {
  const events: Event[] = [];
  let failed = false;
  const receiver = new Receiver({ isServer: false, skipUTF8Validation: true, allowSynchronousEvents: true });
  receiver.on('message', (data: Buffer, isBinary: boolean) => void events.push(`${isBinary ? 'binary' : 'text'}:${Buffer.from(data).toString('hex')}`));
  receiver.on('ping', (data: Buffer) => void events.push(`ping:${data.toString('hex')}`));
  receiver.on('pong', (data: Buffer) => void events.push(`pong:${data.toString('hex')}`));
  receiver.on('conclude', (code: number) => void events.push(`close:${code}`));
  receiver.on('error', () => void (failed = true));
  // Called directly: Writable would report the error a tick later; the Receiver parses synchronously.
  receiver._write(stream, 'buffer', (error) => {
    if (error) failed = true;
  });
  return { events, failed };
}

function ours(chunks: readonly Buffer[]): Outcome {
  const events: Event[] = [];
  let failed = false;
  let stopped = false;
  let message: Buffer[] = [];
  let frameBytes = 0;
  const parser = createFrameParser({
    onDataFrame(frame) {
      expect(!stopped, 'event-after-stop', () => 'a frame after the close or a problem');
      if (frame.opcode !== 0) message = [];
      frameBytes = 0;
    },
    onPayload(piece) {
      expect(piece.length > 0, 'empty-piece', () => 'an empty payload piece');
      message.push(Buffer.from(piece));
      frameBytes += piece.length;
    },
    onDataFrameEnd(frame) {
      expect(frameBytes === frame.payloadLength && Number.isSafeInteger(frame.payloadLength), 'payload-length', () => `${frameBytes} bytes for a frame of ${frame.payloadLength}`);
      if (frame.fin) events.push(`${frame.messageOpcode === 1 ? 'text' : 'binary'}:${Buffer.concat(message).toString('hex')}`);
    },
    onClose(code) {
      // The Receiver fails the connection on a close code no peer may send (RFC 6455 §7.4); ours leaves that to the reader.
      if (code !== undefined && !isValidCloseCode(code)) failed = true;
      else events.push(`close:${code ?? 1005}`);
      stopped = true;
    },
    onPing: (payload) => void events.push(`ping:${payload.toString('hex')}`),
    onPong: (payload) => void events.push(`pong:${payload.toString('hex')}`),
    onProblem() {
      expect(!stopped, 'event-after-stop', () => 'a problem reported twice');
      failed = true;
      stopped = true;
    },
  });
  for (const chunk of chunks) {
    parser.feed(chunk);
    expect(parser.bufferedBytes >= 0 && parser.bufferedBytes <= 135, 'memory-unbounded', () => `${parser.bufferedBytes} bytes held`);
  }
  parser.end();
  return { events, failed };
}

interface FrameSpec {
  fin?: boolean;
  rsv?: number; // RSV1-3 as bits 0x40, 0x20, 0x10
  opcode: number;
  payload?: Buffer;
  mask?: boolean;
  lengthForm?: 7 | 16 | 64; // non-minimal encodings are allowed by both readers
  declaredLength?: bigint;
}

export function frame(spec: FrameSpec): Buffer {
  const payload = spec.payload ?? Buffer.alloc(0);
  const length = spec.declaredLength ?? BigInt(payload.length);
  const form = spec.declaredLength !== undefined && spec.declaredLength > 0xffffn ? 64 : spec.lengthForm ?? (length < 126n ? 7 : length < 65536n ? 16 : 64);
  const head = [((spec.fin ?? true) ? 0x80 : 0) | (spec.rsv ?? 0) | spec.opcode];
  const maskBit = spec.mask === true ? 0x80 : 0;
  if (form === 7 && length < 126n) head.push(maskBit | Number(length));
  else if (form === 16 || (form === 7 && length < 65536n)) head.push(maskBit | 126, Number(length >> 8n) & 0xff, Number(length) & 0xff);
  else {
    head.push(maskBit | 127);
    for (let shift = 56n; shift >= 0n; shift -= 8n) head.push(Number((length >> shift) & 0xffn));
  }
  if (spec.mask !== true) return Buffer.concat([Buffer.from(head), payload]);
  const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  return Buffer.concat([Buffer.from(head), key, Buffer.from(payload.map((b, i) => b ^ (key[i % 4] as number)))]);
}

const TEXTS = ['', 'hi', '{"type":"response.done","response":{"usage":{"input_tokens":5}}}', 'é😀', 'x'.repeat(125), 'y'.repeat(126), 'z'.repeat(300)];

function randomPayload(rand: Rand): Buffer {
  return rand() < 0.7 ? Buffer.from(pick(rand, TEXTS)) : Buffer.from(Array.from({ length: int(rand, 40) }, () => int(rand, 256)));
}

function randomStream(rand: Rand): Buffer {
  const frames: Buffer[] = [];
  for (let m = 1 + int(rand, 6); m > 0; m--) {
    const opcode = rand() < 0.7 ? 1 : 2;
    const pieces = 1 + int(rand, rand() < 0.3 ? 4 : 1);
    for (let p = 0; p < pieces; p++) {
      frames.push(frame({ opcode: p === 0 ? opcode : 0, fin: p === pieces - 1, payload: randomPayload(rand), lengthForm: pick(rand, [7, 7, 7, 16, 64] as const) }));
      if (rand() < 0.15) frames.push(frame({ opcode: pick(rand, [0x9, 0xa]), payload: Buffer.from(pick(rand, ['', 'ping', 'p'.repeat(125)])) }));
    }
  }
  const roll = rand();
  if (roll < 0.2) frames.push(frame({ opcode: 0x8, payload: Buffer.concat([Buffer.from([pick(rand, [0x03, 0x03, 0x0f, 0x00]), int(rand, 256)]), Buffer.from(pick(rand, ['', 'bye']))]) }));
  else if (roll < 0.25) frames.push(frame({ opcode: 0x8 }));
  else if (roll < 0.45) {
    // A fault both must fail on (a continuation frame is one only outside a message).
    const faults: FrameSpec[] = [
      { opcode: 1, payload: Buffer.from('m'), mask: true }, { opcode: 0x3 }, { opcode: 0xb, payload: Buffer.from('x') }, { opcode: 1, rsv: 0x20 },
      { opcode: 1, rsv: 0x40, payload: Buffer.from('z') }, { opcode: 0x9, fin: false }, { opcode: 0x9, payload: Buffer.alloc(126) },
      { opcode: 0x8, payload: Buffer.from('x') }, { opcode: 1, declaredLength: 2n ** 63n }, { opcode: 1, declaredLength: 2n ** 53n }, { opcode: 0, payload: Buffer.from('c') },
    ];
    frames.splice(int(rand, frames.length + 1), 0, frame(pick(rand, faults)));
  }
  return Buffer.concat(frames);
}

export const wsFramesTarget: FuzzTarget = {
  name: 'ws-frames',
  description: "src/websocket/frame-parser.ts vs the ws package's Receiver: the same messages, pings, pongs, close and failures, any cuts",
  seeds(rand) {
    return Array.from({ length: 40 }, () => randomStream(rand));
  },
  generate: randomStream,
  check(input, rand) {
    const reference = theirs(input);
    for (let round = 0; round < 3; round++) {
      const chunks = rechunk(rand, input);
      const got = ours(round === 2 ? copies(chunks) : chunks);
      // Before a failure only the events that came before it count on both sides.
      const same = got.failed === reference.failed && JSON.stringify(got.events) === JSON.stringify(reference.events);
      expect(same, 'differs-from-ws', () => `${preview(input)}\nours ${brief({ ...got })}\nws ${brief({ ...reference })}`);
    }
  },
  grow(input, factor) {
    return Buffer.concat(Array.from({ length: factor }, () => input));
  },
  work(input) {
    ours([input]);
  },
};
