// The forwarder: one client request in, one upstream request out, the upstream's
// response streamed back with backpressure (SPEC §3, §8). This module decides whether a
// request is forwarded at all — its target resolved, a WebSocket upgrade refused — and
// hands each forwarded one to an `Exchange` (exchange.ts), which lives until it ends.

import type http from 'node:http';
import { performance } from 'node:perf_hooks';
import { proxyError, type ProxyError } from '../shared/errors.ts';
import type { RawHeaders } from '../shared/raw-headers.ts';
import { writeProxyError } from './error-response.ts';
import { Exchange } from './exchange.ts';
import { createForwardContext, type ForwardContext, type ForwarderOptions } from './forward-context.ts';
import { connectionOptions } from './hop-by-hop.ts';
import { pathForLog, resolveUpstreamTarget } from './upstream-target.ts';

export interface Forwarder {
  handle(req: http.IncomingMessage, res: http.ServerResponse): void;
  /** Closes idle upstream sockets. */
  close(): void;
}

export function createForwarder(options: ForwarderOptions): Forwarder {
  const context = createForwardContext(options);
  return {
    handle: (req, res) => handle(context, req, res),
    close: () => context.pool.close(),
  };
}

function handle(context: ForwardContext, req: http.IncomingMessage, res: http.ServerResponse): void {
  const method = req.method ?? 'GET';
  // SPEC §8: a WebSocket upgrade is refused with 501; any other `Upgrade` offer (h2c)
  // is dropped with the hop-by-hop headers and the request is served over HTTP/1.1.
  // (CONNECT never gets here: the server answers it.)
  if (asksForWebSocket(req.rawHeaders)) {
    refuse(context, req, res, proxyError('upgrade_not_supported', 'WebSocket upgrades are not supported'));
    return;
  }
  const target = resolveUpstreamTarget(req.url ?? '', context.options.upstream.basePath);
  if (!target.ok) {
    refuse(context, req, res, proxyError('invalid_path', target.message));
    return;
  }
  new Exchange(context, req, res, method, target.clientPath, target.query, target.upstreamPath).start();
}

/** Answers a request the proxy will not forward. */
function refuse(context: ForwardContext, req: http.IncomingMessage, res: http.ServerResponse, error: ProxyError): void {
  const started = performance.now();
  const { onExchangeStart, onExchangeEnd } = context.options;
  onExchangeStart?.();
  writeProxyError(res, error, context.options.shutdown.draining);
  res.once('close', () => {
    onExchangeEnd?.({
      method: req.method ?? 'GET', clientPath: pathForLog(req.url ?? ''), status: error.status,
      end: res.writableFinished ? 'done' : 'client_abort', durationMs: performance.now() - started,
      ttfbMs: null, requestBytes: 0, responseBytes: 0, errorCode: error.code,
    });
  });
}

function asksForWebSocket(raw: RawHeaders): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 7 && name.toLowerCase() === 'upgrade' && /websocket/i.test(raw[i + 1] as string)) {
      return connectionOptions(raw).has('upgrade');
    }
  }
  return false;
}
