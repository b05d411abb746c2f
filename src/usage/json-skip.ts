/**
 * Finds the end of a JSON container the sniffer has no path into, checking only its structure: strings,
 * escapes and bracket matching (RFC 8259 §2, §7) — numbers, literals and commas are not looked at, which
 * is what lets a 500 MB embeddings body pass at memchr speed. Pure; never throws; holds one byte per level.
 */
import type { Buffer } from 'node:buffer';

// Bytes of RFC 8259 §2 (structural characters) and §7 (strings); the sniffer reads the same ones.
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const OPEN_ARRAY = 0x5b;
export const CLOSE_ARRAY = 0x5d;
export const OPEN_OBJECT = 0x7b;
export const CLOSE_OBJECT = 0x7d;

/** RFC 8259 §2: whitespace is space, tab, LF and CR — exactly what JSON.parse accepts. */
export function isJsonWhitespace(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

/** Bytes walked one at a time before jumping with Buffer#indexOf: about what one indexOf call costs. */
const WALK_BYTES = 32;

export class ContainerSkipper {
  // The closing byte each open level wants, grown as levels open (at most maxDepth). A plain
  // array, not a typed one: a sniffer is made per response, and a typed array's backing
  // store cost more than the whole skip of a small body (measured).
  private readonly closers: number[] = [];
  private readonly maxDepth: number;
  private depthLimit = 0;
  /** Open levels; 0 once the container has closed. */
  depth = 0;
  private inString = false;
  private escaped = false; // the next byte is escaped: a backslash ended the last chunk
  private longString = false; // this string ran past WALK_BYTES without a quote: jump, don't walk
  // Next position in the current chunk of each byte looked for (valid while ≥ the scan position; n = none).
  private nextQuote = -1;
  private nextOpenArray = -1;
  private nextCloseArray = -1;
  private nextOpenObject = -1;
  private nextCloseObject = -1;

  constructor(maxDepth: number) {
    this.maxDepth = maxDepth;
  }

  /** A container just opened with `open` ('[' or '{'); at most `depthLimit` levels may open inside it, itself included. */
  begin(open: number, depthLimit: number): boolean {
    if (depthLimit < 1) return false;
    this.depthLimit = Math.min(depthLimit, this.maxDepth);
    this.closers[0] = open + 2; // '[' + 2 is ']', '{' + 2 is '}'
    this.depth = 1;
    this.inString = false;
    this.escaped = false;
    return true;
  }

  /** Forget the byte positions remembered from the previous chunk. */
  newChunk(): void {
    this.nextQuote = this.nextOpenArray = this.nextCloseArray = this.nextOpenObject = this.nextCloseObject = -1;
  }

  /**
   * Scan buf[i, n): the position just after the container's closing bracket (depth is then 0), or n when the
   * chunk ran out first, or -1 when the structure is broken (a mismatched bracket, nesting over the limit).
   * Dense content (logprobs, content parts) is walked byte by byte; past WALK_BYTES without a quote or
   * bracket it jumps with memchr: an embedding's 1536 floats or a 10 kB base64 string is one jump.
   */
  skip(buf: Buffer, i: number, n: number): number {
    const closers = this.closers;
    let depth = this.depth;
    let inString = this.inString;
    while (i < n) {
      let c = 0;
      if (inString) {
        if (this.escaped) {
          this.escaped = false;
          i++;
          continue;
        }
        // Only a quote can end a string: find the next one, walking a short way in a string that has been
        // short so far, else by memchr. It ends the string unless an odd run of backslashes escapes it.
        const stop = this.longString ? i : Math.min(n, i + WALK_BYTES);
        let q = i;
        while (q < stop && buf[q] !== QUOTE) q++;
        if (q === stop && q < n) {
          if (this.nextQuote < q) this.nextQuote = indexOrEnd(buf, QUOTE, q, n);
          q = this.nextQuote;
          this.longString = true;
        }
        let k = q;
        while (k > i && buf[k - 1] === BACKSLASH) k--;
        const escaped = ((q - k) & 1) === 1;
        if (q === n) {
          this.escaped = escaped; // a backslash ended the chunk: it escapes the next chunk's first byte
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
        this.longString = false;
      } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
        if (depth === this.depthLimit) return -1;
        closers[depth++] = c + 2;
      } else if (c !== closers[depth - 1]) {
        return -1;
      } else if (--depth === 0) {
        break;
      }
    }
    this.depth = depth;
    this.inString = inString;
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
}

// Buffer#indexOf is memchr; Uint8Array#indexOf is a plain loop, 3-5x slower (measured on Node 20).
function indexOrEnd(buf: Buffer, byte: number, from: number, n: number): number {
  const p = buf.indexOf(byte, from);
  return p < 0 ? n : p;
}
