// The forwarder: one client request in, one upstream request out, the upstream's
// response streamed back with backpressure. Headers come from `rawHeaders` so
// they keep case, order and repeats; the body is never buffered whole. Observers
// (taps) see each body chunk as it passes and cannot delay or change it.
// The first thing to fail decides the answer: before the response starts, an
// OpenAI-shaped 502/504; after it starts, the client's connection is cut, never
// ended as a clean, truncated success (SPEC §3, §8 "Forwarding").

import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Upstream } from './config.ts';
import { describeUpstreamFailure, errorBody, proxyError, type ProxyError, type ProxyErrorCode } from './errors.ts';
import { clientResponseHeaders, headerValue, upstreamRequestHeaders, type RawHeaders } from './hop-by-hop.ts';
import { isInjectionCandidate, MAX_INJECT_BODY_BYTES } from './include-usage.ts';
import { injectStreamUsage, isFilterableStream } from './stream-usage-injection.ts';
import { createUsageChunkFilter, type UsageChunkFilter } from './usage-chunk-filter.ts';
import { resolveUpstreamTarget } from './upstream-target.ts';

/** Why an exchange ended; SPEC §4 names these in `end=`. */
export type EndReason = 'done' | 'client_abort' | 'upstream_error' | 'timeout' | 'shutdown';

export interface ExchangeStart {
  readonly method: string;
  /** The path the client asked for, without the query. */
  readonly clientPath: string;
  readonly query: string;
  /** The client's headers, credentials included: a tap may derive a key id, never log them. */
  readonly requestHeaders: RawHeaders;
}

export interface ExchangeSummary {
  readonly method: string;
  readonly clientPath: string;
  /** The status the client received (or would have: 0 when nothing was sent). */
  readonly status: number;
  readonly end: EndReason;
  readonly durationMs: number;
  /** Until the upstream's response headers; null when none came. */
  readonly ttfbMs: number | null;
  readonly requestBytes: number;
  readonly responseBytes: number;
  /** Set when the proxy answered or cut the exchange itself. */
  readonly errorCode: ProxyErrorCode | null;
}

/** A per-exchange observer. Calls happen synchronously on the forwarding path: keep them cheap. */
export interface ExchangeTap {
  requestChunk(chunk: Buffer): void;
  responseHead(status: number, headers: RawHeaders): void;
  responseChunk(chunk: Buffer): void;
  /** Called exactly once, when the exchange is over. */
  finish(summary: ExchangeSummary): void;
}

/** Shared with the server: whether shutdown has begun, and whether it is now cutting connections. */
export interface ShutdownState {
  draining: boolean;
  cutting: boolean;
}

export interface ForwarderOptions {
  readonly upstream: Upstream;
  readonly upstreamTimeoutMs: number;
  /** SPEC §5: ask OpenAI-style streams for usage and hide the added usage chunk. */
  readonly injectStreamUsage: boolean;
  readonly shutdown: ShutdownState;
  /** Opens a tap for an exchange that will be forwarded; null to observe nothing. */
  readonly openTap?: (start: ExchangeStart) => ExchangeTap | null;
  /** Every exchange on the proxy port ends here once, including those the proxy answered itself. */
  readonly onExchangeEnd?: (summary: ExchangeSummary) => void;
  readonly onExchangeStart?: () => void;
}

export interface Forwarder {
  handle(req: http.IncomingMessage, res: http.ServerResponse): void;
  /** Answers a request the proxy refuses before forwarding (the server's CONNECT and parse errors use it too). */
  refuse(res: http.ServerResponse, error: ProxyError, method: string, clientPath: string): void;
  /** Closes idle upstream sockets. */
  close(): void;
}

// Idle upstream sockets are retired after 4 s: before the 5 s that Node, uvicorn
// and many other servers allow, so the proxy does not reuse a socket the upstream
// is closing (SPEC §8). The upstream's own `Keep-Alive: timeout=` hint, when
// shorter, is honoured by Node's Agent.
const UPSTREAM_IDLE_SOCKET_MS = 4_000;

// RFC 9110 §9.2.2: these may be repeated without changing the outcome, so one
// that fails on a reused socket before any response byte is sent again, once.
// POST never is: the upstream may already be running a paid generation.
const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

const kTimeout = Symbol('upstream timeout');

export function createForwarder(options: ForwarderOptions): Forwarder {
  const { upstream, upstreamTimeoutMs, injectStreamUsage: inject, shutdown, openTap, onExchangeEnd, onExchangeStart } = options;
  const isHttps = upstream.protocol === 'https:';
  const agentOptions = {
    keepAlive: true,
    // LIFO reuses the most recently used socket: the least likely to have gone stale.
    scheduling: 'lifo' as const,
    timeout: UPSTREAM_IDLE_SOCKET_MS,
  };
  const agent = isHttps ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  const request = isHttps ? https.request : http.request;
  // TLS takes its server name from here, and certificates are verified against it
  // (with NODE_EXTRA_CA_CERTS honoured by Node's default CA store). SNI is never sent for IPs.
  const servername = isHttps && isIP(upstream.hostname) === 0 ? upstream.hostname : undefined;

  // One stale pooled socket usually means the upstream restarted and every idle socket
  // is stale: closing them all spares the next requests a 502 each (a POST is never retried).
  function dropIdleSockets(): void {
    for (const sockets of Object.values(agent.freeSockets)) {
      for (const socket of sockets ?? []) socket.destroy();
    }
  }

  function refuse(res: http.ServerResponse, error: ProxyError, method: string, clientPath: string): void {
    const started = performance.now();
    onExchangeStart?.();
    writeError(res, error);
    res.once('close', () => {
      onExchangeEnd?.({
        method, clientPath, status: error.status, end: res.writableFinished ? 'done' : 'client_abort',
        durationMs: performance.now() - started, ttfbMs: null, requestBytes: 0, responseBytes: 0, errorCode: error.code,
      });
    });
  }

  function writeError(res: http.ServerResponse, error: ProxyError): void {
    const body = errorBody(error);
    const headers: string[] = ['Content-Type', 'application/json', 'Content-Length', String(body.length)];
    if (shutdown.draining) headers.push('Connection', 'close');
    // The reason phrase is given, not left to Node: after a writeHead that threw on an
    // upstream's reason phrase with control bytes, res.statusMessage still holds it, and
    // a second writeHead without one would throw again, uncaught (a crash).
    res.writeHead(error.status, http.STATUS_CODES[error.status] ?? '', headers);
    res.end(body);
  }

  function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const method = req.method ?? 'GET';
    if (method === 'CONNECT') {
      refuse(res, proxyError('method_not_allowed', 'CONNECT is not supported: lm-proxy tunnels nothing'), method, '');
      return;
    }
    if (asksForWebSocket(req.rawHeaders)) {
      refuse(res, proxyError('upgrade_not_supported', 'WebSocket upgrades are not supported'), method, pathForLog(req.url ?? ''));
      return;
    }
    const target = resolveUpstreamTarget(req.url ?? '', upstream.basePath);
    if (!target.ok) {
      refuse(res, proxyError('invalid_path', target.message), method, pathForLog(req.url ?? ''));
      return;
    }
    const started = performance.now();
    onExchangeStart?.();
    const tap = openTap?.({ method, clientPath: target.clientPath, query: target.query, requestHeaders: req.rawHeaders }) ?? null;
    let headers = upstreamRequestHeaders(req.rawHeaders, upstream.authority);

    let upReq: http.ClientRequest | null = null;
    let upRes: http.IncomingMessage | null = null;
    let ttfbMs: number | null = null;
    let requestBytes = 0;
    let responseBytes = 0;
    let requestEnded = false;
    let attempts = 0;
    let failure: { end: EndReason; code: ProxyErrorCode } | null = null;
    let finished = false;
    let timer: NodeJS.Timeout | null = null;
    // SPEC §5: a candidate's body is held (up to 8 MiB) until it is known whether to edit it.
    let held: Buffer[] | null = inject && isInjectionCandidate(method, target.clientPath) ? [] : null;
    let heldBytes = 0;
    let filter: UsageChunkFilter | null = null;
    let injected = false;

    function clearTimer(): void {
      if (timer !== null) {
        clearTimeout(timer);
        timer = null;
      }
    }

    /**
     * @param body  the whole request body when it was held; otherwise it streams from `req`.
     * @param fresh  on a new connection of its own, not one from the pool.
     */
    function send(body: Buffer | null = null, fresh = false): void {
      attempts++;
      const outgoing = request({
        host: upstream.hostname,
        port: upstream.port,
        method,
        path: target.ok ? target.upstreamPath : '/',
        headers,
        agent: fresh ? false : agent,
        servername,
      });
      upReq = outgoing;
      outgoing.on('response', onResponse);
      outgoing.on('error', (err) => onUpstreamError(outgoing, err));
      outgoing.on('close', () => onUpstreamClose(outgoing));
      if (body !== null) {
        if (requestEnded) outgoing.end(body);
        else outgoing.write(body);
      } else if (requestEnded) {
        outgoing.end();
      }
    }

    function onTimeout(): void {
      if (upReq !== null) {
        upReq.destroy(Object.assign(new Error('upstream timeout'), { [kTimeout]: true }));
      } else {
        // Still holding a body for SPEC §5 that stopped arriving.
        fail('timeout', proxyError('request_timeout', `the request body stalled for ${upstreamTimeoutMs} ms`));
      }
    }

    /** The held body is complete (or too large to edit): decide, then send it. */
    function releaseHeld(complete: boolean): void {
      const chunks = held ?? [];
      // Most bodies arrive in one chunk: no copy then.
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      held = null;
      const edited = complete ? injectStreamUsage(headers, body) : null;
      if (edited !== null) {
        headers = edited.headers;
        injected = true;
        send(edited.body);
      } else {
        send(body);
      }
    }

    function onUpstreamError(outgoing: http.ClientRequest, err: NodeJS.ErrnoException & { [kTimeout]?: boolean }): void {
      if (outgoing !== upReq || finished) return;
      if (upRes !== null) {
        // The response had begun: its own 'close' (incomplete) cuts the client.
        return;
      }
      clearTimer();
      if (err[kTimeout] === true) {
        fail('timeout', proxyError('upstream_timeout', `the upstream sent no response headers within ${upstreamTimeoutMs} ms`));
        return;
      }
      const reset = err.code === 'ECONNRESET' || err.code === 'EPIPE' || err.message === 'socket hang up';
      if (reset && outgoing.reusedSocket && attempts === 1 && requestBytes === 0 && requestEnded && IDEMPOTENT_METHODS.has(method)) {
        // The upstream closed a kept-alive socket just as it was reused (SPEC §8). The
        // retry goes on a fresh connection: the pool's other idle sockets may be just as
        // stale (an upstream that restarted closed them all), and a second stale one
        // would turn the retry into a 502.
        timer = setTimeout(onTimeout, upstreamTimeoutMs);
        dropIdleSockets();
        send(null, true);
        return;
      }
      if (reset && outgoing.reusedSocket) dropIdleSockets();
      if (typeof err.code === 'string' && err.code.startsWith('HPE_')) {
        fail('upstream_error', proxyError('upstream_invalid_response', `the upstream sent a malformed response (${err.code})`));
      } else if (reset && outgoing.reusedSocket) {
        fail('upstream_error', proxyError('upstream_reset', describeUpstreamFailure(err)));
      } else {
        fail('upstream_error', proxyError('upstream_unreachable', describeUpstreamFailure(err)));
      }
    }

    // The upstream request closed with neither a response nor an error: Node does this
    // when an upstream answers `101 Switching Protocols` unasked (it destroys the socket
    // and emits nothing). Without this the client would wait forever (SPEC §8: a
    // malformed head is answered 502).
    function onUpstreamClose(outgoing: http.ClientRequest): void {
      if (outgoing !== upReq || finished || upRes !== null || failure !== null || res.headersSent) return;
      clearTimer();
      fail('upstream_error', proxyError('upstream_invalid_response', 'the upstream closed the connection without a usable response'));
    }

    function fail(end: EndReason, error: ProxyError): void {
      failure = { end, code: error.code };
      if (!res.headersSent && !res.destroyed) writeError(res, error);
      else res.destroy();
    }

    function onResponse(incoming: http.IncomingMessage): void {
      clearTimer();
      const status = incoming.statusCode ?? 0;
      ttfbMs = performance.now() - started;
      if (status < 100 || status > 599) {
        incoming.destroy();
        fail('upstream_error', proxyError('upstream_invalid_response', `the upstream answered with status ${status}`));
        return;
      }
      upRes = incoming;
      let outHeaders = clientResponseHeaders(incoming.rawHeaders);
      if (injected && isFilterableStream(status, headerValue(incoming.rawHeaders, 'content-type'), headerValue(incoming.rawHeaders, 'content-encoding'))) {
        // The client gets fewer bytes than the upstream sent: its length no longer holds.
        filter = createUsageChunkFilter();
        outHeaders = outHeaders.filter((_, i, all) => (i % 2 === 0 ? all[i] : all[i - 1])!.toLowerCase() !== 'content-length');
      }
      // Added after filtering, so no upstream `Connection` option can remove it (SPEC §8).
      if (shutdown.draining) outHeaders.push('Connection', 'close');
      try {
        res.writeHead(status, incoming.statusMessage, outHeaders);
      } catch {
        // Node refuses header bytes it cannot send (ERR_INVALID_CHAR).
        upRes = null;
        incoming.destroy();
        fail('upstream_error', proxyError('upstream_invalid_response', 'the upstream sent headers that cannot be forwarded'));
        return;
      }
      tap?.responseHead(status, incoming.rawHeaders);
      // A streamed body (no Content-Length: SSE, NDJSON) gets its head now, before the
      // first event, which may be seconds away (SPEC §3). A sized body's head leaves with
      // its first bytes in one write instead of two.
      // Not res.flushHeaders(): it writes the head as UTF-8, so header bytes 0x80-0xff
      // (obs-text, which Node's parser hands over as latin1) would reach the client
      // double-encoded. An empty latin1 write sends the head byte for byte.
      if (filter !== null || headerValue(incoming.rawHeaders, 'content-length') === undefined) res.write('', 'latin1');

      incoming.on('data', (chunk: Buffer) => {
        responseBytes += chunk.length;
        if (filter === null) {
          if (!res.write(chunk)) incoming.pause();
        } else if (!writeAll(filter.push(chunk))) {
          incoming.pause();
        }
        // The client's bytes leave first; parsing them for usage never delays an event.
        // The tap sees the upstream's bytes, the usage chunk included (SPEC §5: its usage is recorded).
        tap?.responseChunk(chunk);
      });
      res.on('drain', () => incoming.resume());
      incoming.on('end', () => {
        if (filter !== null) writeAll(filter.end());
        res.end();
      });
      incoming.on('error', () => {});
      incoming.on('close', () => {
        // `complete` is false when the upstream connection was lost mid-body,
        // or fewer bytes came than Content-Length promised.
        if (!incoming.complete && !finished) {
          failure ??= { end: 'upstream_error', code: 'upstream_reset' };
          res.destroy();
        }
      });
    }

    function writeAll(pieces: Buffer[]): boolean {
      let flowing = true;
      for (const piece of pieces) flowing = res.write(piece);
      return flowing;
    }

    req.on('data', (chunk: Buffer) => {
      requestBytes += chunk.length;
      tap?.requestChunk(chunk);
      // A slow upload is progress: the wait for response headers counts from the last byte.
      timer?.refresh();
      if (held !== null) {
        held.push(chunk);
        heldBytes += chunk.length;
        // SPEC §5: bodies above 8 MiB go through untouched, as they came.
        if (heldBytes > MAX_INJECT_BODY_BYTES) releaseHeld(false);
        return;
      }
      if (upReq !== null && !upReq.write(chunk)) {
        req.pause();
        upReq.once('drain', () => req.resume());
      }
    });
    req.on('end', () => {
      requestEnded = true;
      if (held !== null) releaseHeld(true);
      else upReq?.end();
    });
    req.on('error', () => {});

    // The single place an exchange ends. `'close'` on the response fires after it
    // finished, or when the client went away first (`writableFinished` false) — the
    // only reliable client-gone signal: the request's own 'close' fires as soon as
    // its body has been read.
    res.on('close', () => {
      finished = true;
      clearTimer();
      let end: EndReason;
      if (failure !== null) end = failure.end;
      else if (res.writableFinished) end = 'done';
      else end = shutdown.cutting ? 'shutdown' : 'client_abort';
      if (end !== 'done' && upReq !== null && !upReq.destroyed) {
        // Stops a cancelled generation from costing tokens (SPEC §3).
        upReq.destroy();
      }
      const summary: ExchangeSummary = {
        method,
        clientPath: target.clientPath,
        status: res.headersSent ? res.statusCode : 0,
        end,
        durationMs: performance.now() - started,
        ttfbMs,
        requestBytes,
        responseBytes,
        errorCode: failure?.code ?? null,
      };
      tap?.finish(summary);
      onExchangeEnd?.(summary);
    });

    timer = setTimeout(onTimeout, upstreamTimeoutMs);
    if (held === null) send();
  }

  return {
    handle,
    refuse,
    close: () => agent.destroy(),
  };
}

// SPEC §8: a WebSocket upgrade is refused with 501; any other `Upgrade` offer (h2c)
// is dropped with the hop-by-hop headers and the request is served over HTTP/1.1.
function asksForWebSocket(raw: RawHeaders): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 7 && name.toLowerCase() === 'upgrade' && /websocket/i.test(raw[i + 1] as string)) {
      return connectionOptionsInclude(raw, 'upgrade');
    }
  }
  return false;
}

function connectionOptionsInclude(raw: RawHeaders, option: string): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() !== 'connection') continue;
    if ((raw[i + 1] as string).split(',').some((token) => token.trim().toLowerCase() === option)) return true;
  }
  return false;
}

/** The path part of a request target, for logs, without the query (which may hold a `key`). */
export function pathForLog(target: string): string {
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}
