/**
 * Streaming JSON sniffer: scans a body's bytes as they pass and reports the values at a few key paths
 * (SPEC §4's usage shapes), JSON.parse-ing only those. It never holds the body — memory is the value being
 * captured (≤ maxValueBytes) plus a bracket stack of MAX_JSON_DEPTH bytes — never does I/O, never throws on input.
 * Grammar: RFC 8259, checked fully at the levels where a path can match and structurally (strings, escapes,
 * brackets) below them; input is zero or more JSON values (a body, NDJSON lines, concatenated JSON).
 */
import { Buffer } from 'node:buffer';
import { type PathNode, buildPathTree } from './json-key-paths.ts';

export interface JsonSnifferOptions {
  /** Dotted key paths, relative to a document root, whose values are captured, e.g. "usage", "message.usage", "model". */
  readonly capture: readonly string[];
  /** Called as soon as a captured value is complete (its last byte seen), with the path and JSON.parse'd value. */
  onValue(path: string, value: unknown): void;
  /** A captured value longer than this is abandoned (not reported). Default 64 KiB. */
  readonly maxValueBytes?: number;
}

export type SniffEnd = 'ok' | 'malformed' | 'truncated' | 'empty';

export interface JsonSniffer {
  feed(chunk: Uint8Array): void;
  /** End of input: 'ok' when the input was one or more whole JSON values, 'truncated' when it stopped inside one, 'malformed' when it was not JSON, 'empty' when only whitespace. */
  end(): SniffEnd;
  /** True once the input has been found malformed; feeding then does nothing. */
  readonly failed: boolean;
  reset(): void;
}

/** Open brackets allowed at once; one more is malformed (bounded memory, SPEC §4). */
export const MAX_JSON_DEPTH = 1024;
export const DEFAULT_MAX_VALUE_BYTES = 64 * 1024; // 64 KiB

export function createJsonSniffer(options: JsonSnifferOptions): JsonSniffer {
  return new Sniffer(options);
}

// Bytes of RFC 8259 §2 (structural characters), §7 (strings) and §3 (literals).
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const COMMA = 0x2c;
const NAME_SEPARATOR = 0x3a; // ':'
const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');
const NULL = Buffer.from('null');
const EMPTY = Buffer.alloc(0);

// Parser states. Every state but SKIP and FAILED sits at a tracked level: a container where a path can match.
const START = 0; // before anything: a UTF-8 BOM may come first (RFC 8259 §8.1 lets parsers ignore it)
const BOM_2 = 1; // seen EF, want BB
const BOM_3 = 2; // seen EF BB, want BF
const TOP = 3; // between top-level values
const TOP_SEPARATOR = 4; // after a top-level number or literal: whitespace must separate it from what follows
const VALUE = 5; // a value must start (after ':', or ',' in the top-level array)
const ARRAY_FIRST = 6; // after '[' of the top-level array: a value or ']'
const OBJECT_FIRST = 7; // after '{': a key or '}'
const OBJECT_KEY = 8; // after ',' in an object: a key
const KEY = 9;
const KEY_DONE = 10; // want ':'
const AFTER_VALUE = 11; // want ',' or the container's closing bracket
const STRING = 12;
const ESCAPE = 13; // after '\' in a KEY or STRING
const UNICODE = 14; // in the 4 hex digits of \u
const NUMBER = 15;
const LITERAL = 16;
const SKIP = 17; // inside a container below every path: only strings and brackets matter
const FAILED = 18;

/** Bytes walked one by one before skipping switches to memchr jumps: about what one Buffer#indexOf call costs. */
const WALK_BYTES = 32;

// Number phases (RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?).
const N_MINUS = 0;
const N_ZERO = 1;
const N_INT = 2;
const N_DOT = 3;
const N_FRACTION = 4;
const N_E = 5;
const N_E_SIGN = 6;
const N_EXPONENT = 7;

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}
function isHexDigit(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
}
/** `"` `\` `/` `b` `f` `n` `r` `t` — the one-letter escapes of RFC 8259 §7. */
function isShortEscape(c: number): boolean {
  return c === QUOTE || c === BACKSLASH || c === 0x2f || c === 0x62 || c === 0x66 || c === 0x6e || c === 0x72 || c === 0x74;
}
function isCompleteNumber(phase: number): boolean {
  return phase === N_ZERO || phase === N_INT || phase === N_FRACTION || phase === N_EXPONENT;
}

class Sniffer implements JsonSniffer {
  private readonly root: PathNode;
  private readonly onValue: (path: string, value: unknown) => void;
  private readonly maxValueBytes: number;
  private readonly brackets = new Uint8Array(MAX_JSON_DEPTH); // the closing byte each open container wants
  private readonly frameNodes: PathNode[] = []; // path node of each tracked container, by depth
  private readonly keyBuf: Buffer; // raw bytes of the current key, as long as it could still match a path

  private state = START;
  private result: SniffEnd | null = null; // set by end()
  private seenValue = false;
  private depth = 0; // open containers
  private tracked = 0; // the outermost `tracked` containers are parsed in full; deeper ones are skipped
  private valueNode: PathNode | null = null; // what the value about to start is, path-wise
  private keyLen = 0;
  private keyEscaped = false;
  private escapeReturn = STRING;
  private hexLeft = 0;
  private stringEscaped = false; // the current tracked string value holds an escape
  private numberPhase = N_MINUS;
  private literal = TRUE;
  private literalPos = 0;
  private skipInString = false;
  private skipEscaped = false; // the next byte of a skipped string is escaped (a '\' ended the last chunk)
  private skipLongString = false; // the skipped string has run past WALK_BYTES without a quote: jump, don't walk

  // The current chunk and where it starts in the input; captures are kept as absolute input offsets.
  private chunk: Buffer = EMPTY;
  private base = 0;
  // Next position in the chunk of each byte SKIP looks for (valid while ≥ the scan position; chunk length = none).
  private nextQuote = -1;
  private nextOpenArray = -1;
  private nextCloseArray = -1;
  private nextOpenObject = -1;
  private nextCloseObject = -1;

  // Captures in progress, outermost first. Those below `capDead` were abandoned for size.
  private readonly capPaths: string[] = [];
  private readonly capStarts: number[] = [];
  private readonly capDepths: number[] = [];
  private capCount = 0;
  private capDead = 0;
  // Bytes of live captures that began in earlier chunks: input [capBufStart, capBufStart + capBufLen).
  private capBuf: Buffer | null = null;
  private capBufStart = 0;
  private capBufLen = 0;

  constructor(options: JsonSnifferOptions) {
    const tree = buildPathTree(options.capture);
    this.root = tree.root;
    this.keyBuf = Buffer.alloc(tree.maxRawKeyBytes + 1); // one more: a key that fills it is too long
    this.onValue = options.onValue;
    this.maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
  }

  get failed(): boolean {
    return this.state === FAILED;
  }

  reset(): void {
    this.state = START;
    this.result = null;
    this.seenValue = false;
    this.depth = 0;
    this.tracked = 0;
    this.skipInString = false;
    this.skipEscaped = false;
    this.base = 0;
    this.capCount = 0;
    this.capDead = 0;
    this.capBuf = null;
    this.capBufLen = 0;
  }

  feed(chunk: Uint8Array): void {
    const n = chunk.length;
    if (this.state === FAILED || this.result !== null || n === 0) return;
    // Buffer#indexOf is memchr; Uint8Array#indexOf is a plain loop, 3-5x slower. Proxied chunks are Buffers already.
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, n);
    this.chunk = buf;
    this.nextQuote = this.nextOpenArray = this.nextCloseArray = this.nextOpenObject = this.nextCloseObject = -1;
    this.scan(buf, n);
    if (this.state !== FAILED && this.capDead < this.capCount) {
      // Keep what live captures need of this chunk (never more than maxValueBytes in all).
      this.dropCapturesLongerThan(this.base + n);
      if (this.capDead < this.capCount) this.appendToCapBuf(this.base + n);
    }
    this.base += n;
    this.chunk = EMPTY; // hold no reference to the caller's chunk
  }

  end(): SniffEnd {
    if (this.result === null) {
      this.result = this.finalResult();
      this.capBuf = null;
    }
    return this.result;
  }

  private finalResult(): SniffEnd {
    switch (this.state) {
      case FAILED:
        return 'malformed';
      case START:
      case TOP:
      case TOP_SEPARATOR:
        return this.seenValue ? 'ok' : 'empty';
      case NUMBER: // a top-level number ends where the input does
        return this.depth === 0 && isCompleteNumber(this.numberPhase) ? 'ok' : 'truncated';
      default:
        return 'truncated';
    }
  }

  private fail(): void {
    this.state = FAILED;
    this.capCount = this.capDead = 0;
    this.capBuf = null;
  }

  private scan(buf: Buffer, n: number): void {
    let i = 0;
    while (i < n) {
      let c = buf[i] as number;
      switch (this.state) {
        case SKIP:
          i = this.skip(buf, i, n);
          break;
        case START: // the byte is read again as TOP unless it begins a BOM
          if (c === 0xef) i++;
          this.state = c === 0xef ? BOM_2 : TOP;
          break;
        case TOP:
          if (isWhitespace(c)) i++;
          else this.startValue(c, i++, this.root);
          break;
        case TOP_SEPARATOR:
          if (!isWhitespace(c)) return this.fail();
          this.state = TOP;
          i++;
          break;
        case VALUE:
          if (isWhitespace(c)) i++;
          else this.startValue(c, i++, this.valueNode);
          break;
        case ARRAY_FIRST:
          if (isWhitespace(c)) i++;
          else if (c === CLOSE_ARRAY) this.closeTracked(++i);
          else this.startValue(c, i++, this.root); // elements of the top-level array are document roots
          break;
        case OBJECT_FIRST:
        case OBJECT_KEY:
          if (isWhitespace(c)) i++;
          else if (c === QUOTE) {
            this.keyLen = 0;
            this.keyEscaped = false;
            this.state = KEY;
            i++;
          } else if (c === CLOSE_OBJECT && this.state === OBJECT_FIRST) this.closeTracked(++i);
          else return this.fail();
          break;
        case KEY: {
          let j = i;
          while (j < n && (c = buf[j] as number) !== QUOTE && c !== BACKSLASH && c >= 0x20) j++;
          if (j < n && c === QUOTE && this.keyLen === 0) {
            // The common case, a whole unescaped key in this chunk: match it where it lies, no copy.
            this.valueNode = (this.frameNodes[this.depth - 1] as PathNode).childByRawKey(buf, i, j);
            this.state = KEY_DONE;
            i = j + 1;
            break;
          }
          for (; i < j; i++) this.pushKeyByte(buf[i] as number);
          if (i === n) break;
          i++;
          if (c === QUOTE) this.endKey();
          else if (c === BACKSLASH) {
            this.pushKeyByte(c);
            this.keyEscaped = true;
            this.escapeReturn = KEY;
            this.state = ESCAPE;
          } else return this.fail(); // RFC 8259 §7: control characters must be escaped
          break;
        }
        case KEY_DONE:
          if (isWhitespace(c)) i++;
          else if (c === NAME_SEPARATOR) {
            this.state = VALUE;
            i++;
          } else return this.fail();
          break;
        case AFTER_VALUE:
          if (isWhitespace(c)) i++;
          else if (c === COMMA) {
            i++;
            if (this.brackets[this.depth - 1] === CLOSE_OBJECT) this.state = OBJECT_KEY;
            else {
              this.valueNode = this.root; // the only tracked array is the top-level one
              this.state = VALUE;
            }
          } else if (c === this.brackets[this.depth - 1]) this.closeTracked(++i);
          else return this.fail();
          break;
        case STRING:
          for (;;) {
            i++;
            if (c === QUOTE) {
              this.valueDone(this.base + i, true);
              break;
            }
            if (c === BACKSLASH) {
              this.stringEscaped = true;
              this.escapeReturn = STRING;
              this.state = ESCAPE;
              break;
            }
            if (c < 0x20) return this.fail(); // RFC 8259 §7: control characters must be escaped
            if (i === n) break;
            c = buf[i] as number;
          }
          break;
        case ESCAPE:
          if (this.escapeReturn === KEY) this.pushKeyByte(c);
          i++;
          if (c === 0x75) {
            this.hexLeft = 4;
            this.state = UNICODE;
          } else if (isShortEscape(c)) this.state = this.escapeReturn;
          else return this.fail();
          break;
        case UNICODE: // any four hex digits: a lone surrogate is still a valid JSON text (RFC 8259 §8.2)
          if (!isHexDigit(c)) return this.fail();
          if (this.escapeReturn === KEY) this.pushKeyByte(c);
          i++;
          if (--this.hexLeft === 0) this.state = this.escapeReturn;
          break;
        case NUMBER:
          i = this.number(buf, i, n);
          break;
        case LITERAL:
          if (c !== this.literal[this.literalPos]) return this.fail();
          i++;
          if (++this.literalPos === this.literal.length) this.valueDone(this.base + i, false);
          break;
        case BOM_2:
        case BOM_3:
          if (c !== (this.state === BOM_2 ? 0xbb : 0xbf)) return this.fail();
          this.state = this.state === BOM_2 ? BOM_3 : TOP;
          i++;
          break;
        default: // FAILED
          return;
      }
    }
  }

  /** The first byte `c`, at chunk position i, of a value at a tracked level whose path node is `node`. */
  private startValue(c: number, i: number, node: PathNode | null): void {
    if (node !== null && node.capture !== null) this.beginCapture(node.capture, this.base + i);
    if (c === OPEN_OBJECT) {
      if (node !== null && node.children.length > 0) this.openTracked(CLOSE_OBJECT, node, OBJECT_FIRST);
      else this.openSkipped(CLOSE_OBJECT);
    } else if (c === OPEN_ARRAY) {
      // A top-level array's elements are roots (Gemini's non-SSE stream); no path goes through any other array.
      if (this.depth === 0) this.openTracked(CLOSE_ARRAY, this.root, ARRAY_FIRST);
      else this.openSkipped(CLOSE_ARRAY);
    } else if (c === QUOTE) {
      this.stringEscaped = false;
      this.state = STRING;
    }
    else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      this.numberPhase = c === 0x2d ? N_MINUS : c === 0x30 ? N_ZERO : N_INT;
      this.state = NUMBER;
    } else if (c === 0x74 || c === 0x66 || c === 0x6e) {
      this.literal = c === 0x74 ? TRUE : c === 0x66 ? FALSE : NULL;
      this.literalPos = 1;
      this.state = LITERAL;
    } else this.fail();
  }

  private openTracked(close: number, node: PathNode, state: number): void {
    if (this.depth === MAX_JSON_DEPTH) return this.fail(); // only for a capture path of over 1000 keys
    this.brackets[this.depth] = close;
    this.frameNodes[this.depth] = node;
    this.tracked = ++this.depth;
    this.state = state;
  }

  private openSkipped(close: number): void {
    if (this.depth === MAX_JSON_DEPTH) return this.fail();
    this.brackets[this.depth++] = close;
    this.skipInString = false;
    this.skipEscaped = false;
    this.state = SKIP;
  }

  /** The closing bracket of a tracked container ended just before chunk position `i`. */
  private closeTracked(i: number): void {
    this.tracked = --this.depth;
    this.valueDone(this.base + i, true);
  }

  /** A value at the tracked level `depth` ended before input offset `end`. */
  private valueDone(end: number, selfDelimited: boolean): void {
    if (this.capCount > 0 && this.capDepths[this.capCount - 1] === this.depth) {
      this.completeCapture(end);
      if (this.state === FAILED) return;
    }
    if (this.depth > 0) this.state = AFTER_VALUE;
    else {
      this.seenValue = true;
      // `{}{}` and `"a""b"` are concatenated JSON; `1 2` needs its space, and `1true` is garbage.
      this.state = selfDelimited ? TOP : TOP_SEPARATOR;
    }
  }

  private number(buf: Buffer, i: number, n: number): number {
    let phase = this.numberPhase;
    for (; i < n; i++) {
      const c = buf[i] as number;
      if (c >= 0x30 && c <= 0x39) {
        if (phase === N_ZERO) break; // "01": a leading zero is a whole number, and a digit cannot follow it
        phase = phase === N_MINUS ? (c === 0x30 ? N_ZERO : N_INT) : phase === N_DOT ? N_FRACTION : phase >= N_E ? N_EXPONENT : phase;
      } else if (c === 0x2e && (phase === N_ZERO || phase === N_INT)) phase = N_DOT;
      else if ((c | 0x20) === 0x65 && (phase === N_ZERO || phase === N_INT || phase === N_FRACTION)) phase = N_E;
      else if ((c === 0x2b || c === 0x2d) && phase === N_E) phase = N_E_SIGN;
      else break;
    }
    this.numberPhase = phase;
    if (i === n) return n; // the number may go on in the next chunk
    if (!isCompleteNumber(phase) || (phase === N_ZERO && (buf[i] as number) >= 0x30 && (buf[i] as number) <= 0x39)) {
      this.fail();
      return n;
    }
    this.valueDone(this.base + i, false); // the byte that ended it is read again in the next state
    return i;
  }

  private pushKeyByte(c: number): void {
    if (this.keyLen < this.keyBuf.length) this.keyBuf[this.keyLen] = c;
    this.keyLen++;
  }

  /** The key (in keyBuf) has ended: decide what its value is, path-wise. */
  private endKey(): void {
    const len = this.keyLen;
    const node = this.frameNodes[this.depth - 1] as PathNode;
    if (len >= this.keyBuf.length) this.valueNode = null; // too long to be any configured key, even escaped
    else if (!this.keyEscaped) this.valueNode = node.childByRawKey(this.keyBuf, 0, len);
    else this.valueNode = node.childByEscapedKey(this.keyBuf.toString('utf8', 0, len));
    this.state = KEY_DONE;
  }

  /**
   * Inside containers below every path only strings and brackets matter. Dense content (logprobs, content
   * parts) is walked byte by byte; past WALK_BYTES without one, jump with memchr (Buffer#indexOf) instead:
   * an embedding's 1536 floats or a 10 kB base64 string is one jump. Returns the chunk position reached;
   * leaves SKIP when the outermost skipped container closes.
   */
  private skip(buf: Buffer, i: number, n: number): number {
    const brackets = this.brackets;
    let depth = this.depth;
    let inString = this.skipInString;
    while (i < n) {
      let c = 0;
      if (inString) {
        if (this.skipEscaped) {
          this.skipEscaped = false;
          i++;
          continue;
        }
        // Only quotes can end a string, so look for the next one: walk a short way in a string that has been
        // short so far, else memchr. It ends the string unless an odd run of backslashes before it escapes it.
        const stop = this.skipLongString ? i : Math.min(n, i + WALK_BYTES);
        let q = i;
        while (q < stop && buf[q] !== QUOTE) q++;
        if (q === stop && q < n) {
          if (this.nextQuote < q) this.nextQuote = indexOrEnd(buf, QUOTE, q, n);
          q = this.nextQuote;
          this.skipLongString = true;
        }
        let k = q;
        while (k > i && buf[k - 1] === BACKSLASH) k--;
        const escaped = ((q - k) & 1) === 1;
        if (q === n) {
          this.skipEscaped = escaped; // a backslash ended the chunk: it escapes the next chunk's first byte
          i = n;
          break;
        }
        i = q + 1;
        if (!escaped) inString = false;
        continue;
      }
      const stop = Math.min(n, i + WALK_BYTES);
      // (c | 0x20) maps '[' to '{' and ']' to '}', and nothing else to either.
      while (i < stop && (c = buf[i] as number) !== QUOTE && (c | 0x20) !== OPEN_OBJECT && (c | 0x20) !== CLOSE_OBJECT) i++;
      if (i === stop) {
        if (i === n) break;
        i = this.nextStructural(buf, i, n);
        if (i === n) break;
        c = buf[i] as number;
      }
      i++;
      if (c === QUOTE) {
        inString = true;
        this.skipLongString = false;
      } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
        if (depth === MAX_JSON_DEPTH) {
          this.fail();
          return n;
        }
        brackets[depth++] = c + 2; // '[' + 2 is ']', '{' + 2 is '}'
      } else if (c !== brackets[depth - 1]) {
        this.fail();
        return n;
      } else if (--depth === this.tracked) {
        this.depth = depth;
        this.skipInString = false;
        this.valueDone(this.base + i, true);
        return i;
      }
    }
    this.depth = depth;
    this.skipInString = inString;
    return i;
  }

  /** Position of the next quote or bracket at or after i (n if none): memchr for each, remembered per chunk. */
  private nextStructural(buf: Buffer, i: number, n: number): number {
    if (this.nextQuote < i) this.nextQuote = indexOrEnd(buf, QUOTE, i, n);
    if (this.nextOpenArray < i) this.nextOpenArray = indexOrEnd(buf, OPEN_ARRAY, i, n);
    if (this.nextCloseArray < i) this.nextCloseArray = indexOrEnd(buf, CLOSE_ARRAY, i, n);
    if (this.nextOpenObject < i) this.nextOpenObject = indexOrEnd(buf, OPEN_OBJECT, i, n);
    if (this.nextCloseObject < i) this.nextCloseObject = indexOrEnd(buf, CLOSE_OBJECT, i, n);
    return Math.min(this.nextQuote, this.nextOpenArray, this.nextCloseArray, this.nextOpenObject, this.nextCloseObject);
  }

  private beginCapture(path: string, start: number): void {
    const k = this.capCount++;
    this.capPaths[k] = path;
    this.capStarts[k] = start;
    this.capDepths[k] = this.depth;
  }

  /** The innermost capture's value ended before input offset `end`: report it unless it was abandoned. */
  private completeCapture(end: number): void {
    const k = this.capCount - 1;
    this.dropCapturesLongerThan(end);
    const live = k >= this.capDead;
    this.capCount = k;
    if (this.capDead > k) this.capDead = k;
    if (!live) return;
    const start = this.capStarts[k] as number;
    let text: string;
    if (start >= this.base) text = this.chunk.toString('utf8', start - this.base, end - this.base);
    else {
      this.appendToCapBuf(end);
      const buf = this.capBuf as Buffer;
      text = buf.toString('utf8', start - this.capBufStart, end - this.capBufStart);
    }
    if (this.capDead === this.capCount) this.capBufLen = 0;
    let value: unknown;
    const first = text.charCodeAt(0);
    // Scalars were validated byte by byte on the way in: skip JSON.parse for the common ones (a third of an
    // SSE event's cost). Containers were only checked structurally, so JSON.parse is their grammar check.
    if (first === QUOTE && !this.stringEscaped) value = text.slice(1, -1);
    else if (first === 0x6e) value = null;
    else if (first === 0x74 || first === 0x66) value = first === 0x74;
    else if (first === 0x2d || (first >= 0x30 && first <= 0x39)) value = Number(text); // same double as JSON.parse
    else {
      try {
        value = JSON.parse(text);
      } catch {
        return this.fail(); // a captured value that is not JSON
      }
    }
    this.onValue(this.capPaths[k] as string, value);
  }

  /** Abandon the captures that would be longer than maxValueBytes at input offset `end` (outermost first). */
  private dropCapturesLongerThan(end: number): void {
    while (this.capDead < this.capCount && end - (this.capStarts[this.capDead] as number) > this.maxValueBytes) this.capDead++;
    if (this.capBufLen === 0) return;
    const keepFrom = this.capDead < this.capCount ? (this.capStarts[this.capDead] as number) : Infinity;
    const drop = Math.min(keepFrom - this.capBufStart, this.capBufLen);
    if (drop <= 0) return;
    (this.capBuf as Buffer).copyWithin(0, drop, this.capBufLen);
    this.capBufLen -= drop;
    this.capBufStart += drop;
  }

  /** Extend the capture buffer with the current chunk's bytes up to input offset `end`. */
  private appendToCapBuf(end: number): void {
    const from = this.capBufLen > 0 ? this.capBufStart + this.capBufLen : (this.capStarts[this.capDead] as number);
    if (end <= from) return;
    if (this.capBufLen === 0) this.capBufStart = from;
    const need = this.capBufLen + (end - from);
    let buf = this.capBuf;
    if (buf === null || buf.length < need) {
      const grown = Buffer.allocUnsafe(Math.min(Math.max(need, 1024, 2 * (buf?.length ?? 0)), Math.max(need, this.maxValueBytes)));
      if (buf !== null) buf.copy(grown, 0, 0, this.capBufLen);
      buf = this.capBuf = grown;
    }
    this.chunk.copy(buf, this.capBufLen, from - this.base, end - this.base);
    this.capBufLen = need;
  }
}

function indexOrEnd(buf: Buffer, byte: number, from: number, n: number): number {
  const p = buf.indexOf(byte, from);
  return p < 0 ? n : p;
}
