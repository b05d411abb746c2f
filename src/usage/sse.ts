/**
 * Incremental server-sent-events parser: bytes in, events out through callbacks.
 * It never does I/O, never throws on any input, and never holds more than one line
 * (`maxLineBytes`) plus one event's data (`maxEventBytes`), whatever the stream's size.
 * Follows WHATWG HTML § 9.2.6 "Interpreting an event stream":
 * https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */
import { Buffer } from 'node:buffer';
import { copyOf, EventData } from './sse-event-data.ts';

export interface SseEvent {
  /** The last `event:` field value of the event, or "message". */
  readonly type: string;
  /**
   * The event's data lines joined with LF, as raw UTF-8 bytes (no trailing LF). It may
   * share memory with the chunk passed to feed(); copy it to keep it past a caller that
   * reuses its buffers. A Buffer, so a consumer can search it natively as it is.
   */
  readonly data: Buffer;
  /** The last event ID buffer: the latest valid `id:` of the stream so far, if any. */
  readonly id: string | undefined;
}

/** An exception thrown by a callback reaches feed()'s caller, and the rest of that chunk is not parsed. */
export interface SseCallbacks {
  onEvent(event: SseEvent): void;
  /** The text after ':' (one leading space removed). The spec ignores comments; keep-alives are worth seeing. */
  onComment?(text: string): void;
  onRetry?(ms: number): void;
}

export interface SseParser {
  feed(chunk: Uint8Array): void;
  /** End of stream: the incomplete line and event are discarded, and the parser is ready for a new stream. */
  end(): void;
  /** Back to the state of a new parser, counters included. */
  reset(): void;
  /** Lines dropped for exceeding maxLineBytes. */
  readonly droppedLines: number;
  /** Events dropped because their data exceeded maxEventBytes or one of their `data` lines was dropped. */
  readonly droppedEvents: number;
  /** Bytes the parser holds between feeds (partial line and pending event data). */
  readonly bufferedBytes: number;
}

export interface SseParserOptions {
  /** Longest line kept, in bytes, without its line end. Default 1 MiB. */
  maxLineBytes?: number;
  /** Largest data of one event, in bytes. Default: maxLineBytes. */
  maxEventBytes?: number;
}

const DEFAULT_MAX_LINE_BYTES = 1_048_576; // 1 MiB

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const COLON = 0x3a;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const MAX_CACHED_TYPE_BYTES = 64;
const EMPTY = new Uint8Array(0);
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

export function createSseParser(callbacks: SseCallbacks, options: SseParserOptions = {}): SseParser {
  return new Parser(callbacks, options);
}

// A class, not a closure factory: a proxy keeps one parser per open stream, and a
// closure per helper function cost about a kilobyte per stream (measured in the
// heap of 1,000 idle streams).
class Parser implements SseParser {
  private readonly callbacks: SseCallbacks;
  private readonly maxLineBytes: number;

  // Stream state.
  private bomChecked = false;
  private bomBytesSeen = 0; // a BOM may arrive split across chunks
  // A CR that ended the previous chunk may be the first half of a CRLF: the line it
  // ended is complete either way, but a LF opening the next chunk belongs to it and
  // must not count as a blank line (eventsource-parser v3 dispatched early here).
  private swallowLeadingLf = false;
  // A line spanning chunks is kept as copied pieces and joined once when its end
  // arrives: concatenating per feed is O(N²) when one line spans many chunks.
  private readonly lineParts: Buffer[] = [];
  private lineBytes = 0;
  private skippingLine = false; // inside an oversized line: hold nothing, look only for its end

  // Event state: "a data buffer, an event type buffer, and a last event ID buffer".
  private readonly data: EventData;
  private droppingEvent = false;
  private eventType = '';
  private lastTypeBytes: Uint8Array = EMPTY;
  private lastType = '';
  private lastEventId: string | undefined;

  droppedLines = 0;
  droppedEvents = 0;

  constructor(callbacks: SseCallbacks, options: SseParserOptions) {
    this.callbacks = callbacks;
    this.maxLineBytes = byteLimit(options.maxLineBytes, DEFAULT_MAX_LINE_BYTES);
    this.data = new EventData(byteLimit(options.maxEventBytes, this.maxLineBytes));
  }

  get bufferedBytes(): number {
    return this.lineBytes + this.data.bytes + this.bomBytesSeen;
  }

  reset(): void {
    this.end();
    this.droppedLines = 0;
    this.droppedEvents = 0;
  }

  feed(chunk: Uint8Array): void {
    if (!(chunk instanceof Uint8Array) || chunk.length === 0) return;
    // Buffer#indexOf is memchr in C++: several times faster than a JS loop or
    // Uint8Array#indexOf at finding line ends. Wrapping a Uint8Array copies nothing.
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    const len = buf.length;
    let pos = 0;
    if (!this.bomChecked) {
      pos = this.skipBom(buf);
      if (pos === len) return;
    }
    if (this.swallowLeadingLf) {
      this.swallowLeadingLf = false;
      if (buf[pos] === LF) pos++;
    }

    // One search per byte value per chunk: most streams hold no CR at all, and then
    // lines are cut at LF alone.
    let cr = buf.indexOf(CR, pos);
    let lf = buf.indexOf(LF, pos);

    if (this.lineParts.length > 0 || this.skippingLine) {
      const end = lineEnd(cr, lf);
      if (end === -1) {
        this.holdPartialLine(buf, pos, len);
        return;
      }
      this.finishHeldLine(buf, pos, end);
      pos = this.afterLineEnd(buf, end);
      if (cr !== -1 && cr < pos) cr = buf.indexOf(CR, pos);
      if (lf !== -1 && lf < pos) lf = buf.indexOf(LF, pos);
    }

    pos = cr === -1 ? this.parseLfLines(buf, pos, lf) : this.parseMixedLines(buf, pos, cr, lf);
    if (pos < len) this.holdPartialLine(buf, pos, len);
    this.data.adopt();
  }

  /**
   * "The UTF-8 decode algorithm strips one leading UTF-8 Byte Order Mark (BOM), if any."
   * Returns where the stream's text starts in `buf`; `buf.length` while a split BOM
   * may still be arriving.
   */
  private skipBom(buf: Buffer): number {
    const heldBefore = this.bomBytesSeen;
    let i = 0;
    while (i < buf.length && this.bomBytesSeen < 3) {
      if (buf[i] !== UTF8_BOM[this.bomBytesSeen]) {
        // Not a BOM: the bytes held from earlier chunks are the start of the first line.
        this.bomChecked = true;
        this.bomBytesSeen = 0;
        if (heldBefore > 0) this.holdPartialLine(UTF8_BOM, 0, heldBefore);
        return 0;
      }
      this.bomBytesSeen++;
      i++;
    }
    if (this.bomBytesSeen === 3) {
      this.bomChecked = true;
      this.bomBytesSeen = 0;
    }
    return i;
  }

  /** Lines of a chunk without CR: each ends at a LF. Returns where the unfinished line starts. */
  private parseLfLines(buf: Buffer, pos: number, lf: number): number {
    while (lf !== -1) {
      if (lf === pos) {
        // "If the line is empty (a blank line): Dispatch the event."
        this.dispatch();
      } else if (lf - pos > this.maxLineBytes) {
        this.dropLine(buf, pos, lf);
      } else {
        this.parseLine(buf, pos, lf);
      }
      pos = lf + 1;
      // The blank line after a `data:` line is the most common line of all: test the
      // next byte before paying for another search.
      while (buf[pos] === LF) {
        this.dispatch();
        pos++;
      }
      lf = pos < buf.length ? buf.indexOf(LF, pos) : -1;
    }
    return pos;
  }

  /**
   * "a U+000D CARRIAGE RETURN U+000A LINE FEED (CRLF) character pair, a single U+000A LINE
   * FEED (LF) character not preceded by a U+000D CARRIAGE RETURN (CR) character, and a
   * single U+000D CARRIAGE RETURN (CR) character not followed by a U+000A LINE FEED (LF)
   * character being the ways in which a line can end."
   */
  private parseMixedLines(buf: Buffer, pos: number, cr: number, lf: number): number {
    for (let end = lineEnd(cr, lf); end !== -1; end = lineEnd(cr, lf)) {
      if (end === pos) this.dispatch();
      else if (end - pos > this.maxLineBytes) this.dropLine(buf, pos, end);
      else this.parseLine(buf, pos, end);
      pos = this.afterLineEnd(buf, end);
      // As in parseLfLines: a blank line after a line costs no search.
      while (pos < buf.length && (buf[pos] === CR || buf[pos] === LF)) {
        this.dispatch();
        pos = this.afterLineEnd(buf, pos);
      }
      // Reuse the position of whichever terminator was not consumed.
      if (cr !== -1 && cr < pos) cr = buf.indexOf(CR, pos);
      if (lf !== -1 && lf < pos) lf = buf.indexOf(LF, pos);
    }
    return pos;
  }

  /** Where the text after the line end at `end` starts; notes a CR that may pair with the next chunk's LF. */
  private afterLineEnd(buf: Buffer, end: number): number {
    if (buf[end] !== CR) return end + 1;
    if (end + 1 === buf.length) {
      this.swallowLeadingLf = true;
      return end + 1;
    }
    return buf[end + 1] === LF ? end + 2 : end + 1;
  }

  /** Adds bytes of a line whose end is in a later chunk. */
  private holdPartialLine(buf: Buffer, start: number, end: number): void {
    if (this.skippingLine || start === end) return;
    // Under 5 bytes a line is still held, however small maxLineBytes: whether it is a `data` line (whose
    // event goes with it) must be judged on its first 5 bytes, wherever the chunks were cut.
    const bytes = this.lineBytes + (end - start);
    if (bytes > this.maxLineBytes && bytes > 4) {
      this.dropLine(buf, start, end);
      this.skippingLine = true;
      return;
    }
    // A copy, not a view: the caller may reuse its chunk after feed() returns, and a
    // view would keep a whole chunk alive for a few bytes.
    this.lineParts.push(copyOf(buf, start, end));
    this.lineBytes += end - start;
  }

  /** The line made of the held parts and `buf[start, end)` has ended. */
  private finishHeldLine(buf: Buffer, start: number, end: number): void {
    if (this.skippingLine) {
      this.skippingLine = false;
      return;
    }
    const total = this.lineBytes + (end - start);
    if (total > this.maxLineBytes) {
      this.dropLine(buf, start, end);
      return;
    }
    const line = Buffer.allocUnsafe(total);
    let offset = 0;
    for (const part of this.lineParts) {
      line.set(part, offset);
      offset += part.length;
    }
    line.set(new Uint8Array(buf.buffer, buf.byteOffset + start, end - start), offset);
    this.clearHeldLine();
    this.parseLine(line, 0, total); // never blank: held parts are never empty
  }

  private clearHeldLine(): void {
    this.lineParts.length = 0;
    this.lineBytes = 0;
  }

  /**
   * Drops the line made of the held parts and `buf[start, end)` for exceeding
   * maxLineBytes. A dropped `data` line would leave its event's data incomplete,
   * so that event is dropped too.
   */
  private dropLine(buf: Buffer, start: number, end: number): void {
    this.droppedLines++;
    // Only the field name matters, so only the line's first 5 bytes are looked at.
    const head: number[] = [];
    for (const part of this.lineParts) for (let i = 0; i < part.length && head.length < 5; i++) head.push(part[i]!);
    for (let i = start; i < end && head.length < 5; i++) head.push(buf[i]!);
    this.clearHeldLine();
    if (head.length >= 4 && head[0] === 0x64 && head[1] === 0x61 && head[2] === 0x74 && head[3] === 0x61) {
      if (head.length === 4 || head[4] === COLON) this.dropEvent(); // "data" or "data:..."
    }
  }

  private dropEvent(): void {
    if (this.droppingEvent) return;
    this.droppingEvent = true;
    this.droppedEvents++;
    this.data.clear();
  }

  /** Handles one non-empty line `buf[start, end)` no longer than this.maxLineBytes. */
  private parseLine(buf: Buffer, start: number, end: number): void {
    // "If the line starts with a U+003A COLON character (:): Ignore the line."
    // The comment is still reported, for callers that watch keep-alives.
    if (buf[start] === COLON) {
      if (this.callbacks.onComment !== undefined) {
        this.callbacks.onComment(decode(buf, skipOneSpace(buf, start + 1, end), end));
      }
      return;
    }
    // "Collect the characters on the line before the first U+003A COLON character (:),
    // and let field be that string." Scan within the line only: a search through the
    // rest of the chunk would make a chunk of colon-less lines quadratic.
    let colon = start;
    while (colon < end && buf[colon] !== COLON) colon++;
    // "If value starts with a U+0020 SPACE character, remove it from value." Without a
    // colon, "the whole line [is] the field name, and the empty string [is] the field value".
    const valueStart = colon === end ? end : skipOneSpace(buf, colon + 1, end);

    // "Field names must be compared literally, with no case folding performed."
    // Compared as bytes, so a field name is never decoded.
    switch (colon - start) {
      case 4: // "data": "Append the field value to the data buffer, then append a single LF."
        if (buf[start] === 0x64 && buf[start + 1] === 0x61 && buf[start + 2] === 0x74 && buf[start + 3] === 0x61) {
          this.appendData(buf, valueStart, end);
        }
        return;
      case 5:
        if (
          buf[start] === 0x65 && buf[start + 1] === 0x76 && buf[start + 2] === 0x65 &&
          buf[start + 3] === 0x6e && buf[start + 4] === 0x74
        ) {
          // "event": "Set the event type buffer to the field value."
          this.eventType = this.decodeEventType(buf, valueStart, end);
        } else if (
          buf[start] === 0x72 && buf[start + 1] === 0x65 && buf[start + 2] === 0x74 &&
          buf[start + 3] === 0x72 && buf[start + 4] === 0x79
        ) {
          this.setRetry(buf, valueStart, end);
        }
        return;
      case 2: // "id": "If the field value does not contain U+0000 NULL, then set the last event ID buffer to the field value."
        if (buf[start] === 0x69 && buf[start + 1] === 0x64) {
          for (let i = valueStart; i < end; i++) if (buf[i] === 0) return;
          this.lastEventId = decode(buf, valueStart, end);
        }
        return;
      default: // "Otherwise: The field is ignored."
    }
  }

  /**
   * Streams that name their events (Anthropic, OpenAI Responses) repeat a handful of
   * types: comparing with the last type's bytes is cheaper than decoding them again.
   */
  private decodeEventType(buf: Buffer, start: number, end: number): string {
    const length = end - start;
    if (length === this.lastTypeBytes.length) {
      let i = 0;
      while (i < length && this.lastTypeBytes[i] === buf[start + i]) i++;
      if (i === length) return this.lastType;
    }
    const type = decode(buf, start, end);
    if (length <= MAX_CACHED_TYPE_BYTES) {
      this.lastTypeBytes = copyOf(buf, start, end);
      this.lastType = type;
    }
    return type;
  }

  /**
   * "retry": "If the field value consists of only ASCII digits, then interpret the field
   * value as an integer in base ten [...]. Otherwise, ignore the field." An empty value
   * is ignored, as eventsource-parser and browsers do.
   */
  private setRetry(buf: Buffer, start: number, end: number): void {
    if (start === end) return;
    for (let i = start; i < end; i++) {
      const byte = buf[i]!;
      if (byte < DIGIT_0 || byte > DIGIT_9) return;
    }
    this.callbacks.onRetry?.(Number(buf.toString('latin1', start, end)));
  }

  private appendData(buf: Buffer, start: number, end: number): void {
    if (!this.droppingEvent && !this.data.append(buf, start, end)) this.dropEvent();
  }

  /** "Dispatch the event" (WHATWG steps 1-7; step 1, the last event ID, needs no work here). */
  private dispatch(): void {
    // 2. "If the data buffer is an empty string, set the data buffer and the event type
    // buffer to the empty string and return." (A dropped event ends here too.)
    if (this.data.lines === 0) {
      this.eventType = '';
      this.droppingEvent = false;
      return;
    }
    // 3. "If the data buffer's last character is a U+000A LINE FEED (LF) character, then
    // remove the last character": the LFs are only ever put between the parts.
    const data = this.data.joined();
    // 5-6. The type is "message" unless "the event type buffer has a value other than the empty string".
    const type = this.eventType === '' ? 'message' : this.eventType;
    // 7. "Set the data buffer and the event type buffer to the empty string."
    this.data.clear();
    this.eventType = '';
    this.callbacks.onEvent({ type, data, id: this.lastEventId });
  }

  /**
   * "Once the end of the file is reached, any pending data must be discarded. (If the file
   * ends in the middle of an event, before the final empty line, the incomplete event is
   * not dispatched.)"
   */
  end(): void {
    this.bomChecked = false;
    this.bomBytesSeen = 0;
    this.swallowLeadingLf = false;
    this.clearHeldLine();
    this.skippingLine = false;
    this.data.clear();
    this.droppingEvent = false;
    this.eventType = '';
    this.lastEventId = undefined;
  }
}

/** The earlier of two terminator positions, -1 meaning "none in this chunk". */
function lineEnd(cr: number, lf: number): number {
  if (cr === -1) return lf;
  if (lf === -1) return cr;
  return cr < lf ? cr : lf;
}

function skipOneSpace(buf: Buffer, start: number, end: number): number {
  return start < end && buf[start] === SPACE ? start + 1 : start;
}

/** UTF-8 to string, invalid sequences replaced by U+FFFD and a leading U+FEFF kept (it is text here, not a BOM). */
function decode(buf: Buffer, start: number, end: number): string {
  return start === end ? '' : buf.toString('utf8', start, end);
}

function byteLimit(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && value >= 0 ? Math.floor(value) : fallback;
}
