// Byte scanners for the JSON of RFC 8259, for record-sniffer.ts: each takes a buffer, a position
// and the end of the line, checks one token or value there exactly as the RFC's grammar has it,
// and returns the position after it, or -1 for anything it will not vouch for (an escape, a raw
// control character, nesting too deep) — the sniffer then leaves the line to JSON.parse. Pure.

export const QUOTE = 0x22;
const BACKSLASH = 0x5c;
export const COLON = 0x3a;
export const COMMA = 0x2c;
export const OPEN_BRACE = 0x7b;
export const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
export const MINUS = 0x2d;
export const DIGIT_0 = 0x30;
export const DIGIT_9 = 0x39;
// Unknown fields may hold arrays and objects (a later ledger's additions): they are skipped,
// and checked as they are, down to this depth; deeper is left to JSON.parse.
const MAX_SKIP_DEPTH = 32;

// What the last scanString / scanNumber / scanLiteral found, beside the position they return.
// One shared object rather than a result object per value: the scanners run synchronously, one
// line at a time, and positions passed as arguments stay in registers (closure variables did not,
// and halved the sniffer's speed: measured).
export const scanned = {
  /** The last string had only ASCII bytes. */
  ascii: true,
  number: 0,
  /** true 1, false 0, null -1. */
  literal: 0,
};

/** The string of the bytes of the string scanString read last (latin1 is a faster decoder for ASCII). */
export function textOf(buf: Buffer, from: number, to: number): string {
  return scanned.ascii ? buf.toString('latin1', from, to) : buf.toString('utf8', from, to);
}

export function skipWs(buf: Buffer, pos: number, end: number): number {
  while (pos < end) {
    const c = buf[pos]!;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return pos;
    pos++;
  }
  return pos;
}

/** From an opening quote at `pos` to just past its closing one; -1 on an escape or control byte. */
export function scanString(buf: Buffer, pos: number, end: number): number {
  let ascii = true;
  for (let i = pos + 1; i < end; i++) {
    const c = buf[i]!;
    if (c === QUOTE) {
      scanned.ascii = ascii;
      return i + 1;
    }
    if (c === BACKSLASH || c < 0x20) return -1;
    if (c >= 0x80) ascii = false;
  }
  return -1;
}

// 10^0 … 10^22: the powers of ten a double holds exactly.
const EXACT_POWERS_OF_TEN = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

/**
 * A JSON number at `pos` (RFC 8259 §6 grammar) into scanned.number; -1 when it is not one.
 * Its digits are added up as they are checked. When they make an integer below 2^53 and the
 * power of ten is one a double holds exactly (10^22 at most), `digits / 10^k` (or `× 10^k`) is one
 * correctly rounded operation on exact values, so it is the same double as Number() of the text
 * (Clinger's fast path, as strtod has it); every other number is read by Number(). The ledger's
 * costs (`0.0001234`) take the fast path: the text of every cost cost a string (measured).
 */
export function scanNumber(buf: Buffer, pos: number, end: number): number {
  let i = pos;
  const negative = buf[i] === MINUS;
  if (negative) i++;
  const intStart = i;
  let digits = 0;
  for (let c = buf[i]!; i < end && c >= DIGIT_0 && c <= DIGIT_9; c = buf[++i]!) digits = digits * 10 + (c - DIGIT_0);
  const intDigits = i - intStart;
  if (intDigits === 0 || (intDigits > 1 && buf[intStart] === DIGIT_0)) return -1;
  let scale = 0; // the value is digits × 10^scale
  if (buf[i] === 0x2e) {
    const fracStart = ++i;
    for (let c = buf[i]!; i < end && c >= DIGIT_0 && c <= DIGIT_9; c = buf[++i]!) digits = digits * 10 + (c - DIGIT_0);
    if (i === fracStart) return -1;
    scale = fracStart - i;
  }
  let exact = digits <= Number.MAX_SAFE_INTEGER; // every digit was added without rounding
  if (buf[i] === 0x65 || buf[i] === 0x45) {
    i++;
    const sign = buf[i] === MINUS ? -1 : 1;
    if (buf[i] === 0x2b || buf[i] === MINUS) i++;
    const expStart = i;
    let exponent = 0;
    for (let c = buf[i]!; i < end && c >= DIGIT_0 && c <= DIGIT_9; c = buf[++i]!) exponent = exponent * 10 + (c - DIGIT_0);
    if (i === expStart) return -1;
    if (i - expStart > 3) exact = false;
    scale += sign * exponent;
  }
  let value: number;
  if (exact && scale === 0) value = digits;
  else if (exact && scale < 0 && scale >= -22) value = digits / EXACT_POWERS_OF_TEN[-scale]!;
  else if (exact && scale > 0 && scale <= 22) value = digits * EXACT_POWERS_OF_TEN[scale]!;
  else value = Number(buf.toString('latin1', negative ? pos + 1 : pos, i)); // Number() reads JSON numbers as JSON.parse does
  scanned.number = negative ? -value : value;
  return i;
}

/** `true`, `false` or `null` at `pos` into scanned.literal; -1 when it is none of them. */
export function scanLiteral(buf: Buffer, pos: number, end: number): number {
  const c = buf[pos];
  if (c === 0x74 && pos + 4 <= end && buf[pos + 1] === 0x72 && buf[pos + 2] === 0x75 && buf[pos + 3] === 0x65) {
    scanned.literal = 1;
    return pos + 4;
  }
  if (c === 0x66 && pos + 5 <= end && buf[pos + 1] === 0x61 && buf[pos + 2] === 0x6c && buf[pos + 3] === 0x73 && buf[pos + 4] === 0x65) {
    scanned.literal = 0;
    return pos + 5;
  }
  if (c === 0x6e && pos + 4 <= end && buf[pos + 1] === 0x75 && buf[pos + 2] === 0x6c && buf[pos + 3] === 0x6c) {
    scanned.literal = -1;
    return pos + 4;
  }
  return -1;
}

/** Any value at `pos`, checked and passed over; -1 when it is not one this reader can vouch for. */
export function skipValue(buf: Buffer, pos: number, end: number, depth: number): number {
  if (pos < 0) return -1;
  const c = buf[pos]!;
  if (c === QUOTE) return scanString(buf, pos, end);
  if (c === MINUS || (c >= DIGIT_0 && c <= DIGIT_9)) return scanNumber(buf, pos, end);
  if (c !== OPEN_BRACE && c !== OPEN_BRACKET) return scanLiteral(buf, pos, end);
  if (depth >= MAX_SKIP_DEPTH) return -1;
  const close = c === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET;
  pos = skipWs(buf, pos + 1, end);
  if (buf[pos] === close) return pos + 1;
  for (;;) {
    if (c === OPEN_BRACE) {
      if (buf[pos] !== QUOTE) return -1;
      pos = skipWs(buf, scanString(buf, pos, end), end);
      if (pos < 0 || buf[pos] !== COLON) return -1;
      pos = skipWs(buf, pos + 1, end);
    }
    pos = skipValue(buf, pos, end, depth + 1);
    if (pos < 0) return -1;
    pos = skipWs(buf, pos, end);
    if (buf[pos] === COMMA) pos = skipWs(buf, pos + 1, end);
    else if (buf[pos] === close) return pos + 1;
    else return -1;
  }
}
