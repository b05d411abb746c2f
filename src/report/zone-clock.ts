// Wall-clock time in an IANA time zone (`--tz`, SPEC §11), through the Intl API: Node
// ships the time zone database with ICU, so this module holds no rules of its own. One
// Intl.DateTimeFormat per zone; callers cache results, because one formatToParts costs
// microseconds (period-keys.ts asks only when a record leaves the current period).

import { utcEpochOf, type DateTimeFields } from './iso-date-time.ts';

export interface WallTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

export interface ZoneClock {
  /** The zone as it was named. */
  readonly zone: string;
  /** True for UTC, where wall time is epoch arithmetic and no Intl call is ever made. */
  readonly isUtc: boolean;
  /** The wall clock at an instant (epoch ms), to the second. */
  wallAt(epochMs: number): WallTime;
  /**
   * The instant a wall-clock time names. One that occurs twice (clocks set back) is its first
   * occurrence; one that never occurs (clocks set forward) is read with the offset before the
   * change, as JavaScript's Date and Temporal's "compatible" rule do — so the start of a day
   * that begins inside a skipped hour is the instant of the change.
   */
  instantOf(wall: WallTime, millisecond: number): number;
}

const DAY_MS = 86_400_000;

/** The clock of an IANA zone name, or null when Intl does not know the zone. */
export function createZoneClock(zone: string): ZoneClock | null {
  let format: Intl.DateTimeFormat;
  try {
    // Gregorian calendar and Latin digits whatever the host's locale: the parts are parsed.
    format = new Intl.DateTimeFormat('en-US-u-ca-gregory-nu-latn', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch {
    return null; // RangeError: Invalid time zone specified
  }
  const canonical = format.resolvedOptions().timeZone;
  if (canonical === 'UTC' || canonical === 'Etc/UTC' || canonical === 'Etc/GMT') return utcClock(zone);
  return intlClock(zone, format);
}

function utcClock(zone: string): ZoneClock {
  return {
    zone,
    isUtc: true,
    wallAt: utcWallAt,
    instantOf: (w, ms) => utcEpochOf(w.year, w.month, w.day, w.hour, w.minute, w.second, ms),
  };
}

function utcWallAt(epochMs: number): WallTime {
  const d = new Date(epochMs);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds() };
}

function intlClock(zone: string, format: Intl.DateTimeFormat): ZoneClock {
  const wallAt = (epochMs: number): WallTime => {
    const wall = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
    for (const part of format.formatToParts(epochMs)) {
      switch (part.type) {
        case 'year':
          wall.year = Number(part.value);
          break;
        case 'month':
          wall.month = Number(part.value);
          break;
        case 'day':
          wall.day = Number(part.value);
          break;
        case 'hour':
          wall.hour = Number(part.value);
          break;
        case 'minute':
          wall.minute = Number(part.value);
          break;
        case 'second':
          wall.second = Number(part.value);
          break;
        case 'era': // only for years before 1 AD, which no ledger holds
          if (part.value.startsWith('B')) wall.year = 1 - wall.year;
          break;
        default:
          break;
      }
    }
    return wall;
  };
  // The zone's offset at an instant: its wall clock read as UTC, minus the instant (to the second,
  // as the wall clock is; historic offsets such as Paris's +0:09:21 have seconds).
  const offsetAt = (epochMs: number): number => {
    const w = wallAt(epochMs);
    return utcEpochOf(w.year, w.month, w.day, w.hour, w.minute, w.second, 0) - Math.floor(epochMs / 1000) * 1000;
  };
  const instantOf = (w: WallTime, ms: number): number => {
    const asUtc = utcEpochOf(w.year, w.month, w.day, w.hour, w.minute, w.second, ms);
    // The offsets a day either side bracket any change near this wall time (zones change at
    // most a few times a year); the candidates are the instants that would show it under each.
    const before = offsetAt(asUtc - DAY_MS);
    const after = offsetAt(asUtc + DAY_MS);
    const early = asUtc - Math.max(before, after);
    const late = asUtc - Math.min(before, after);
    if (offsetAt(early) === asUtc - early) return early;
    if (offsetAt(late) === asUtc - late) return late;
    return asUtc - before; // a skipped wall time: the clocks jumped over it
  };
  return { zone, isUtc: false, wallAt, instantOf };
}

/** The instant of parsed ISO 8601 fields: by their own offset, else as a wall time in the clock's zone. */
export function instantOfFields(fields: DateTimeFields, clock: ZoneClock): number {
  if (fields.offsetMs !== null) {
    return utcEpochOf(fields.year, fields.month, fields.day, fields.hour, fields.minute, fields.second, fields.millisecond) - fields.offsetMs;
  }
  return clock.instantOf(fields, fields.millisecond);
}
