// The report's engine (SPEC §11): ledger lines in, groups out. Each line is read by the byte
// sniffer, or by JSON.parse when the sniffer gives up; a line that is not a ledger record is
// counted as skipped. Then --since/--until, pricing, the group keys, and the group's totals.
// Pure and synchronous: report-command.ts feeds it lines; nothing here holds a line after it
// returns, so memory grows with the number of groups only.

import { GroupTable, type Group, type GroupKey, type GroupTotals } from './group-table.ts';
import { createLedgerRecord, readRecordValue, type LedgerRecord, type ReadPlan } from './ledger-record.ts';
import { createPeriodKeyer } from './period-keys.ts';
import { createRecordSniffer } from './record-sniffer.ts';
import { applyPricing, type Pricing } from './report-pricing.ts';
import type { GroupField } from './report-options.ts';
import type { ZoneClock } from './zone-clock.ts';

export interface ReportEngineOptions {
  readonly by: readonly GroupField[];
  readonly since: number | null;
  readonly until: number | null;
  readonly clock: ZoneClock;
  readonly pricing: Pricing;
}

export interface ReportResult {
  readonly by: readonly GroupField[];
  readonly groups: readonly Group[];
  readonly total: GroupTotals;
  /** Records read, in the time range or not. */
  readonly records: number;
  /** Lines that are not ledger records (blank lines aside). */
  readonly skipped: number;
  /** A last line without its newline that is not a record: a ledger still being written, not counted as skipped. */
  readonly truncated: number;
}

export interface ReportEngine {
  /** A whole line, `bytes[start, end)`, with its `\n` at `end` (see record-sniffer.ts). */
  line(bytes: Buffer, start: number, end: number): void;
  /** The bytes after a source's last newline: a record when it reads as one, else truncated. */
  lastLine(bytes: Buffer, start: number, end: number): void;
  /** A line too long to be a ledger record, dropped unread: skipped. */
  overlong(): void;
  result(): ReportResult;
}

export function createReportEngine(options: ReportEngineOptions): ReportEngine {
  const { by, since, until, clock, pricing } = options;
  const plan = readPlanFor(by, pricing);
  const sniff = createRecordSniffer(plan, clock);
  const record = createLedgerRecord(plan);
  const keyOf = by.map((field) => keyReader(field, plan, clock));
  const keys: GroupKey[] = by.map(() => null);
  const table = new GroupTable(by.map((field) => field.kind === 'period'));
  let records = 0;
  let skipped = 0;
  let truncated = 0;

  /** True when the line held a record (counted or filtered out); false when it is not one. */
  const take = (bytes: Buffer, start: number, end: number): boolean => {
    if (!sniff(bytes, start, end, record) && !readByJsonParse(bytes, start, end, plan, clock, record)) return false;
    records++;
    if ((since !== null && record.timeMs < since) || (until !== null && record.timeMs >= until)) return true;
    applyPricing(pricing, record);
    for (let i = 0; i < keys.length; i++) keys[i] = keyOf[i]!(record);
    table.add(keys, record);
    return true;
  };

  return {
    line(bytes, start, end) {
      if (!take(bytes, start, end) && !isBlank(bytes, start, end)) skipped++;
    },
    lastLine(bytes, start, end) {
      if (!take(bytes, start, end) && !isBlank(bytes, start, end)) truncated++;
    },
    overlong() {
      skipped++;
    },
    result() {
      const groups = table.groups();
      return { by, groups, total: GroupTable.totalOf(groups), records, skipped, truncated };
    },
  };
}

/** The text fields the report needs, so the sniffer makes strings of those only. */
export function readPlanFor(by: readonly GroupField[], pricing: Pricing): ReadPlan {
  const named = (name: string): boolean => by.some((field) => field.name === name);
  return {
    model: named('model') || pricing.mode !== 'ledger',
    path: named('path'),
    key_id: named('key'),
    user: named('user'),
    tagNames: by.flatMap((field) => (field.kind === 'tag' ? [field.tag] : [])),
  };
}

function keyReader(field: GroupField, plan: ReadPlan, clock: ZoneClock): (record: LedgerRecord) => GroupKey {
  switch (field.kind) {
    case 'period': {
      const keyer = createPeriodKeyer(field.period, clock);
      return (record) => keyer.keyOf(record.timeMs);
    }
    case 'tag': {
      const index = plan.tagNames.indexOf(field.tag);
      return (record) => record.tagValues[index] ?? null;
    }
    case 'field':
      switch (field.name) {
        case 'model':
          return (record) => record.model;
        case 'key':
          return (record) => record.key_id;
        case 'path':
          return (record) => record.path;
        case 'status':
          return (record) => record.status;
        case 'user':
          return (record) => record.user;
      }
  }
}

function readByJsonParse(bytes: Buffer, start: number, end: number, plan: ReadPlan, clock: ZoneClock, record: LedgerRecord): boolean {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8', start, end));
  } catch {
    return false;
  }
  return readRecordValue(value, plan, clock, record);
}

function isBlank(bytes: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = bytes[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}
