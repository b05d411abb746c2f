/**
 * Test helpers for the WebSocket side reader: RFC 6455 frames built by hand (every length form,
 * masks and reserved bits on demand), permessage-deflate messages compressed as a server would
 * (RFC 7692 §7.2.1, with or without context takeover), random message streams with the text
 * messages a client must receive from them, and runs of src/websocket that record what they report.
 */
import { Buffer } from 'node:buffer';
import * as zlib from 'node:zlib';
import { createFrameParser } from '../../src/websocket/frame-parser.ts';
import type { FrameParserOptions } from '../../src/websocket/frame-parser.ts';
import { createMessageReader } from '../../src/websocket/message-reader.ts';
import type { MessageReaderOptions } from '../../src/websocket/message-reader.ts';
import { pick } from './sse-streams.ts';

export { cutAt, cutRandomly } from './sse-streams.ts';

export const TEXT = 0x1;
export const BINARY = 0x2;
export const CONTINUATION = 0x0;
export const CLOSE = 0x8;
export const PING = 0x9;
export const PONG = 0xa;

export interface FrameSpec {
  readonly opcode: number;
  readonly payload?: Buffer | string;
  readonly fin?: boolean; // default true
  readonly rsv1?: boolean;
  readonly rsv2?: boolean;
  readonly rsv3?: boolean;
  /** A 4-byte mask key: the payload is masked with it (what a server must never send). */
  readonly mask?: Buffer;
  /** Force a length form: 7, 16 or 64 bits (default: the shortest). */
  readonly lengthBits?: 7 | 16 | 64;
  /** Write this length instead of the payload's (for lengths no test could allocate). */
  readonly declaredLength?: bigint;
}

/** One frame's bytes, RFC 6455 §5.2. */
export function frame(spec: FrameSpec): Buffer {
  const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload) : (spec.payload ?? Buffer.alloc(0));
  const length = spec.declaredLength ?? BigInt(payload.length);
  const bits = spec.lengthBits ?? (length < 126n ? 7 : length < 65536n ? 16 : 64);
  const head = [
    (spec.fin === false ? 0 : 0x80) | (spec.rsv1 === true ? 0x40 : 0) | (spec.rsv2 === true ? 0x20 : 0) | (spec.rsv3 === true ? 0x10 : 0) | spec.opcode,
  ];
  const maskBit = spec.mask === undefined ? 0 : 0x80;
  let extended = Buffer.alloc(0);
  if (bits === 7) head.push(maskBit | Number(length));
  else if (bits === 16) {
    head.push(maskBit | 126);
    extended = Buffer.alloc(2);
    extended.writeUInt16BE(Number(length));
  } else {
    head.push(maskBit | 127);
    extended = Buffer.alloc(8);
    extended.writeBigUInt64BE(length);
  }
  let body = payload;
  if (spec.mask !== undefined) {
    const key = spec.mask;
    body = Buffer.from(payload.map((byte, i) => byte ^ (key[i % 4] ?? 0)));
  }
  return Buffer.concat([Buffer.from(head), extended, spec.mask ?? Buffer.alloc(0), body]);
}

/** A message's frames: its payload cut into `fragments` frames (continuations after the first). */
export function messageFrames(opcode: number, payload: Buffer, fragments = 1, rsv1 = false): Buffer[] {
  const frames: Buffer[] = [];
  const size = Math.ceil(payload.length / fragments);
  for (let i = 0; i < fragments; i++) {
    const piece = payload.subarray(i * size, Math.min(payload.length, (i + 1) * size));
    frames.push(frame({ opcode: i === 0 ? opcode : CONTINUATION, payload: piece, fin: i === fragments - 1, rsv1: i === 0 && rsv1 }));
  }
  return frames;
}

export function closeFrame(code?: number, reason = ''): Buffer {
  if (code === undefined) return frame({ opcode: CLOSE });
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code);
  payload.write(reason, 2);
  return frame({ opcode: CLOSE, payload });
}

const WINDOW = 32 * 1024;

/**
 * A server's permessage-deflate compressor (RFC 7692 §7.2.1): raw DEFLATE, sync-flushed, the
 * 00 00 ff ff tail removed. Context takeover is modelled with a preset dictionary of the last
 * 32 KiB sent: back-references into it are exactly those into the shared window.
 */
export class ServerDeflater {
  private history = Buffer.alloc(0);
  private readonly contextTakeover: boolean;
  private readonly windowBits: number;

  constructor(contextTakeover = true, windowBits = 15) {
    this.contextTakeover = contextTakeover;
    this.windowBits = windowBits;
  }

  compress(data: Buffer): Buffer {
    const options: zlib.ZlibOptions = { finishFlush: zlib.constants.Z_SYNC_FLUSH, windowBits: this.windowBits };
    const window = Math.min(WINDOW, 1 << this.windowBits);
    if (this.contextTakeover && this.history.length > 0) options.dictionary = this.history.subarray(-window);
    const out = zlib.deflateRawSync(data, options);
    if (this.contextTakeover) this.history = Buffer.concat([this.history, data]).subarray(-WINDOW);
    return out.subarray(0, out.length - 4);
  }
}

export interface StreamMessage {
  readonly opcode: typeof TEXT | typeof BINARY;
  readonly payload: Buffer;
}

export interface RandomStreamOptions {
  /** Compress with permessage-deflate (each message compressed or not at random). */
  readonly deflate?: { readonly contextTakeover: boolean } | undefined;
  /** Largest message, in bytes. */
  readonly maxMessageBytes?: number;
  /** A frame to put at a random frame boundary (a protocol fault, for the differential test). */
  readonly insert?: Buffer;
}

const PIECES = ['{"type":"response.done","response":{"usage":{"input_tokens":', '12', ',"output_tokens":', '7', '}}}', 'é', '€', '😀', 'delta', ' ', 'aaaaaaaa'];

function randomPayload(rand: () => number, opcode: number, max: number): Buffer {
  const target = Math.floor(rand() ** 3 * max);
  if (opcode === BINARY) return Buffer.from(Array.from({ length: target }, () => Math.floor(rand() * 256)));
  const pieces: string[] = [];
  for (let length = 0; length < target; ) {
    const piece = pick(rand, PIECES);
    pieces.push(piece);
    length += Buffer.byteLength(piece);
  }
  return Buffer.from(pieces.join(''));
}

/**
 * A random upstream byte stream: text and binary messages of random sizes (7-, 16- and
 * occasionally 64-bit lengths), fragmented at random, pings and pongs between and inside
 * fragmented messages, sometimes a close at the end. Returns the bytes and every message sent.
 */
export function randomStream(rand: () => number, messageCount: number, options: RandomStreamOptions = {}): { bytes: Buffer; messages: StreamMessage[] } {
  const frames: Buffer[] = [];
  const messages: StreamMessage[] = [];
  const deflater = options.deflate === undefined ? undefined : new ServerDeflater(options.deflate.contextTakeover);
  const control = (): Buffer => frame({ opcode: rand() < 0.5 ? PING : PONG, payload: randomPayload(rand, BINARY, 125) });
  for (let m = 0; m < messageCount; m++) {
    if (rand() < 0.15) frames.push(control());
    const opcode = rand() < 0.75 ? TEXT : BINARY;
    const payload = randomPayload(rand, opcode, options.maxMessageBytes ?? 2000);
    messages.push({ opcode, payload });
    // Under context takeover every message must go through the compressor, or it and the
    // receiver's inflater fall out of step; without it a server may send any message plain.
    const compress = deflater !== undefined && (options.deflate?.contextTakeover === true || rand() < 0.8);
    const wire = compress ? deflater.compress(payload) : payload;
    const fragments = rand() < 0.6 ? 1 : 1 + Math.floor(rand() * 5);
    const parts = messageFrames(opcode, wire, fragments, compress);
    for (const part of parts) {
      frames.push(rand() < 0.05 ? reencode64(part) : part);
      if (parts.length > 1 && rand() < 0.2) frames.push(control());
    }
  }
  if (options.insert !== undefined) frames.splice(Math.floor(rand() * (frames.length + 1)), 0, options.insert);
  if (rand() < 0.3) frames.push(closeFrame(1000, 'bye'));
  return { bytes: Buffer.concat(frames), messages };
}

/** The same frame with its length in the 64-bit form (legal to read, if not minimal). */
function reencode64(bytes: Buffer): Buffer {
  const length7 = (bytes[1] ?? 0) & 0x7f;
  const headerLength = length7 === 126 ? 4 : length7 === 127 ? 10 : 2;
  const payload = bytes.subarray(headerLength);
  const b0 = bytes[0] ?? 0;
  return frame({ opcode: b0 & 0x0f, fin: (b0 & 0x80) !== 0, rsv1: (b0 & 0x40) !== 0, payload, lengthBits: 64 });
}

export function textsOf(messages: readonly StreamMessage[], maxMessageBytes = 8 * 1024 * 1024): string[] {
  return messages.filter((m) => m.opcode === TEXT && m.payload.length <= maxMessageBytes).map((m) => m.payload.toString('hex'));
}

/** Everything the frame parser reported, payload pieces joined per frame, as plain values. */
export function parseFrames(chunks: readonly Uint8Array[], options?: FrameParserOptions): unknown[] {
  const events: unknown[] = [];
  let payload: Buffer[] = [];
  const parser = createFrameParser(
    {
      onDataFrame: (f) => void events.push(['frame', f.opcode, f.messageOpcode, f.fin, f.rsv1, f.compressed, f.payloadLength]),
      onPayload(piece) {
        if (piece.length === 0) throw new Error('an empty payload piece');
        payload.push(Buffer.from(piece));
      },
      onDataFrameEnd() {
        events.push(['payload', Buffer.concat(payload).toString('hex')]);
        payload = [];
      },
      onClose: (code, reason) => void events.push(['close', code, reason.toString()]),
      onPing: (data) => void events.push(['ping', Buffer.from(data).toString('hex')]),
      onPong: (data) => void events.push(['pong', Buffer.from(data).toString('hex')]),
      onProblem: (problem) => void events.push(['problem', problem]),
    },
    options,
  );
  for (const chunk of chunks) parser.feed(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  parser.end();
  return events;
}

export interface ReadRecord {
  /** Text messages delivered, as hex (bytes, not only text, are compared). */
  readonly texts: string[];
  readonly problems: string[];
  readonly closes: (number | undefined)[];
  readonly ends: number;
  readonly skipped: number;
  /** The most the reader held after any feed. */
  readonly maxHeld: number;
}

/**
 * Feeds the chunks to a new message reader, ends it, and waits for onEnd. With `pauseMs`, waits that
 * long after each chunk, so that zlib keeps up with the feed as it does with a socket's.
 */
export function readMessages(chunks: readonly Uint8Array[], options: MessageReaderOptions = {}, pauseMs?: number): Promise<ReadRecord> {
  return new Promise((resolve, reject) => {
    const texts: string[] = [];
    const problems: string[] = [];
    const closes: (number | undefined)[] = [];
    let ends = 0;
    let maxHeld = 0;
    const reader = createMessageReader(
      {
        onText: (message) => void texts.push(message.toString('hex')),
        onClose: (code) => void closes.push(code),
        onProblem: (problem) => void problems.push(problem),
        onEnd() {
          ends++;
          // Later calls must not report anything more: give them a turn before resolving.
          setImmediate(() => resolve({ texts, problems, closes, ends, skipped: reader.skippedMessages, maxHeld }));
        },
      },
      options,
    );
    void (async () => {
      for (const chunk of chunks) {
        reader.feed(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        maxHeld = Math.max(maxHeld, reader.heldBytes);
        if (pauseMs !== undefined) await new Promise((next) => setTimeout(next, pauseMs));
      }
      reader.end();
    })().catch(reject);
  });
}

export const hex = (text: string): string => Buffer.from(text).toString('hex');
