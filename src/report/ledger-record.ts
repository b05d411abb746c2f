// One ledger line as the report reads it (SPEC §4, §9, §10): the fields a report groups,
// counts and prices by, normalised the same way whichever reader filled them — JSON.parse
// here, or the byte sniffer of record-sniffer.ts, which must agree with this file exactly.
// Older ledgers lack the newer fields (cost, tags, user, audio counts): absent is null, 0
// or no tag, never guessed. A line is a record when it is a JSON object with an ISO 8601
// date-time `time`; every other field of a wrong type reads as absent.

import { parseIsoDateTime } from './iso-date-time.ts';
import { instantOfFields, type ZoneClock } from './zone-clock.ts';

/**
 * Reused from line to line (one allocation per report, not per record). The count names are
 * the ledger's, so a record is also the `counts` argument of src/pricing's costOf.
 */
export interface LedgerRecord {
  /** `time` in epoch milliseconds. */
  timeMs: number;
  model: string | null;
  path: string | null;
  key_id: string | null;
  user: string | null;
  status: number | null;
  /** The value of each tag the report groups by (ReadPlan.tagNames order); null when absent. */
  readonly tagValues: (string | null)[];
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cached_tokens: number;
  reasoning_tokens: number;
  cache_creation_tokens: number;
  audio_prompt_tokens: number;
  audio_completion_tokens: number;
  cost: number | null;
  /** `cost_source` is `"upstream"`: the cost `--reprice` keeps (SPEC §11). */
  costFromUpstream: boolean;
  /** False only for `complete: false`. */
  complete: boolean;
}

/**
 * Which text fields a report needs. A field it does not group or price by is left null:
 * making a string of it for every line would cost time and garbage for nothing.
 */
export interface ReadPlan {
  readonly model: boolean;
  readonly path: boolean;
  readonly key_id: boolean;
  readonly user: boolean;
  /** Lower-case tag names, for `--by tag:NAME`. */
  readonly tagNames: readonly string[];
}

/** The count fields, in one list for both readers. */
export const COUNT_FIELDS = [
  'prompt_tokens',
  'completion_tokens',
  'total_tokens',
  'cached_tokens',
  'reasoning_tokens',
  'cache_creation_tokens',
  'audio_prompt_tokens',
  'audio_completion_tokens',
] as const;

export type CountField = (typeof COUNT_FIELDS)[number];

export function createLedgerRecord(plan: ReadPlan): LedgerRecord {
  const record: LedgerRecord = {
    timeMs: 0,
    model: null,
    path: null,
    key_id: null,
    user: null,
    status: null,
    tagValues: plan.tagNames.map(() => null),
    prompt_tokens: 0,
    completion_tokens: 0,
    total_tokens: 0,
    cached_tokens: 0,
    reasoning_tokens: 0,
    cache_creation_tokens: 0,
    audio_prompt_tokens: 0,
    audio_completion_tokens: 0,
    cost: null,
    costFromUpstream: false,
    complete: true,
  };
  return record;
}

/** Back to "every field absent" before a line is read into it. */
export function clearLedgerRecord(record: LedgerRecord): void {
  record.timeMs = 0;
  record.model = null;
  record.path = null;
  record.key_id = null;
  record.user = null;
  record.status = null;
  record.tagValues.fill(null);
  // Spelt out, not a loop over COUNT_FIELDS: this runs once per line, and keyed stores cost more.
  record.prompt_tokens = 0;
  record.completion_tokens = 0;
  record.total_tokens = 0;
  record.cached_tokens = 0;
  record.reasoning_tokens = 0;
  record.cache_creation_tokens = 0;
  record.audio_prompt_tokens = 0;
  record.audio_completion_tokens = 0;
  record.cost = null;
  record.costFromUpstream = false;
  record.complete = true;
}

/** SPEC §8: a token count is a non-negative integer no larger than 2^53−1; anything else is absent (0). */
export function countValue(value: unknown): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : 0;
}

/** A cost is any finite JSON number (`1e400` parses as Infinity: not a cost). */
export function costValue(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

export function statusValue(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) ? value : null;
}

/** A record's `time`: an ISO 8601 date-time, read in the report's zone when it names no offset. */
export function timeValue(text: string, clock: ZoneClock): number | null {
  const fields = parseIsoDateTime(text);
  return fields === null ? null : instantOfFields(fields, clock);
}

/**
 * Reads a JSON.parse result into `record`; false when it is not a ledger record.
 * The reference reader: the sniffer's differential test compares against it.
 */
export function readRecordValue(value: unknown, plan: ReadPlan, clock: ZoneClock, record: LedgerRecord): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const line = value as Record<string, unknown>;
  if (typeof line.time !== 'string') return false;
  const timeMs = timeValue(line.time, clock);
  if (timeMs === null) return false;
  clearLedgerRecord(record);
  record.timeMs = timeMs;
  if (plan.model) record.model = textValue(line.model);
  if (plan.path) record.path = textValue(line.path);
  if (plan.key_id) record.key_id = textValue(line.key_id);
  if (plan.user) record.user = textValue(line.user);
  record.status = statusValue(line.status);
  for (const field of COUNT_FIELDS) record[field] = countValue(line[field]);
  record.cost = costValue(line.cost);
  record.costFromUpstream = line.cost_source === 'upstream';
  record.complete = line.complete !== false;
  const tags = line.tags;
  if (typeof tags === 'object' && tags !== null && !Array.isArray(tags) && plan.tagNames.length > 0) {
    const byName = tags as Record<string, unknown>;
    plan.tagNames.forEach((name, i) => {
      // hasOwn: a tag named `__proto__` or `constructor` must not read Object.prototype.
      record.tagValues[i] = Object.hasOwn(byName, name) ? textValue(byName[name]) : null;
    });
  }
  return true;
}

function textValue(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}
