import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BUCKET_COUNT,
  BUCKET_MS,
  decodeName,
  F_COST,
  F_RESPONSES,
  F_TOTAL,
  F_UNPRICED,
  isError,
  OTHER_KEY,
  SPLITS,
  UsageWindow,
  WINDOW_MS,
  type DashboardUsage,
} from '../../src/dashboard/usage-window.ts';
import { prng } from '../helpers/prng.ts';

const T0 = Date.parse('2026-03-01T00:00:00.000Z');

function clock(start = T0): { now: () => number; set(t: number): void; add(ms: number): void } {
  let t = start;
  return { now: () => t, set: (v) => (t = v), add: (ms) => (t += ms) };
}

function usage(time: number, over: Partial<DashboardUsage> = {}): DashboardUsage {
  return {
    time: new Date(time).toISOString(),
    model: 'gpt-4o',
    prompt_tokens: 10,
    completion_tokens: 5,
    total_tokens: 15,
    key_id: 'k1',
    cost: 0.001,
    tags: {},
    user: null,
    ...over,
  };
}

function names(window: UsageWindow, split: (typeof SPLITS)[number]): (string | null)[] {
  return [...window.seriesTotals(split).keys()].map((k) => (k === OTHER_KEY ? 'OTHER' : decodeName(k).name)).sort();
}

describe('usage window', () => {
  it('counts a record in the bucket of its time, split by model, key and user', () => {
    const c = clock(T0 + 3 * BUCKET_MS + 10);
    const w = new UsageWindow({ now: c.now });
    assert.equal(w.recordUsage(usage(T0 + BUCKET_MS + 1, { user: 'alice' })), true);
    assert.equal(w.recordUsage(usage(T0 + 3 * BUCKET_MS, { model: 'o3', total_tokens: 100, cost: null })), true);
    const buckets = w.buckets();
    assert.equal(buckets.length, BUCKET_COUNT);
    assert.equal(buckets[BUCKET_COUNT - 1]!.total[F_TOTAL], 100);
    assert.equal(buckets[BUCKET_COUNT - 1]!.total[F_UNPRICED], 1);
    assert.equal(buckets[BUCKET_COUNT - 3]!.total[F_TOTAL], 15);
    assert.equal(buckets[BUCKET_COUNT - 2], undefined);
    assert.deepEqual(names(w, 'model'), ['gpt-4o', 'o3']);
    assert.deepEqual(names(w, 'user'), ['alice', null]);
    assert.equal(w.seriesTotals('key').get('=k1')![F_RESPONSES], 2);
  });

  it('expires a bucket 24 hours after it began, taking its series and totals with it', () => {
    const c = clock();
    const w = new UsageWindow({ now: c.now });
    w.recordUsage(usage(T0, { model: 'old' }));
    c.add(BUCKET_MS);
    w.recordUsage(usage(c.now(), { model: 'new' }));
    c.set(T0 + WINDOW_MS - 1); // the first bucket is still the oldest of the window
    assert.deepEqual(names(w, 'model'), ['new', 'old']);
    c.set(T0 + WINDOW_MS);
    assert.deepEqual(names(w, 'model'), ['new']);
    assert.equal(w.buckets().filter((b) => b !== undefined).length, 1);
    c.add(BUCKET_MS);
    assert.deepEqual(names(w, 'model'), []);
    assert.equal(w.buckets().every((b) => b === undefined), true);
  });

  it('drops a record older than the window and counts one from the future now', () => {
    const c = clock(T0 + WINDOW_MS);
    const w = new UsageWindow({ now: c.now });
    assert.equal(w.recordUsage(usage(T0 - 1)), false);
    assert.equal(w.recordUsage(usage(T0 + WINDOW_MS + 3_600_000)), true);
    assert.equal(w.buckets()[BUCKET_COUNT - 1]!.total[F_RESPONSES], 1);
    assert.equal(w.recordUsage({ ...usage(0), time: 'not a time' }), true);
    assert.equal(w.buckets()[BUCKET_COUNT - 1]!.total[F_RESPONSES], 2);
  });

  it('folds names past the cap into other, keeps admitted names, and frees slots as buckets expire', () => {
    const c = clock();
    const w = new UsageWindow({ now: c.now, caps: { model: 2 } });
    for (const model of ['a', 'b', 'c', 'd']) w.recordUsage(usage(c.now(), { model }));
    assert.deepEqual(names(w, 'model'), ['OTHER', 'a', 'b']);
    assert.equal(w.seriesTotals('model').get(OTHER_KEY)![F_RESPONSES], 2);
    c.add(BUCKET_MS);
    w.recordUsage(usage(c.now(), { model: 'a' })); // admitted already: its own series
    w.recordUsage(usage(c.now(), { model: 'e' })); // no room: other
    assert.equal(w.seriesTotals('model').get('=a')![F_RESPONSES], 2);
    assert.equal(w.seriesTotals('model').get(OTHER_KEY)![F_RESPONSES], 3);
    c.set(T0 + WINDOW_MS); // the first bucket expires: b leaves, a stays (second bucket)
    assert.deepEqual(names(w, 'model'), ['OTHER', 'a']);
    w.recordUsage(usage(c.now(), { model: 'f' }));
    assert.deepEqual(names(w, 'model'), ['OTHER', 'a', 'f']);
  });

  it('counts a name longer than 256 characters as other, whatever the room', () => {
    const w = new UsageWindow({ now: clock().now });
    w.recordUsage(usage(T0, { model: 'm'.repeat(257), user: 'u'.repeat(256) }));
    assert.deepEqual(names(w, 'model'), ['OTHER']);
    assert.deepEqual(names(w, 'user'), ['u'.repeat(256)]);
  });

  it('keeps a real series named "other" or "" apart from the fold and from none', () => {
    const w = new UsageWindow({ now: clock().now, caps: { model: 2 } });
    for (const model of ['other', '', null, 'x']) w.recordUsage(usage(T0, { model }));
    assert.deepEqual(names(w, 'model'), ['', 'OTHER', 'other']);
    w.recordUsage(usage(T0, { model: null }));
    assert.equal(w.seriesTotals('model').get(OTHER_KEY)![F_RESPONSES], 3);
  });

  it('splits by the chosen tag only, with untagged records under none', () => {
    const w = new UsageWindow({ now: clock().now, tagName: 'team' });
    w.recordUsage(usage(T0, { tags: { team: 'search', env: 'prod' } }));
    w.recordUsage(usage(T0, { tags: { env: 'prod' } }));
    assert.deepEqual(names(w, 'tag'), [null, 'search']); // sort() orders null as "null"
    assert.equal(w.hasSplit('tag'), true);
    const untagged = new UsageWindow({ now: clock().now });
    untagged.recordUsage(usage(T0, { tags: { team: 'search' } }));
    assert.deepEqual(names(untagged, 'tag'), []);
    assert.equal(untagged.hasSplit('tag'), false);
  });

  it("reads only the record's own tag: a tag named constructor is not Object.prototype.constructor", () => {
    const w = new UsageWindow({ now: clock().now, tagName: 'constructor' });
    w.recordUsage(usage(T0, { tags: {} }));
    w.recordUsage(usage(T0, { tags: { constructor: 'c1' } }));
    assert.deepEqual(names(w, 'tag'), ['c1', null]);
  });

  it('treats non-numeric or negative token counts and costs as nothing', () => {
    const w = new UsageWindow({ now: clock().now });
    w.recordUsage(usage(T0, { total_tokens: -5, prompt_tokens: Number.NaN, cost: Number.POSITIVE_INFINITY }));
    w.recordUsage(usage(T0, { total_tokens: 0, cost: -2 }));
    const total = w.buckets()[BUCKET_COUNT - 1]!.total;
    assert.equal(total[F_TOTAL], 0);
    assert.equal(total[F_COST], 0);
    assert.equal(total[F_UNPRICED], 2);
  });

  it('counts 5xx and status-less requests as errors, 4xx as client errors, and tracks in-flight', () => {
    assert.deepEqual([0, 99, 200, 302, 404, 429, 499, 500, 502, 504, 600].map(isError), [true, true, false, false, false, false, false, true, true, true, true]);
    const w = new UsageWindow({ now: clock().now });
    w.requestStarted();
    w.requestStarted();
    w.requestStarted();
    assert.equal(w.inFlight, 3);
    w.requestEnded(200);
    w.requestEnded(429);
    w.requestEnded(502);
    w.requestEnded(200); // more ends than starts never goes below zero
    assert.equal(w.inFlight, 0);
    const b = w.buckets()[BUCKET_COUNT - 1]!;
    assert.deepEqual([b.requests, b.errors, b.clientErrors], [4, 1, 1]);
  });

  it('forgets everything after a jump of more than a day, and survives a clock going back', () => {
    const c = clock();
    const w = new UsageWindow({ now: c.now });
    w.recordUsage(usage(T0));
    c.add(10 * WINDOW_MS);
    assert.deepEqual(names(w, 'model'), []);
    w.recordUsage(usage(c.now(), { model: 'x' }));
    c.add(-3 * BUCKET_MS); // the window never moves back: a record now lands in the newest bucket
    w.recordUsage(usage(c.now(), { model: 'y' }));
    assert.equal(w.buckets()[BUCKET_COUNT - 1]!.total[F_RESPONSES], 1);
    assert.equal(w.buckets()[BUCKET_COUNT - 4]!.total[F_RESPONSES], 1);
  });

  it('keeps running series totals equal to the buckets they sum, under random traffic and expiry', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const rand = prng(seed);
      const c = clock();
      const w = new UsageWindow({ now: c.now, tagName: 't', caps: { model: 5, key: 7, user: 3, tag: 4 } });
      const kept: { time: number; tokens: number; cost: number }[] = [];
      for (let i = 0; i < 3000; i++) {
        if (rand() < 0.05) c.add(Math.floor(rand() * 6 * 3_600_000)); // up to 6 h at a time
        const time = c.now() - Math.floor(rand() * rand() * WINDOW_MS * 1.2);
        const tokens = Math.floor(rand() * 1000);
        const cost = rand() < 0.2 ? null : rand() / 100;
        const rec = usage(time, {
          model: `m${Math.floor(rand() * 12)}`,
          key_id: rand() < 0.1 ? null : `k${Math.floor(rand() * 20)}`,
          user: `u${Math.floor(rand() * 9)}`,
          tags: rand() < 0.5 ? { t: `v${Math.floor(rand() * 10)}` } : {},
          total_tokens: tokens,
          cost,
        });
        if (w.recordUsage(rec)) kept.push({ time: Math.min(time, c.now()), tokens, cost: cost ?? 0 });
      }
      const start = (Math.floor(c.now() / BUCKET_MS) - BUCKET_COUNT + 1) * BUCKET_MS;
      const live = kept.filter((k) => k.time >= start);
      const expectTokens = live.reduce((s, k) => s + k.tokens, 0);
      const expectCost = live.reduce((s, k) => s + k.cost, 0);
      for (const split of SPLITS) {
        const running = w.seriesTotals(split);
        const summed = w.seriesFromBuckets(split);
        assert.deepEqual([...running.keys()].sort(), [...summed.keys()].sort(), `seed ${seed} ${split}`);
        let tokens = 0;
        let cost = 0;
        for (const [key, values] of summed) {
          const r = running.get(key)!;
          assert.equal(r[F_TOTAL], values[F_TOTAL], `seed ${seed} ${split} ${key}`);
          assert.ok(Math.abs(r[F_COST]! - values[F_COST]!) < 1e-9);
          tokens += values[F_TOTAL]!;
          cost += values[F_COST]!;
        }
        const caps = { model: 5, key: 7, user: 3, tag: 4 };
        assert.ok([...running.keys()].filter((k) => k !== OTHER_KEY).length <= caps[split]);
        assert.equal(tokens, expectTokens, `seed ${seed} ${split}: every record in exactly one series`);
        assert.ok(Math.abs(cost - expectCost) < 1e-9);
      }
    }
  });
});
