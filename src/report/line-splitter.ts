// Chunks of a ledger in, whole lines out (SPEC §11: read streamed, never whole). A line inside
// one chunk is handed over where it lies, without a copy; only a line cut across chunks is
// put together, in a buffer reused from line to line. Every line is handed over with its
// `\n` at its end index, as record-sniffer.ts requires — the last line of a source too, which
// gets one written after it. A line longer than the cap is not a ledger record (those are a
// few hundred bytes): it is dropped as it streams past, so no input can make this hold more.

export interface LineSink {
  /** A line `bytes[start, end)`; `bytes[end]` is `\n`. Valid only during the call. */
  line(bytes: Buffer, start: number, end: number): void;
  /** The bytes after the source's last `\n`, when there are any: a ledger cut mid-write, or a missing final newline. */
  lastLine(bytes: Buffer, start: number, end: number): void;
  /** A line over the cap, dropped. */
  overlong(): void;
}

const NEWLINE = 0x0a;
export const MAX_LINE_BYTES = 1024 * 1024; // 1 MiB: a ledger line holds at most 16 tags and a 256-character user

export class LineSplitter {
  readonly #sink: LineSink;
  readonly #maxLineBytes: number;
  #carry: Buffer = Buffer.allocUnsafe(4096);
  #carried = 0; // bytes of a cut line held in #carry
  #dropping = false; // inside a line over the cap, until its newline

  constructor(sink: LineSink, maxLineBytes = MAX_LINE_BYTES) {
    this.#sink = sink;
    this.#maxLineBytes = maxLineBytes;
  }

  push(chunk: Buffer): void {
    let start = 0;
    if (this.#carried > 0 || this.#dropping) {
      const nl = chunk.indexOf(NEWLINE);
      if (nl < 0) {
        this.#hold(chunk, 0, chunk.length);
        return;
      }
      this.#hold(chunk, 0, nl);
      this.#finishHeld('line');
      start = nl + 1;
    }
    for (let nl = chunk.indexOf(NEWLINE, start); nl >= 0; nl = chunk.indexOf(NEWLINE, start)) {
      if (nl - start > this.#maxLineBytes) this.#sink.overlong();
      else this.#sink.line(chunk, start, nl);
      start = nl + 1;
    }
    if (start < chunk.length) this.#hold(chunk, start, chunk.length);
  }

  /** The source has ended: hands over what follows its last newline, if anything. */
  end(): void {
    if (this.#carried > 0 || this.#dropping) this.#finishHeld('lastLine');
  }

  /** Adds bytes of a cut line to #carry, or starts dropping it when it outgrows the cap. */
  #hold(chunk: Buffer, from: number, to: number): void {
    if (this.#dropping) return;
    const length = this.#carried + (to - from);
    if (length > this.#maxLineBytes) {
      this.#dropping = true;
      this.#carried = 0;
      return;
    }
    if (length + 1 > this.#carry.length) {
      // +1: room for the newline written after the line. At most the cap, so bounded.
      const bigger = Buffer.allocUnsafe(Math.min(Math.max(length + 1, this.#carry.length * 2), this.#maxLineBytes + 1));
      this.#carry.copy(bigger, 0, 0, this.#carried);
      this.#carry = bigger;
    }
    chunk.copy(this.#carry, this.#carried, from, to);
    this.#carried = length;
  }

  #finishHeld(as: 'line' | 'lastLine'): void {
    if (this.#dropping) {
      this.#dropping = false;
      this.#sink.overlong();
      return;
    }
    const length = this.#carried;
    this.#carried = 0;
    this.#carry[length] = NEWLINE;
    this.#sink[as](this.#carry, 0, length);
  }
}
