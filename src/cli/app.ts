// The composition root: builds the proxy from a Config — forwarder, proxy
// listener, usage tracking, metrics and the admin listener — and starts and
// stops it as one. It knows nothing of argv, exit codes or signals (main.ts).

import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdminServer } from '../recording/admin-server.ts';
import { formatListenAddress, type Config, type ListenAddress } from '../config/config.ts';
import type { ShutdownState } from '../proxy/forward-context.ts';
import { createForwarder } from '../proxy/forwarder.ts';
import type { ExchangeStart, ExchangeSummary, ExchangeTap, SessionTap } from '../shared/exchange-tap.ts';
import type { Logger } from '../recording/logger.ts';
import { createProxyMetrics } from '../recording/proxy-metrics.ts';
import { createProxyServer } from '../proxy/server.ts';
import type { Ledger } from '../recording/ledger.ts';
import { createUsageLog } from '../recording/usage-log.ts';
import { createUsageTracker } from '../usage/usage-tracker.ts';
import { createDashboard } from '../dashboard/dashboard-handler.ts';
import { createSessionUsage } from '../websocket/session-usage.ts';
import type { PriceBook } from './price-book.ts';

export interface App {
  /** Where the proxy listens, as `host:port` with the real port. */
  readonly address: string;
  readonly metricsAddress: string | null;
  /** Graceful shutdown (SPEC §8): resolves with the number of exchanges cut at the deadline. */
  stop(): Promise<{ readonly cut: number }>;
}

export interface AppParts {
  /** The opened usage ledger, when USAGE_LOG is set (opened by the caller so a bad path stops the start). */
  readonly ledger?: Ledger | null;
  /** The price table, when PRICES_FILE is set (read by the caller so a bad file stops the start). */
  readonly prices?: PriceBook | null;
}

export class ListenError extends Error {
  readonly address: string;
  readonly code: string | undefined;
  constructor(address: string, code: string | undefined, message: string) {
    super(message);
    this.address = address;
    this.code = code;
  }
}

export async function startApp(config: Config, logger: Logger, parts: AppParts = {}): Promise<App> {
  const shutdown: ShutdownState = { draining: false, cutting: false };
  const metrics = createProxyMetrics();
  const ledger = parts.ledger ?? null;
  // SPEC §12: the dashboard lives on the admin listener; made before the proxy accepts
  // anything, so the ledger's read-back and the live records never count one twice.
  const dashboard = config.metrics === null ? null : createDashboard();
  const usageLog = createUsageLog(logger, ledger, metrics, config.logFormat);
  const onRecord =
    dashboard === null
      ? usageLog
      : (record: Parameters<typeof usageLog>[0]): void => {
          usageLog(record);
          dashboard.recordUsage(record);
        };
  const tracker = config.trackUsage
    ? createUsageTracker({
        onRecord,
        price: parts.prices?.price,
        tags: config.tags,
        onUndecodable: (coding) =>
          logger.warn(`responses with Content-Encoding ${JSON.stringify(coding)} cannot be decoded by this Node; they are forwarded as they came and yield no usage`),
      })
    : null;
  const openTap = tracker === null ? undefined : (start: ExchangeStart): ExchangeTap => tracker.openTap(start);
  // SPEC §13: WebSocket sessions' usage events, one record each, as they pass.
  const sessionUsage = config.trackUsage
    ? createSessionUsage({
        onRecord,
        price: parts.prices?.price,
        tags: config.tags,
        onProblem: (problem, detail) => logger.warn('WebSocket usage reading stopped for a session; its bytes still pass', { problem, detail }),
      })
    : null;
  const openSessionTap = sessionUsage === null ? undefined : (start: ExchangeStart): SessionTap => sessionUsage.openSessionTap(start);
  let active = 0;

  function onExchangeEnd(summary: ExchangeSummary): void {
    active--;
    dashboard?.requestEnded(summary.status);
    proxy.exchangeEnded();
    metrics.requestFinished({ method: summary.method, status: summary.status, durationMs: summary.durationMs, ttfbMs: summary.ttfbMs });
    if (summary.errorCode !== null && summary.errorCode.startsWith('upstream_')) metrics.upstreamError(summary.errorCode);
    if (config.accessLog) {
      logger.info('request', {
        method: summary.method,
        path: summary.clientPath,
        status: summary.status,
        duration_ms: Math.round(summary.durationMs * 10) / 10,
        bytes_in: summary.requestBytes,
        bytes_out: summary.responseBytes,
        end: summary.end,
        ...(summary.closeCode !== undefined ? { close_code: summary.closeCode } : {}),
        ...(summary.errorCode !== null ? { error: summary.errorCode } : {}),
      });
    }
  }

  const forwarder = createForwarder({
    upstream: config.upstream,
    upstreamTimeoutMs: config.upstreamTimeoutMs,
    upstreamIdleMs: config.upstreamIdleMs,
    injectStreamUsage: config.injectStreamUsage,
    shutdown,
    openTap,
    openSessionTap,
    onExchangeStart: () => {
      active++;
      metrics.requestStarted();
      dashboard?.requestStarted();
    },
    onExchangeEnd,
  });
  const proxy = createProxyServer({
    forwarder,
    shutdown,
    activeExchanges: () => active,
    onRejected: (error, method) => {
      metrics.requestStarted();
      dashboard?.requestStarted();
      dashboard?.requestEnded(error.status);
      metrics.requestFinished({ method: method ?? 'OTHER', status: error.status, durationMs: 0, ttfbMs: null });
      if (config.accessLog) logger.info('request', { method, path: null, status: error.status, error: error.code });
    },
  });

  const address = await listen(proxy.server, config.listen);
  let stopBackfill = (): void => {};
  let admin: http.Server | null = null;
  let metricsAddress: string | null = null;
  if (config.metrics !== null) {
    admin = createAdminServer({ metrics, isReady: () => !shutdown.draining, mounted: dashboard?.handle });
    try {
      metricsAddress = await listen(admin, config.metrics);
    } catch (err) {
      proxy.server.close();
      throw err;
    }
  }

  // SPEC §12: the last 24 h come back from the ledger in the background; the listeners are up already.
  if (dashboard !== null && config.usageLog !== null) {
    const backfill = new AbortController();
    stopBackfill = () => backfill.abort();
    void dashboard.backfill(config.usageLog, backfill.signal).then((result) => {
      if (result.error !== null && result.error !== 'ENOENT') logger.warn('Dashboard: the ledger could not be read back', { error: result.error });
      else logger.info('Dashboard: read back the last 24 h of the ledger', { records: result.records, skipped: result.skipped, bytes_read: result.bytesRead });
    });
  }

  async function stop(): Promise<{ cut: number }> {
    stopBackfill();
    const result = await proxy.shutdown(config.shutdownGraceMs);
    forwarder.close();
    // Every accepted record reaches the log and the ledger before exit (SPEC §4).
    await tracker?.drain();
    await sessionUsage?.drain();
    await ledger?.close();
    if (admin !== null) {
      admin.closeAllConnections();
      await new Promise<void>((resolve) => admin?.close(() => resolve()));
    }
    return result;
  }

  return { address, metricsAddress, stop };
}

function listen(server: http.Server, at: ListenAddress): Promise<string> {
  const wanted = formatListenAddress(at);
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const why = err.code === 'EADDRINUSE' ? 'the address is already in use' : err.code === 'EACCES' ? 'permission denied' : err.message;
      reject(new ListenError(wanted, err.code, `cannot listen on ${wanted}: ${why}`));
    };
    server.once('error', onError);
    server.listen({ host: at.host, port: at.port }, () => {
      server.off('error', onError);
      const info = server.address() as AddressInfo;
      // Report the real port (LISTEN_ADDR may say 0) and the host as configured.
      const host = at.host ?? (info.family === 'IPv6' ? '::' : '0.0.0.0');
      resolve(formatListenAddress({ host, port: info.port }));
    });
  });
}
