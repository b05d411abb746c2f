// Counts the proxy's usage records without holding them: each `[USAGE]` line (SPEC §4, §7) or
// ledger line names its request through prompt_tokens (mix.ts), so a tally keeps, per request id,
// how many records it got and how the last one ended. Judging a tally against the client's
// outcomes finds every missing, repeated, unexpected or wrongly ended record. Pure: no I/O.

import { idOfUsage, MODEL, SPECS, type ExpectedUsage, type Kind } from './mix.ts';
import { OUTCOME } from './client.ts';

const END_CODE = { done: 1, client_abort: 2, other: 3 } as const;
const MAX_SAMPLES = 5;

// SPEC §4: the ledger's fields, at least these.
const LEDGER_FIELDS = [
  'time', 'method', 'path', 'status', 'model', 'stream', 'prompt_tokens', 'completion_tokens', 'total_tokens',
  'cached_tokens', 'reasoning_tokens', 'complete', 'end', 'duration_ms', 'ttfb_ms', 'key_id',
] as const;

export interface UsageTally {
  /** Records seen (lines that parsed). */
  records: number;
  /** Records whose numbers name no request of this run. */
  foreign: number;
  /** Lines that did not parse, or ledger lines missing a field. */
  malformed: number;
  readonly samples: string[];
  /** Per request id: records seen, saturating at 255. */
  readonly count: Uint8Array;
  /** Per request id: END_CODE of the last record. */
  readonly end: Uint8Array;
  /** `complete=… end=…` → records. */
  readonly ends: Map<string, number>;
}

export function createTally(requests: number): UsageTally {
  return { records: 0, foreign: 0, malformed: 0, samples: [], count: new Uint8Array(requests), end: new Uint8Array(requests), ends: new Map() };
}

function malformed(tally: UsageTally, why: string, line: string): void {
  tally.malformed++;
  if (tally.samples.length < MAX_SAMPLES) tally.samples.push(`${why}: ${line.slice(0, 300)}`);
}

function record(tally: UsageTally, prompt: number, completion: number, total: number, complete: boolean, end: string): void {
  tally.records++;
  const ends = `complete=${complete} end=${end}`;
  tally.ends.set(ends, (tally.ends.get(ends) ?? 0) + 1);
  const id = idOfUsage(prompt, completion, total);
  if (id < 0 || id >= tally.count.length) {
    tally.foreign++;
    return;
  }
  tally.count[id] = Math.min(255, (tally.count[id] ?? 0) + 1);
  tally.end[id] = complete && end === 'done' ? END_CODE.done : !complete && end === 'client_abort' ? END_CODE.client_abort : END_CODE.other;
}

const USAGE_LINE = /^\[USAGE\] prompt_tokens=(\d+) completion_tokens=(\d+) total_tokens=(\d+)(?= |$)/;

/** A `[USAGE] prompt_tokens=… completion_tokens=… total_tokens=… … complete=… end=…` line. */
export function tallyUsageLine(tally: UsageTally, line: string): void {
  const counts = USAGE_LINE.exec(line);
  const complete = / complete=(true|false)(?= |$)/.exec(line)?.[1];
  const end = / end=([a-z_]+)(?= |$)/.exec(line)?.[1];
  if (counts === null || complete === undefined || end === undefined) {
    malformed(tally, 'usage line without its counts, complete= or end=', line);
    return;
  }
  record(tally, Number(counts[1]), Number(counts[2]), Number(counts[3]), complete === 'true', end);
}

/** One ledger line: JSON with every SPEC §4 field, the soak's path and model, and a key_id. */
export function tallyLedgerLine(tally: UsageTally, line: string): void {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    malformed(tally, 'not JSON', line);
    return;
  }
  const missing = LEDGER_FIELDS.filter((field) => !(field in entry));
  if (missing.length > 0) {
    malformed(tally, `missing ${missing.join(', ')}`, line);
    return;
  }
  const { prompt_tokens: p, completion_tokens: c, total_tokens: t, complete, end } = entry;
  if (typeof p !== 'number' || typeof c !== 'number' || typeof t !== 'number' || typeof complete !== 'boolean' || typeof end !== 'string') {
    malformed(tally, 'wrong field types', line);
    return;
  }
  if (entry['path'] !== '/v1/chat/completions' || entry['model'] !== MODEL || typeof entry['key_id'] !== 'string' || !/^[0-9a-f]{12}$/.test(entry['key_id'])) {
    malformed(tally, 'unexpected path, model or key_id', line);
    return;
  }
  record(tally, p, c, t, complete, end);
}

export interface TallyVerdict {
  /** Records the client's completed exchanges call for. */
  readonly expected: number;
  readonly records: number;
  /** Completed usage-bearing exchanges without a record. */
  readonly missing: number;
  /** Exchanges with more than one record. */
  readonly repeated: number;
  /** Records for exchanges that carry none (the model list, streams cut before their usage). */
  readonly unexpected: number;
  /** Records whose complete=/end= is not the expected one. */
  readonly wrongEnd: number;
  readonly foreign: number;
  readonly malformed: number;
  /** Ids of the first few records gone wrong, with why. */
  readonly examples: string[];
}

/** Judges a tally: exactly one record per completed usage-bearing exchange, ended as mix.ts says. */
export function judgeTally(tally: UsageTally, outcome: Uint8Array, kindOf: (id: number) => Kind): TallyVerdict {
  let expected = 0;
  let missing = 0;
  let repeated = 0;
  let unexpected = 0;
  let wrongEnd = 0;
  const examples: string[] = [];
  const note = (id: number, why: string): void => {
    if (examples.length < MAX_SAMPLES) examples.push(`#${id} ${kindOf(id)}: ${why}`);
  };
  for (let id = 0; id < outcome.length; id++) {
    const count = tally.count[id] ?? 0;
    // A failed exchange is reported by the client; whether it got a record is not judged.
    if (outcome[id] === OUTCOME.failed) continue;
    const want: ExpectedUsage = outcome[id] === OUTCOME.ok ? SPECS[kindOf(id)].expected : 'none';
    if (want === 'none') {
      if (count > 0) {
        unexpected += count;
        note(id, `${count} record(s), expected none`);
      }
      continue;
    }
    expected++;
    if (count === 0) {
      missing++;
      note(id, 'no record');
    } else if (count > 1) {
      repeated++;
      note(id, `${count} records`);
    }
    if (count > 0 && tally.end[id] !== END_CODE[want]) {
      wrongEnd++;
      note(id, `ended otherwise than end=${want}`);
    }
  }
  return { expected, records: tally.records, missing, repeated, unexpected, wrongEnd, foreign: tally.foreign, malformed: tally.malformed, examples: [...examples, ...tally.samples] };
}

export function tallyIsExact(verdict: TallyVerdict): boolean {
  return (
    verdict.records === verdict.expected &&
    verdict.missing + verdict.repeated + verdict.unexpected + verdict.wrongEnd + verdict.foreign + verdict.malformed === 0
  );
}
