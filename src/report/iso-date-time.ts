// ISO 8601 dates and date-times as `lm-proxy report` reads them (SPEC §11): a ledger
// record's `time` and the values of `--since`/`--until`. Pure calendar arithmetic on the
// proleptic Gregorian calendar; no Date parsing (Date.parse accepts more than ISO 8601 and
// reads years 0–99 as 1900–1999). Never throws: text that is not such a value gives null.

/** A calendar date and wall-clock time; `offsetMs` null when the text named no offset. */
export interface DateTimeFields {
  readonly year: number;
  readonly month: number; // 1–12
  readonly day: number; // 1–31
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly millisecond: number;
  /** The text's UTC offset (`Z` = 0, `+05:30` = 19_800_000), or null: local time in `--tz`. */
  readonly offsetMs: number | null;
}

export const MS_PER_DAY = 86_400_000;

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** The date of a day count since 1970-01-01 (H. Hinnant's civil_from_days). */
export function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

export function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Epoch milliseconds of a wall-clock time read as UTC. */
export function utcEpochOf(year: number, month: number, day: number, hour: number, minute: number, second: number, millisecond: number): number {
  return daysFromCivil(year, month, day) * MS_PER_DAY + hour * 3_600_000 + minute * 60_000 + second * 1000 + millisecond;
}

// The extended format only (the ledger's own, `new Date().toISOString()`), with a `T` or,
// as RFC 3339 §5.6 allows, a space between date and time; reduced precision down to the hour
// (`2026-03-01T14`, an hour group's key). Up to 9 fraction digits, kept to the millisecond.
// No leap second (`:60`) and no `24:00`: the ledger never writes them.
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const MONTH = /^(\d{4})-(\d{2})$/;
const WEEK = /^(\d{4})-W(\d{2})$/;

/** A date-time (a time of day is required). A record's `time` must be one of these. */
export function parseIsoDateTime(text: string): DateTimeFields | null {
  const m = DATE_TIME.exec(text);
  if (m === null) return null;
  const offsetMs = m[8] === undefined ? null : parseOffset(m[8]);
  if (offsetMs === undefined) return null;
  return checked(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5] ?? 0), Number(m[6] ?? 0), fractionMs(m[7]), offsetMs);
}

/**
 * What `--since`/`--until` accept: a date-time, a date (`2026-03-01`, midnight), and — as the
 * report spells its groups — a month (`2026-03`, its first day) or an ISO week (`2026-W09`, its
 * Monday), so a group's key can be pasted back as a bound.
 */
export function parseIsoBound(text: string): DateTimeFields | null {
  const dateTime = parseIsoDateTime(text);
  if (dateTime !== null) return dateTime;
  let m = DATE.exec(text);
  if (m !== null) return checked(Number(m[1]), Number(m[2]), Number(m[3]), 0, 0, 0, 0, null);
  m = MONTH.exec(text);
  if (m !== null) return checked(Number(m[1]), Number(m[2]), 1, 0, 0, 0, 0, null);
  m = WEEK.exec(text);
  if (m !== null) {
    const year = Number(m[1]);
    const week = Number(m[2]);
    if (week < 1 || week > isoWeeksInYear(year)) return null;
    const monday = civilFromDays(isoWeekOneMonday(year) + (week - 1) * 7);
    return checked(monday.year, monday.month, monday.day, 0, 0, 0, 0, null);
  }
  return null;
}

/** ISO weekday, Monday 1 … Sunday 7, of a day count since 1970-01-01 (a Thursday). */
export function isoWeekday(days: number): number {
  return ((((days + 3) % 7) + 7) % 7) + 1;
}

/** The day count of the Monday of ISO week 1 of `year`: the week holding its 4 January. */
export function isoWeekOneMonday(year: number): number {
  const jan4 = daysFromCivil(year, 1, 4);
  return jan4 - (isoWeekday(jan4) - 1);
}

/** 53 when the year has an ISO week 53 (its week 1 of the next year starts 53 weeks on), else 52. */
export function isoWeeksInYear(year: number): number {
  return (isoWeekOneMonday(year + 1) - isoWeekOneMonday(year)) / 7;
}

function parseOffset(text: string): number | null | undefined {
  if (text === 'Z' || text === 'z') return 0;
  const sign = text[0] === '-' ? -1 : 1;
  const digits = text.slice(1).replace(':', '');
  const hours = Number(digits.slice(0, 2));
  const minutes = digits.length > 2 ? Number(digits.slice(2)) : 0;
  if (hours > 23 || minutes > 59) return undefined;
  return sign * (hours * 3_600_000 + minutes * 60_000);
}

function fractionMs(digits: string | undefined): number {
  return digits === undefined ? 0 : Number(digits.slice(0, 3).padEnd(3, '0'));
}

function checked(year: number, month: number, day: number, hour: number, minute: number, second: number, millisecond: number, offsetMs: number | null): DateTimeFields | null {
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  return { year, month, day, hour, minute, second, millisecond, offsetMs };
}
