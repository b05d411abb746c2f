// One forwarded request, from the client's first byte to the end of the response.
// Headers come from `rawHeaders` so they keep case, order and repeats; the body is never
// buffered whole (except SPEC §5's held body, held-body.ts). Observers (taps) read each
// body chunk after it was written to the client, and cannot delay or change it. The
// first thing to fail decides the answer: before the response starts, an OpenAI-shaped
// 502/504; after it starts, the client's connection is cut, never ended as a clean,
// truncated success (SPEC §3, §8).
//
// Its event listeners are module-level functions that find their exchange through a
// symbol on the emitter (the way Node core does it), so a request costs no closures.

import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { describeUpstreamFailure, proxyError, type ProxyError, type ProxyErrorCode } from '../shared/errors.ts';
import type { EndReason, ExchangeSummary, ExchangeTap } from '../shared/exchange-tap.ts';
import { isInjectionCandidate } from '../injection/include-usage.ts';
import type { UsageChunkFilter } from '../injection/usage-chunk-filter.ts';
import { writeProxyError } from './error-response.ts';
import type { ForwardContext } from './forward-context.ts';
import { HeldBody } from './held-body.ts';
import { upstreamRequestHeaders } from './hop-by-hop.ts';
import { forwardInterim, NONE_SENT, type InterimSent } from './interim-responses.ts';
import { clientHeadFor } from './response-head.ts';
import { gotResponseBytes, noteResponseEnded, ReplayBody } from './upstream-retry.ts';

const kExchange = Symbol('lm-proxy exchange');
const kTimeout = Symbol('lm-proxy upstream timeout');
type Tagged<T> = T & { [kExchange]?: Exchange };
type UpstreamError = NodeJS.ErrnoException & { [kTimeout]?: true };

export class Exchange {
  private readonly context: ForwardContext;
  private readonly req: Tagged<http.IncomingMessage>;
  private readonly res: Tagged<http.ServerResponse>;
  private readonly method: string;
  private readonly clientPath: string;
  private readonly upstreamPath: string;
  private readonly started = performance.now();
  private readonly tap: ExchangeTap | null;
  private headers: string[];

  private upReq: Tagged<http.ClientRequest> | null = null;
  private upRes: Tagged<http.IncomingMessage> | null = null;
  private ttfbMs: number | null = null;
  private requestBytes = 0;
  private responseBytes = 0;
  private requestEnded = false;
  private attempts = 0;
  private failure: { readonly end: EndReason; readonly code: ProxyErrorCode } | null = null;
  private finished = false;
  private timer: NodeJS.Timeout | null = null;
  // SPEC §5: a candidate's body is held (up to 8 MiB) until it is known whether to edit it.
  private held: HeldBody | null;
  private injected = false;
  // The body forwarded so far, while a retry on a fresh connection is possible (SPEC §8).
  private readonly replay: ReplayBody;
  private filter: UsageChunkFilter | null = null;
  private interimSent: InterimSent = NONE_SENT;
  // A close-delimited body (an HTTP/1.0 client, no Content-Length) ends at the
  // connection's end, so only a reset can tell the client it was cut short.
  private closeDelimited = false;

  constructor(context: ForwardContext, req: http.IncomingMessage, res: http.ServerResponse, method: string, clientPath: string, query: string, upstreamPath: string) {
    this.context = context;
    this.req = req;
    this.res = res;
    this.method = method;
    this.clientPath = clientPath;
    this.upstreamPath = upstreamPath;
    const { options } = context;
    options.onExchangeStart?.();
    this.tap = options.openTap?.({ method, clientPath, query, requestHeaders: req.rawHeaders }) ?? null;
    this.headers = upstreamRequestHeaders(req.rawHeaders, options.upstream.authority);
    this.held = options.injectStreamUsage && isInjectionCandidate(method, clientPath) ? new HeldBody() : null;
    this.replay = new ReplayBody(method);
  }

  start(): void {
    const { req, res } = this;
    req[kExchange] = this;
    res[kExchange] = this;
    req.on('data', onClientData);
    req.on('end', onClientEnd);
    req.on('error', ignore);
    res.on('close', onClientClose);
    this.armTimer();
    if (this.held === null) this.send(null, false);
  }

  // The wait for response headers counts from the last request byte (a slow upload
  // is progress) and is refreshed by each one. 0 means no limit.
  private armTimer(): void {
    const ms = this.context.options.upstreamTimeoutMs;
    if (ms > 0) this.timer = setTimeout(onTimeout, ms, this);
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  /**
   * @param body  the whole request body when it was held; otherwise it streams from `req`.
   * @param fresh  on a new connection of its own, not one from the pool.
   */
  private send(body: Buffer | null, fresh: boolean): void {
    const { context } = this;
    const { upstream } = context.options;
    this.attempts++;
    const outgoing: Tagged<http.ClientRequest> = context.request({
      host: upstream.hostname,
      port: upstream.port,
      method: this.method,
      path: this.upstreamPath,
      headers: this.headers,
      agent: fresh ? false : context.pool.agent,
      servername: context.servername,
    });
    outgoing[kExchange] = this;
    this.upReq = outgoing;
    outgoing.on('response', onUpstreamResponse);
    outgoing.on('error', onUpstreamError);
    outgoing.on('close', onUpstreamClose);
    outgoing.on('information', onUpstreamInformation);
    if (body !== null) {
      if (this.requestEnded) outgoing.end(body);
      else outgoing.write(body);
    } else if (this.requestEnded) {
      outgoing.end();
    }
  }

  clientData(chunk: Buffer): void {
    this.requestBytes += chunk.length;
    // After the proxy has answered (or the upstream is gone), the rest of the body is dropped.
    if (this.failure !== null || this.finished) return;
    this.timer?.refresh();
    if (this.held !== null) {
      // SPEC §5: bodies above 8 MiB go through untouched, as they came.
      if (!this.held.add(chunk)) this.releaseHeld(false);
    } else {
      this.replay.add(chunk);
      const upReq = this.upReq;
      if (upReq !== null && !upReq.destroyed && !upReq.write(chunk)) {
        this.req.pause();
        upReq.once('drain', onUpstreamDrain);
      }
    }
    this.tap?.requestChunk(chunk);
  }

  clientEnd(): void {
    this.requestEnded = true;
    this.tap?.requestEnd();
    if (this.failure !== null || this.finished) return;
    if (this.held !== null) this.releaseHeld(true);
    else this.upReq?.end();
  }

  /** The held body is complete (or too large to edit): decide, then send it. */
  private releaseHeld(complete: boolean): void {
    const released = (this.held as HeldBody).release(this.headers, complete);
    this.held = null;
    this.headers = released.headers;
    this.injected = released.injected;
    this.send(released.body, false);
  }

  timedOut(): void {
    this.timer = null;
    if (this.upReq !== null) {
      this.upReq.destroy(Object.assign(new Error('upstream timeout'), { [kTimeout]: true as const }));
    } else {
      // Still holding a body for SPEC §5 that stopped arriving.
      const ms = this.context.options.upstreamTimeoutMs;
      this.fail('timeout', proxyError('request_timeout', `the request body stalled for ${ms} ms`));
    }
  }

  upstreamError(outgoing: http.ClientRequest, err: UpstreamError): void {
    // A response that had begun is ended by its own 'close' handler.
    if (outgoing !== this.upReq || this.finished || this.upRes !== null) return;
    this.clearTimer();
    if (err[kTimeout] === true) {
      const ms = this.context.options.upstreamTimeoutMs;
      this.fail('timeout', proxyError('upstream_timeout', `the upstream sent no response headers within ${ms} ms`));
      return;
    }
    const reset = err.code === 'ECONNRESET' || err.code === 'EPIPE' || err.message === 'socket hang up';
    if (reset && outgoing.reusedSocket) {
      // One stale pooled socket usually means the upstream restarted and every idle
      // socket is stale: closing them all spares the next requests a 502 each.
      this.context.pool.retireIdle();
      if (this.attempts === 1 && this.replay.possible && !gotResponseBytes(outgoing)) {
        // The upstream closed a kept-alive socket just as it was reused (SPEC §8). The
        // retry goes on a fresh connection, never on another pooled one, with the body
        // so far; the rest of a body still arriving follows it there.
        this.armTimer();
        this.send(this.replay.take(), true);
        // An upload paused for the failed request's drain would wait for it forever.
        if (!this.requestEnded) this.req.resume();
        return;
      }
      this.fail('upstream_error', proxyError('upstream_reset', describeUpstreamFailure(err)));
    } else if (typeof err.code === 'string' && err.code.startsWith('HPE_')) {
      this.fail('upstream_error', proxyError('upstream_invalid_response', `the upstream sent a malformed response (${err.code})`));
    } else {
      this.fail('upstream_error', proxyError('upstream_unreachable', describeUpstreamFailure(err)));
    }
  }

  // The upstream request closed with neither a response nor an error: Node does this
  // when an upstream answers `101 Switching Protocols` unasked (it destroys the socket
  // and emits nothing). Without this the client would wait forever (SPEC §8: a
  // malformed head is answered 502).
  upstreamClose(outgoing: http.ClientRequest): void {
    if (outgoing !== this.upReq || this.finished || this.upRes !== null || this.failure !== null || this.res.headersSent) return;
    this.clearTimer();
    this.fail('upstream_error', proxyError('upstream_invalid_response', 'the upstream closed the connection without a usable response'));
  }

  private fail(end: EndReason, error: ProxyError): void {
    this.failure = { end, code: error.code };
    this.held = null;
    if (this.res.headersSent || this.res.destroyed) {
      this.cutClient();
      return;
    }
    // A client still uploading is read to the end (and the bytes dropped) rather than
    // cut off: closing while it writes would reset the connection, and a reset can
    // destroy the answer in the client's receive buffer before it is read. Only a body
    // that stopped arriving gets `Connection: close`, as Node's own 408 does.
    const stalled = error.code === 'request_timeout';
    if (!this.requestEnded && !stalled) this.req.resume();
    writeProxyError(this.res, error, this.context.options.shutdown.draining || (stalled && !this.requestEnded));
  }

  /** Ends the client's connection so that it cannot be mistaken for a complete response (SPEC §3). */
  private cutClient(): void {
    const socket = this.res.socket;
    if (this.closeDelimited && socket !== null) socket.resetAndDestroy();
    else this.res.destroy();
  }

  upstreamResponse(incoming: Tagged<http.IncomingMessage>): void {
    this.clearTimer();
    const { res, tap } = this;
    const status = incoming.statusCode ?? 0;
    this.ttfbMs = performance.now() - this.started;
    if (status < 100 || status > 599) {
      incoming.destroy();
      this.fail('upstream_error', proxyError('upstream_invalid_response', `the upstream answered with status ${status}`));
      return;
    }
    this.upRes = incoming;
    incoming[kExchange] = this;
    // A response began: the request is never sent again, so its body need not be kept.
    this.replay.close();
    const head = clientHeadFor(incoming.rawHeaders, status, this.injected);
    const { headers, sized } = head;
    this.filter = head.filter;
    this.closeDelimited = !sized && this.req.httpVersionMinor === 0 && this.req.httpVersionMajor === 1;
    // Added after filtering, so no upstream `Connection` option can remove it (SPEC §8).
    if (this.context.options.shutdown.draining) headers.push('Connection', 'close');
    try {
      res.writeHead(status, incoming.statusMessage, headers);
    } catch {
      // Node refuses header bytes it cannot send (ERR_INVALID_CHAR).
      this.upRes = null;
      incoming.destroy();
      this.fail('upstream_error', proxyError('upstream_invalid_response', 'the upstream sent headers that cannot be forwarded'));
      return;
    }
    // A streamed body (no Content-Length: SSE, NDJSON) gets its head now, before the
    // first event, which may be seconds away (SPEC §3). A sized body's head leaves with
    // its first bytes in one write instead of two.
    // Not res.flushHeaders(): it writes the head as UTF-8, so header bytes 0x80-0xff
    // (obs-text, which Node's parser hands over as latin1) would reach the client
    // double-encoded. An empty latin1 write sends the head byte for byte.
    if (!sized) res.write('', 'latin1');
    tap?.responseHead({ status, contentType: head.contentType, contentEncoding: head.contentEncoding });

    incoming.on('data', onUpstreamData);
    incoming.on('end', onUpstreamEnd);
    incoming.on('error', ignore);
    incoming.on('close', onUpstreamResponseClose);
    res.on('drain', onClientDrain);
  }

  upstreamInformation(info: http.InformationEvent): void {
    if (this.upRes !== null || this.res.headersSent) return;
    this.interimSent = forwardInterim(this.res, info, this.interimSent);
  }

  upstreamData(chunk: Buffer): void {
    this.responseBytes += chunk.length;
    const filter = this.filter;
    const flowing = filter === null ? this.res.write(chunk) : this.writeAll(filter.push(chunk));
    if (!flowing) this.upRes?.pause();
    // The client's bytes leave first; parsing them for usage never delays an event.
    // The tap sees the upstream's bytes, the usage chunk included (SPEC §5: its usage is recorded).
    this.tap?.responseChunk(chunk);
  }

  upstreamEnd(): void {
    // The request's socket, not the response's: Node has already detached that one for the pool.
    if (this.upReq !== null) noteResponseEnded(this.upReq);
    if (this.filter !== null) this.writeAll(this.filter.end());
    this.res.end();
  }

  // `complete` is false when the upstream connection was lost mid-body, or fewer
  // bytes came than Content-Length promised.
  upstreamResponseClose(incoming: http.IncomingMessage): void {
    if (incoming.complete || this.finished) return;
    this.failure ??= { end: 'upstream_error', code: 'upstream_reset' };
    this.cutClient();
  }

  clientDrain(): void {
    this.upRes?.resume();
  }

  upstreamDrain(): void {
    this.req.resume();
  }

  private writeAll(pieces: Buffer[]): boolean {
    let flowing = true;
    for (const piece of pieces) flowing = this.res.write(piece);
    return flowing;
  }

  // The single place an exchange ends. `'close'` on the response fires after it
  // finished, or when the client went away first (`writableFinished` false) — the
  // only reliable client-gone signal: the request's own 'close' fires as soon as
  // its body has been read.
  clientClose(): void {
    const { res, upReq, failure } = this;
    this.finished = true;
    this.clearTimer();
    this.held = null;
    let end: EndReason;
    if (failure !== null) end = failure.end;
    else if (res.writableFinished) end = 'done';
    else end = this.context.options.shutdown.cutting ? 'shutdown' : 'client_abort';
    if (end !== 'done' && upReq !== null && !upReq.destroyed) {
      // Stops a cancelled generation from costing tokens (SPEC §3).
      upReq.destroy();
    }
    // A body still arriving is read and dropped, so a paused upload cannot hold the socket.
    if (!this.requestEnded) this.req.resume();
    const summary: ExchangeSummary = {
      method: this.method,
      clientPath: this.clientPath,
      status: res.headersSent ? res.statusCode : 0,
      end,
      durationMs: performance.now() - this.started,
      ttfbMs: this.ttfbMs,
      requestBytes: this.requestBytes,
      responseBytes: this.responseBytes,
      errorCode: failure?.code ?? null,
    };
    this.tap?.finish(summary);
    this.context.options.onExchangeEnd?.(summary);
  }
}

// Listeners: `this` is the emitter; each finds its exchange by the symbol.
function onClientData(this: Tagged<http.IncomingMessage>, chunk: Buffer): void {
  this[kExchange]?.clientData(chunk);
}
function onClientEnd(this: Tagged<http.IncomingMessage>): void {
  this[kExchange]?.clientEnd();
}
function onClientClose(this: Tagged<http.ServerResponse>): void {
  this[kExchange]?.clientClose();
}
function onClientDrain(this: Tagged<http.ServerResponse>): void {
  this[kExchange]?.clientDrain();
}
function onUpstreamResponse(this: Tagged<http.ClientRequest>, incoming: http.IncomingMessage): void {
  this[kExchange]?.upstreamResponse(incoming);
}
function onUpstreamError(this: Tagged<http.ClientRequest>, err: UpstreamError): void {
  this[kExchange]?.upstreamError(this, err);
}
function onUpstreamClose(this: Tagged<http.ClientRequest>): void {
  this[kExchange]?.upstreamClose(this);
}
function onUpstreamInformation(this: Tagged<http.ClientRequest>, info: http.InformationEvent): void {
  this[kExchange]?.upstreamInformation(info);
}
function onUpstreamDrain(this: Tagged<http.ClientRequest>): void {
  this[kExchange]?.upstreamDrain();
}
function onUpstreamData(this: Tagged<http.IncomingMessage>, chunk: Buffer): void {
  this[kExchange]?.upstreamData(chunk);
}
function onUpstreamEnd(this: Tagged<http.IncomingMessage>): void {
  this[kExchange]?.upstreamEnd();
}
function onUpstreamResponseClose(this: Tagged<http.IncomingMessage>): void {
  this[kExchange]?.upstreamResponseClose(this);
}
function onTimeout(exchange: Exchange): void {
  exchange.timedOut();
}
function ignore(): void {}
