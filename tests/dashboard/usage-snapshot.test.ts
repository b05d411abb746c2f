import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareRows, roundCost, takeSnapshot, type SeriesRow } from '../../src/dashboard/usage-snapshot.ts';
import { BUCKET_COUNT, BUCKET_MS, UsageWindow, WINDOW_MS, type DashboardUsage } from '../../src/dashboard/usage-window.ts';

const T0 = Date.parse('2026-03-01T12:02:00.000Z');

function usage(over: Partial<DashboardUsage> = {}): DashboardUsage {
  return {
    time: new Date(T0).toISOString(),
    model: 'gpt-4o',
    prompt_tokens: 10,
    completion_tokens: 5,
    total_tokens: 15,
    key_id: 'k1',
    cost: 0.1,
    tags: {},
    user: null,
    ...over,
  };
}

describe('usage snapshot', () => {
  it('has the documented shape, with 288 buckets per timeline and JSON-safe values', () => {
    let now = T0;
    const w = new UsageWindow({ now: () => now });
    now += 1000;
    const snap = takeSnapshot(w, { charts: { tokens_by_model: 'chart/tokens-by-model.svg?v=1' } });
    assert.deepEqual(Object.keys(snap).sort(), [
      'bucket_seconds', 'charts', 'data_version', 'generated_at', 'in_flight', 'live_since', 'tag', 'timeline', 'top', 'totals', 'window_start',
    ]);
    assert.equal(snap.generated_at, '2026-03-01T12:02:01.000Z');
    assert.equal(snap.live_since, '2026-03-01T12:02:00.000Z');
    assert.equal(snap.window_start, new Date(Date.parse('2026-03-01T12:00:00.000Z') - WINDOW_MS + BUCKET_MS).toISOString());
    assert.equal(snap.bucket_seconds, 300);
    assert.equal(snap.tag, null);
    assert.equal(snap.top.tags, null);
    assert.deepEqual(Object.keys(snap.timeline).sort(), ['completion_tokens', 'cost', 'errors', 'prompt_tokens', 'requests', 'responses', 'total_tokens']);
    for (const values of Object.values(snap.timeline)) assert.equal(values.length, BUCKET_COUNT);
    assert.deepEqual(snap.totals, {
      requests: 0, errors: 0, client_errors: 0, error_rate: null,
      responses: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, cost: 0, unpriced: 0,
    });
    assert.deepEqual(JSON.parse(JSON.stringify(snap)), snap);
  });

  it('sums the totals, the error rate and the newest bucket of the timeline', () => {
    const w = new UsageWindow({ now: () => T0, tagName: 'team' });
    w.recordUsage(usage({ tags: { team: 'a' } }));
    w.recordUsage(usage({ cost: null, total_tokens: 100 }));
    w.requestStarted();
    w.requestStarted();
    w.requestEnded(200);
    w.requestEnded(503);
    w.requestStarted();
    const snap = takeSnapshot(w);
    assert.equal(snap.in_flight, 1);
    assert.equal(snap.tag, 'team');
    assert.deepEqual(
      [snap.totals.requests, snap.totals.errors, snap.totals.error_rate, snap.totals.responses, snap.totals.total_tokens, snap.totals.cost, snap.totals.unpriced],
      [2, 1, 0.5, 2, 115, 0.1, 1],
    );
    assert.equal(snap.timeline.total_tokens[BUCKET_COUNT - 1], 115);
    assert.equal(snap.timeline.requests[BUCKET_COUNT - 1], 2);
    assert.deepEqual(snap.top.tags!.rows.map((r) => r.name), [null, 'a']); // the untagged 100 tokens lead
  });

  it('ranks top rows by total tokens, lists at most `top`, and reports the fold and the series held', () => {
    const w = new UsageWindow({ now: () => T0, caps: { user: 4 } });
    for (let i = 0; i < 6; i++) w.recordUsage(usage({ user: `u${i}`, total_tokens: 10 * (i + 1) }));
    const top = takeSnapshot(w, { top: 3 }).top.users;
    assert.deepEqual(top.rows.map((r) => [r.name, r.total_tokens]), [['u3', 40], ['u2', 30], ['u1', 20]]);
    assert.equal(top.series, 4);
    assert.equal(top.cap, 4);
    assert.deepEqual(top.other, { name: null, responses: 2, prompt_tokens: 20, completion_tokens: 10, total_tokens: 110, cost: 0.2, unpriced: 0 });
  });

  it('orders ties by cost, then responses, then name with none last', () => {
    const r = (name: string | null, cost = 0, responses = 1): SeriesRow => ({ name, responses, prompt_tokens: 0, completion_tokens: 0, total_tokens: 5, cost, unpriced: 0 });
    const rows = [r(null), r('b'), r('a'), r('z', 1), r('y', 0, 2)].sort(compareRows);
    assert.deepEqual(rows.map((x) => x.name), ['z', 'y', 'a', 'b', null]);
  });

  it('shows costs to 10 places and never a negative left by float drift', () => {
    assert.equal(roundCost(0.1 + 0.2), 0.3);
    assert.equal(roundCost(-1e-18), 0);
    assert.equal(roundCost(1.23456789012345), 1.2345678901);
  });

  it('drops a top row once the buckets holding it have expired', () => {
    let now = T0;
    const w = new UsageWindow({ now: () => now });
    w.recordUsage(usage({ model: 'gone', cost: 0.3 }));
    now += BUCKET_MS;
    w.recordUsage(usage({ model: 'kept', cost: 0.1, time: new Date(now).toISOString() }));
    now = T0 + WINDOW_MS;
    const snap = takeSnapshot(w);
    assert.deepEqual(snap.top.models.rows.map((r) => r.name), ['kept']);
    assert.equal(snap.totals.cost, 0.1);
  });
});
