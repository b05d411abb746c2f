/**
 * Which of a session's messages are worth sniffing (SPEC §13): most of a Realtime session is
 * audio deltas (4–8 KB of base64 each, dozens a second), and none of them carries usage. A
 * message whose `type` is written first (as OpenAI's servers write every event) is judged by
 * that type alone, without reading the rest; any other message by a few native byte searches
 * for the keys that matter. Both only rule messages out: what they let through, the JSON
 * sniffer reads in full. Pure: bytes in, a verdict out.
 */
import { Buffer } from 'node:buffer';

/** SPEC §13: the events that give a record. */
export const RECORD_EVENTS: ReadonlySet<string> = new Set(['response.done', 'response.completed', 'response.incomplete', 'response.failed']);
/** The events that name the session's model (`session.model`). */
export const SESSION_EVENTS: ReadonlySet<string> = new Set(['session.created', 'session.updated']);
/** Every type the usage reader acts on: the two sets, and `response.created` (a response's start, for its duration). */
export const SNIFFED_EVENTS: ReadonlySet<string> = new Set([...RECORD_EVENTS, ...SESSION_EVENTS, 'response.created']);

const TYPE_FIRST = Buffer.from('{"type":"');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
// A type longer than this is not one of ours: no need to look further for its end.
const MAX_TYPE_BYTES = 64;

/**
 * The event's type when the message opens exactly with `{"type":"…"` and the type holds no
 * escape; undefined otherwise (the type is elsewhere, or spelled with escapes), and then the
 * caller falls back to mayMatter(). Only the type at the front is read: JSON with a second
 * `type` key later (which JSON.parse would take) is not an event any server sends.
 */
export function eventTypeOf(message: Buffer): string | undefined {
  if (message.length < TYPE_FIRST.length + 1 || message.compare(TYPE_FIRST, 0, TYPE_FIRST.length, 0, TYPE_FIRST.length) !== 0) return undefined;
  const from = TYPE_FIRST.length;
  const limit = Math.min(message.length, from + MAX_TYPE_BYTES + 1);
  for (let i = from; i < limit; i++) {
    const byte = message[i];
    if (byte === QUOTE) return message.toString('latin1', from, i);
    if (byte === BACKSLASH) return undefined;
  }
  // Longer than any type we act on (or cut off): not ours.
  return limit === message.length ? undefined : '';
}

// The sniffed types by byte length: a type is judged by its length first, so an audio delta
// (`response.output_audio.delta`, 27 bytes) is ruled out without a byte of it compared.
const SNIFFED_BY_LENGTH = new Map<number, Buffer[]>();
for (const type of SNIFFED_EVENTS) {
  const bytes = Buffer.from(type, 'latin1');
  const list = SNIFFED_BY_LENGTH.get(bytes.length) ?? [];
  list.push(bytes);
  SNIFFED_BY_LENGTH.set(bytes.length, list);
}

/**
 * Whether a message beginning with `prefix` (its first bytes, or all of a short one) may be one the
 * usage reader acts on: false only for a type written first, without escapes, that is none of
 * SNIFFED_EVENTS. The same verdict as eventTypeOf() followed by a set lookup, without making a
 * string: this runs on every message of a session, dozens a second.
 */
export function mayBeSniffed(prefix: Buffer): boolean {
  if (prefix.length < TYPE_FIRST.length + 1) return true;
  for (let i = 0; i < TYPE_FIRST.length; i++) if (prefix[i] !== TYPE_FIRST[i]) return true;
  const from = TYPE_FIRST.length;
  const end = prefix.indexOf(QUOTE, from);
  // No end within MAX_TYPE_BYTES: too long to be ours, unless the message itself stops first.
  if (end < 0 || end > from + MAX_TYPE_BYTES) return prefix.length <= from + MAX_TYPE_BYTES + 1;
  // An escape may spell any type in any length: judged whole.
  const escape = prefix.indexOf(BACKSLASH, from);
  if (escape >= 0 && escape < end) return true;
  const candidates = SNIFFED_BY_LENGTH.get(end - from);
  if (candidates === undefined) return false;
  next: for (const candidate of candidates) {
    for (let i = 0; i < candidate.length; i++) if (prefix[from + i] !== candidate[i]) continue next;
    return true;
  }
  return false;
}

// Keys the reader needs, as they appear in JSON text; `\u` catches a key written with escapes
// ("us\u0061ge"), which the searches cannot see. Base64 audio holds no quote or backslash, so
// a delta never matches any of these by chance.
const NEEDLES: readonly Buffer[] = [Buffer.from('"usage"'), Buffer.from('"session"'), Buffer.from('"response.created"'), Buffer.from('\\u')];

/** Whether a message whose type is not at its front may be one the usage reader acts on. */
export function mayMatter(message: Buffer): boolean {
  for (const needle of NEEDLES) if (message.indexOf(needle) >= 0) return true;
  return false;
}
