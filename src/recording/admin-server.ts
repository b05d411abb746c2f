// The admin listener of SPEC §6: `GET /healthz`, `/readyz` and `/metrics` on METRICS_ADDR,
// and whatever else the composition root mounts before them (the dashboard, SPEC §12).
// It only answers; it never listens or closes by itself (the server module owns its
// lifetime) and its requests never count in the proxy's metrics (SPEC §8 "Metrics").
// Probes rely on the status code alone (kubernetes.io health-checks), so bodies are tiny.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { EXPOSITION_CONTENT_TYPE } from './metrics.ts';

export interface AdminServerOptions {
  readonly metrics: { render(): string };
  /** True while the proxy accepts requests; false once shutdown has begun. */
  isReady(): boolean;
  /** Tried first for every request: true when it answered (the dashboard's `/`, `/usage.json`, …). */
  readonly mounted?: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;
}

const TEXT = 'text/plain; charset=utf-8';
const ALLOW = 'GET, HEAD';

// A scrape or a probe is one small request: a client that takes longer than this to
// send one is stuck, and holding its socket open helps nobody.
const HEADERS_TIMEOUT_MS = 10_000; // 10 seconds
const REQUEST_TIMEOUT_MS = 10_000; // 10 seconds

interface Reply {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

// Each route reads the proxy's state at request time.
const ROUTES: ReadonlyMap<string, (options: AdminServerOptions) => Reply> = new Map<
  string,
  (options: AdminServerOptions) => Reply
>([
  // Live while the event loop runs, draining or not.
  ['/healthz', () => ({ status: 200, contentType: TEXT, body: 'ok\n' })],
  // Fails first at shutdown, so load balancers stop sending before the proxy stops accepting.
  [
    '/readyz',
    (options) =>
      options.isReady()
        ? { status: 200, contentType: TEXT, body: 'ready\n' }
        : { status: 503, contentType: TEXT, body: 'shutting down\n' },
  ],
  ['/metrics', (options) => ({ status: 200, contentType: EXPOSITION_CONTENT_TYPE, body: options.metrics.render() })],
]);

function send(req: IncomingMessage, res: ServerResponse, reply: Reply, extra: Record<string, string> = {}): void {
  const body = Buffer.from(reply.body, 'utf8');
  res.writeHead(reply.status, {
    'Content-Type': reply.contentType,
    'Content-Length': String(body.length),
    'Cache-Control': 'no-store',
    ...extra,
  });
  // RFC 9110 §9.3.2: HEAD gets GET's headers, Content-Length included, and no body.
  res.end(req.method === 'HEAD' ? undefined : body);
}

function handle(req: IncomingMessage, res: ServerResponse, options: AdminServerOptions): void {
  // Routing ignores the query (`/metrics?x=1`); a target not in origin form
  // (`http://host/metrics`, `*`) is not one of our paths.
  const target = req.url ?? '';
  const query = target.indexOf('?');
  const path = query === -1 ? target : target.slice(0, query);

  const route = ROUTES.get(path);
  if (route === undefined) {
    send(req, res, { status: 404, contentType: TEXT, body: 'not found\n' });
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(req, res, { status: 405, contentType: TEXT, body: 'method not allowed\n' }, { Allow: ALLOW });
    return;
  }
  let reply: Reply;
  try {
    reply = route(options);
  } catch {
    // A render that throws is a bug; the scraper sees a failed scrape, not a hung one.
    reply = { status: 500, contentType: TEXT, body: 'internal error\n' };
  }
  send(req, res, reply);
}

/** An http.Server answering the admin routes; the caller listens on METRICS_ADDR and
 *  closes it at shutdown. */
export function createAdminServer(options: AdminServerOptions): Server {
  const { mounted } = options;
  const server = createServer((req, res) => {
    if (mounted === undefined || !mounted(req, res)) handle(req, res, options);
  });
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  return server;
}
