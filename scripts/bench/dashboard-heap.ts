// What the dashboard's in-memory figures cost (SPEC §12: "bounded whatever the traffic"): the heap
// its usage window holds after a day of traffic from 10,000 distinct keys, 10,000 users, 1,000 tag
// values and 500 models, and what a snapshot and a chart cost at that size. Two days are fed:
// "uniform" (records spread over the day and the names) and "worst" (every bucket holds every
// name, so each bucket has a cell for every admitted series). No network, no files; under a minute.
//   node --import tsx scripts/bench/dashboard-heap.ts [--records 1000000]

import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import { takeSnapshot } from '../../src/dashboard/usage-snapshot.ts';
import { CHART_METRICS, usageChart } from '../../src/dashboard/usage-charts.ts';
import { BUCKET_COUNT, BUCKET_MS, SPLITS, UsageWindow, type DashboardUsage } from '../../src/dashboard/usage-window.ts';
import { renderStackedBarChart } from '../../src/report/svg-chart.ts';

const { values: args } = parseArgs({ options: { records: { type: 'string', default: '1000000' } } });
const RECORDS = Number(args.records);
const KEYS = 10_000;
const USERS = 10_000;
const MODELS = 500;
const TAGS = 1_000;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

const NOW = Date.parse('2026-03-02T12:00:00.000Z');
const names = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i.toString(36).padStart(6, '0')}`);
const keys = names('key', KEYS);
const users = names('user@example.org', USERS);
const models = names('vendor/model-name', MODELS);
const tags = names('team', TAGS);
// Names exist before the baseline: the figure is what the window keeps, not the test data.

// One ISO string per bucket (plus a second inside it), made before the baseline: the feed's time
// is then the window's work, not Date formatting.
const times = Array.from({ length: BUCKET_COUNT }, (_, b) => new Date(NOW - b * BUCKET_MS - 1000).toISOString());

function record(i: number, bucket: number, key: number, user: number, tag: number): DashboardUsage {
  return {
    time: times[bucket]!,
    model: models[i % MODELS]!,
    prompt_tokens: 100 + (i % 900),
    completion_tokens: 20 + (i % 300),
    total_tokens: 120 + (i % 900) + (i % 300),
    key_id: keys[key % KEYS]!,
    cost: i % 5 === 0 ? null : 0.000_01 * (i % 97),
    tags: { team: tags[tag % TAGS]! },
    user: users[user % USERS]!,
  };
}

function feed(window: UsageWindow, kind: 'uniform' | 'worst'): { records: number; ms: number } {
  const start = performance.now();
  let count = 0;
  if (kind === 'uniform') {
    // Multiplicative hashes spread the records over the day and the names without a PRNG.
    for (let i = 0; i < RECORDS; i++) {
      const h = (i * 2_654_435_761) >>> 0;
      window.recordUsage(record(i, h % BUCKET_COUNT, (h >>> 9) % KEYS, i * 7919, i * 31));
      count++;
    }
  } else {
    // Every bucket sees every name: the most cells the caps allow.
    const span = Math.max(KEYS, USERS, MODELS, TAGS);
    for (let b = 0; b < BUCKET_COUNT; b++) {
      for (let i = 0; i < span; i++) {
        window.recordUsage(record(i, b, i, i, i));
        count++;
      }
    }
  }
  return { records: count, ms: performance.now() - start };
}

function time<T>(runs: number, f: () => T): { ms: number; value: T } {
  let value = f();
  const start = performance.now();
  for (let i = 0; i < runs; i++) value = f();
  return { ms: (performance.now() - start) / runs, value };
}

const MiB = 1024 * 1024;
const fmt = (n: number): string => n.toLocaleString('en-US');
for (const kind of ['uniform', 'worst'] as const) {
  const before = heapUsed();
  const window = new UsageWindow({ now: () => NOW, tagName: 'team' });
  const fed = feed(window, kind);
  const held = heapUsed() - before;
  const running = time(20, () => takeSnapshot(window));
  const json = JSON.stringify(running.value);
  const recomputed = time(5, () => SPLITS.map((split) => window.seriesFromBuckets(split)));
  const input = time(10, () => usageChart(window, 'tokens', 'key'));
  const svg = time(5, () => renderStackedBarChart({ ...input.value, width: 800, height: 320 }));
  // The handler caches each chart it drew: at most the 8 of this window (4 splits × 2 metrics).
  let cached = 0;
  for (const split of SPLITS) for (const metric of CHART_METRICS) cached += renderStackedBarChart(usageChart(window, metric, split)).length;
  const series = SPLITS.map((split) => `${split} ${[...window.seriesTotals(split).keys()].length - 1}`).join(', ');
  console.log(`${kind}: ${fmt(fed.records)} records over 24 h from ${fmt(KEYS)} keys, ${fmt(USERS)} users, ${fmt(TAGS)} tag values, ${MODELS} models`);
  console.log(`  heap held by the window   ${(held / MiB).toFixed(1)} MiB (series held: ${series}, each + other)`);
  console.log(`  the 8 charts cached       ${(cached / MiB).toFixed(1)} MiB of SVG text at most (one byte per character)`);
  console.log(`  feed                      ${((fed.ms / fed.records) * 1000).toFixed(2)} µs per record`);
  console.log(`  snapshot (usage.json)     ${running.ms.toFixed(2)} ms from running totals; summing the buckets instead: ${recomputed.ms.toFixed(2)} ms; ${(json.length / 1024).toFixed(1)} KiB of JSON`);
  console.log(`  chart tokens-by-key       input ${input.ms.toFixed(2)} ms, SVG ${svg.ms.toFixed(2)} ms, ${(svg.value.length / 1024).toFixed(1)} KiB`);
}
