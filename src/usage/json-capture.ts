/**
 * The values the JSON sniffer is capturing: where each began, and the bytes of those that span chunks.
 * It holds at most maxValueBytes (the outermost live value is the longest; a longer one is abandoned,
 * outermost first), never a whole body. Pure; offsets are absolute positions in the sniffed input.
 */
import { Buffer } from 'node:buffer';

export class CaptureStack {
  private readonly maxValueBytes: number;
  // Captures in progress, outermost first; they nest, as the values do. Those below `dead` were abandoned.
  private readonly paths: string[] = [];
  private readonly starts: number[] = [];
  private readonly depths: number[] = [];
  private count = 0;
  private dead = 0;
  // Bytes of live captures that began in earlier chunks: input [bufStart, bufStart + bufLen).
  private buf: Buffer | null = null;
  private bufStart = 0;
  private bufLen = 0;

  constructor(maxValueBytes: number) {
    this.maxValueBytes = maxValueBytes;
  }

  /** The nesting depth the innermost capture's value sits at, or -1 when nothing is being captured. */
  get innermostDepth(): number {
    return this.count > 0 ? (this.depths[this.count - 1] as number) : -1;
  }

  get innermostPath(): string {
    return this.paths[this.count - 1] as string;
  }

  begin(path: string, start: number, depth: number): void {
    const k = this.count++;
    this.paths[k] = path;
    this.starts[k] = start;
    this.depths[k] = depth;
  }

  /**
   * The innermost capture's value ended before input offset `end`, in `chunk` (which starts at input offset
   * `base`): its text, or null when it was longer than maxValueBytes. Either way it is no longer captured.
   */
  complete(end: number, chunk: Buffer, base: number): string | null {
    const k = this.count - 1;
    this.dropLongerThan(end);
    const live = k >= this.dead;
    this.count = k;
    if (this.dead > k) this.dead = k;
    if (!live) return null;
    const start = this.starts[k] as number;
    let text: string;
    if (start >= base) text = chunk.toString('utf8', start - base, end - base); // the usual case: no copy
    else {
      this.append(end, chunk, base);
      text = (this.buf as Buffer).toString('utf8', start - this.bufStart, end - this.bufStart);
    }
    if (this.dead === this.count) this.bufLen = 0;
    return text;
  }

  /** `chunk` (at input offset `base`) has been scanned: keep what live captures need of it. */
  endOfChunk(chunk: Buffer, base: number): void {
    if (this.dead === this.count) return;
    const end = base + chunk.length;
    this.dropLongerThan(end);
    if (this.dead < this.count) this.append(end, chunk, base);
  }

  clear(): void {
    this.count = this.dead = this.bufLen = 0;
    this.buf = null;
  }

  /** Abandon the captures that would be longer than maxValueBytes at input offset `end` (outermost first). */
  private dropLongerThan(end: number): void {
    while (this.dead < this.count && end - (this.starts[this.dead] as number) > this.maxValueBytes) this.dead++;
    if (this.bufLen === 0) return;
    const keepFrom = this.dead < this.count ? (this.starts[this.dead] as number) : Infinity;
    const drop = Math.min(keepFrom - this.bufStart, this.bufLen);
    if (drop <= 0) return;
    (this.buf as Buffer).copyWithin(0, drop, this.bufLen);
    this.bufLen -= drop;
    this.bufStart += drop;
  }

  /** Extend the buffer with the chunk's bytes up to input offset `end`, from where it ends (or the oldest live start). */
  private append(end: number, chunk: Buffer, base: number): void {
    const from = this.bufLen > 0 ? this.bufStart + this.bufLen : (this.starts[this.dead] as number);
    if (end <= from) return;
    if (this.bufLen === 0) this.bufStart = from;
    const need = this.bufLen + (end - from);
    let buf = this.buf;
    if (buf === null || buf.length < need) {
      const size = Math.min(Math.max(need, 1024, 2 * (buf?.length ?? 0)), Math.max(need, this.maxValueBytes));
      const grown = Buffer.allocUnsafe(size);
      if (buf !== null) buf.copy(grown, 0, 0, this.bufLen);
      buf = this.buf = grown;
    }
    chunk.copy(buf, this.bufLen, from - base, end - base);
    this.bufLen = need;
  }
}
