/**
 * Streaming JSON sniffer: scans a body's bytes as they pass and reports the values at a few key paths
 * (SPEC §4's usage shapes), JSON.parse-ing only those. It never holds the body — memory is the value being
 * captured (≤ maxValueBytes) plus a bracket stack of MAX_JSON_DEPTH bytes — never does I/O, never throws on input.
 * Grammar: RFC 8259, every byte judged (here where a path can match, by json-skip.ts below: SPEC §8, a body
 * malformed after its usage is malformed); input is zero or more JSON values (a body, NDJSON lines, concatenated JSON).
 */
import { Buffer } from 'node:buffer';
import { CaptureStack } from './json-capture.ts';
import { type PathNode, buildPathTree } from './json-key-paths.ts';
import { BACKSLASH, CLOSE_ARRAY, CLOSE_OBJECT, ContainerSkipper, isJsonWhitespace, OPEN_ARRAY, OPEN_OBJECT, QUOTE } from './json-skip.ts';

export interface JsonSnifferOptions {
  /** Dotted key paths, relative to a document root, whose values are captured, e.g. "usage", "message.usage", "model". */
  readonly capture: readonly string[];
  /** Called as soon as a captured value is complete (its last byte seen), with the path and JSON.parse'd value. */
  onValue(path: string, value: unknown): void;
  /**
   * Called when a document root ends (a top-level value, or an element of a top-level array):
   * values at top-level keys belong to a usage object that is complete only then (SPEC §8).
   */
  onDocumentEnd?(): void;
  /** A value at a capture path was present but longer than maxValueBytes (so a caller can tell "absent" from "too long"). */
  onOversized?(path: string): void;
  /** A captured value longer than this is abandoned: not reported, but named to onOversized. Default 64 KiB. */
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

// More bytes of RFC 8259 §2 (structural characters) and §3 (literals).
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

// Number phases (RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?).
const N_MINUS = 0;
const N_ZERO = 1;
const N_INT = 2;
const N_DOT = 3;
const N_FRACTION = 4;
const N_E = 5;
const N_E_SIGN = 6;
const N_EXPONENT = 7;

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
  private readonly onDocumentEnd: (() => void) | undefined;
  private readonly onOversized: ((path: string) => void) | undefined;
  private readonly closers: number[] = []; // the closing byte each open tracked container wants, by depth
  private readonly frameNodes: PathNode[] = []; // path node of each open tracked container, by depth
  private readonly keyBuf: Buffer; // raw bytes of the current key, as long as it could still match a path
  private readonly skipper = new ContainerSkipper(MAX_JSON_DEPTH);
  private readonly captures: CaptureStack;

  private state = START;
  private result: SniffEnd | null = null; // set by end()
  private seenValue = false;
  // Open containers parsed in full: those where a path can match. Deeper ones are left to the skipper.
  private depth = 0;
  private valueNode: PathNode | null = null; // what the value about to start is, path-wise
  private keyLen = 0;
  private keyEscaped = false;
  private escapeReturn = STRING;
  private hexLeft = 0;
  private stringEscaped = false; // the current string value holds an escape
  private numberPhase = N_MINUS;
  private literal = TRUE;
  private literalPos = 0;
  // The current chunk and where it starts in the input; captures are kept as absolute input offsets.
  private chunk: Buffer = EMPTY;
  private base = 0;

  constructor(options: JsonSnifferOptions) {
    const tree = buildPathTree(options.capture);
    this.root = tree.root;
    // One more: a key that fills it is too long. From the shared pool: a sniffer is made per
    // response, and an ArrayBuffer of its own per sniffer measured a third of a small body's sniff.
    this.keyBuf = Buffer.allocUnsafe(tree.maxRawKeyBytes + 1);
    this.onValue = options.onValue;
    this.onDocumentEnd = options.onDocumentEnd;
    this.onOversized = options.onOversized;
    this.captures = new CaptureStack(options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES);
  }

  get failed(): boolean {
    return this.state === FAILED;
  }

  reset(): void {
    this.state = START;
    this.result = null;
    this.seenValue = false;
    this.depth = 0;
    this.base = 0;
    this.captures.clear();
  }

  feed(chunk: Uint8Array): void {
    const n = chunk.length;
    if (this.state === FAILED || this.result !== null || n === 0) return;
    // The skipper needs Buffer#indexOf (memchr); proxied chunks are Buffers already, others get a view.
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, n);
    this.chunk = buf;
    this.skipper.newChunk();
    this.scan(buf, n);
    if (this.state !== FAILED) this.captures.endOfChunk(buf, this.base);
    this.base += n;
    this.chunk = EMPTY; // hold no reference to the caller's chunk
  }

  end(): SniffEnd {
    if (this.result === null) {
      this.result = this.finalResult();
      this.captures.clear();
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
    this.captures.clear();
  }

  private scan(buf: Buffer, n: number): void {
    let i = 0;
    while (i < n) {
      let c = buf[i] as number;
      switch (this.state) {
        case SKIP:
          i = this.skipper.skip(buf, i, n);
          if (i < 0) return this.fail();
          if (this.skipper.depth === 0) this.valueDone(this.base + i, true);
          break;
        case START: // the byte is read again as TOP unless it begins a BOM
          if (c === 0xef) i++;
          this.state = c === 0xef ? BOM_2 : TOP;
          break;
        case TOP_SEPARATOR:
          if (!isJsonWhitespace(c)) return this.fail();
          this.state = TOP;
          i++;
          break;
        case TOP:
        case VALUE:
          if (isJsonWhitespace(c)) i++;
          else this.startValue(c, i++, this.state === TOP ? this.root : this.valueNode);
          break;
        case ARRAY_FIRST:
          if (isJsonWhitespace(c)) i++;
          else if (c === CLOSE_ARRAY) this.closeTracked(++i);
          else this.startValue(c, i++, this.root); // elements of the top-level array are document roots
          break;
        case OBJECT_FIRST:
        case OBJECT_KEY:
          if (isJsonWhitespace(c)) i++;
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
          if (isJsonWhitespace(c)) i++;
          else if (c === NAME_SEPARATOR) {
            this.state = VALUE;
            i++;
          } else return this.fail();
          break;
        case AFTER_VALUE:
          if (isJsonWhitespace(c)) i++;
          else if (c === COMMA) {
            i++;
            if (this.closers[this.depth - 1] === CLOSE_OBJECT) this.state = OBJECT_KEY;
            else {
              this.valueNode = this.root; // the only tracked array is the top-level one
              this.state = VALUE;
            }
          } else if (c === this.closers[this.depth - 1]) this.closeTracked(++i);
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
    if (node !== null && node.capture !== null) this.captures.begin(node.capture, this.base + i, this.depth);
    if (c === OPEN_OBJECT) {
      if (node !== null && node.children.length > 0) this.openTracked(CLOSE_OBJECT, node, OBJECT_FIRST);
      else this.openSkipped(c);
    } else if (c === OPEN_ARRAY) {
      // A top-level array's elements are roots (Gemini's non-SSE stream); no path goes through any other array.
      if (this.depth === 0) this.openTracked(CLOSE_ARRAY, this.root, ARRAY_FIRST);
      else this.openSkipped(c);
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
    this.closers[this.depth] = close;
    this.frameNodes[this.depth++] = node;
    this.state = state;
  }

  private openSkipped(open: number): void {
    if (!this.skipper.begin(open, MAX_JSON_DEPTH - this.depth)) return this.fail();
    this.state = SKIP;
  }

  /** The closing bracket of a tracked container ended just before chunk position `i`. */
  private closeTracked(i: number): void {
    this.depth--;
    this.valueDone(this.base + i, true);
  }

  /** A value at the tracked level `depth` ended before input offset `end`. */
  private valueDone(end: number, selfDelimited: boolean): void {
    if (this.captures.innermostDepth === this.depth) {
      this.completeCapture(end);
      if (this.state === FAILED) return;
    }
    if (this.depth > 0) {
      this.state = AFTER_VALUE;
      // An element of the top-level array (Gemini's stream) is a document root too.
      if (this.depth === 1 && this.closers[0] === CLOSE_ARRAY) this.onDocumentEnd?.();
    } else {
      this.onDocumentEnd?.();
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

  /** The innermost capture's value ended before input offset `end`: report it unless it was abandoned for size. */
  private completeCapture(end: number): void {
    const path = this.captures.innermostPath;
    const text = this.captures.complete(end, this.chunk, this.base);
    if (text === null) {
      this.onOversized?.(path);
      return;
    }
    let value: unknown;
    const first = text.charCodeAt(0);
    // Scalars were validated byte by byte on the way in: skip JSON.parse for the common ones (a third of an
    // SSE event's cost). Containers were judged by the skipper; JSON.parse builds their value.
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
    this.onValue(path, value);
  }
}
