import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  civilFromDays,
  daysFromCivil,
  isoWeekOneMonday,
  isoWeeksInYear,
  parseIsoBound,
  parseIsoDateTime,
  utcEpochOf,
} from '../../src/report/iso-date-time.ts';
import { prng } from '../helpers/prng.ts';

const DAY = 86_400_000;

describe('calendar arithmetic', () => {
  test('day counts match Date.UTC for every day from 1900 to 2100', () => {
    for (let days = daysFromCivil(1900, 1, 1); days <= daysFromCivil(2100, 12, 31); days++) {
      const date = new Date(days * DAY);
      assert.equal(daysFromCivil(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()), days);
      assert.deepEqual(civilFromDays(days), { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() });
    }
  });

  test('years 0 to 99 are years of the common era, not 1900 to 1999 as Date.UTC reads them', () => {
    assert.equal(utcEpochOf(99, 12, 31, 0, 0, 0, 0), Date.parse('0099-12-31T00:00:00Z'));
    assert.equal(utcEpochOf(1, 1, 1, 0, 0, 0, 0), Date.parse('0001-01-01T00:00:00Z'));
  });

  test('ISO week 1 is the week holding 4 January, and long years have 53 weeks', () => {
    assert.deepEqual(civilFromDays(isoWeekOneMonday(2026)), { year: 2025, month: 12, day: 29 });
    assert.deepEqual(civilFromDays(isoWeekOneMonday(2021)), { year: 2021, month: 1, day: 4 });
    assert.equal(isoWeeksInYear(2020), 53);
    assert.equal(isoWeeksInYear(2025), 52);
    assert.equal(isoWeeksInYear(2026), 53);
  });
});

describe('parseIsoDateTime', () => {
  test('reads the ledger’s own spelling, toISOString’s, to the millisecond', () => {
    const rand = prng(11);
    for (let i = 0; i < 2000; i++) {
      const ms = Math.floor(rand() * 4e12);
      const text = new Date(ms).toISOString();
      const f = parseIsoDateTime(text);
      assert.ok(f !== null, text);
      assert.equal(utcEpochOf(f.year, f.month, f.day, f.hour, f.minute, f.second, f.millisecond) - f.offsetMs!, ms, text);
    }
  });

  test('reads offsets and reduced precision; no offset is null (local time in --tz)', () => {
    assert.deepEqual(parseIsoDateTime('2026-03-01T14:05:09.123+05:30'), { year: 2026, month: 3, day: 1, hour: 14, minute: 5, second: 9, millisecond: 123, offsetMs: 19_800_000 });
    assert.equal(parseIsoDateTime('2026-03-01T14:05-0800')?.offsetMs, -28_800_000);
    assert.equal(parseIsoDateTime('2026-03-01T14-02')?.offsetMs, -7_200_000);
    assert.equal(parseIsoDateTime('2026-03-01 14:05:09z')?.offsetMs, 0);
    assert.deepEqual(parseIsoDateTime('2026-03-01T14'), { year: 2026, month: 3, day: 1, hour: 14, minute: 0, second: 0, millisecond: 0, offsetMs: null });
    assert.equal(parseIsoDateTime('2026-03-01T14:05:09.123456789Z')?.millisecond, 123);
    assert.equal(parseIsoDateTime('2026-03-01T14:05:09.5Z')?.millisecond, 500);
  });

  test('refuses what is not a real date-time', () => {
    for (const text of [
      '',
      '2026-03-01',
      '2026-02-29T00:00:00Z', // 2026 is not a leap year
      '2026-13-01T00:00:00Z',
      '2026-04-31T00:00:00Z',
      '2026-03-01T24:00:00Z',
      '2026-03-01T23:60:00Z',
      '2026-03-01T23:59:60Z', // no leap seconds
      '2026-03-01T12:00:00+24:00',
      '2026-03-01T12:00:00+05:60',
      '2026-3-1T12:00:00Z',
      '2026-03-01T12:00:00.Z',
      ' 2026-03-01T12:00:00Z',
      '2026-03-01T12:00:00Z ',
      'Sun, 01 Mar 2026 12:00:00 GMT', // Date.parse reads it; ISO 8601 does not
      '1772366400000',
    ]) {
      assert.equal(parseIsoDateTime(text), null, text);
    }
    assert.notEqual(parseIsoDateTime('2024-02-29T00:00:00Z'), null);
  });
});

describe('parseIsoBound', () => {
  test('takes a date as its midnight, a month as its first day and an ISO week as its Monday', () => {
    const midnight = { hour: 0, minute: 0, second: 0, millisecond: 0, offsetMs: null };
    assert.deepEqual(parseIsoBound('2026-03-01'), { year: 2026, month: 3, day: 1, ...midnight });
    assert.deepEqual(parseIsoBound('2026-03'), { year: 2026, month: 3, day: 1, ...midnight });
    assert.deepEqual(parseIsoBound('2026-W01'), { year: 2025, month: 12, day: 29, ...midnight });
    assert.deepEqual(parseIsoBound('2026-W09'), { year: 2026, month: 2, day: 23, ...midnight });
    assert.deepEqual(parseIsoBound('2020-W53'), { year: 2020, month: 12, day: 28, ...midnight });
  });

  test('refuses weeks a year does not have, and other spellings', () => {
    for (const text of ['2025-W53', '2026-W00', '2026-W54', '2026-00', '2026-13', '2026', '20260301', 'yesterday', '2026-03-01T']) {
      assert.equal(parseIsoBound(text), null, text);
    }
  });
});
