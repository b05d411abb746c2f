import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chartName, usageChart } from '../../src/dashboard/usage-charts.ts';
import { BUCKET_COUNT, BUCKET_MS, UsageWindow, type DashboardUsage } from '../../src/dashboard/usage-window.ts';
import { prng } from '../helpers/prng.ts';

const T0 = Date.parse('2026-03-01T12:02:00.000Z');

function usage(time: number, over: Partial<DashboardUsage> = {}): DashboardUsage {
  return {
    time: new Date(time).toISOString(),
    model: 'gpt-4o',
    prompt_tokens: 0,
    completion_tokens: 0,
    total_tokens: 15,
    key_id: 'k1',
    cost: 0.25,
    tags: {},
    user: null,
    ...over,
  };
}

describe('usage charts', () => {
  it('draws one bar per 5-minute bucket, labelled by its UTC start, newest last', () => {
    const w = new UsageWindow({ now: () => T0 });
    w.recordUsage(usage(T0));
    const chart = usageChart(w, 'tokens', 'model');
    assert.equal(chart.categories.length, BUCKET_COUNT);
    assert.equal(chart.categories.at(-1), '12:00');
    assert.equal(chart.categories.at(-2), '11:55');
    assert.equal(chart.categories[0], '12:05');
    assert.equal(chart.unit, 'tokens');
    assert.match(chart.title, /Tokens per 5 minutes by model/);
    assert.deepEqual(chart.series.map((s) => s.name), ['gpt-4o']);
    assert.equal(chart.series[0]!.values.at(-1), 15);
    assert.equal(usageChart(w, 'cost', 'key').unit, 'usd');
    assert.equal(usageChart(w, 'cost', 'key').series[0]!.values.at(-1), 0.25);
    assert.equal(chartName('cost', 'key'), 'cost-by-key');
  });

  it('stacks the largest series on their own and the rest, with the cap fold, as other', () => {
    const w = new UsageWindow({ now: () => T0, caps: { key: 4 } });
    for (let i = 0; i < 6; i++) w.recordUsage(usage(T0, { key_id: `k${i}`, total_tokens: 100 * (i + 1) }));
    const chart = usageChart(w, 'tokens', 'key', { series: 2 });
    assert.deepEqual(chart.series.map((s) => s.name), ['k3', 'k2', 'other']);
    assert.deepEqual(chart.series.map((s) => s.values.at(-1)), [400, 300, 100 + 200 + 500 + 600]);
  });

  it('names the null series (none), and gives the tokens and cost charts the same series in the same order', () => {
    const w = new UsageWindow({ now: () => T0 });
    w.recordUsage(usage(T0, { key_id: null, cost: null, total_tokens: 50 }));
    w.recordUsage(usage(T0, { key_id: 'priced', cost: 3 }));
    w.recordUsage(usage(T0, { key_id: 'idle', cost: 0, total_tokens: 0 }));
    const tokens = usageChart(w, 'tokens', 'key');
    const cost = usageChart(w, 'cost', 'key');
    // The renderer colours by position: a key keeps its colour across the pair.
    assert.deepEqual(tokens.series.map((s) => s.name), ['(none)', 'priced']);
    assert.deepEqual(cost.series.map((s) => s.name), ['(none)', 'priced']);
    assert.deepEqual(cost.series.map((s) => s.values.at(-1)), [0, 3]);
  });

  it('stacks every bucket to its total, whatever the traffic', () => {
    const rand = prng(7);
    let now = T0;
    const w = new UsageWindow({ now: () => now, caps: { model: 6 } });
    for (let i = 0; i < 2000; i++) {
      if (rand() < 0.02) now += BUCKET_MS * Math.floor(rand() * 20);
      w.recordUsage(usage(now - Math.floor(rand() * 3_600_000), { model: `m${Math.floor(rand() * 15)}`, total_tokens: Math.floor(rand() * 50) }));
    }
    const chart = usageChart(w, 'tokens', 'model', { series: 3 });
    assert.equal(chart.series.length, 4);
    const buckets = w.buckets();
    for (let i = 0; i < BUCKET_COUNT; i++) {
      const stacked = chart.series.reduce((s, x) => s + x.values[i]!, 0);
      assert.equal(stacked, buckets[i]?.total[3] ?? 0, `bucket ${i}`);
    }
  });
});
