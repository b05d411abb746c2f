// One WebSocket session (SPEC §13), from the client's upgrade request to the close of both
// sockets. The upgrade goes to the upstream with SPEC §3's target rules on a connection of its
// own; the upstream's 101 goes back with its headers, and any other answer as an ordinary
// response. After the 101 the bytes pass both ways unchanged, with backpressure both ways; a
// session tap reads the upstream's bytes on the side, after they were written to the client.
// Either side closing or failing closes the other; the client going away closes the upstream
// at once (a Realtime session left open keeps billing). No idle limit after the 101.
//
// Nothing the client sends after its head reaches the upstream before the 101: an upstream that
// does not switch protocols would read those bytes as HTTP — a request of its own that never
// passed the proxy's checks.

import type http from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { describeUpstreamFailure, proxyError, type ProxyError, type ProxyErrorCode } from '../shared/errors.ts';
import type { EndReason, ExchangeStart, ExchangeSummary, SessionTap } from '../shared/exchange-tap.ts';
import type { ForwardContext } from './forward-context.ts';
import { upgradeRequestHeaders, upgradeResponseHeaders } from './hop-by-hop.ts';
import { answerOnSocket, relayResponse, responseHeadBytes, type RelayEnd } from './raw-response.ts';
import { pathForLog, resolveUpstreamTarget } from './upstream-target.ts';

export interface TunnelOptions {
  /** Opens a side reader for a session that will be forwarded; null to observe nothing. */
  readonly openSessionTap?: ((start: ExchangeStart) => SessionTap | null) | undefined;
}

// Bytes a client may send before the 101 that are held for the upstream (a client that sends
// frames before the handshake completes); past this the client's socket is no longer read until
// the 101, so a client flooding a slow handshake costs bounded memory.
const MAX_EARLY_BYTES = 64 * 1024; // 64 KiB
// Once one side has closed its end gracefully and the proxy has passed the close on, how long the
// other may take to close its own before both sockets are destroyed. WebSocket ends close
// straight after the closing handshake (RFC 6455 §7.1.1); this only reaps a peer that never does.
const CLOSE_LINGER_MS = 10_000;

const kTimeout = Symbol('lm-proxy upgrade timeout');
type UpgradeError = NodeJS.ErrnoException & { [kTimeout]?: true };

type Phase = 'handshake' | 'answering' | 'open' | 'over';

export class WebSocketSession {
  private readonly context: ForwardContext;
  private readonly sessions: Set<WebSocketSession>;
  private readonly req: http.IncomingMessage;
  private readonly client: Socket;
  private readonly started = performance.now();
  private readonly clientPath: string;
  private tap: SessionTap | null = null;

  private phase: Phase = 'handshake';
  private outgoing: http.ClientRequest | null = null;
  private upstream: Socket | null = null;
  private timer: NodeJS.Timeout | null = null;
  private linger: NodeJS.Timeout | null = null;
  private early: Buffer[] = [];
  private earlyBytes = 0;
  private status = 0;
  private ttfbMs: number | null = null;
  private bytesUp = 0;
  private bytesDown = 0;
  private end: EndReason | null = null;
  private errorCode: ProxyErrorCode | null = null;
  private clientClosed = false;
  private upstreamEnded = false;
  private upstreamClosed = true; // until there is an upstream socket
  private requestClosed = true; // until the upgrade request is sent
  private finished = false;

  constructor(context: ForwardContext, sessions: Set<WebSocketSession>, req: http.IncomingMessage, socket: Socket, head: Buffer) {
    this.context = context;
    this.sessions = sessions;
    this.req = req;
    this.client = socket;
    this.clientPath = pathForLog(req.url ?? '');
    if (head.length > 0) this.holdEarly(head);
  }

  start(openTap: TunnelOptions['openSessionTap']): void {
    const { context, client, req } = this;
    const { options } = context;
    options.onExchangeStart?.();
    this.sessions.add(this);
    // SPEC §13: a session has no idle limit of the proxy's; its ends ping each other.
    client.setTimeout(0);
    client.on('error', this.onClientError);
    client.on('data', this.onClientData);
    client.on('end', this.onClientEnd);
    client.on('close', this.onClientClose);

    const target = resolveUpstreamTarget(req.url ?? '', options.upstream.basePath);
    if (!target.ok) {
      this.answer(proxyError('invalid_path', target.message), 'done');
      return;
    }
    this.tap = openTap?.({ method: 'GET', clientPath: target.clientPath, query: target.query, requestHeaders: req.rawHeaders }) ?? null;
    const { upstream } = options;
    // A connection of its own, never a pooled one: it becomes the tunnel, or closes after the answer.
    const outgoing = context.request({
      host: upstream.hostname,
      port: upstream.port,
      method: 'GET',
      path: target.upstreamPath,
      headers: upgradeRequestHeaders(req.rawHeaders, upstream.authority),
      agent: false,
      servername: context.servername,
    });
    this.outgoing = outgoing;
    this.requestClosed = false;
    outgoing.on('upgrade', this.onUpgrade);
    outgoing.on('response', this.onResponse);
    outgoing.on('error', this.onUpstreamRequestError);
    outgoing.on('close', this.onUpstreamRequestClose);
    outgoing.end();
    // SPEC §13: UPSTREAM_TIMEOUT_MS bounds only the wait for the 101.
    const ms = options.upstreamTimeoutMs;
    if (ms > 0) this.timer = setTimeout(() => outgoing.destroy(Object.assign(new Error('upstream timeout'), { [kTimeout]: true as const })), ms);
  }

  /** Shutdown's grace period is over: both sockets go now (`end=shutdown`). */
  cut(): void {
    this.end ??= 'shutdown';
    if (this.phase === 'handshake') this.phase = 'over';
    this.outgoing?.destroy();
    this.upstream?.destroy();
    this.client.destroy();
  }

  // ---- the handshake ----

  private holdEarly(chunk: Buffer): void {
    this.early.push(chunk);
    this.earlyBytes += chunk.length;
    if (this.earlyBytes > MAX_EARLY_BYTES) this.client.pause();
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private readonly onUpgrade = (res: http.IncomingMessage, socket: Socket, head: Buffer): void => {
    this.clearTimer();
    this.ttfbMs = performance.now() - this.started;
    this.upstream = socket;
    this.upstreamClosed = false;
    socket.on('error', this.onUpstreamError);
    socket.on('close', this.onUpstreamClose);
    if (this.phase !== 'handshake' || this.clientClosed) {
      socket.destroy();
      return;
    }
    const headers = upgradeResponseHeaders(res.rawHeaders);
    this.status = 101;
    this.phase = 'open';
    socket.setTimeout(0);
    socket.setNoDelay(true);
    socket.on('data', this.onUpstreamData);
    socket.on('end', this.onUpstreamEnd);
    const client = this.client;
    // The head and the first frames that came with it leave in one write.
    const head101 = responseHeadBytes(101, res.statusMessage ?? 'Switching Protocols', headers);
    if (!client.write(head.length > 0 ? Buffer.concat([head101, head]) : head101)) this.pauseUpstream();
    this.bytesDown += head.length;
    this.tap?.opened({ responseHeaders: headers, ttfbMs: this.ttfbMs });
    if (head.length > 0) this.tap?.upstreamChunk(head);
    // What the client sent before the 101 now goes, in order, before anything it sends next.
    for (const chunk of this.early) this.toUpstream(chunk);
    this.early = [];
    this.earlyBytes = 0;
    if (client.isPaused()) client.resume();
  };

  private readonly onResponse = (res: http.IncomingMessage): void => {
    this.clearTimer();
    this.ttfbMs = performance.now() - this.started;
    const status = res.statusCode ?? 0;
    // A 101 without an Upgrade header switches to nothing (RFC 9110 §15.2.2): not an answer to relay.
    if (status === 101 || status < 100 || status > 599) {
      res.destroy();
      this.answer(proxyError('upstream_invalid_response', `the upstream answered the upgrade with status ${status} and no protocol to switch to`), 'upstream_error');
      return;
    }
    if (this.phase !== 'handshake' || this.clientClosed) {
      res.destroy();
      return;
    }
    this.phase = 'answering';
    this.early = [];
    const http10 = this.req.httpVersionMajor === 1 && this.req.httpVersionMinor === 0;
    const onEnd = (end: RelayEnd): void => {
      this.end ??= end;
    };
    if (!relayResponse(this.client, res, http10, (bytes) => (this.bytesDown += bytes), onEnd)) {
      res.destroy();
      this.phase = 'handshake';
      this.answer(proxyError('upstream_invalid_response', 'the upstream sent headers that cannot be forwarded'), 'upstream_error');
      return;
    }
    this.status = status;
  };

  private readonly onUpstreamRequestError = (err: UpgradeError): void => {
    this.clearTimer();
    if (this.phase !== 'handshake') return;
    if (err[kTimeout] === true) {
      const ms = this.context.options.upstreamTimeoutMs;
      this.answer(proxyError('upstream_timeout', `the upstream did not answer the WebSocket upgrade within ${ms} ms`), 'timeout');
    } else if (typeof err.code === 'string' && err.code.startsWith('HPE_')) {
      this.answer(proxyError('upstream_invalid_response', `the upstream sent a malformed response (${err.code})`), 'upstream_error');
    } else {
      this.answer(proxyError('upstream_unreachable', describeUpstreamFailure(err)), 'upstream_error');
    }
  };

  // The request closes after its answer, or without one: Node closes it with no event when the
  // upstream sends a 101 to nothing it can parse further. The client must not wait forever.
  private readonly onUpstreamRequestClose = (): void => {
    this.requestClosed = true;
    this.clearTimer();
    if (this.phase === 'handshake' && !this.clientClosed) {
      this.answer(proxyError('upstream_invalid_response', 'the upstream closed the connection without answering the upgrade'), 'upstream_error');
    }
    this.finishIfClosed();
  };

  /** The proxy's own answer, before any upstream answer began (SPEC §3's 502, 504; 400). */
  private answer(error: ProxyError, end: EndReason): void {
    if (this.phase !== 'handshake') return;
    this.phase = 'answering';
    this.status = error.status;
    this.errorCode = error.code;
    this.end ??= end;
    this.early = [];
    this.outgoing?.destroy();
    if (this.clientClosed) return;
    if (this.client.isPaused()) this.client.resume();
    answerOnSocket(this.client, error);
  }

  // ---- the tunnel ----

  private toUpstream(chunk: Buffer): void {
    const upstream = this.upstream;
    this.bytesUp += chunk.length;
    // The upstream may have ended its side already (a closing handshake under way): the rest is dropped.
    if (upstream === null || !upstream.writable) return;
    if (!upstream.write(chunk) && !this.client.isPaused()) {
      this.client.pause();
      upstream.once('drain', this.onUpstreamDrain);
    }
  }

  private pauseUpstream(): void {
    const upstream = this.upstream as Socket;
    if (upstream.isPaused()) return;
    upstream.pause();
    this.client.once('drain', this.onClientDrain);
  }

  private readonly onClientData = (chunk: Buffer): void => {
    if (this.phase === 'open') this.toUpstream(chunk);
    else if (this.phase === 'handshake') this.holdEarly(chunk);
    // Answering: the connection ends after the answer; what the client sends meanwhile is dropped.
  };

  private readonly onUpstreamData = (chunk: Buffer): void => {
    this.bytesDown += chunk.length;
    if (!this.client.writable) return;
    if (!this.client.write(chunk)) this.pauseUpstream();
    // The client's bytes leave first; reading them for usage never delays a frame.
    this.tap?.upstreamChunk(chunk);
  };

  private readonly onUpstreamDrain = (): void => {
    if (this.client.isPaused()) this.client.resume();
  };

  private readonly onClientDrain = (): void => {
    this.upstream?.resume();
  };

  private readonly onClientEnd = (): void => {
    if (this.phase === 'open') {
      this.end ??= 'done';
      this.upstream?.end();
      this.armLinger();
    } else if (this.phase === 'handshake') {
      // Gone before the 101: no session to open (SPEC §3: abort the upstream request at once).
      this.end ??= 'client_abort';
      this.phase = 'over';
      this.outgoing?.destroy();
      this.client.destroy();
    }
  };

  private readonly onUpstreamEnd = (): void => {
    this.upstreamEnded = true;
    // The upstream closing first without a close frame (RFC 6455 §7.1.1: a server closes its TCP
    // connection after the closing handshake) is a session that died, as far as a tap could tell.
    this.end ??= this.tap === null || this.tap.closeCode() !== null ? 'done' : 'upstream_error';
    this.client.end();
    this.armLinger();
  };

  private readonly onClientError = (): void => {
    this.end ??= 'client_abort';
  };

  private readonly onUpstreamError = (): void => {
    this.end ??= 'upstream_error';
  };

  private armLinger(): void {
    if (this.linger !== null) return;
    this.linger = setTimeout(() => {
      this.upstream?.destroy();
      this.client.destroy();
    }, CLOSE_LINGER_MS);
    this.linger.unref();
  }

  private readonly onClientClose = (): void => {
    this.clientClosed = true;
    // SPEC §13: the client going away closes the upstream at once.
    if (this.phase === 'handshake') {
      this.end ??= 'client_abort';
      this.phase = 'over';
      this.outgoing?.destroy();
    }
    this.end ??= this.context.options.shutdown.cutting ? 'shutdown' : 'client_abort';
    this.upstream?.destroy();
    this.finishIfClosed();
  };

  private readonly onUpstreamClose = (): void => {
    this.upstreamClosed = true;
    this.end ??= this.context.options.shutdown.cutting ? 'shutdown' : 'upstream_error';
    // A graceful end has been passed on already (client.end()); anything else cuts the client now.
    if (!this.upstreamEnded) this.client.destroy();
    this.finishIfClosed();
  };

  // ---- the end ----

  /** The single place a session ends: once the client's socket, the upstream's and the request are all closed. */
  private finishIfClosed(): void {
    if (this.finished || !this.clientClosed || !this.upstreamClosed || !this.requestClosed) return;
    this.finished = true;
    this.phase = 'over';
    this.clearTimer();
    if (this.linger !== null) clearTimeout(this.linger);
    this.sessions.delete(this);
    const opened = this.status === 101;
    const summary: ExchangeSummary = {
      method: 'GET',
      clientPath: this.clientPath,
      status: this.status,
      end: this.end ?? 'done',
      durationMs: performance.now() - this.started,
      ttfbMs: this.ttfbMs,
      requestBytes: this.bytesUp,
      responseBytes: this.bytesDown,
      errorCode: this.errorCode,
      ...(opened ? { closeCode: this.tap?.closeCode() ?? null } : {}),
    };
    this.tap?.finish(summary);
    this.context.options.onExchangeEnd?.(summary);
  }
}
