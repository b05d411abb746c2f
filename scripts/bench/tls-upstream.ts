// The bench's TLS upstream: node:https on 127.0.0.1 with the test certificate of tests/fixtures/tls
// (clients trust tests/fixtures/tls/ca.pem: NODE_EXTRA_CA_CERTS for proxies, a secure context here),
// serving the Node upstream's routes (upstream.ts: the small chat JSON with usage, stamped SSE).
// Its idle keep-alive timeout is set per run, with or without the `Keep-Alive: timeout=N` hint, and
// it counts the TLS handshakes it completed and how many of them resumed a session.

import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TLSSocket, SecureVersion } from 'node:tls';
import { createUpstream } from './upstream.ts';

/** Resolved from this source file; a bundled copy (which lives elsewhere) is given the folder instead. */
export const TEST_TLS_DIR = fileURLToPath(new URL('../../tests/fixtures/tls/', import.meta.url));
export const TEST_CA_PATH = join(TEST_TLS_DIR, 'ca.pem');
/** The name the test certificate is issued to (also 127.0.0.1); clients use it for SNI. */
export const TEST_CERT_HOST = 'localhost';

export interface UpstreamServerOptions {
  /** Idle time after which the server closes a kept-alive connection (Node's default is 5 s). */
  readonly keepAliveTimeoutMs: number;
  /**
   * Announce the timeout in `Keep-Alive: timeout=N` (Node's behaviour, default true). Without it the
   * upstream closes idle connections unannounced, as nginx does by default.
   */
  readonly keepAliveHint?: boolean;
  /** false: plain HTTP, the same routes and timeouts without TLS. Default true. */
  readonly tls?: boolean;
  /** Highest TLS version offered (default TLSv1.3). */
  readonly maxVersion?: SecureVersion;
  /** The folder holding server.pem and server.key (default tests/fixtures/tls). */
  readonly tlsDir?: string;
}

export interface UpstreamServer {
  readonly server: http.Server;
  /** TLS handshakes completed (TCP connections when plain). */
  handshakes(): number;
  /** Of those, handshakes that resumed an earlier session (no certificate exchange). */
  resumed(): number;
}

export function createUpstreamServer(options: UpstreamServerOptions): UpstreamServer {
  // upstream.ts's routes, reused as they are: its server is never listened on, only asked to
  // answer the requests this one receives.
  const routes = createUpstream();
  const hint = options.keepAliveHint !== false;
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    // A `Connection` header of the application's own makes Node leave out its Keep-Alive hint.
    if (!hint) res.setHeader('connection', 'keep-alive');
    routes.emit('request', req, res);
  };
  const serverOptions: http.ServerOptions = { noDelay: true, requestTimeout: 0 };
  const tls = options.tls !== false;
  const dir = options.tlsDir ?? TEST_TLS_DIR;
  const server = tls
    ? https.createServer({ ...serverOptions, key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.pem')), maxVersion: options.maxVersion ?? 'TLSv1.3' }, onRequest)
    : http.createServer(serverOptions, onRequest);
  server.keepAliveTimeout = options.keepAliveTimeoutMs;
  server.headersTimeout = options.keepAliveTimeoutMs + 60_000;
  let handshakes = 0;
  let resumed = 0;
  server.on(tls ? 'secureConnection' : 'connection', (socket: TLSSocket) => {
    handshakes++;
    if (tls && socket.isSessionReused()) resumed++;
  });
  return { server, handshakes: () => handshakes, resumed: () => resumed };
}

/** Listens on 127.0.0.1 (port 0 picks one); resolves with the port. */
export function listenLoopback(server: http.Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    });
  });
}
