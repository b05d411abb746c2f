// The forwarder: one client request in, one upstream request out, the upstream's
// response streamed back with backpressure (SPEC §3, §8). This module decides whether a
// request is forwarded at all — its target resolved — and hands each forwarded one to an
// `Exchange` (exchange.ts), which lives until it ends; a WebSocket upgrade goes to a
// `WebSocketSession` (websocket-tunnel.ts, SPEC §13), which lives until both sockets close.

import type http from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { proxyError, type ProxyError } from '../shared/errors.ts';
import { writeProxyError } from './error-response.ts';
import { Exchange } from './exchange.ts';
import { createForwardContext, type ForwardContext, type ForwarderOptions } from './forward-context.ts';
import { asksForWebSocket } from './hop-by-hop.ts';
import { pathForLog, resolveUpstreamTarget } from './upstream-target.ts';
import { WebSocketSession, type TunnelOptions } from './websocket-tunnel.ts';

export interface Forwarder {
  handle(req: http.IncomingMessage, res: http.ServerResponse): void;
  /** A WebSocket upgrade (the server's 'upgrade' event): `head` is what the client sent after its head. */
  upgrade(req: http.IncomingMessage, socket: Socket, head: Buffer): void;
  /** Sessions not yet over, the handshakes still waiting for their 101 among them. */
  readonly openSessions: number;
  /** Cuts every open session (the shutdown grace period is over). */
  cutSessions(): void;
  /** Closes idle upstream sockets. */
  close(): void;
}

export function createForwarder(options: ForwarderOptions & TunnelOptions): Forwarder {
  const context = createForwardContext(options);
  const sessions = new Set<WebSocketSession>();
  return {
    handle: (req, res) => handle(context, req, res),
    upgrade: (req, socket, head) => new WebSocketSession(context, sessions, req, socket, head).start(options.openSessionTap),
    get openSessions() {
      return sessions.size;
    },
    cutSessions: () => {
      for (const session of [...sessions]) session.cut();
    },
    close: () => context.pool.close(),
  };
}

function handle(context: ForwardContext, req: http.IncomingMessage, res: http.ServerResponse): void {
  const method = req.method ?? 'GET';
  // SPEC §13: WebSocket upgrades reach upgrade() through the server's 'upgrade' event, and
  // other Upgrade offers (h2c) come here without theirs (SPEC §8). One that still asks for
  // WebSocket here arrived on a socket the proxy cannot hand over: refused, never half-served.
  // (CONNECT never gets here: the server answers it.)
  if (asksForWebSocket(method, req.rawHeaders)) {
    refuse(context, req, res, proxyError('upgrade_not_supported', 'this WebSocket upgrade cannot be tunnelled'));
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
