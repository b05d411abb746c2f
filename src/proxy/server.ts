// The proxy's listening socket: a node:http server with every timeout chosen on
// purpose, the answers the proxy gives to requests Node's parser rejects, and
// graceful shutdown. Each request goes to the forwarder, each WebSocket upgrade to its
// upgrade(); nothing else happens here.

import http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { proxyError, type ProxyError } from '../shared/errors.ts';
import type { ShutdownState } from './forward-context.ts';
import type { Forwarder } from './forwarder.ts';
import { asksForWebSocket, withoutUpgradeOffer } from './hop-by-hop.ts';
import { answerOnSocket } from './raw-response.ts';

// SPEC §8: a header block over 16 KiB is answered 431.
const MAX_HEADER_BYTES = 16 * 1024;
// SPEC §8: a request head must arrive within 10 s of the connection's first byte;
// slowloris clients are cut off. Node checks this on an interval, so the interval
// is short enough for the limit to mean what it says.
const HEADERS_TIMEOUT_MS = 10_000;
const CONNECTIONS_CHECKING_INTERVAL_MS = 1_000;
// requestTimeout bounds receiving the whole request, body included: a slow 100 MB
// upload must go through, so it is off. The forwarder's upstream timeout counts
// from the last request byte instead, so a stalled upload still ends.
const REQUEST_TIMEOUT_MS = 0;
// Idle client keep-alive connections are kept longer than clients and load
// balancers keep theirs (60 s on AWS ALB; SDK agents 4-5 s), so the client side
// closes first and never reuses a socket the proxy is closing.
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
// No socket inactivity timeout: a non-streaming 20-minute generation sends no
// byte until it is done.
const SOCKET_TIMEOUT_MS = 0;
// After the grace period: how long the cut exchanges may take to report their end.
const CUT_EXCHANGES_END_MS = 1_000;

export interface ProxyServer {
  readonly server: http.Server;
  /** Stops accepting, lets requests in flight finish within graceMs, then cuts the rest. */
  shutdown(graceMs: number): Promise<{ readonly cut: number }>;
  /** Tells the server an exchange has ended (idle connections are closed while draining). */
  exchangeEnded(): void;
}

export interface ProxyServerOptions {
  readonly forwarder: Forwarder;
  readonly shutdown: ShutdownState;
  /** Requests that never reached the forwarder (CONNECT, parse errors, 431, 408), for metrics. */
  readonly onRejected?: (error: ProxyError, method: string | null) => void;
  /** Exchanges in flight, for shutdown. */
  readonly activeExchanges: () => number;
}

export function createProxyServer(options: ProxyServerOptions): ProxyServer {
  const { forwarder, shutdown, onRejected, activeExchanges } = options;
  const server = http.createServer({
    maxHeaderSize: MAX_HEADER_BYTES,
    headersTimeout: HEADERS_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
    // Nagle off on client sockets: each event leaves as soon as it is written (SPEC §3).
    noDelay: true,
  });
  server.timeout = SOCKET_TIMEOUT_MS;

  server.on('request', (req, res) => forwarder.handle(req, res));

  // With an 'upgrade' listener, Node hands every request with `Connection: upgrade` and an
  // `Upgrade` header here, its socket detached from the HTTP parser. A WebSocket request is
  // tunnelled (SPEC §13); any other offer (h2c) is dropped and the request served over
  // HTTP/1.1 (SPEC §8): its head goes back into the socket without the offer, and the socket
  // to the server as a fresh connection, whose parser reads it as an ordinary request.
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (asksForWebSocket(req.method, req.rawHeaders)) {
      forwarder.upgrade(req, socket as Socket, head);
      return;
    }
    socket.unshift(Buffer.concat([requestHeadWithoutOffer(req), head]));
    server.emit('connection', socket);
  });

  // Without a 'connect' listener Node would drop CONNECT requests silently.
  server.on('connect', (_req: http.IncomingMessage, socket: Duplex) => {
    // Node hands this socket over with no 'error' listener: a client that resets it
    // while the answer is written would otherwise raise an uncaught ECONNRESET.
    socket.on('error', () => socket.destroy());
    const error = proxyError('method_not_allowed', 'CONNECT is not supported: lm-proxy tunnels nothing');
    onRejected?.(error, 'CONNECT');
    answerOnSocket(socket as Socket, error, 'Method Not Allowed');
  });

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    // Node's head timer starts at accept; SPEC §8's at the first byte. A connection that
    // never sent one asked nothing, so it is closed without an answer (and not counted).
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' && (socket as Socket).bytesRead === 0) {
      socket.destroy();
      return;
    }
    let error: ProxyError;
    let reason: string;
    if (err.code === 'HPE_HEADER_OVERFLOW') {
      error = proxyError('headers_too_large', `the request header block is larger than ${MAX_HEADER_BYTES} bytes`);
      reason = 'Request Header Fields Too Large';
    } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      error = proxyError('request_timeout', `the request head did not arrive within ${HEADERS_TIMEOUT_MS} ms`);
      reason = 'Request Timeout';
    } else {
      // Includes request smuggling shapes Node's parser refuses: Content-Length
      // with Transfer-Encoding, or two different Content-Lengths (SPEC §8).
      error = proxyError('invalid_request', `the request could not be parsed (${err.code ?? 'parse error'})`);
      reason = 'Bad Request';
    }
    onRejected?.(error, null);
    answerOnSocket(socket as Socket, error, reason);
  });

  async function shutdownServer(graceMs: number): Promise<{ cut: number }> {
    shutdown.draining = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Keep-alive connections that fall idle after this get closed too: every
    // response from now on says `Connection: close` (set by the forwarder).
    server.closeIdleConnections();
    let graceTimer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'grace'>((resolve) => {
      graceTimer = setTimeout(() => resolve('grace'), graceMs);
    });
    const outcome = await Promise.race([closed.then(() => 'closed' as const), graceOver]);
    clearTimeout(graceTimer);
    // A WebSocket session ends once both its sockets are closed; the server's own 'close'
    // needs only the client's. Its access line and records are waited for as below.
    if (outcome === 'closed') {
      await endOfExchanges();
      return { cut: 0 };
    }
    shutdown.cutting = true;
    const cut = activeExchanges();
    server.closeAllConnections();
    // Upgraded sockets left Node's connection list: the forwarder cuts its sessions itself.
    forwarder.cutSessions();
    await closed;
    // The cut exchanges end on their sockets' 'close' events, which come a turn of the
    // event loop after the server's own 'close'. Waiting for them lets their usage lines
    // (`end=shutdown`) and access lines be written before exit (SPEC §4: on shutdown
    // nothing accepted is lost); the wait is bounded so a stuck socket cannot hold exit.
    await endOfExchanges();
    return { cut };
  }

  async function endOfExchanges(): Promise<void> {
    const deadline = Date.now() + CUT_EXCHANGES_END_MS;
    while (activeExchanges() > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  // While draining, a keep-alive connection whose response was already under way when
  // shutdown began (so it did not say `Connection: close`) falls idle when that response
  // ends; close it then, or server.close() would wait out the whole grace period.
  function exchangeEnded(): void {
    if (shutdown.draining) setImmediate(() => server.closeIdleConnections());
  }

  return { server, shutdown: shutdownServer, exchangeEnded };
}

/** The request's head as it came (latin1: one byte per character), without its Upgrade offer. */
function requestHeadWithoutOffer(req: http.IncomingMessage): Buffer {
  const headers = withoutUpgradeOffer(req.rawHeaders);
  let head = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/${req.httpVersion}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return Buffer.from(head + '\r\n', 'latin1');
}
