/**
 * Inflates the upstream's permessage-deflate messages on the side (RFC 7692 §7.2.2), one message
 * at a time and in order, with node:zlib's asynchronous raw inflater. It never blocks or
 * backpressures the caller: compressed bytes wait (counted) until zlib takes them, decoded bytes
 * are capped like the body decoder's (SPEC §8: 1 MiB free, then 100:1), and the first problem
 * stops it. No sockets, no files.
 */
import { Buffer } from 'node:buffer';
import * as zlib from 'node:zlib';

export type InflateProblem = 'decode_error' | 'expansion_limit';

export interface InflaterEvents {
  /** At most once; the inflater is stopped when it is called. Must not throw (zlib event). */
  onProblem(problem: InflateProblem, detail: string): void;
}

export interface InflaterOptions {
  /** RFC 7692 §7.1.1.1: the server resets its compressor after each message. */
  readonly noContextTakeover: boolean;
  /** Largest decoded message gathered; a longer one completes with null. */
  readonly maxMessageBytes: number;
  /** Decoded bytes allowed per compressed byte past freeBytes, over the whole session. */
  readonly expansionRatio: number;
  readonly freeBytes: number;
}

/** A compressed message in the queue; opaque to the caller. */
export interface InflateJob {
  readonly discard: boolean;
}

export interface MessageInflater {
  /**
   * A new compressed message. `done` is called once, in message order, with the decoded message,
   * or null when it was discarded, longer than maxMessageBytes, or abandoned; never after a problem.
   * `discard`: inflate only to keep the window in step (a binary message under context takeover).
   */
  begin(discard: boolean, done: (data: Buffer | null) => void): InflateJob;
  /** A piece of the message's compressed payload; it must not be modified afterwards. */
  write(job: InflateJob, piece: Buffer): void;
  /** The message's last fragment has arrived. */
  finish(job: InflateJob): void;
  /** The input ended inside this message (the last one begun): it will never complete. */
  abandon(job: InflateJob): void;
  /** Stops at once and frees zlib; no callback is called afterwards. */
  destroy(): void;
  /** Compressed bytes written to us and not yet seen consumed by zlib. */
  readonly backlogBytes: number;
  /** backlogBytes plus the decoded bytes gathered for the message being inflated. */
  readonly heldBytes: number;
  /** No message in the queue. */
  readonly idle: boolean;
}

// RFC 7692 §7.2.2: "Append 4 octets of 0x00 0x00 0xff 0xff to the tail end of the payload of
// the message" — the empty stored block the sender's sync flush ended with, removed on the wire.
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

// server_max_window_bits (§7.1.2.1) is the server's promise that no back-reference reaches
// further than 2^bits bytes; an inflater with the full 32 KiB window decodes every such stream
// (and, unlike a window of exactly 2^bits, one from a server that breaks its promise). `ws` sizes
// its inflater to the negotiated bits; Node rewrites 8 to 9 only for DeflateRaw (zlib ≥ 1.2.9
// rejects a raw 8-bit deflater), so the quirk never reaches an inflater. The cost of always using
// 15: a 32 KiB window per session instead of as little as 256 bytes.
const INFLATE_OPTIONS: zlib.ZlibOptions = { windowBits: 15 };

interface Job extends InflateJob {
  readonly done: (data: Buffer | null) => void;
  pending: Buffer[]; // pieces that arrived while an earlier message was still inflating
  pendingBytes: number;
  finished: boolean;
  output: Buffer[];
  outputBytes: number;
  tooLarge: boolean;
  abandoned: boolean; // nothing more of it is inflated (no context takeover: nothing depends on it)
  // Pieces written to zlib and kept until zlib is seen to consume one of them: an inflater whose
  // DEFLATE stream ended at the previous message's last byte ignores them (see flushHead).
  unconfirmed: Buffer[];
  unconfirmedBytes: number;
  consumedAtStart: number; // the engine's bytesWritten when this message's first piece went in
  fedBytes: number; // this message's bytes written to the current engine, trailer included
  restarted: boolean; // written again to a fresh engine once already
}

export function createMessageInflater(options: InflaterOptions, events: InflaterEvents): MessageInflater {
  return new Inflater(options, events);
}

// Messages go through zlib one at a time: the next message's bytes are written only once the
// previous message's flush has called back. So output is always the head message's, a reset
// (no context takeover) or a fresh inflater (after a final block) lands exactly between two
// messages, and no message's bytes are ever lost in an inflater that already ended.
class Inflater implements MessageInflater {
  private readonly options: InflaterOptions;
  private readonly events: InflaterEvents;
  private readonly jobs: Job[] = [];
  private engine: zlib.InflateRaw | undefined;
  private pendingTotal = 0;
  private consumedBase = 0; // compressed bytes consumed by inflaters already dropped
  private decodedTotal = 0;
  private stopped = false;

  constructor(options: InflaterOptions, events: InflaterEvents) {
    this.options = options;
    this.events = events;
  }

  get backlogBytes(): number {
    // The head message's pieces that zlib has not been seen consuming are held too: in a dead
    // inflater (see flushHead) they stay held until the message ends, so they count against the
    // bound. They are also in writableLength while zlib is merely behind; the larger is counted.
    const unconfirmed = this.jobs[0]?.unconfirmedBytes ?? 0;
    return this.pendingTotal + Math.max(this.engine?.writableLength ?? 0, unconfirmed);
  }

  get heldBytes(): number {
    return this.backlogBytes + (this.jobs[0]?.outputBytes ?? 0);
  }

  get idle(): boolean {
    return this.jobs.length === 0;
  }

  begin(discard: boolean, done: (data: Buffer | null) => void): InflateJob {
    const job: Job = {
      discard, done, pending: [], pendingBytes: 0, finished: false, output: [], outputBytes: 0, tooLarge: false, abandoned: false,
      unconfirmed: [], unconfirmedBytes: 0, consumedAtStart: -1, fedBytes: 0, restarted: false,
    };
    if (!this.stopped) this.jobs.push(job);
    return job;
  }

  write(job: InflateJob, piece: Buffer): void {
    const own = job as Job;
    if (this.stopped || own.abandoned || piece.length === 0) return;
    if (own === this.jobs[0]) {
      this.feed(own, piece, true);
    } else {
      own.pending.push(piece);
      own.pendingBytes += piece.length;
      this.pendingTotal += piece.length;
    }
  }

  finish(job: InflateJob): void {
    const own = job as Job;
    if (this.stopped) return;
    own.finished = true;
    if (own === this.jobs[0]) this.flushHead();
  }

  abandon(job: InflateJob): void {
    const own = job as Job;
    const index = this.jobs.indexOf(own);
    if (this.stopped || index === -1) return;
    this.jobs.splice(index, 1);
    this.pendingTotal -= own.pendingBytes;
    // The head's bytes are inside zlib already: that inflater holds half a message, so it goes.
    if (index === 0) this.dropEngine();
  }

  destroy(): void {
    this.stopped = true;
    this.jobs.length = 0;
    this.pendingTotal = 0;
    this.dropEngine();
  }

  private engineNow(): zlib.InflateRaw {
    // An inflater that met a final block (BFINAL, RFC 7692 §7.2.3.4) has ended: the next
    // message starts a new DEFLATE stream in a new inflater, as in `ws`.
    if (this.engine?.readableEnded === true) this.dropEngine();
    if (this.engine !== undefined) return this.engine;
    const engine = zlib.createInflateRaw(INFLATE_OPTIONS);
    engine.on('data', (chunk: Buffer) => {
      if (engine === this.engine) this.onOutput(engine, chunk);
    });
    // Always listened to, even once dropped: an 'error' without a listener crashes the process.
    engine.on('error', (err: Error) => {
      if (engine === this.engine) this.fail('decode_error', err.message);
    });
    this.engine = engine;
    return engine;
  }

  private feed(job: Job, piece: Buffer, keep: boolean): zlib.InflateRaw {
    // An inflater that ended is left only between messages, never in the middle of one: a fresh
    // inflater cannot start from a message's middle (`ws` does, and fails on the next fragment).
    if (this.engine?.readableEnded === true && job.consumedAtStart !== -1) {
      // It ended inside this message: the rest of it is not part of the stream (zlib, had it
      // been written in time, would have ignored it), so it goes nowhere.
      if (this.endedInside(job, this.engine)) {
        this.confirm(job, this.engine);
        job.fedBytes += piece.length;
        return this.engine;
      }
      if (job.unconfirmedBytes > 0) {
        this.restart(job); // it ended at the previous message's last byte: see flushHead
        return this.feed(job, piece, keep);
      }
    }
    const engine = this.engineNow();
    if (job.consumedAtStart === -1) job.consumedAtStart = engine.bytesWritten;
    else this.confirm(job, engine);
    if (keep && job.consumedAtStart === engine.bytesWritten) {
      job.unconfirmed.push(piece);
      job.unconfirmedBytes += piece.length;
    }
    job.fedBytes += piece.length;
    engine.write(piece);
    return engine;
  }

  /** The engine met a final block after taking some of this message's bytes. */
  private endedInside(job: Job, engine: zlib.InflateRaw): boolean {
    return engine.readableEnded && job.consumedAtStart !== -1 && engine.bytesWritten > job.consumedAtStart;
  }

  /** Writes the message so far again, to a fresh inflater, its pieces still kept until zlib takes one. */
  private restart(job: Job): void {
    this.dropEngine();
    const pieces = job.unconfirmed;
    job.unconfirmed = [];
    job.unconfirmedBytes = 0;
    job.consumedAtStart = -1;
    job.fedBytes = 0;
    job.restarted = true;
    for (const piece of pieces) this.feed(job, piece, true);
  }

  /** Zlib has consumed some of this message: its engine is alive, its pieces need not be kept. */
  private confirm(job: Job, engine: zlib.InflateRaw): void {
    if (job.unconfirmedBytes === 0 || engine.bytesWritten === job.consumedAtStart) return;
    job.unconfirmed.length = 0;
    job.unconfirmedBytes = 0;
  }

  private dropEngine(): void {
    const engine = this.engine;
    if (engine === undefined) return;
    this.engine = undefined;
    this.consumedBase += engine.bytesWritten;
    engine.destroy();
  }

  private flushHead(): void {
    const job = this.jobs[0];
    if (job === undefined || !job.finished) return;
    if (job.abandoned) {
      this.complete(job);
      return;
    }
    // Its stream ended in it and zlib said so already: every byte it decoded has been emitted
    // ('end' comes after the last 'data'), so there is nothing to flush.
    if (this.engine !== undefined && this.endedInside(job, this.engine)) {
      this.dropEngine();
      this.complete(job);
      return;
    }
    const engine = this.feed(job, TRAILER, false);
    // Zlib pushes a write's output before calling its callback, so every byte of this message
    // has reached onOutput when the flush calls back (the `ws` receiver relies on the same).
    engine.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      if (engine !== this.engine || this.jobs[0] !== job) return;
      // A final block (§7.2.3.4) ends the DEFLATE stream, and zlib then ignores what follows
      // without an error. Node learns of the end only when input is left over, so when the block
      // ended exactly at the previous message's last byte this message may have gone whole into
      // the dead inflater, none of it consumed: it is written again, to a fresh one. (A fresh
      // inflater always takes some of a non-empty input, so this happens at most once.)
      const consumed = engine.bytesWritten - job.consumedAtStart;
      if (consumed === 0 && job.unconfirmedBytes > 0 && !job.restarted) {
        this.restart(job);
        this.flushHead();
        return;
      }
      // Ended inside this message: the bytes after its final block are not part of it (`ws`
      // ignores them too), and the next message starts a new stream.
      if (consumed < job.fedBytes) this.dropEngine();
      // §7.1.1.1 server_no_context_takeover: the next message is decoded with an empty window.
      else if (this.options.noContextTakeover) engine.reset();
      this.complete(job);
    });
  }

  private complete(job: Job): void {
    this.jobs.shift();
    const data = job.discard || job.tooLarge ? null : concat(job.output, job.outputBytes);
    job.output = [];
    job.outputBytes = 0;
    job.done(data);
    if (this.stopped) return; // done() may have destroyed us
    const next = this.jobs[0];
    if (next === undefined) return;
    if (next.pending.length > 0) {
      for (const piece of next.pending) this.feed(next, piece, true);
      this.pendingTotal -= next.pendingBytes;
      next.pending = [];
      next.pendingBytes = 0;
    }
    this.flushHead();
  }

  // The cap is measured against the compressed bytes zlib has CONSUMED, as in the body decoder:
  // a bomb written in one go must not buy itself ratio × its whole size before zlib reaches its
  // end. Zlib pushes 16 KiB at a time and stops after a destroy, so a bomb is cut within a chunk.
  // Discarded and over-long messages count too: their inflating is work done all the same.
  private onOutput(engine: zlib.InflateRaw, chunk: Buffer): void {
    this.decodedTotal += chunk.length;
    const consumed = this.consumedBase + engine.bytesWritten;
    const cap = this.options.freeBytes + this.options.expansionRatio * consumed;
    if (this.decodedTotal > cap) {
      this.fail('expansion_limit', `decoding would exceed ${cap} bytes from ${consumed} compressed bytes`);
      return;
    }
    const job = this.jobs[0];
    if (job === undefined) return;
    this.confirm(job, engine);
    if (job.discard || job.tooLarge) return;
    if (job.outputBytes + chunk.length <= this.options.maxMessageBytes) {
      job.output.push(chunk);
      job.outputBytes += chunk.length;
      return;
    }
    // Too long: what was gathered goes at once. Under context takeover the rest must still be
    // inflated to keep the window in step (SPEC §13); without it nothing later depends on it.
    job.tooLarge = true;
    job.output = [];
    job.outputBytes = 0;
    if (!this.options.noContextTakeover) return;
    job.abandoned = true;
    this.dropEngine();
    if (job.finished) this.complete(job);
  }

  private fail(problem: InflateProblem, detail: string): void {
    if (this.stopped) return;
    this.destroy();
    this.events.onProblem(problem, detail);
  }
}

function concat(pieces: readonly Buffer[], length: number): Buffer {
  if (pieces.length === 1) return pieces[0] as Buffer;
  return Buffer.concat(pieces, length);
}
