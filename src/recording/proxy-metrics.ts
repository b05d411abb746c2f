// The metrics lm-proxy exposes (SPEC §6 and §8 "Metrics"), built on the registry in
// metrics.ts. Pure: callers report what happened; nothing here touches a socket.
// Labels are bounded by construction: methods fold into OTHER, models are capped,
// and nothing is ever labelled by key, user or path (unbounded cardinality).

import { createRegistry, type Registry } from './metrics.ts';

/** Latency buckets for LLM calls: 5 ms (a cached or refused request) to 10 minutes
 *  (the default UPSTREAM_TIMEOUT_MS of a long generation), in seconds. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
];

/** Distinct `model` label values kept before further models fold into "other". */
export const DEFAULT_MAX_MODELS = 200;

/** A model name longer than this is not a name a person chose; it folds into "other". */
const MAX_MODEL_LENGTH = 256;

/** The error codes a fresh process reports at 0, so `rate()` and alerts see the series
 *  before the first failure. Any other code passed to upstreamError is counted too. */
export const UPSTREAM_ERROR_CODES: readonly string[] = [
  'upstream_unreachable',
  'upstream_timeout',
  'upstream_invalid_response',
  'upstream_reset',
];

// RFC 9110 §9 methods plus PATCH (RFC 5789). Methods are case-sensitive (RFC 9110
// §9.1), so `get` is not GET; everything else becomes OTHER to bound cardinality.
const STANDARD_METHODS: ReadonlySet<string> = new Set([
  'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH',
]);

export interface RequestOutcome {
  /** The request method as received. */
  readonly method: string;
  /** The status sent to the client, including the proxy's own 400/405/501/502/504. */
  readonly status: number;
  /** From the first byte of the request to the end of the response. */
  readonly durationMs: number;
  /** Until the upstream's response head arrived; null when no upstream response came. */
  readonly ttfbMs: number | null;
}

export interface ProxyMetrics {
  /** Call once when a request arrives on the proxy port; pair with requestFinished. */
  requestStarted(): void;
  /** Call once per requestStarted, when the response has ended or been cut. */
  requestFinished(outcome: RequestOutcome): void;
  /** Usage of one response. Both series always move (an embeddings response adds 0 to
   *  `completion`, so the series exists); a null model is counted as "unknown". */
  tokens(model: string | null, promptTokens: number, completionTokens: number): void;
  /** The cost of one priced response, in USD (SPEC §9); a null model counts as "unknown". */
  cost(model: string | null, usd: number): void;
  /** One failure to get a response from the upstream, by its stable error code. */
  upstreamError(code: string): void;
  /** The exposition text for `GET /metrics`. */
  render(): string;
  /** The underlying registry, for metrics the server adds itself. */
  readonly registry: Registry;
}

export interface ProxyMetricsOptions {
  /** Default 200 (DEFAULT_MAX_MODELS). */
  readonly maxModels?: number;
}

export function createProxyMetrics(options: ProxyMetricsOptions = {}): ProxyMetrics {
  const maxModels = options.maxModels ?? DEFAULT_MAX_MODELS;
  const registry = createRegistry();

  const requests = registry.counter(
    'lm_proxy_requests_total',
    'Requests received on the proxy port, by method (non-standard methods as OTHER) and the status sent, including responses the proxy produced itself.',
    ['method', 'status'],
  );
  const tokens = registry.counter(
    'lm_proxy_tokens_total',
    `Tokens reported by upstream responses, by model and type (prompt or completion). model="unknown" when neither response nor request names one; after ${maxModels} distinct models, further ones count as model="other".`,
    ['model', 'type'],
  );
  const cost = registry.counter(
    'lm_proxy_cost_usd_total',
    `Cost of priced responses in US dollars, by model (the price table's, or the upstream's own usage.cost); unpriced responses are not counted. Models are capped as for lm_proxy_tokens_total.`,
    ['model'],
  );
  const duration = registry.histogram(
    'lm_proxy_request_duration_seconds',
    'Time from the request arriving to the end of its response, in seconds.',
    [],
    LATENCY_BUCKETS_SECONDS,
  );
  const ttfb = registry.histogram(
    'lm_proxy_time_to_first_byte_seconds',
    'Time from the request arriving to the upstream response head, in seconds; requests without an upstream response are not observed.',
    [],
    LATENCY_BUCKETS_SECONDS,
  );
  const upstreamErrors = registry.counter(
    'lm_proxy_upstream_errors_total',
    'Requests that got no usable response from the upstream, by error code.',
    ['code'],
  );
  const active = registry.gauge('lm_proxy_active_requests', 'Requests on the proxy port not yet finished.');

  for (const code of UPSTREAM_ERROR_CODES) upstreamErrors.inc({ code }, 0);

  const models = new Set<string>();
  const statusText: string[] = [];

  function modelLabel(model: string | null): string {
    if (model === null) return 'unknown';
    if (models.has(model)) return model;
    if (models.size >= maxModels || model.length > MAX_MODEL_LENGTH) return 'other';
    models.add(model);
    return model;
  }

  function statusLabel(status: number): string {
    if (!Number.isInteger(status) || status < 100 || status > 599) return 'other';
    // Cached so the hot path does not build the same short string per request.
    return (statusText[status] ??= String(status));
  }

  return {
    registry,
    requestStarted() {
      active.inc({});
    },
    requestFinished(outcome) {
      active.dec({});
      const method = STANDARD_METHODS.has(outcome.method) ? outcome.method : 'OTHER';
      requests.inc({ method, status: statusLabel(outcome.status) });
      duration.observe({}, outcome.durationMs / 1000);
      if (outcome.ttfbMs !== null) ttfb.observe({}, outcome.ttfbMs / 1000);
    },
    tokens(model, promptTokens, completionTokens) {
      const label = modelLabel(model);
      tokens.inc({ model: label, type: 'prompt' }, promptTokens);
      tokens.inc({ model: label, type: 'completion' }, completionTokens);
    },
    cost(model, usd) {
      cost.inc({ model: modelLabel(model) }, usd);
    },
    upstreamError(code) {
      upstreamErrors.inc({ code });
    },
    render() {
      return registry.render();
    },
  };
}
