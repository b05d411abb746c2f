// The dashboard on the admin listener (SPEC §12): GET / (the page), GET /usage.json (the figures)
// and GET /chart/METRIC-by-SPLIT.svg (the charts, drawn here by the report's renderer). It owns
// the usage window: the proxy feeds it records and request outcomes; the admin server offers it
// each request and serves its own routes (/metrics, /healthz…) when handle() returns false.
//
// Charts are separate SVG endpoints rather than strings inside usage.json: the JSON stays small
// for scripts (a chart of 288 bars with tooltips is 100–300 KB), and the page fetches a chart again
// only when data_version moved past the chart it shows, not on every refresh. A chart is drawn at
// most once per CHART_MIN_INTERVAL_MS whoever asks: drawing the largest one blocks the event loop
// for tens of milliseconds, which streams going through the proxy would feel.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { renderStackedBarChart } from '../report/svg-chart.ts';
import { backfillLedger, type BackfillResult } from './ledger-backfill.ts';
// Each chart carries the data_version it was drawn at, so the page knows when to ask again.
import { CHART_VERSION_HEADER, dashboardPage } from './page.ts';
import { CHART_METRICS, chartName, usageChart, type ChartMetric } from './usage-charts.ts';
import { takeSnapshot, type UsageSnapshot } from './usage-snapshot.ts';
import { SPLITS, UsageWindow, WINDOW_MS, type DashboardUsage, type SeriesCaps, type Split } from './usage-window.ts';

export interface DashboardOptions {
  /** Milliseconds since the epoch; Date.now by default. */
  readonly now?: () => number;
  /** A tag name (SPEC §10) to split by besides model, key and user; null or absent: none. */
  readonly tagName?: string | null;
  /** Distinct names per split held in the window before further ones count as other. */
  readonly caps?: Partial<SeriesCaps>;
  /** Rows per top list in usage.json (default 10). */
  readonly top?: number;
  /** Series stacked on their own in a chart before the rest stack as other (default 8). */
  readonly chartSeries?: number;
}

export interface Dashboard {
  /** One response's usage (the ledger's record); bucketed by its `time`. */
  recordUsage(record: DashboardUsage): void;
  /** A request reached the proxy: in flight until requestEnded. */
  requestStarted(): void;
  /** A request finished with this status (0 or any invalid status: ended without an answer). */
  requestEnded(status: number): void;
  /** Answers the dashboard's paths and returns true; false for any other path (untouched). */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Reads the last 24 h of a ledger into the window, in the background; never rejects. */
  backfill(path: string, signal?: AbortSignal): Promise<BackfillResult>;
  snapshot(): UsageSnapshot;
}

const ALLOW = 'GET, HEAD';
const CHART_WIDTH = 800; // px: the page scales it to its column
const CHART_HEIGHT = 320; // px
const CHART_MIN_INTERVAL_MS = 10_000; // 10 seconds: a chart is at most this much behind the JSON


// Headers every answer carries: nothing here is cacheable (live figures), sniffable, or framable.
const COMMON = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
} as const;
// The JSON and the SVGs are data: opened on their own in a tab, they may load and run nothing.
const DATA_CSP = "default-src 'none'; frame-ancestors 'none'";

const CHART_PATH = /^\/chart\/(tokens|cost)-by-(model|key|user|tag)\.svg$/;

function send(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(status, { ...COMMON, 'Content-Type': type, 'Content-Length': String(bytes.length), ...extra });
  // RFC 9110 §9.3.2: HEAD gets GET's headers, Content-Length included, and no body.
  res.end(req.method === 'HEAD' ? undefined : bytes);
}

export function createDashboard(options: DashboardOptions = {}): Dashboard {
  const window = new UsageWindow({
    ...(options.now === undefined ? {} : { now: options.now }),
    tagName: options.tagName ?? null,
    ...(options.caps === undefined ? {} : { caps: options.caps }),
  });
  const now = options.now ?? Date.now;
  const charts = new Map<string, { version: number; at: number; svg: string }>();

  function chartUrls(): Record<string, string> {
    const urls: Record<string, string> = {};
    for (const split of SPLITS) {
      if (!window.hasSplit(split)) continue;
      for (const metric of CHART_METRICS) {
        const name = chartName(metric, split);
        urls[name] = `chart/${name}.svg?v=${window.version}`;
      }
    }
    return urls;
  }

  function snapshot(): UsageSnapshot {
    window.advance(); // first, so the chart URLs carry the version the figures have
    return takeSnapshot(window, { charts: chartUrls(), ...(options.top === undefined ? {} : { top: options.top }) });
  }

  /** The chart's SVG: drawn again when its figures changed, but not within CHART_MIN_INTERVAL_MS. */
  function chart(metric: ChartMetric, split: Split): { version: number; svg: string } {
    window.advance();
    const name = chartName(metric, split);
    const cached = charts.get(name);
    if (cached !== undefined && (cached.version === window.version || now() - cached.at < CHART_MIN_INTERVAL_MS)) return cached;
    const svg = renderStackedBarChart(
      usageChart(window, metric, split, {
        width: CHART_WIDTH,
        height: CHART_HEIGHT,
        ...(options.chartSeries === undefined ? {} : { series: options.chartSeries }),
      }),
    );
    const drawn = { version: window.version, at: now(), svg };
    charts.set(name, drawn);
    return drawn;
  }

  function handle(req: IncomingMessage, res: ServerResponse): boolean {
    // Routing ignores the query (`usage.json?x=1`), as the admin server's own routes do.
    const target = req.url ?? '';
    const query = target.indexOf('?');
    const path = query === -1 ? target : target.slice(0, query);
    const chartMatch = CHART_PATH.exec(path);
    if (path !== '/' && path !== '/usage.json' && chartMatch === null) return false;
    if (chartMatch !== null && !window.hasSplit(chartMatch[2] as Split)) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(req, res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { Allow: ALLOW });
      return true;
    }
    try {
      if (path === '/') {
        const page = dashboardPage();
        send(req, res, 200, 'text/html; charset=utf-8', page.html, { 'Content-Security-Policy': page.csp });
      } else if (path === '/usage.json') {
        send(req, res, 200, 'application/json; charset=utf-8', JSON.stringify(snapshot()) + '\n', { 'Content-Security-Policy': DATA_CSP });
      } else {
        const drawn = chart(chartMatch![1] as ChartMetric, chartMatch![2] as Split);
        send(req, res, 200, 'image/svg+xml; charset=utf-8', drawn.svg, {
          'Content-Security-Policy': DATA_CSP,
          [CHART_VERSION_HEADER]: String(drawn.version),
        });
      }
    } catch {
      // A render that throws is a bug; the page shows a failed fetch and tries again, not a hang.
      send(req, res, 500, 'text/plain; charset=utf-8', 'internal error\n');
    }
    return true;
  }

  return {
    recordUsage: (record) => {
      window.recordUsage(record);
    },
    requestStarted: () => window.requestStarted(),
    requestEnded: (status) => window.requestEnded(status),
    handle,
    backfill: (path, signal) =>
      backfillLedger(path, (usage) => window.recordUsage(usage), {
        since: window.now() - WINDOW_MS,
        // Records from the proxy's own run reach the window live: the ledger's copy is left out.
        before: window.startedAt,
        ...(signal === undefined ? {} : { signal }),
      }),
    snapshot,
  };
}
