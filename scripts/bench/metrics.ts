// Measures the per-request cost of recording metrics (what the proxy's hot path pays)
// and the cost of one scrape with a realistic number of series.
// Run: node --import tsx scripts/bench/metrics.ts

import { createProxyMetrics } from '../../src/recording/proxy-metrics.ts';

const REQUESTS = 2_000_000;
const METHODS = ['POST', 'POST', 'POST', 'GET'];
const STATUSES = [200, 200, 200, 429, 502];
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'text-embedding-3-small', null];

const metrics = createProxyMetrics();

function record(i: number): void {
  metrics.requestStarted();
  metrics.tokens(MODELS[i % MODELS.length] ?? null, 100 + (i % 50), i % 7);
  metrics.requestFinished({
    method: METHODS[i % METHODS.length] as string,
    status: STATUSES[i % STATUSES.length] as number,
    durationMs: (i % 10_000) * 3.7,
    ttfbMs: i % 5 === 4 ? null : (i % 1000) * 1.3,
  });
}

for (let i = 0; i < 100_000; i++) record(i); // warm up the JIT

let start = process.hrtime.bigint();
for (let i = 0; i < REQUESTS; i++) record(i);
let ns = Number(process.hrtime.bigint() - start);
console.log(`record one request (started + tokens + finished): ${(ns / REQUESTS).toFixed(0)} ns, ${((REQUESTS / ns) * 1e3).toFixed(2)} M requests/s`);

// A scrape with the model cap full: 200 models x 2 types, plus the histograms.
for (let i = 0; i < 200; i++) metrics.tokens(`model-${i}`, 1, 1);
const SCRAPES = 2_000;
let bytes = 0;
start = process.hrtime.bigint();
for (let i = 0; i < SCRAPES; i++) bytes += metrics.render().length;
ns = Number(process.hrtime.bigint() - start);
const series = metrics.render().split('\n').filter((line) => line.startsWith('lm_proxy_tokens_total{')).length;
console.log(`render with ${series} token series: ${(ns / SCRAPES / 1e3).toFixed(0)} µs per scrape, ${(bytes / SCRAPES / 1024).toFixed(1)} KiB`);
