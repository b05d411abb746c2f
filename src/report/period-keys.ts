// The time group keys of SPEC §11 — `2026-03-01T14` (hour), `2026-03-01` (day), `2026-W09`
// (ISO week, Monday first), `2026-03` (month) — of an instant, in `--tz`.
// Asking Intl for every record's wall clock would cost microseconds per record (7.5 µs
// measured, more than reading the record), and ledgers arrive roughly in time order, so each keyer keeps the
// last two periods it saw as [start, end) in epoch ms and asks its clock only for an instant
// outside both. Two, not one: records are stamped when their response ends, so near a
// boundary the lines of the two periods interleave.

import { civilFromDays, daysFromCivil, isoWeekday } from './iso-date-time.ts';
import { utcOfWall, type WallTime, type ZoneClock } from './zone-clock.ts';

export type PeriodKind = 'hour' | 'day' | 'week' | 'month';

export interface PeriodKeyer {
  keyOf(epochMs: number): string;
}

interface Period {
  readonly key: string;
  /** The wall time the period starts at, and the one the next period starts at. */
  readonly start: WallTime;
  readonly next: WallTime;
}

/** The period of `kind` holding a wall-clock time: its key and where it and the next one start. */
export function periodOf(kind: PeriodKind, wall: WallTime): Period {
  const { year, month, day } = wall;
  switch (kind) {
    case 'hour': {
      const next = wall.hour < 23 ? { year, month, day, hour: wall.hour + 1 } : { ...civilFromDays(daysFromCivil(year, month, day) + 1), hour: 0 };
      return { key: `${dateKey(year, month, day)}T${pad2(wall.hour)}`, start: at(year, month, day, wall.hour), next: at(next.year, next.month, next.day, next.hour) };
    }
    case 'day': {
      const next = civilFromDays(daysFromCivil(year, month, day) + 1);
      return { key: dateKey(year, month, day), start: at(year, month, day, 0), next: at(next.year, next.month, next.day, 0) };
    }
    case 'week': {
      const days = daysFromCivil(year, month, day);
      const monday = days - (isoWeekday(days) - 1);
      // ISO 8601: a week belongs to the year of its Thursday, and week 1 holds 4 January.
      const thursday = civilFromDays(monday + 3);
      const week = Math.floor((monday + 3 - daysFromCivil(thursday.year, 1, 1)) / 7) + 1;
      const start = civilFromDays(monday);
      const next = civilFromDays(monday + 7);
      return { key: `${pad4(thursday.year)}-W${pad2(week)}`, start: at(start.year, start.month, start.day, 0), next: at(next.year, next.month, next.day, 0) };
    }
    case 'month': {
      const next = month < 12 ? { year, month: month + 1 } : { year: year + 1, month: 1 };
      return { key: `${pad4(year)}-${pad2(month)}`, start: at(year, month, 1, 0), next: at(next.year, next.month, 1, 0) };
    }
  }
}

export function createPeriodKeyer(kind: PeriodKind, clock: ZoneClock): PeriodKeyer {
  // Slot 0 is the period seen last; slot 1 the one before. NaN bounds match nothing.
  let key0 = '';
  let start0 = Number.NaN;
  let end0 = Number.NaN;
  let key1 = '';
  let start1 = Number.NaN;
  let end1 = Number.NaN;

  const miss = (epochMs: number): string => {
    const wall = clock.wallAt(epochMs);
    const period = periodOf(kind, wall);
    // Most periods have one offset throughout: the bounds are then the period's wall times at
    // the instant's own offset, and two offset reads at the ends confirm it. A period with a
    // change of offset in it (a DST day, or its week and month) is worked out wall time by wall
    // time, and checked: the key always comes from the instant's own wall clock, and bounds that
    // could be wrong (a zone's odd change: a day skipped, a change across midnight) are not kept.
    const offset = utcOfWall(wall) - Math.floor(epochMs / 1000) * 1000;
    let start = utcOfWall(period.start) - offset;
    let end = utcOfWall(period.next) - offset;
    let trusted = clock.isUtc || (clock.offsetAt(start) === offset && clock.offsetAt(end - 1) === offset);
    if (!trusted) {
      start = clock.instantOf(period.start, 0);
      end = clock.instantOf(period.next, 0);
      trusted = start <= epochMs && epochMs < end && periodOf(kind, clock.wallAt(start)).key === period.key && periodOf(kind, clock.wallAt(end - 1)).key === period.key;
    }
    key1 = key0;
    start1 = start0;
    end1 = end0;
    key0 = period.key;
    start0 = trusted ? start : Number.NaN;
    end0 = trusted ? end : Number.NaN;
    return period.key;
  };

  return {
    keyOf(epochMs: number): string {
      if (epochMs >= start0 && epochMs < end0) return key0;
      if (epochMs >= start1 && epochMs < end1) {
        const key = key1;
        key1 = key0;
        key0 = key;
        const start = start1;
        start1 = start0;
        start0 = start;
        const end = end1;
        end1 = end0;
        end0 = end;
        return key;
      }
      return miss(epochMs);
    },
  };
}

function at(year: number, month: number, day: number, hour: number): WallTime {
  return { year, month, day, hour, minute: 0, second: 0 };
}

function dateKey(year: number, month: number, day: number): string {
  return `${pad4(year)}-${pad2(month)}-${pad2(day)}`;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function pad4(n: number): string {
  return String(n).padStart(4, '0');
}
