/**
 * The data buffer of the server-sent event being built (WHATWG HTML § 9.2.6: "append the
 * field value to the data buffer, then append a single U+000A LINE FEED"), held without
 * copying: each `data` line is a view of the chunk it arrived in until feed() returns, and
 * is copied only if the event is still open then. Bounded by the event's largest size.
 */
import { Buffer } from 'node:buffer';

const LF = 0x0a;

export class EventData {
  private readonly maxBytes: number;
  // One part per `data` line; the data buffer's LFs are implied between parts. The
  // first part has a slot of its own: most events have one data line, and emptying an
  // array per event (`length = 0`) made that common case 2.5 times slower.
  lines = 0;
  private first: Buffer | undefined;
  private readonly more: Buffer[] = [];
  /** Length of the joined data, the LFs between parts included. */
  bytes = 0;
  private owned = 0; // parts [0, owned) are copies; the rest view the current chunk

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** Appends the line `buf[start, end)`; false, holding nothing more, when the event would exceed its limit. */
  append(buf: Buffer, start: number, end: number): boolean {
    const joinedBytes = this.bytes + (this.lines > 0 ? 1 : 0) + (end - start);
    if (joinedBytes > this.maxBytes) return false;
    this.bytes = joinedBytes;
    // A Buffer view: it is what a consumer searches, so it is made once, here.
    const part = buf.subarray(start, end);
    if (this.lines === 0) this.first = part;
    else this.more.push(part);
    this.lines++;
    return true;
  }

  /** Copies the parts that still view the current chunk; called before feed() returns. */
  adopt(): void {
    if (this.owned === this.lines) return;
    if (this.owned === 0) this.first = copyOf(this.first!, 0, this.first!.length);
    for (let i = Math.max(this.owned - 1, 0); i < this.more.length; i++) {
      const part = this.more[i]!;
      this.more[i] = copyOf(part, 0, part.length);
    }
    this.owned = this.lines;
  }

  /** The data lines joined with LF (no trailing LF); call only when `lines > 0`. */
  joined(): Buffer {
    if (this.lines === 1) return this.first!;
    const out = Buffer.allocUnsafe(this.bytes);
    out.set(this.first!, 0);
    let offset = this.first!.length;
    for (const part of this.more) {
      out[offset++] = LF;
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }

  clear(): void {
    if (this.lines > 1) this.more.length = 0;
    this.lines = 0;
    this.first = undefined;
    this.owned = 0;
    this.bytes = 0;
  }
}

/**
 * A copy of `bytes[start, end)`. Buffer.allocUnsafe carves small copies out of Node's
 * shared pool; `new Uint8Array(n)` or `.slice()` allocate an ArrayBuffer each, about
 * four times slower.
 */
export function copyOf(bytes: Uint8Array, start: number, end: number): Buffer {
  const copy = Buffer.allocUnsafe(end - start);
  copy.set(new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start));
  return copy;
}
