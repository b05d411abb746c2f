/**
 * How long parsePriceTable (src/pricing/price-table.ts) takes on the real LiteLLM price file
 * (tests/fixtures/prices/, 1,701 entries, 0.8 MB) — the cost of a start with PRICES_FILE and of
 * each SIGHUP reload; the target is under 100 ms. A measurement, not a test: it prints the first
 * (cold) run, and the median and best of the warm runs, and asserts nothing. Reading the file is
 * not timed (the caller's I/O), and neither is findPrice (a few Map lookups per record).
 * Run: node --import tsx scripts/bench/price-table.ts [runs=30] [file]
 */
import { readFileSync } from 'node:fs';
import { parsePriceTable } from '../../src/pricing/price-table.ts';

const DEFAULT_FILE = new URL('../../tests/fixtures/prices/litellm-model-prices-2025-09.json', import.meta.url);

function timeOnce(text: string): { ms: number; entries: number; priced: number } {
  const started = process.hrtime.bigint();
  const result = parsePriceTable(text);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (!result.ok) throw new Error(`the file does not parse: ${result.problem}`);
  return { ms, entries: result.entries, priced: result.table.size };
}

function main(): void {
  const runs = Math.max(1, Number(process.argv[2] ?? 30));
  const text = readFileSync(process.argv[3] ?? DEFAULT_FILE, 'utf8');
  const cold = timeOnce(text);
  const warm: number[] = [];
  for (let i = 0; i < runs; i++) warm.push(timeOnce(text).ms);
  warm.sort((a, b) => a - b);
  const median = warm[Math.floor(warm.length / 2)] ?? NaN;
  const best = warm[0] ?? NaN;
  console.log(`parsePriceTable: ${(text.length / 1e6).toFixed(2)} MB, ${cold.entries} entries, ${cold.priced} priced`);
  console.log(`  cold ${cold.ms.toFixed(1)} ms; warm median ${median.toFixed(1)} ms, best ${best.toFixed(1)} ms over ${runs} runs (target < 100 ms)`);
  console.log(`  node ${process.version}`);
}

main();
