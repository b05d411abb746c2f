/**
 * Asks an OpenAI-style streaming request for its usage (SPEC §5): adds
 * `"stream_options":{"include_usage":true}`, or `"include_usage":true` inside an existing
 * `stream_options`, by editing the body's text. It never re-serialises (that would lose integers
 * above 2^53, key order and spacing), never overrides an `include_usage` the client wrote, and never
 * throws: a body it cannot read with certainty goes through untouched, with the reason why.
 */

import { isJsonWhitespace } from '../usage/json-skip.ts';

export const MAX_INJECT_BODY_BYTES = 8 * 1024 * 1024; // 8 MiB (SPEC §5: larger bodies go through untouched)

/** Why a body was left as it came; stable codes, fit for a debug log. */
export type InjectSkipReason =
  | 'too_large' // above MAX_INJECT_BODY_BYTES
  | 'not_json' // not one valid UTF-8 JSON text
  | 'not_object' // valid JSON, but not an object
  | 'not_streaming' // top-level "stream" is absent or not the literal true
  | 'include_usage_present' // the client wrote include_usage (true or false): its choice
  | 'stream_options_not_object'; // "stream_options" is null, an array, a string…: not ours to fix

export type InjectResult =
  | { readonly injected: true; readonly body: Buffer }
  | { readonly injected: false; readonly reason: InjectSkipReason };

// Every path SPEC §5 names ends in "/completions": "/chat/completions" is one of them.
const COMPLETIONS_SUFFIX = '/completions';

/** Whether a request is a candidate by method and path: POST to a path ending in /chat/completions or /completions. */
export function isInjectionCandidate(method: string, path: string): boolean {
  if (method !== 'POST') return false;
  const query = path.indexOf('?'); // the contract is a path without its query; cut one anyway
  return (query < 0 ? path : path.slice(0, query)).endsWith(COMPLETIONS_SUFFIX);
}

// Where the new text goes (see injectIncludeUsage): after the last member, so the body's prefix —
// where routers and logs sniff "model" — stays the client's bytes.
const NEW_MEMBER = Buffer.from(',"stream_options":{"include_usage":true}');
const INTO_EMPTY_OPTIONS = Buffer.from('"include_usage":true');
const INTO_OPTIONS = Buffer.from(',"include_usage":true');

/**
 * Edits the body text to ask for stream usage; never re-serialises. The result body is the input
 * with exactly one run of bytes inserted:
 * - no top-level stream_options: `,"stream_options":{"include_usage":true}` after the last member's value
 *   (a streaming body has at least one member, "stream", so the comma is always right);
 * - stream_options `{}`: `"include_usage":true` right after its `{`;
 * - stream_options with members: `,"include_usage":true` after its last member's value.
 * Duplicate keys are read as JSON.parse and the upstream read them: the last one wins. A UTF-8 BOM
 * (RFC 8259 §8.1 lets parsers ignore one) is kept and skipped: the edit cannot make a body the
 * upstream would accept unacceptable, so refusing would only lose the usage.
 */
export function injectIncludeUsage(body: Buffer): InjectResult {
  if (body.length > MAX_INJECT_BODY_BYTES) return skip('too_large');
  const open = skipWhitespace(body, hasBom(body) ? BOM.length : 0);
  if (body[open] !== OPEN_BRACE) return skip(open < body.length && isValidJson(body) ? 'not_object' : 'not_json');
  const top = scanObject(body, open);
  if (top === null || skipWhitespace(body, top.end) !== body.length) return skip('not_json');

  let stream: Member | undefined;
  let options: Member | undefined;
  let optionsObject: ObjectScan | null = null;
  let includeUsageWritten = false;
  for (const member of top.members) {
    if (keyIs(body, member, 'stream')) {
      stream = member;
    } else if (keyIs(body, member, 'include_usage')) {
      // Misplaced (it belongs in stream_options), but the client wrote it: its word.
      includeUsageWritten = true;
    } else if (keyIs(body, member, 'stream_options')) {
      options = member;
      optionsObject = body[member.valueStart] === OPEN_BRACE ? scanObject(body, member.valueStart) : null;
      if (optionsObject === null && body[member.valueStart] === OPEN_BRACE) return skip('not_json');
      // "Does not mention include_usage at all" (SPEC §5): an include_usage in an earlier, overridden
      // stream_options still counts as the client's word — when in doubt, do not inject.
      includeUsageWritten ||= optionsObject?.members.some((m) => keyIs(body, m, 'include_usage')) === true;
    }
  }
  if (stream === undefined || !valueIs(body, stream, 'true')) return skip('not_streaming');
  if (includeUsageWritten) return skip('include_usage_present');

  let at: number;
  let text: Buffer;
  if (options === undefined) {
    at = (top.members[top.members.length - 1] ?? stream).valueEnd;
    text = NEW_MEMBER;
  } else if (optionsObject === null) {
    return skip('stream_options_not_object');
  } else {
    const last = optionsObject.members[optionsObject.members.length - 1];
    at = last === undefined ? optionsObject.open + 1 : last.valueEnd;
    text = last === undefined ? INTO_EMPTY_OPTIONS : INTO_OPTIONS;
  }
  // The scan trusts structure only; literals, numbers and UTF-8 are checked here, and only for
  // bodies we are about to edit, so a non-streaming request never pays for a full parse.
  if (!isValidJson(body)) return skip('not_json');
  return { injected: true, body: Buffer.concat([body.subarray(0, at), text, body.subarray(at)]) };
}

function skip(reason: InjectSkipReason): InjectResult {
  return { injected: false, reason };
}

// ---- A small JSON scanner over bytes. JSON's structural characters are ASCII and UTF-8 never uses
// bytes below 0x80 inside a multi-byte character, so scanning bytes finds the same tokens as
// scanning characters, and gives byte offsets for the edit directly.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

interface Member {
  readonly keyStart: number; // at the key's opening quote
  readonly keyEnd: number; // after its closing quote
  readonly valueStart: number;
  readonly valueEnd: number;
}

interface ObjectScan {
  readonly open: number; // at the `{`
  readonly members: readonly Member[];
  readonly end: number; // after the `}`
}

function hasBom(buf: Buffer): boolean {
  return buf.length >= BOM.length && buf[0] === BOM[0] && buf[1] === BOM[1] && buf[2] === BOM[2];
}

function skipWhitespace(buf: Buffer, i: number): number {
  while (i < buf.length && isJsonWhitespace(buf[i])) i++;
  return i;
}

/** The direct members of the object whose `{` is at `open`, or null when it is not well formed. */
function scanObject(buf: Buffer, open: number): ObjectScan | null {
  const members: Member[] = [];
  let i = skipWhitespace(buf, open + 1);
  if (buf[i] === CLOSE_BRACE) return { open, members, end: i + 1 };
  for (;;) {
    if (buf[i] !== QUOTE) return null;
    const keyStart = i;
    const keyEnd = skipString(buf, i);
    if (keyEnd < 0) return null;
    i = skipWhitespace(buf, keyEnd);
    if (buf[i] !== COLON) return null;
    const valueStart = skipWhitespace(buf, i + 1);
    const valueEnd = skipValue(buf, valueStart);
    if (valueEnd < 0) return null;
    members.push({ keyStart, keyEnd, valueStart, valueEnd });
    i = skipWhitespace(buf, valueEnd);
    if (buf[i] === CLOSE_BRACE) return { open, members, end: i + 1 };
    if (buf[i] !== COMMA) return null;
    i = skipWhitespace(buf, i + 1);
  }
}

/** End (exclusive) of the string whose opening quote is at `i`, or -1 when it never closes. */
function skipString(buf: Buffer, i: number): number {
  const contentStart = i + 1;
  let quote = buf.indexOf(QUOTE, contentStart);
  while (quote >= 0) {
    // A quote ends the string unless an odd run of backslashes escapes it. Runs before different
    // quotes do not overlap, so this stays linear even on hostile input.
    let backslashes = 0;
    while (quote - backslashes - 1 >= contentStart && buf[quote - backslashes - 1] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    quote = buf.indexOf(QUOTE, quote + 1);
  }
  return -1;
}

/** End (exclusive) of the value starting at `i`, or -1. Literals and numbers are only delimited here. */
function skipValue(buf: Buffer, i: number): number {
  const c = buf[i];
  if (c === QUOTE) return skipString(buf, i);
  if (c === OPEN_BRACE || c === OPEN_BRACKET) return skipNested(buf, i);
  let end = i;
  while (end < buf.length && !isDelimiter(buf[end])) end++;
  return end > i ? end : -1;
}

function isDelimiter(c: number | undefined): boolean {
  return isJsonWhitespace(c) || c === COMMA || c === CLOSE_BRACE || c === CLOSE_BRACKET || c === COLON || c === QUOTE;
}

// A depth counter, not recursion: a deeply nested body cannot overflow the stack.
function skipNested(buf: Buffer, i: number): number {
  let depth = 0;
  for (; i < buf.length; i++) {
    const c = buf[i];
    if (c === QUOTE) {
      const end = skipString(buf, i);
      if (end < 0) return -1;
      i = end - 1;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
    } else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && --depth === 0) {
      return i + 1;
    }
  }
  return -1;
}

/** Compares the decoded key: `"str\u0065am"` is `stream` to the upstream, so it is to us. */
function keyIs(buf: Buffer, member: Member, name: string): boolean {
  const raw = buf.subarray(member.keyStart + 1, member.keyEnd - 1);
  if (!raw.includes(BACKSLASH)) return raw.length === name.length && raw.toString('latin1') === name;
  try {
    return JSON.parse(buf.toString('utf8', member.keyStart, member.keyEnd)) === name;
  } catch {
    return false;
  }
}

function valueIs(buf: Buffer, member: Member, literal: string): boolean {
  return member.valueEnd - member.valueStart === literal.length && buf.toString('latin1', member.valueStart, member.valueEnd) === literal;
}

// fatal: a body that is not UTF-8 is not JSON (RFC 8259 §8.1). The decoder drops one leading BOM,
// the same one the scanner skipped.
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function isValidJson(body: Buffer): boolean {
  try {
    JSON.parse(UTF8.decode(body));
    return true;
  } catch {
    return false;
  }
}
