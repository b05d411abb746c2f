/**
 * The side reader of a session without permessage-deflate (SPEC §13 "Usage"), for the common case
 * where almost every message is one the usage reader will not look at: each text message is judged
 * by its first bytes as they pass, and one judged uninteresting (an audio delta, say) is skipped
 * without a byte of it copied or joined. The rest are joined and delivered as message-reader.ts
 * would (up to 8 MiB; longer ones skipped as they stream, never held). A compressed session cannot
 * be judged this way — its bytes mean nothing before they are inflated — and goes through
 * message-reader.ts. No sockets, no files; never throws at the tunnel.
 */
import { Buffer } from 'node:buffer';
import { createFrameParser } from './frame-parser.ts';
import type { DataFrame, FrameCallbacks, FrameParser, FrameProblem } from './frame-parser.ts';
import type { MessageCallbacks, MessageReader } from './message-reader.ts';

/** How many of a message's first bytes the judge sees (the whole message when it is shorter). */
export const PEEK_BYTES = 80;
const DEFAULT_MAX_MESSAGE_BYTES = 8 * 1024 * 1024; // SPEC §13: "up to 8 MiB decoded"
const EMPTY = Buffer.alloc(0);

export interface PlainReaderOptions {
  /** Whether a text message that begins with `prefix` is to be read: false skips it unread. */
  readonly wanted: (prefix: Buffer) => boolean;
  readonly maxMessageBytes?: number;
}

export function createPlainMessageReader(callbacks: MessageCallbacks, options: PlainReaderOptions): MessageReader {
  return new PlainReader(callbacks, options);
}

/** What becomes of the message now arriving: judged on its first bytes, joined, or skipped. */
type Current = 'none' | 'peek' | 'join' | 'skip';

class PlainReader implements MessageReader, FrameCallbacks {
  private readonly callbacks: MessageCallbacks;
  private readonly wanted: (prefix: Buffer) => boolean;
  private readonly maxMessageBytes: number;
  private readonly parser: FrameParser;
  private current: Current = 'none';
  private pieces: Buffer[] = [];
  private joinedBytes = 0;
  private finished = false;
  private skipped = 0;

  constructor(callbacks: MessageCallbacks, options: PlainReaderOptions) {
    this.callbacks = callbacks;
    this.wanted = options.wanted;
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.parser = createFrameParser(this, { perMessageDeflate: false });
  }

  get heldBytes(): number {
    return this.parser.bufferedBytes + this.joinedBytes;
  }

  get skippedMessages(): number {
    return this.skipped;
  }

  feed(chunk: Buffer): void {
    if (!this.finished) this.parser.feed(chunk);
  }

  end(): void {
    this.finish(undefined);
  }

  destroy(): void {
    this.finish(undefined);
  }

  // ---- FrameCallbacks, synchronously inside feed() ----

  onDataFrame(frame: DataFrame): void {
    if (frame.opcode !== 0) {
      // A new message: binary ones are never read; a text one is judged once its first bytes are in.
      this.current = frame.messageOpcode === 2 ? 'skip' : 'peek';
      this.pieces = [];
      this.joinedBytes = 0;
    }
    if ((this.current === 'join' || this.current === 'peek') && this.joinedBytes + frame.payloadLength > this.maxMessageBytes) {
      // The length is known before the payload comes: nothing of it is gathered.
      this.current = 'skip';
      this.pieces = [];
      this.joinedBytes = 0;
      this.skipped++;
    }
  }

  onPayload(piece: Buffer): void {
    if (this.current === 'join') {
      // Kept past this chunk: copied, so no socket chunk is held alive by a piece of it.
      this.pieces.push(Buffer.from(piece));
      this.joinedBytes += piece.length;
    } else if (this.current === 'peek') {
      this.peek(piece);
    }
  }

  onDataFrameEnd(frame: DataFrame): void {
    if (!frame.fin) return;
    if (this.current === 'peek') {
      // The whole message is shorter than the peek: judged on all of it.
      const prefix = this.joined();
      if (this.wanted(prefix)) this.callbacks.onText(prefix);
    } else if (this.current === 'join') {
      this.callbacks.onText(this.joined());
    }
    this.current = 'none';
    this.pieces = [];
    this.joinedBytes = 0;
  }

  onClose(code: number | undefined): void {
    this.callbacks.onClose?.(code);
    this.finish(undefined);
  }

  onProblem(problem: FrameProblem, detail: string): void {
    this.finish({ problem, detail });
  }

  // ---- messages ----

  /** A piece of a message still to be judged: judged as soon as PEEK_BYTES are in. */
  private peek(piece: Buffer): void {
    const have = this.joinedBytes;
    if (have + piece.length < PEEK_BYTES) {
      this.pieces.push(Buffer.from(piece));
      this.joinedBytes += piece.length;
      return;
    }
    // Usually the first piece alone holds the prefix, and is judged as it is, a view of the chunk.
    const prefix = have === 0 ? piece.subarray(0, PEEK_BYTES) : Buffer.concat([...this.pieces, piece.subarray(0, PEEK_BYTES - have)], PEEK_BYTES);
    if (!this.wanted(prefix)) {
      this.current = 'skip';
      this.pieces = [];
      this.joinedBytes = 0;
      return;
    }
    this.current = 'join';
    this.pieces.push(Buffer.from(piece));
    this.joinedBytes += piece.length;
  }

  private joined(): Buffer {
    if (this.pieces.length === 0) return EMPTY;
    return this.pieces.length === 1 ? (this.pieces[0] as Buffer) : Buffer.concat(this.pieces, this.joinedBytes);
  }

  private finish(problem: { readonly problem: FrameProblem; readonly detail: string } | undefined): void {
    if (this.finished) return;
    this.finished = true;
    this.parser.end();
    this.pieces = [];
    this.joinedBytes = 0;
    this.current = 'none';
    if (problem !== undefined) this.callbacks.onProblem(problem.problem, problem.detail);
    this.callbacks.onEnd();
  }
}
