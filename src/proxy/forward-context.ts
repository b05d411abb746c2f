// What every exchange of one forwarder shares: the options it was built with, the
// pool of upstream connections and the request function for the upstream's scheme.
// Built once per process; an exchange only reads it.

import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { createUpstreamPool, type UpstreamPool } from './upstream-pool.ts';
import type { Upstream } from '../config/config.ts';
import type { ExchangeStart, ExchangeSummary, ExchangeTap } from '../shared/exchange-tap.ts';

/** Shared with the server: whether shutdown has begun, and whether it is now cutting connections. */
export interface ShutdownState {
  draining: boolean;
  cutting: boolean;
}

export interface ForwarderOptions {
  readonly upstream: Upstream;
  /** 0: no limit. */
  readonly upstreamTimeoutMs: number;
  /** Longest time an idle upstream connection is kept (SPEC §8); 0 keeps none. */
  readonly upstreamIdleMs: number;
  /** SPEC §5: ask OpenAI-style streams for usage and hide the added usage chunk. */
  readonly injectStreamUsage: boolean;
  readonly shutdown: ShutdownState;
  /** Opens a tap for an exchange that will be forwarded; null to observe nothing. */
  readonly openTap?: ((start: ExchangeStart) => ExchangeTap | null) | undefined;
  /** Every exchange on the proxy port ends here once, including those the proxy answered itself. */
  readonly onExchangeEnd?: (summary: ExchangeSummary) => void;
  readonly onExchangeStart?: () => void;
}

export interface ForwardContext {
  readonly options: ForwarderOptions;
  readonly pool: UpstreamPool;
  /** https.request's options are http.request's plus TLS ones (servername), which http ignores. */
  readonly request: typeof https.request;
  readonly servername: string | undefined;
}

export function createForwardContext(options: ForwarderOptions): ForwardContext {
  const { upstream } = options;
  const isHttps = upstream.protocol === 'https:';
  return {
    options,
    pool: createUpstreamPool(isHttps, options.upstreamIdleMs),
    request: isHttps ? https.request : (http.request as typeof https.request),
    // TLS verifies the certificate against this name and sends it as SNI (never for
    // an IP). NODE_EXTRA_CA_CERTS is honoured by Node's default CA store.
    servername: isHttps && isIP(upstream.hostname) === 0 ? upstream.hostname : undefined,
  };
}
