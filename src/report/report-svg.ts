// `--format svg` (SPEC §11): one stacked bar per value of the first `--by` field, stacked by
// the second, of `--metric` (`tokens`: total_tokens; `cost`: the known costs, USD). Fields
// after the second are added up. The drawing is svg-chart.ts's; this file only turns groups
// into its categories and series.

import { compareNames, type GroupKey } from './group-table.ts';
import type { ReportResult } from './report-engine.ts';
import type { ReportMetric } from './report-options.ts';
import { renderStackedBarChart, type StackedBarChart } from './svg-chart.ts';
import { NULL_TEXT } from './text-table.ts';

// svg-chart.ts tells sixty series apart; a legend of more than a screenful helps nobody, so
// past this many the smallest are drawn as one "other" series.
export const MAX_SERIES = 12;
export const OTHER_SERIES = 'other';

export function chartOf(result: ReportResult, metric: ReportMetric): StackedBarChart {
  const [first, second] = result.by;
  const categories: GroupKey[] = [];
  const categoryIndex = new Map<GroupKey, number>();
  const seriesValues = new Map<GroupKey, number[]>();
  for (const group of result.groups) {
    // Groups arrive in the report's order, so categories do too (time oldest first, others largest first).
    const category = group.keys[0] ?? null;
    let index = categoryIndex.get(category);
    if (index === undefined) {
      index = categories.length;
      categories.push(category);
      categoryIndex.set(category, index);
    }
    const name = second === undefined ? metricName(metric) : (group.keys[1] ?? null);
    let values = seriesValues.get(name);
    if (values === undefined) {
      values = [];
      seriesValues.set(name, values);
    }
    const amount = metric === 'cost' ? (group.totals.priced === 0 ? 0 : group.totals.cost) : group.totals.total_tokens;
    values[index] = (values[index] ?? 0) + amount;
  }
  // Largest series at the bottom of each stack and first in the legend; ties by name.
  const ranked = [...seriesValues].map(([name, values]) => ({ name, values, sum: values.reduce((a, b) => a + (b ?? 0), 0) }));
  ranked.sort((a, b) => b.sum - a.sum || compareNames(a.name, b.name));
  const kept = ranked.length > MAX_SERIES ? ranked.slice(0, MAX_SERIES - 1) : ranked;
  const folded = ranked.slice(kept.length);
  const series = kept.map((s) => ({ name: label(s.name), values: dense(s.values, categories.length) }));
  if (folded.length > 0) {
    const other = categories.map((_, i) => folded.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
    series.push({ name: OTHER_SERIES, values: other });
  }
  const what = metric === 'cost' ? 'Cost (USD)' : 'Total tokens';
  const title = second === undefined ? `${what} by ${first?.name ?? ''}` : `${what} by ${first?.name ?? ''} and ${second.name}`;
  return { title, categories: categories.map(label), series, unit: metric === 'cost' ? 'usd' : 'tokens' };
}

export function formatSvg(result: ReportResult, metric: ReportMetric): string {
  return renderStackedBarChart(chartOf(result, metric));
}

function metricName(metric: ReportMetric): string {
  return metric === 'cost' ? 'cost' : 'total_tokens';
}

function label(key: GroupKey): string {
  return key === null ? NULL_TEXT : String(key);
}

function dense(values: readonly (number | undefined)[], length: number): number[] {
  return Array.from({ length }, (_, i) => values[i] ?? 0);
}
