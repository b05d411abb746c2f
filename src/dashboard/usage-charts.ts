// The dashboard's charts (SPEC §12: "tokens and cost per 5 minutes as charts, split by model and
// by key (or by a tag)"): the input of a stacked bar chart, one bar per 5-minute bucket of the
// window, stacked by the split's largest series; the rest, and whatever the window folded past
// its cap, stack as "other". Pure: the SVG itself is drawn by the report's renderer.

import {
  BUCKET_COUNT,
  BUCKET_MS,
  decodeName,
  F_COST,
  F_TOTAL,
  OTHER_KEY,
  type Split,
  type UsageWindow,
} from './usage-window.ts';
import type { StackedBarChart } from '../report/svg-chart.ts';

export type ChartMetric = 'tokens' | 'cost';
export const CHART_METRICS: readonly ChartMetric[] = ['tokens', 'cost'];

// More stacked colours than this cannot be told apart on a 3-pixel-wide bar.
export const DEFAULT_CHART_SERIES = 8;

const SPLIT_TITLE: Readonly<Record<Split, string>> = { model: 'model', key: 'key', user: 'user', tag: 'tag' };

/** Stable chart names, as in the snapshot's `charts` and the /chart/NAME.svg paths. */
export function chartName(metric: ChartMetric, split: Split): string {
  return `${metric}-by-${split}`;
}

/** "14:05": a bucket's start in UTC (the page says UTC; the server's zone is nobody's business). */
function label(epoch: number): string {
  return new Date(epoch * BUCKET_MS).toISOString().slice(11, 16);
}

function seriesLabel(key: string): string {
  const { name, other } = decodeName(key);
  return other ? 'other' : (name ?? '(none)');
}

export interface ChartOptions {
  /** Series drawn on their own before the rest stack as "other" (default 8). */
  readonly series?: number;
  readonly width?: number;
  readonly height?: number;
}

/** One chart of the window: metric per bucket, stacked by the split's top series. */
export function usageChart(window: UsageWindow, metric: ChartMetric, split: Split, options: ChartOptions = {}): StackedBarChart {
  const field = metric === 'tokens' ? F_TOTAL : F_COST;
  const limit = options.series ?? DEFAULT_CHART_SERIES;
  // The same series, in the same order, for tokens and for cost: the renderer colours series by
  // position, so a model keeps its colour across the pair of charts. Ranked by tokens, then cost.
  const ranked = [...window.seriesTotals(split)]
    .filter(([key, values]) => key !== OTHER_KEY && (values[F_TOTAL]! > 0 || values[F_COST]! > 0))
    .sort(([ka, a], [kb, b]) => b[F_TOTAL]! - a[F_TOTAL]! || b[F_COST]! - a[F_COST]! || (ka < kb ? -1 : ka > kb ? 1 : 0))
    .slice(0, limit)
    .map(([key]) => key);
  const column = new Map<string, number>(ranked.map((key, i) => [key, i]));
  const values = ranked.map(() => [] as number[]);
  const rest: number[] = [];
  const categories: string[] = [];
  let restSeen = false;
  const current = window.currentEpoch();
  window.buckets().forEach((bucket, i) => {
    categories.push(label(current - BUCKET_COUNT + 1 + i));
    for (const stack of values) stack.push(0);
    rest.push(0);
    if (bucket === undefined) return;
    window.forEachCell(bucket, split, (key, data, offset) => {
      const v = data[offset + field]!;
      const at = column.get(key);
      if (at !== undefined) values[at]![i]! += v;
      else if (v > 0) {
        rest[i]! += v;
        restSeen = true;
      }
    });
  });
  const series = ranked.map((key, i) => ({ name: seriesLabel(key), values: values[i]! }));
  if (restSeen) series.push({ name: 'other', values: rest });
  const what = metric === 'tokens' ? 'Tokens' : 'Cost (USD)';
  return {
    title: `${what} per 5 minutes by ${SPLIT_TITLE[split]}, last 24 h (UTC)`,
    categories,
    series,
    unit: metric === 'tokens' ? 'tokens' : 'usd',
    ...(options.width === undefined ? {} : { width: options.width }),
    ...(options.height === undefined ? {} : { height: options.height }),
  };
}
