import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createPeriodKeyer, periodOf, type PeriodKind } from '../../src/report/period-keys.ts';
import { createZoneClock, type ZoneClock } from '../../src/report/zone-clock.ts';
import { prng } from '../helpers/prng.ts';

const KINDS: readonly PeriodKind[] = ['hour', 'day', 'week', 'month'];

function clock(zone: string): ZoneClock {
  const c = createZoneClock(zone);
  assert.ok(c !== null, zone);
  return c;
}

/** Keys of the instants in order through one keyer (its cache in play), and each through a fresh one. */
function keys(kind: PeriodKind, zone: string, isoTimes: readonly string[]): string[] {
  const keyer = createPeriodKeyer(kind, clock(zone));
  const cached = isoTimes.map((t) => keyer.keyOf(Date.parse(t)));
  const fresh = isoTimes.map((t) => createPeriodKeyer(kind, clock(zone)).keyOf(Date.parse(t)));
  assert.deepEqual(cached, fresh);
  return cached;
}

describe('zone clocks', () => {
  test('an unknown zone has no clock', () => {
    assert.equal(createZoneClock('Mars/Olympus_Mons'), null);
    assert.equal(createZoneClock(''), null);
  });

  test('the wall clock agrees with toLocaleString in the zone (a second, independent Intl path)', () => {
    const rand = prng(5);
    for (const zone of ['America/New_York', 'Asia/Kathmandu', 'Australia/Lord_Howe', 'Europe/Paris', 'UTC']) {
      const c = clock(zone);
      for (let i = 0; i < 300; i++) {
        const t = Date.UTC(2011, 0, 1) + Math.floor(rand() * 16 * 365 * 86_400_000);
        const w = c.wallAt(t);
        const text = `${w.year}-${String(w.month).padStart(2, '0')}-${String(w.day).padStart(2, '0')} ${String(w.hour).padStart(2, '0')}:${String(w.minute).padStart(2, '0')}:${String(w.second).padStart(2, '0')}`;
        assert.equal(text, new Date(t).toLocaleString('sv-SE', { timeZone: zone }), `${zone} ${new Date(t).toISOString()}`);
      }
    }
  });

  test('a wall time skipped by a DST change reads as after it, one that occurs twice as its first occurrence', () => {
    const ny = clock('America/New_York');
    const at = (month: number, day: number, hour: number, minute: number): string =>
      new Date(ny.instantOf({ year: 2026, month, day, hour, minute, second: 0 }, 0)).toISOString();
    assert.equal(at(3, 8, 2, 30), '2026-03-08T07:30:00.000Z'); // 02:30 does not exist: 03:30 EDT
    assert.equal(at(3, 8, 0, 0), '2026-03-08T05:00:00.000Z');
    assert.equal(at(11, 1, 1, 30), '2026-11-01T05:30:00.000Z'); // 01:30 EDT, not 01:30 EST
    assert.equal(at(11, 1, 2, 0), '2026-11-01T07:00:00.000Z');
  });
});

describe('period keys', () => {
  test('are spelt 2026-03-01T14, 2026-03-01, 2026-W09 and 2026-03', () => {
    const t = ['2026-03-01T14:05:09.123Z'];
    assert.deepEqual(keys('hour', 'UTC', t), ['2026-03-01T14']);
    assert.deepEqual(keys('day', 'UTC', t), ['2026-03-01']);
    assert.deepEqual(keys('week', 'UTC', t), ['2026-W09']);
    assert.deepEqual(keys('month', 'UTC', t), ['2026-03']);
  });

  test('follow the wall clock of --tz, not UTC', () => {
    const t = ['2026-03-01T04:59:59.999Z', '2026-03-01T05:00:00.000Z'];
    assert.deepEqual(keys('day', 'America/New_York', t), ['2026-02-28', '2026-03-01']);
    assert.deepEqual(keys('month', 'America/New_York', t), ['2026-02', '2026-03']);
    assert.deepEqual(keys('hour', 'America/New_York', t), ['2026-02-28T23', '2026-03-01T00']);
    assert.deepEqual(keys('day', 'Asia/Kolkata', ['2026-02-28T18:29:59.999Z', '2026-02-28T18:30:00.000Z']), ['2026-02-28', '2026-03-01']);
  });

  test('the day clocks spring forward is 23 hours long in America/New_York, and has no 02 hour', () => {
    const t = ['2026-03-08T04:59:59.999Z', '2026-03-08T05:00:00.000Z', '2026-03-09T03:59:59.999Z', '2026-03-09T04:00:00.000Z'];
    assert.deepEqual(keys('day', 'America/New_York', t), ['2026-03-07', '2026-03-08', '2026-03-08', '2026-03-09']);
    const hours = ['2026-03-08T06:00:00.000Z', '2026-03-08T06:59:59.999Z', '2026-03-08T07:00:00.000Z', '2026-03-08T08:00:00.000Z'];
    assert.deepEqual(keys('hour', 'America/New_York', hours), ['2026-03-08T01', '2026-03-08T01', '2026-03-08T03', '2026-03-08T04']);
  });

  test('the day clocks fall back is 25 hours long, and its repeated 01 hour is one group', () => {
    const t = ['2026-11-01T03:59:59.999Z', '2026-11-01T04:00:00.000Z', '2026-11-02T04:59:59.999Z', '2026-11-02T05:00:00.000Z'];
    assert.deepEqual(keys('day', 'America/New_York', t), ['2026-10-31', '2026-11-01', '2026-11-01', '2026-11-02']);
    const hours = ['2026-11-01T04:59:59.999Z', '2026-11-01T05:00:00.000Z', '2026-11-01T06:30:00.000Z', '2026-11-01T06:59:59.999Z', '2026-11-01T07:00:00.000Z'];
    assert.deepEqual(keys('hour', 'America/New_York', hours), ['2026-11-01T00', '2026-11-01T01', '2026-11-01T01', '2026-11-01T01', '2026-11-01T02']);
  });

  test('ISO weeks cross year boundaries: 29 December 2025 is in 2026-W01, 3 January 2021 in 2020-W53', () => {
    const t = ['2025-12-28T23:59:59.999Z', '2025-12-29T00:00:00.000Z', '2026-01-04T23:59:59.999Z', '2026-01-05T00:00:00.000Z'];
    assert.deepEqual(keys('week', 'UTC', t), ['2025-W52', '2026-W01', '2026-W01', '2026-W02']);
    assert.deepEqual(keys('week', 'UTC', ['2020-12-31T12:00:00Z', '2021-01-03T23:59:59Z', '2021-01-04T00:00:00Z']), ['2020-W53', '2020-W53', '2021-W01']);
    assert.deepEqual(keys('week', 'UTC', ['2026-12-31T12:00:00Z', '2027-01-03T12:00:00Z', '2027-01-04T12:00:00Z']), ['2026-W53', '2026-W53', '2027-W01']);
  });

  test('an ISO week starts on Monday midnight in --tz', () => {
    // Monday 29 December 2025, 04:30 UTC is still Sunday evening in New York.
    assert.deepEqual(keys('week', 'UTC', ['2025-12-29T04:30:00Z']), ['2026-W01']);
    assert.deepEqual(keys('week', 'America/New_York', ['2025-12-29T04:30:00Z', '2025-12-29T05:00:00Z']), ['2025-W52', '2026-W01']);
  });

  test('cached keys equal fresh ones, in time order and shuffled, in zones with odd changes', () => {
    const zones = ['America/New_York', 'Europe/London', 'Australia/Lord_Howe', 'Pacific/Chatham', 'Asia/Kathmandu', 'Pacific/Apia', 'America/Sao_Paulo', 'America/Havana', 'UTC'];
    const rand = prng(2026);
    for (const zone of zones) {
      const c = clock(zone);
      for (const kind of KINDS) {
        // Around Apia's skipped 30 December 2011, Sao Paulo's changes at midnight (2018) and recent years.
        const times: number[] = [];
        for (const from of [Date.UTC(2011, 11, 20), Date.UTC(2018, 9, 25), Date.UTC(2019, 1, 10), Date.UTC(2026, 2, 1), Date.UTC(2026, 9, 20)]) {
          let t = from;
          for (let i = 0; i < 200; i++) times.push((t += Math.floor(rand() * 3 * 3_600_000) - 600_000));
        }
        const shuffled = times.map((t) => ({ t, r: rand() })).sort((a, b) => a.r - b.r).map((x) => x.t);
        for (const order of [times, shuffled]) {
          const keyer = createPeriodKeyer(kind, c);
          for (const t of order) assert.equal(keyer.keyOf(t), periodOf(kind, c.wallAt(t)).key, `${zone} ${kind} ${new Date(t).toISOString()}`);
        }
      }
    }
  });

  test('records in time order ask the zone’s clock about once per period, not once per record', () => {
    const real = clock('America/New_York');
    let calls = 0;
    const counting: ZoneClock = { ...real, wallAt: (t) => (calls++, real.wallAt(t)), offsetAt: (t) => (calls++, real.offsetAt(t)), instantOf: (w, ms) => real.instantOf(w, ms) };
    const keyer = createPeriodKeyer('day', counting);
    const start = Date.parse('2026-03-06T00:00:00Z');
    for (let i = 0; i < 10_000; i++) keyer.keyOf(start + i * 60_000); // a week of minutes, across the DST change
    assert.ok(calls <= 8 * 8, `${calls} Intl reads for 10,000 records over 7 days`);
  });

  test('records interleaved across a period boundary keep hitting the cache (two periods kept)', () => {
    const real = clock('Europe/Paris');
    let calls = 0;
    const counting: ZoneClock = { ...real, wallAt: (t) => (calls++, real.wallAt(t)), offsetAt: (t) => (calls++, real.offsetAt(t)) };
    const keyer = createPeriodKeyer('hour', counting);
    const boundary = Date.parse('2026-05-01T10:00:00Z');
    for (let i = 0; i < 1000; i++) keyer.keyOf(boundary + (i % 2 === 0 ? -1 : 1) * (i + 1) * 100);
    assert.ok(calls <= 6, `${calls} wall clock reads`);
  });
});
