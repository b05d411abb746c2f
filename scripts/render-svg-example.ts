// `node --import tsx scripts/render-svg-example.ts [OUT]`: writes docs/report-chart.svg (or OUT), the
// picture of `lm-proxy report --by day,model --format svg` (SPEC §11) for the docs, from a fixed
// sample week of five models: busy weekdays, quiet weekend, embeddings batch jobs that run every day.
// The sample is made up; regenerate the file from a real report's groups once the report exists.

import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderStackedBarChart, type StackedBarChart } from '../src/report/svg-chart.ts';

const DAYS = ['2026-03-02', '2026-03-03', '2026-03-04', '2026-03-05', '2026-03-06', '2026-03-07', '2026-03-08'];

// total_tokens per day; series in the report's order (SPEC §11: within a period, largest first),
// so the biggest model sits at the bottom of each bar.
const SAMPLE: StackedBarChart = {
  title: 'Tokens per day by model, 2026-03-02 to 2026-03-08',
  unit: 'tokens',
  categories: DAYS,
  series: [
    { name: 'gpt-4o-mini', values: [8_213_457, 9_104_882, 8_702_119, 9_633_540, 7_911_006, 2_104_377, 1_832_910] },
    { name: 'gpt-4o', values: [4_108_233, 4_611_902, 4_297_614, 5_024_775, 3_806_128, 911_450, 702_338] },
    { name: 'claude-sonnet-4-5', values: [3_204_771, 3_498_025, 3_911_340, 3_587_206, 3_097_813, 604_219, 497_655] },
    { name: 'text-embedding-3-small', values: [2_402_816, 2_215_530, 2_618_904, 2_893_117, 2_004_682, 1_106_350, 1_012_474] },
    { name: 'o3-mini', values: [903_118, 1_204_566, 998_037, 1_402_291, 811_845, 203_760, 96_512] },
  ],
};

const out = process.argv[2] ?? fileURLToPath(new URL('../docs/report-chart.svg', import.meta.url));
writeFileSync(out, renderStackedBarChart(SAMPLE));
console.log(`wrote ${out}`);
