/**
 * Finds the end of a JSON container the sniffer has no path into, judging every byte of it against RFC 8259
 * (§2 structure, §3 literals, §6 numbers, §7 strings) without building anything: a body that is malformed
 * after its usage object is malformed (SPEC §8), never complete. Strings, where big bodies spend their
 * bytes (base64 embeddings, long content), are jumped over with memchr and checked four bytes at a time;
 * numbers are read by tight digit loops. Pure; never throws; holds one byte per open level.
 */
import type { Buffer } from 'node:buffer';

// Bytes of RFC 8259 §2 (structural characters) and §7 (strings); the sniffer reads the same ones.
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const OPEN_ARRAY = 0x5b;
export const CLOSE_ARRAY = 0x5d;
export const OPEN_OBJECT = 0x7b;
export const CLOSE_OBJECT = 0x7d;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;

/** RFC 8259 §2: whitespace is space, tab, LF and CR — exactly what JSON.parse accepts. */
export function isJsonWhitespace(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

/** Bytes of a string walked one at a time before jumping with Buffer#indexOf: about what one indexOf call costs. */
const WALK_BYTES = 32;
/** A string run at least this long is checked for control characters a 32-bit word at a time. */
const WORDWISE_BYTES = 256;

// Where the skipper is. The states before STRING sit between tokens; the others inside one.
const FIRST_ELEMENT = 0; // after '[': a value or ']'
const FIRST_MEMBER = 1; // after '{': a key or '}'
const VALUE = 2; // after ':' or an array's ',': a value
const MEMBER = 3; // after an object's ',': a key
const NAME_SEPARATOR = 4; // after a key: ':'
const AFTER_VALUE = 5; // ',' or the level's closing bracket
const STRING = 6; // in a string value
const KEY = 7; // in a key
const ESCAPE = 8; // after '\' in a string value or key
const UNICODE = 9; // in the 4 hex digits of \u
const NUMBER = 10;
const LITERAL = 11;

// Number phases (RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?).
const N_MINUS = 0;
const N_ZERO = 1;
const N_INT = 2;
const N_DOT = 3;
const N_FRACTION = 4;
const N_E = 5;
const N_E_SIGN = 6;
const N_EXPONENT = 7;

const LITERALS = [[0x74, 0x72, 0x75, 0x65], [0x66, 0x61, 0x6c, 0x73, 0x65], [0x6e, 0x75, 0x6c, 0x6c]]; // true, false, null

/** 1 for the bytes a string's walk stops at: a quote, a backslash, a control character (RFC 8259 §7). */
const STRING_STOP = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) STRING_STOP[c] = 1;
STRING_STOP[QUOTE] = STRING_STOP[BACKSLASH] = 1;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
function isHexDigit(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
}
/** `"` `\` `/` `b` `f` `n` `r` `t` — the one-letter escapes of RFC 8259 §7. */
function isShortEscape(c: number): boolean {
  return c === QUOTE || c === BACKSLASH || c === 0x2f || c === 0x62 || c === 0x66 || c === 0x6e || c === 0x72 || c === 0x74;
}

export class ContainerSkipper {
  // The closing byte each open level wants, grown as levels open (at most maxDepth). A plain
  // array, not a typed one: a sniffer is made per response, and a typed array's backing
  // store cost more than the whole skip of a small body (measured).
  private readonly closers: number[] = [];
  private readonly maxDepth: number;
  private depthLimit = 0;
  /** Open levels; 0 once the container has closed. */
  depth = 0;
  private state = FIRST_ELEMENT;
  private afterString = AFTER_VALUE; // where a string ends up: AFTER_VALUE for a value, NAME_SEPARATOR for a key
  private hexLeft = 0;
  private numberPhase = N_MINUS;
  private literal: readonly number[] = LITERALS[0] as number[];
  private literalPos = 0;
  // Next position in the current chunk of a quote and of a backslash (valid while ≥ the scan position; n = none).
  private nextQuote = -1;
  private nextBackslash = -1;
  private nextCloseArray = -1;
  private lastComma = -1; // the chunk's last comma, or -1 (then found again: rare)

  constructor(maxDepth: number) {
    this.maxDepth = maxDepth;
  }

  /** A container just opened with `open` ('[' or '{'); at most `depthLimit` levels may open inside it, itself included. */
  begin(open: number, depthLimit: number): boolean {
    if (depthLimit < 1) return false;
    this.depthLimit = Math.min(depthLimit, this.maxDepth);
    this.closers[0] = open + 2; // '[' + 2 is ']', '{' + 2 is '}'
    this.depth = 1;
    this.state = open === OPEN_OBJECT ? FIRST_MEMBER : FIRST_ELEMENT;
    return true;
  }

  /** Forget the byte positions remembered from the previous chunk. */
  newChunk(): void {
    this.nextQuote = this.nextBackslash = this.nextCloseArray = this.lastComma = -1;
  }

  /**
   * Scan buf[i, n): the position just after the container's closing bracket (depth is then 0), or n when the
   * chunk ran out first, or -1 at the first byte that is not JSON (or a level past the limit).
   */
  skip(buf: Buffer, i: number, n: number): number {
    while (i < n) {
      let c = buf[i] as number;
      switch (this.state) {
        case STRING:
        case KEY:
          i = this.string(buf, i, n);
          break;
        case AFTER_VALUE:
          while (isJsonWhitespace(c) && ++i < n) c = buf[i] as number;
          if (i === n) break;
          i++;
          if (c === COMMA) this.state = this.closers[this.depth - 1] === CLOSE_OBJECT ? MEMBER : VALUE;
          else if (c !== this.closers[this.depth - 1]) return -1;
          else if (--this.depth === 0) return i;
          break;
        case FIRST_ELEMENT:
        case VALUE:
          while (isJsonWhitespace(c) && ++i < n) c = buf[i] as number;
          if (i === n) break;
          if (c === CLOSE_ARRAY && this.state === FIRST_ELEMENT) {
            i++;
            if (--this.depth === 0) return i;
            this.state = AFTER_VALUE;
          } else {
            const after = (c === MINUS || isDigit(c)) && this.closers[this.depth - 1] === CLOSE_ARRAY ? this.numbers(buf, i, n) : i;
            if (after !== i) {
              i = after; // a run of plain numbers (an embedding), read in one loop
              this.state = VALUE;
            } else i = this.startValue(buf, c, i, n);
          }
          break;
        case FIRST_MEMBER:
        case MEMBER:
          while (isJsonWhitespace(c) && ++i < n) c = buf[i] as number;
          if (i === n) break;
          i++;
          if (c === QUOTE) {
            this.state = KEY;
            this.afterString = NAME_SEPARATOR;
                } else if (c !== CLOSE_OBJECT || this.state !== FIRST_MEMBER) return -1;
          else if (--this.depth === 0) return i;
          else this.state = AFTER_VALUE;
          break;
        case NAME_SEPARATOR:
          while (isJsonWhitespace(c) && ++i < n) c = buf[i] as number;
          if (i === n) break;
          if (c !== COLON) return -1;
          i++;
          this.state = VALUE;
          break;
        case ESCAPE:
          i++;
          if (c === 0x75) {
            this.hexLeft = 4;
            this.state = UNICODE;
          } else if (isShortEscape(c)) this.state = this.afterString === NAME_SEPARATOR ? KEY : STRING;
          else return -1;
          break;
        case UNICODE: // any four hex digits: a lone surrogate is still a valid JSON text (RFC 8259 §8.2)
          if (!isHexDigit(c)) return -1;
          i++;
          if (--this.hexLeft === 0) this.state = this.afterString === NAME_SEPARATOR ? KEY : STRING;
          break;
        case NUMBER:
          i = this.number(buf, i, n);
          break;
        default: // LITERAL
          if (c !== this.literal[this.literalPos]) return -1;
          i++;
          if (++this.literalPos === this.literal.length) this.state = AFTER_VALUE;
      }
      if (i < 0) return -1;
    }
    return i;
  }

  /** The value whose first byte `c` is at buf[i]; returns where scanning goes on, or -1. */
  private startValue(buf: Buffer, c: number, i: number, n: number): number {
    if (c === QUOTE) {
      this.state = STRING;
      this.afterString = AFTER_VALUE;
      return i + 1;
    }
    if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (this.depth === this.depthLimit) return -1;
      this.closers[this.depth++] = c + 2;
      this.state = c === OPEN_ARRAY ? FIRST_ELEMENT : FIRST_MEMBER;
      return i + 1;
    }
    if (c === MINUS || isDigit(c)) {
      this.numberPhase = N_MINUS;
      this.state = NUMBER;
      return this.number(buf, i + (c === MINUS ? 1 : 0), n);
    }
    const literal = c === 0x74 ? 0 : c === 0x66 ? 1 : c === 0x6e ? 2 : -1;
    if (literal < 0) return -1;
    this.literal = LITERALS[literal] as number[];
    this.literalPos = 1;
    this.state = LITERAL;
    return i + 1;
  }

  /**
   * The fast path for arrays of numbers (embeddings): from buf[i], the first byte of a number in an array,
   * whole `number,` items in one loop with no bounds check per byte — it reads no further than `limit`, the
   * next `]` (or else the chunk's last comma), a byte no number runs past. It stops at the first item it
   * cannot finish this way (the last one before `]`, one with an exponent, anything unusual) and returns
   * that item's start, where the general path reads it byte by byte in state VALUE.
   */
  private numbers(buf: Buffer, i: number, n: number): number {
    if (this.nextCloseArray < i) this.nextCloseArray = indexOrEnd(buf, CLOSE_ARRAY, i, n);
    let limit = this.nextCloseArray;
    if (limit === n) {
      if (this.lastComma < i) this.lastComma = buf.lastIndexOf(COMMA, n - 1);
      limit = this.lastComma;
      if (limit < i) return i;
    }
    for (;;) {
      const start = i;
      let c = buf[i] as number;
      if (c === MINUS) c = buf[++i] as number;
      if (c === 0x30) c = buf[++i] as number;
      else if (c >= 0x31 && c <= 0x39) do c = buf[++i] as number; while (c >= 0x30 && c <= 0x39);
      else return start;
      if (c === 0x2e) {
        c = buf[++i] as number;
        if (c < 0x30 || c > 0x39) return start;
        do c = buf[++i] as number; while (c >= 0x30 && c <= 0x39);
      }
      if (c !== COMMA || i >= limit) return start;
      c = buf[++i] as number;
      if (c !== MINUS && (c < 0x30 || c > 0x39)) return i; // a value of another kind follows: the general path
    }
  }

  /**
   * Inside a string or key at buf[i]: up to its closing quote (then the state after it), or n. Escapes
   * whole in this chunk are judged here; one cut by the chunk's end is left to the ESCAPE and UNICODE states.
   */
  private string(buf: Buffer, i: number, n: number): number {
    for (;;) {
      let c = 0;
      const stop = Math.min(n, i + WALK_BYTES);
      while (i < stop && STRING_STOP[(c = buf[i] as number)] === 0) i++;
      if (i === stop) {
        if (i === n) return n;
        // A long run: jump to the next quote or backslash, checking that nothing in between is a control character.
        if (this.nextQuote < i) this.nextQuote = indexOrEnd(buf, QUOTE, i, n);
        if (this.nextBackslash < i) this.nextBackslash = indexOrEnd(buf, BACKSLASH, i, n);
        const end = Math.min(this.nextQuote, this.nextBackslash);
        if (!noControlBytes(buf, i, end)) return -1;
        if (end === n) return n;
        i = end;
        c = buf[i] as number;
      }
      if (c === QUOTE) {
        this.state = this.afterString;
        return i + 1;
      }
      if (c !== BACKSLASH) return -1; // RFC 8259 §7: control characters must be escaped
      const e = i + 1 < n ? (buf[i + 1] as number) : -1;
      if (isShortEscape(e)) i += 2;
      else if (e === 0x75 && i + 5 < n) {
        for (let k = i + 2; k < i + 6; k++) if (!isHexDigit(buf[k] as number)) return -1;
        i += 6;
      } else if (e === -1 || e === 0x75) {
        this.state = ESCAPE; // the escape goes on in the next chunk
        return i + 1;
      } else return -1;
    }
  }

  /** Inside a number at buf[i] (its phase in numberPhase): where it ends (the state is then AFTER_VALUE), n, or -1. */
  private number(buf: Buffer, i: number, n: number): number {
    let phase = this.numberPhase;
    for (; i < n; i++) {
      let c = buf[i] as number;
      if (isDigit(c)) {
        if (phase === N_ZERO) return -1; // "01": a leading zero is a whole integer part
        if (phase === N_MINUS) phase = c === 0x30 ? N_ZERO : N_INT;
        else if (phase === N_DOT) phase = N_FRACTION;
        else if (phase === N_E || phase === N_E_SIGN) phase = N_EXPONENT;
        if (phase === N_ZERO) continue;
        // A run of digits: the bulk of every number.
        while (++i < n && isDigit((c = buf[i] as number)));
        if (i === n) break;
      }
      if (c === 0x2e && (phase === N_ZERO || phase === N_INT)) phase = N_DOT;
      else if ((c | 0x20) === 0x65 && (phase === N_ZERO || phase === N_INT || phase === N_FRACTION)) phase = N_E;
      else if ((c === 0x2b || c === MINUS) && phase === N_E) phase = N_E_SIGN;
      else if (phase === N_ZERO || phase === N_INT || phase === N_FRACTION || phase === N_EXPONENT) {
        this.state = AFTER_VALUE; // the byte that ended it is read again there
        return i;
      } else return -1;
    }
    this.numberPhase = phase;
    return n;
  }
}

/** Whether buf[from, to) holds no byte below 0x20; long runs a 32-bit word at a time. */
function noControlBytes(buf: Buffer, from: number, to: number): boolean {
  let k = from;
  if (to - from >= WORDWISE_BYTES) {
    // Words aligned in the underlying memory; bytes before the first whole word are checked one by one.
    const head = (4 - ((buf.byteOffset + k) & 3)) & 3;
    for (const end = k + head; k < end; k++) if ((buf[k] as number) < 0x20) return false;
    const words = new Int32Array(buf.buffer, buf.byteOffset + k, (to - k) >> 2);
    // "Determine if a word has a byte less than n" (Bit Twiddling Hacks), n = 0x20: exact for n ≤ 128.
    // Four words a turn, their flags or'ed: one branch per 16 bytes.
    const quads = words.length & ~3;
    let w = 0;
    for (; w < quads; w += 4) {
      const a = words[w] as number;
      const b = words[w + 1] as number;
      const c = words[w + 2] as number;
      const d = words[w + 3] as number;
      if (((((a - 0x20202020) & ~a) | ((b - 0x20202020) & ~b) | ((c - 0x20202020) & ~c) | ((d - 0x20202020) & ~d)) & 0x80808080) !== 0) return false;
    }
    for (; w < words.length; w++) {
      const x = words[w] as number;
      if (((x - 0x20202020) & ~x & 0x80808080) !== 0) return false;
    }
    k += words.length << 2;
  }
  for (; k < to; k++) if ((buf[k] as number) < 0x20) return false;
  return true;
}

// Buffer#indexOf is memchr; Uint8Array#indexOf is a plain loop, 3-5x slower (measured on Node 20).
function indexOrEnd(buf: Buffer, byte: number, from: number, n: number): number {
  const p = buf.indexOf(byte, from);
  return p < 0 || p > n ? n : p;
}
