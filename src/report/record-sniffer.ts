// The report's fast path (SPEC §11: memory grows with the groups, not the ledger): reads a
// ledger line's fields straight from its bytes, making strings only of the fields the report
// needs, instead of JSON.parse building a whole object per line. It reads only the plain
// shapes the ledger writes and gives up — returns false, so the caller falls back to
// JSON.parse and ledger-record.ts — on anything odd: an escape or control character in a
// string, a number or literal it cannot read, nesting deeper than the tags object. It never
// accepts a line JSON.parse would refuse, and agrees with readRecordValue on every line it
// accepts (tests/report/record-sniffer.test.ts holds the two side by side).

import { daysInMonth, utcEpochOf } from './iso-date-time.ts';
import { COUNT_FIELDS, clearLedgerRecord, costValue, countValue, timeValue, type LedgerRecord, type ReadPlan } from './ledger-record.ts';
import { CLOSE_BRACE, COLON, COMMA, DIGIT_0, DIGIT_9, MINUS, OPEN_BRACE, QUOTE, scanLiteral, scanned, scanNumber, scanString, skipValue, skipWs, textOf } from './json-scan.ts';
import { TextCache } from './text-cache.ts';
import type { ZoneClock } from './zone-clock.ts';

/**
 * Reads the line `bytes[start, end)` into `record`; false when JSON.parse must decide. The byte
 * at `end` must be the line's `\n` (line-splitter.ts guarantees it): the scanner peeks one byte
 * past a value without a bounds check, and a newline there can never be taken for JSON syntax.
 * A line without one is always left to JSON.parse.
 */
export type RecordSniffer = (bytes: Buffer, start: number, end: number, record: LedgerRecord) => boolean;
const NEWLINE = 0x0a;
// Field codes; the sniffer compares a key's bytes only with the names of its length.
const F_TIME = 1;
const F_MODEL = 2;
const F_PATH = 3;
const F_KEY_ID = 4;
const F_USER = 5;
const F_STATUS = 6;
const F_TAGS = 7;
const F_COST = 8;
const F_COST_SOURCE = 9;
const F_COMPLETE = 10;
const F_COUNT = 16; // + index in COUNT_FIELDS

const NAMED: readonly [string, number][] = [
  ['time', F_TIME],
  ['model', F_MODEL],
  ['path', F_PATH],
  ['key_id', F_KEY_ID],
  ['user', F_USER],
  ['status', F_STATUS],
  ['tags', F_TAGS],
  ['cost', F_COST],
  ['cost_source', F_COST_SOURCE],
  ['complete', F_COMPLETE],
  ...COUNT_FIELDS.map((name, i): [string, number] => [name, F_COUNT + i]),
];

interface KeyName {
  readonly bytes: Buffer;
  readonly code: number;
}

function byLength(names: readonly (readonly [string, number])[]): KeyName[][] {
  const table: KeyName[][] = [];
  for (const [name, code] of names) {
    const bytes = Buffer.from(name, 'utf8');
    (table[bytes.length] ??= []).push({ bytes, code });
  }
  return table;
}

const FIELD_NAMES = byLength(NAMED);
const UPSTREAM = Buffer.from('upstream');

export function createRecordSniffer(plan: ReadPlan, clock: ZoneClock): RecordSniffer {
  const tagNames = byLength(plan.tagNames.map((name, i) => [name, i] as const));
  const wantText = [false, false, plan.model, plan.path, plan.key_id, plan.user];
  // The keys of the last line read, in order: a ledger writes every line's keys in the same
  // order, so a key is usually one comparison with the key before's successor, instead of a
  // scan for its closing quote and a look-up (measured: a quarter of the sniffer's time).
  const shape: KeyName[] = [];
  const texts = wantText.map(() => new TextCache());
  const tagTexts = plan.tagNames.map(() => new TextCache());

  return (buf, start, end, record) => {
    if (buf[end] !== NEWLINE) return false;
    let pos = skipWs(buf, start, end);
    if (buf[pos] !== OPEN_BRACE) return false;
    pos = skipWs(buf, pos + 1, end);
    if (buf[pos] === CLOSE_BRACE) return false; // {} has no time
    clearLedgerRecord(record);
    let timeMs: number | null = null;
    for (let field = 0; ; field++) {
      if (buf[pos] !== QUOTE) return false;
      const keyStart = pos + 1;
      // The key the previous line had here, if these bytes spell it; else read and look it up.
      const expected = field < shape.length ? shape[field]! : null;
      let code: number;
      if (expected !== null && spells(buf, keyStart, end, expected.bytes)) {
        code = expected.code;
        pos = keyStart + expected.bytes.length + 1;
      } else {
        pos = scanString(buf, pos, end);
        if (pos < 0) return false;
        code = lookUp(FIELD_NAMES, buf, keyStart, pos - 1);
        if (field < MAX_SHAPE) shape[field] = { bytes: Buffer.from(buf.subarray(keyStart, pos - 1)), code };
      }
      pos = skipWs(buf, pos, end);
      if (buf[pos] !== COLON) return false;
      pos = skipWs(buf, pos + 1, end);
      const first = buf[pos];
      if (code >= F_COUNT || code === F_COST || code === F_STATUS) {
        // A number field: NaN stands for a value of another kind (absent for every reader).
        let value = Number.NaN;
        if (first === MINUS || (first! >= DIGIT_0 && first! <= DIGIT_9)) {
          pos = scanNumber(buf, pos, end);
          value = scanned.number;
        } else {
          pos = skipValue(buf, pos, end, 0);
        }
        if (pos < 0) return false;
        if (code >= F_COUNT) setCount(record, code, countValue(value));
        else if (code === F_COST) record.cost = costValue(value);
        else record.status = Number.isInteger(value) ? value : null;
      } else if (code >= F_MODEL && code <= F_USER) {
        let text: string | null = null;
        if (first === QUOTE) {
          const from = pos + 1;
          pos = scanString(buf, pos, end);
          if (pos < 0) return false;
          if (wantText[code] === true) text = texts[code]!.text(buf, from, pos - 1);
        } else {
          pos = skipValue(buf, pos, end, 0);
          if (pos < 0) return false;
        }
        if (code === F_MODEL) record.model = text;
        else if (code === F_PATH) record.path = text;
        else if (code === F_KEY_ID) record.key_id = text;
        else record.user = text;
      } else if (code === F_TIME) {
        if (first === QUOTE) {
          const from = pos + 1;
          pos = scanString(buf, pos, end);
          if (pos < 0) return false;
          timeMs = fastIsoTime(buf, from, pos - 1);
          if (Number.isNaN(timeMs)) timeMs = timeValue(textOf(buf, from, pos - 1), clock);
        } else {
          pos = skipValue(buf, pos, end, 0);
          if (pos < 0) return false;
          timeMs = null;
        }
      } else if (code === F_COMPLETE) {
        const literalEnd = first === 0x74 || first === 0x66 || first === 0x6e ? scanLiteral(buf, pos, end) : -1;
        if (literalEnd >= 0) {
          pos = literalEnd;
          record.complete = scanned.literal !== 0;
        } else {
          pos = skipValue(buf, pos, end, 0);
          if (pos < 0) return false;
          record.complete = true;
        }
      } else if (code === F_COST_SOURCE) {
        const from = pos + 1;
        pos = first === QUOTE ? scanString(buf, pos, end) : skipValue(buf, pos, end, 0);
        if (pos < 0) return false;
        record.costFromUpstream = first === QUOTE && pos - 1 - from === UPSTREAM.length && buf.compare(UPSTREAM, 0, UPSTREAM.length, from, pos - 1) === 0;
      } else if (code === F_TAGS) {
        pos = readTags(buf, pos, end, record, tagNames, tagTexts);
        if (pos < 0) return false;
      } else {
        pos = skipValue(buf, pos, end, 0);
        if (pos < 0) return false;
      }
      pos = skipWs(buf, pos, end);
      if (buf[pos] === COMMA) {
        pos = skipWs(buf, pos + 1, end);
      } else if (buf[pos] === CLOSE_BRACE) {
        pos = skipWs(buf, pos + 1, end);
        break;
      } else {
        return false;
      }
    }
    if (pos !== end || timeMs === null) return false; // trailing bytes, or no usable time: JSON.parse decides
    record.timeMs = timeMs;
    return true;
  };
}

// A switch, not record[COUNT_FIELDS[i]]: a keyed store over eight names goes megamorphic,
// and cost a quarter of the sniffer's time (measured).
function setCount(record: LedgerRecord, code: number, value: number): void {
  switch (code - F_COUNT) {
    case 0:
      record.prompt_tokens = value;
      break;
    case 1:
      record.completion_tokens = value;
      break;
    case 2:
      record.total_tokens = value;
      break;
    case 3:
      record.cached_tokens = value;
      break;
    case 4:
      record.reasoning_tokens = value;
      break;
    case 5:
      record.cache_creation_tokens = value;
      break;
    case 6:
      record.audio_prompt_tokens = value;
      break;
    default:
      record.audio_completion_tokens = value;
  }
}

/** The tags object at `pos`: the values of the tags grouped by; -1 on anything but strings to keep. */
function readTags(buf: Buffer, pos: number, end: number, record: LedgerRecord, tagNames: readonly (KeyName[] | undefined)[], tagTexts: readonly TextCache[]): number {
  record.tagValues.fill(null);
  if (buf[pos] !== OPEN_BRACE) return skipValue(buf, pos, end, 0); // not an object: no tags (ledger-record.ts)
  pos = skipWs(buf, pos + 1, end);
  if (buf[pos] === CLOSE_BRACE) return pos + 1;
  for (;;) {
    if (buf[pos] !== QUOTE) return -1;
    const nameStart = pos + 1;
    pos = scanString(buf, pos, end);
    if (pos < 0) return -1;
    const index = lookUp(tagNames, buf, nameStart, pos - 1);
    pos = skipWs(buf, pos, end);
    if (buf[pos] !== COLON) return -1;
    pos = skipWs(buf, pos + 1, end);
    if (index >= 0 && buf[pos] === QUOTE) {
      const from = pos + 1;
      pos = scanString(buf, pos, end);
      if (pos < 0) return -1;
      record.tagValues[index] = tagTexts[index]!.text(buf, from, pos - 1);
    } else {
      pos = skipValue(buf, pos, end, 1);
      if (pos < 0) return -1;
      if (index >= 0) record.tagValues[index] = null;
    }
    pos = skipWs(buf, pos, end);
    if (buf[pos] === COMMA) pos = skipWs(buf, pos + 1, end);
    else if (buf[pos] === CLOSE_BRACE) return pos + 1;
    else return -1;
  }
}

const MAX_SHAPE = 64; // keys remembered per line; a ledger line has about 25

/** The bytes at `from` are `key` followed by its closing quote. */
function spells(buf: Buffer, from: number, end: number, key: Buffer): boolean {
  const length = key.length;
  if (from + length >= end || buf[from + length] !== QUOTE) return false;
  for (let i = 0; i < length; i++) if (buf[from + i] !== key[i]) return false;
  return true;
}

function lookUp(table: readonly (KeyName[] | undefined)[], buf: Buffer, from: number, to: number): number {
  const names = table[to - from];
  if (names === undefined) return -1;
  for (const name of names) {
    let i = 0;
    while (i < name.bytes.length && name.bytes[i] === buf[from + i]) i++;
    if (i === name.bytes.length) return name.code;
  }
  return -1;
}

/** `YYYY-MM-DDTHH:MM:SS.mmmZ`, the ledger's own spelling (toISOString), without a string; NaN for any other text. */
function fastIsoTime(buf: Buffer, from: number, to: number): number {
  if (to - from !== 24 || buf[from + 4] !== MINUS || buf[from + 7] !== MINUS || buf[from + 10] !== 0x54) return Number.NaN;
  if (buf[from + 13] !== COLON || buf[from + 16] !== COLON || buf[from + 19] !== 0x2e || buf[from + 23] !== 0x5a) return Number.NaN;
  const year = digits(buf, from, 4);
  const month = digits(buf, from + 5, 2);
  const day = digits(buf, from + 8, 2);
  const hour = digits(buf, from + 11, 2);
  const minute = digits(buf, from + 14, 2);
  const second = digits(buf, from + 17, 2);
  const ms = digits(buf, from + 20, 3);
  // NaN (a non-digit) fails every comparison below, so it falls through to the general reader.
  if (!(month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month) && hour <= 23 && minute <= 59 && second <= 59 && ms >= 0)) return Number.NaN;
  return utcEpochOf(year, month, day, hour, minute, second, ms);
}

function digits(buf: Buffer, from: number, count: number): number {
  let value = 0;
  for (let i = from; i < from + count; i++) {
    const d = buf[i]! - DIGIT_0;
    if (d < 0 || d > 9) return Number.NaN;
    value = value * 10 + d;
  }
  return value;
}
