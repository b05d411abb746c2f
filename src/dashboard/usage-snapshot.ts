// What GET /usage.json returns (SPEC §12: "the same figures as JSON"): the window's totals,
// per-bucket timeline, request outcomes and the top models, keys, users and tag values, read
// from a UsageWindow. Pure. Tops come from the window's running totals (kept up to date as
// buckets expire), so a snapshot costs O(series), not O(buckets × series).
//
// JSON shape (every time is ISO 8601 UTC, every cost USD, every count a JSON number):
// {
//   "generated_at": "2026-03-01T12:00:03.000Z",
//   "live_since":   "2026-03-01T09:12:00.000Z",   // requests/errors are counted from here on
//   "bucket_seconds": 300,
//   "window_start": "2026-02-28T12:05:00.000Z",   // start of the oldest of the 288 buckets
//   "data_version": 1234,                          // changes when a chart's figures change
//   "tag": "team" | null,                          // the tag name split by, if any
//   "in_flight": 3,
//   "totals": { "requests", "errors", "client_errors", "error_rate": number | null,
//               "responses", "prompt_tokens", "completion_tokens", "total_tokens",
//               "cost", "unpriced" },
//   "timeline": { "requests": [288 numbers, oldest first], "errors": […], "responses": […],
//                 "prompt_tokens": […], "completion_tokens": […], "total_tokens": […],
//                 "cost": […] },
//   "top": { "models": TopList, "keys": TopList, "users": TopList, "tags": TopList | null },
//   "charts": { "tokens_by_model": "chart/tokens-by-model.svg?v=1234", … }  // relative URLs
// }
// TopList = { "rows": [Row, … at most `top`, largest total_tokens first],
//             "other": Row | null,      // what was counted past the cap
//             "series": number,         // distinct names held in the window (other aside)
//             "cap": number }
// Row = { "name": string | null (null: none given), "responses", "prompt_tokens",
//         "completion_tokens", "total_tokens", "cost", "unpriced" }
// "responses" are responses with usage (ledger records); "requests" every request that ended.

import {
  BUCKET_COUNT,
  BUCKET_MS,
  decodeName,
  F_COMPLETION,
  F_COST,
  F_PROMPT,
  F_RESPONSES,
  F_TOTAL,
  F_UNPRICED,
  OTHER_KEY,
  type Split,
  type UsageWindow,
} from './usage-window.ts';

export interface SeriesRow {
  readonly name: string | null;
  readonly responses: number;
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
  readonly cost: number;
  readonly unpriced: number;
}

export interface TopList {
  readonly rows: readonly SeriesRow[];
  readonly other: SeriesRow | null;
  readonly series: number;
  readonly cap: number;
}

export interface UsageTotals extends Omit<SeriesRow, 'name'> {
  readonly requests: number;
  readonly errors: number;
  readonly client_errors: number;
  readonly error_rate: number | null;
}

export interface UsageSnapshot {
  readonly generated_at: string;
  readonly live_since: string;
  readonly bucket_seconds: number;
  readonly window_start: string;
  readonly data_version: number;
  readonly tag: string | null;
  readonly in_flight: number;
  readonly totals: UsageTotals;
  readonly timeline: Readonly<Record<'requests' | 'errors' | 'responses' | 'prompt_tokens' | 'completion_tokens' | 'total_tokens' | 'cost', readonly number[]>>;
  readonly top: { readonly models: TopList; readonly keys: TopList; readonly users: TopList; readonly tags: TopList | null };
  readonly charts: Readonly<Record<string, string>>;
}

export interface SnapshotOptions {
  /** Rows per top list (default 10). */
  readonly top?: number;
  /** Chart name → URL, as the handler serves them. */
  readonly charts?: Readonly<Record<string, string>>;
}

/** A cost as shown: sums of floats drift by 1e-17 as buckets come and go; SPEC §9 prints 10 places. */
export function roundCost(usd: number): number {
  return usd > 0 ? Math.round(usd * 1e10) / 1e10 : 0;
}

function row(name: string | null, values: Readonly<Float64Array>): SeriesRow {
  return {
    name,
    responses: values[F_RESPONSES]!,
    prompt_tokens: values[F_PROMPT]!,
    completion_tokens: values[F_COMPLETION]!,
    total_tokens: values[F_TOTAL]!,
    cost: roundCost(values[F_COST]!),
    unpriced: values[F_UNPRICED]!,
  };
}

/** Largest total_tokens first, then cost, then responses; ties by name (none last). */
export function compareRows(a: SeriesRow, b: SeriesRow): number {
  return (
    b.total_tokens - a.total_tokens ||
    b.cost - a.cost ||
    b.responses - a.responses ||
    (a.name === null ? 1 : 0) - (b.name === null ? 1 : 0) ||
    (a.name! < b.name! ? -1 : a.name! > b.name! ? 1 : 0)
  );
}

export function topList(window: UsageWindow, split: Split, limit: number): TopList {
  const rows: SeriesRow[] = [];
  let other: SeriesRow | null = null;
  for (const [key, values] of window.seriesTotals(split)) {
    // A series whose last cell expired is gone; one left at zero by drift is not worth a row.
    if (values[F_RESPONSES]! <= 0) continue;
    if (key === OTHER_KEY) other = row(null, values);
    else rows.push(row(decodeName(key).name, values));
  }
  rows.sort(compareRows);
  return { rows: rows.slice(0, limit), other, series: rows.length, cap: window.caps[split] };
}

export function takeSnapshot(window: UsageWindow, options: SnapshotOptions = {}): UsageSnapshot {
  const limit = options.top ?? 10;
  const current = window.currentEpoch();
  const timeline = {
    requests: [] as number[],
    errors: [] as number[],
    responses: [] as number[],
    prompt_tokens: [] as number[],
    completion_tokens: [] as number[],
    total_tokens: [] as number[],
    cost: [] as number[],
  };
  const sum = new Float64Array(F_UNPRICED + 1);
  let requests = 0;
  let errors = 0;
  let clientErrors = 0;
  for (const bucket of window.buckets()) {
    const total = bucket?.total;
    timeline.requests.push(bucket?.requests ?? 0);
    timeline.errors.push(bucket?.errors ?? 0);
    timeline.responses.push(total?.[F_RESPONSES] ?? 0);
    timeline.prompt_tokens.push(total?.[F_PROMPT] ?? 0);
    timeline.completion_tokens.push(total?.[F_COMPLETION] ?? 0);
    timeline.total_tokens.push(total?.[F_TOTAL] ?? 0);
    timeline.cost.push(roundCost(total?.[F_COST] ?? 0));
    if (bucket === undefined) continue;
    requests += bucket.requests;
    errors += bucket.errors;
    clientErrors += bucket.clientErrors;
    for (let f = 0; f < sum.length; f++) sum[f]! += bucket.total[f]!;
  }
  const { name: _name, ...usage } = row(null, sum);
  return {
    generated_at: new Date(window.now()).toISOString(),
    live_since: new Date(window.startedAt).toISOString(),
    bucket_seconds: BUCKET_MS / 1000,
    window_start: new Date((current - BUCKET_COUNT + 1) * BUCKET_MS).toISOString(),
    data_version: window.version,
    tag: window.tagName,
    in_flight: window.inFlight,
    totals: {
      requests,
      errors,
      client_errors: clientErrors,
      error_rate: requests === 0 ? null : errors / requests,
      ...usage,
    },
    timeline,
    top: {
      models: topList(window, 'model', limit),
      keys: topList(window, 'key', limit),
      users: topList(window, 'user', limit),
      tags: window.hasSplit('tag') ? topList(window, 'tag', limit) : null,
    },
    charts: options.charts ?? {},
  };
}
