/**
 * The side reader of a WebSocket session's upstream direction (SPEC §13 "Usage"): the upstream's
 * bytes in, as they pass, whole text messages out, in order. Fragments are joined up to 8 MiB of
 * decoded bytes (a longer message is skipped as it streams, never held), permessage-deflate is
 * inflated on the side, binary messages are skipped. It never blocks, backpressures or throws at
 * the tunnel: whatever goes wrong only ends usage reading for the session. No sockets, no files.
 */
import { Buffer } from 'node:buffer';
import type { PerMessageDeflateSettings } from './extensions.ts';
import { createFrameParser } from './frame-parser.ts';
import type { DataFrame, FrameCallbacks, FrameParser, FrameProblem } from './frame-parser.ts';
import { createMessageInflater } from './message-inflater.ts';
import type { InflateJob, InflateProblem, MessageInflater } from './message-inflater.ts';

export type ReaderProblem = FrameProblem | InflateProblem | 'backlog_limit';

/**
 * Callbacks must not throw: some are called from zlib's events, where a throw is uncaught.
 * Messages may still arrive after end() returns, because zlib works asynchronously; onEnd marks
 * the real end and is called exactly once in every path.
 */
export interface MessageCallbacks {
  /**
   * A whole text message, decoded, in stream order. Not checked as UTF-8. It may be a view of a
   * chunk passed to feed() (an uncompressed message in one frame): copy it to keep it.
   */
  onText(message: Buffer): void;
  /** The upstream's close frame (RFC 6455 §5.5.1): code undefined when it carries none. */
  onClose?(code: number | undefined): void;
  /**
   * Usage reading stopped for the session; at most once, and onEnd follows. For a protocol
   * problem in the frames, the messages completed before it are delivered first.
   */
  onProblem(problem: ReaderProblem, detail: string): void;
  onEnd(): void;
}

export interface MessageReaderOptions {
  /** What the upstream's 101 agreed to (parsePerMessageDeflate); null or absent: no extension. */
  deflate?: PerMessageDeflateSettings | null;
  /** Largest decoded text message delivered (SPEC §13: 8 MiB); longer ones are skipped. */
  maxMessageBytes?: number;
  /** Decoded bytes allowed per compressed byte past freeBytes (SPEC §8: "say 100:1"). */
  expansionRatio?: number;
  /** Decoded bytes allowed before the ratio applies. */
  freeBytes?: number;
  /** Bytes allowed to wait for the inflater (compressed input and messages queued behind it). */
  maxBacklogBytes?: number;
}

export interface MessageReader {
  /** The upstream's bytes, in order, as they pass. Never throws, never blocks. Do not modify them afterwards. */
  feed(chunk: Buffer): void;
  /** The upstream's direction ended: complete messages still come out, then onEnd. */
  end(): void;
  /** Abandon: frees zlib at once; onEnd fires now if it has not already, onText never again. */
  destroy(): void;
  /** Bytes held now: partial frame header, message being joined, inflater backlog and output, queue. */
  readonly heldBytes: number;
  /** Text messages skipped for being longer than maxMessageBytes. */
  readonly skippedMessages: number;
}

const DEFAULT_MAX_MESSAGE_BYTES = 8 * 1024 * 1024; // SPEC §13: "up to 8 MiB decoded"
const DEFAULT_EXPANSION_RATIO = 100; // SPEC §8: "say 100:1 past the first MiB"
const DEFAULT_FREE_BYTES = 1024 * 1024; // 1 MiB
const DEFAULT_MAX_BACKLOG_BYTES = 8 * 1024 * 1024; // 8 MiB
const EMPTY = Buffer.alloc(0);

export function createMessageReader(callbacks: MessageCallbacks, options: MessageReaderOptions = {}): MessageReader {
  return new Reader(callbacks, options);
}

/** A message's place in the output order; data undefined while it is being inflated, null: nothing to deliver. */
interface Slot {
  data: Buffer | null | undefined;
}

/** What becomes of the message now arriving: joined, skipped, or inflated. */
type Current = 'none' | 'join' | 'skip' | 'inflate';

// A class, like the parsers: one reader lives per open session.
class Reader implements MessageReader, FrameCallbacks {
  private readonly callbacks: MessageCallbacks;
  private readonly maxMessageBytes: number;
  private readonly maxBacklogBytes: number;
  private readonly parser: FrameParser;
  private readonly inflater: MessageInflater | undefined;
  private readonly noContextTakeover: boolean;

  private current: Current = 'none';
  private frame: DataFrame | undefined;
  private pieces: Buffer[] = [];
  private joinedBytes = 0;
  private joinedView = false;
  private job: InflateJob | undefined;
  private jobSlot: Slot | undefined;

  // Messages complete or being inflated, in stream order, waiting for the ones before them.
  private outbox: Slot[] = [];
  private outboxBytes = 0;
  private inputEnded = false;
  private pendingProblem: { readonly problem: ReaderProblem; readonly detail: string } | undefined;
  private finished = false;
  private skipped = 0;

  constructor(callbacks: MessageCallbacks, options: MessageReaderOptions) {
    this.callbacks = callbacks;
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.maxBacklogBytes = options.maxBacklogBytes ?? DEFAULT_MAX_BACKLOG_BYTES;
    const deflate = options.deflate ?? null;
    this.noContextTakeover = deflate?.serverNoContextTakeover ?? false;
    this.parser = createFrameParser(this, { perMessageDeflate: deflate !== null });
    this.inflater =
      deflate === null
        ? undefined
        : createMessageInflater(
            {
              noContextTakeover: this.noContextTakeover,
              maxMessageBytes: this.maxMessageBytes,
              expansionRatio: options.expansionRatio ?? DEFAULT_EXPANSION_RATIO,
              freeBytes: options.freeBytes ?? DEFAULT_FREE_BYTES,
            },
            { onProblem: (problem, detail) => this.fail(problem, detail) },
          );
  }

  get heldBytes(): number {
    const joining = this.current === 'join' ? this.joinedBytes : 0;
    return this.parser.bufferedBytes + joining + this.outboxBytes + (this.inflater?.heldBytes ?? 0);
  }

  get skippedMessages(): number {
    return this.skipped;
  }

  feed(chunk: Buffer): void {
    if (this.finished || this.inputEnded) return;
    this.parser.feed(chunk);
    if (this.finished) return;
    // The tunnel never waits for us: a side decoder that falls behind gives up, never buffers on.
    const waiting = (this.inflater?.backlogBytes ?? 0) + this.outboxBytes;
    if (waiting > this.maxBacklogBytes) {
      this.fail('backlog_limit', `${waiting} bytes waiting to be decoded (at most ${this.maxBacklogBytes})`);
    }
  }

  end(): void {
    if (this.finished || this.inputEnded) return;
    this.parser.end();
    this.endInput(undefined);
  }

  destroy(): void {
    if (this.finished) return;
    this.stop();
    this.callbacks.onEnd();
  }

  // ---- FrameCallbacks: called by the parser, synchronously inside feed() ----

  onDataFrame(frame: DataFrame): void {
    this.frame = frame;
    if (frame.opcode !== 0) this.beginMessage(frame);
    if (this.current === 'join' && this.joinedBytes + frame.payloadLength > this.maxMessageBytes) {
      // The length is known before the payload comes: nothing of it is gathered.
      this.current = 'skip';
      this.pieces = [];
      this.joinedBytes = 0;
      this.skipped++;
    }
  }

  onPayload(piece: Buffer): void {
    if (this.current === 'inflate') {
      this.inflater?.write(this.job as InflateJob, piece);
    } else if (this.current === 'join') {
      const frame = this.frame as DataFrame;
      // A message in one frame whose payload came in one piece stays a view of the chunk (it is
      // delivered before feed() returns, unless it must queue); pieces that wait for the next
      // chunk are copied, so no chunk is kept alive by a few bytes of it.
      const whole = frame.opcode !== 0 && frame.fin && piece.length === frame.payloadLength;
      this.pieces.push(whole ? piece : Buffer.from(piece));
      this.joinedView = whole;
      this.joinedBytes += piece.length;
    }
  }

  onDataFrameEnd(frame: DataFrame): void {
    this.frame = undefined;
    if (!frame.fin) return;
    if (this.current === 'join') {
      const data = this.pieces.length === 1 ? (this.pieces[0] as Buffer) : this.pieces.length === 0 ? EMPTY : Buffer.concat(this.pieces, this.joinedBytes);
      const view = this.joinedView;
      this.pieces = [];
      this.joinedBytes = 0;
      this.joinedView = false;
      this.current = 'none';
      this.deliver(data, view);
      return;
    }
    if (this.current === 'inflate') this.inflater?.finish(this.job as InflateJob);
    this.current = 'none';
    this.job = undefined;
    this.jobSlot = undefined;
  }

  onClose(code: number | undefined): void {
    this.callbacks.onClose?.(code);
    if (!this.finished) this.endInput(undefined);
  }

  onProblem(problem: FrameProblem, detail: string): void {
    this.endInput({ problem, detail });
  }

  // ---- messages ----

  private beginMessage(frame: DataFrame): void {
    const binary = frame.messageOpcode === 2;
    if (!frame.compressed || this.inflater === undefined) {
      this.current = binary ? 'skip' : 'join';
      return;
    }
    if (binary && this.noContextTakeover) {
      // Nothing later depends on this message's bytes: they need not be inflated at all.
      this.current = 'skip';
      return;
    }
    // Under context takeover even a binary message goes through the inflater (its output
    // dropped): the next message's back-references may reach into it.
    const slot: Slot = { data: undefined };
    this.outbox.push(slot);
    this.jobSlot = slot;
    this.current = 'inflate';
    this.job = this.inflater.begin(binary, (data) => this.fill(slot, data, binary));
  }

  /** `view`: data is a view of the chunk being fed, copied if it must wait for earlier messages. */
  private deliver(data: Buffer, view: boolean): void {
    if (this.outbox.length === 0) {
      this.callbacks.onText(data);
      return;
    }
    this.outbox.push({ data: view ? Buffer.from(data) : data });
    this.outboxBytes += data.length;
  }

  private fill(slot: Slot, data: Buffer | null, binary: boolean): void {
    if (this.finished) return;
    if (data === null && !binary) this.skipped++;
    slot.data = data;
    if (data !== null) this.outboxBytes += data.length;
    this.drain();
  }

  private drain(): void {
    for (;;) {
      const head = this.outbox[0];
      if (head === undefined || head.data === undefined) break;
      this.outbox.shift();
      if (head.data === null) continue;
      this.outboxBytes -= head.data.length;
      this.callbacks.onText(head.data);
      if (this.finished) return; // onText may have destroyed us
    }
    this.finishIfDone();
  }

  // ---- ends ----

  /** No more input will be read: complete messages still come out, the unfinished one is dropped. */
  private endInput(problem: { readonly problem: ReaderProblem; readonly detail: string } | undefined): void {
    if (this.inputEnded || this.finished) return;
    this.inputEnded = true;
    this.pendingProblem = problem;
    if (this.current === 'inflate' && this.job !== undefined) {
      this.inflater?.abandon(this.job);
      this.outbox = this.outbox.filter((slot) => slot !== this.jobSlot);
    }
    this.current = 'none';
    this.pieces = [];
    this.joinedBytes = 0;
    this.job = undefined;
    this.jobSlot = undefined;
    this.drain();
  }

  private finishIfDone(): void {
    if (!this.inputEnded || this.finished || this.outbox.length > 0) return;
    this.finished = true;
    this.inflater?.destroy();
    const problem = this.pendingProblem;
    if (problem !== undefined) this.callbacks.onProblem(problem.problem, problem.detail);
    this.callbacks.onEnd();
  }

  /** Immediately: a decoding problem or the backlog bound; nothing more is delivered. */
  private fail(problem: ReaderProblem, detail: string): void {
    if (this.finished) return;
    this.stop();
    this.callbacks.onProblem(problem, detail);
    this.callbacks.onEnd();
  }

  private stop(): void {
    this.finished = true;
    this.parser.end();
    this.inflater?.destroy();
    this.outbox = [];
    this.outboxBytes = 0;
    this.pieces = [];
    this.joinedBytes = 0;
    this.current = 'none';
  }
}
