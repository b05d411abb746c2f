// The soak's upstream: a loopback node:http server answering each request with the bytes that
// mix.ts defines for its kind (header `x-soak-kind`, id in `x-soak-id`): JSON chats with usage,
// gzip and br compressed chats, SSE streams a few milliseconds apart (gzip-flushed per event for
// sse-gzip), the model list without usage, and streams held open after their first event for the
// client to abort. It counts what it served and how each response ended, so the soak can tell that
// the proxy aborted the upstream request when its client went away (SPEC §3). Never leaves 127.0.0.1.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { firstAbortEvent, KINDS, SPECS, streamEvents, chatJson, MODELS_JSON, type Kind } from './mix.ts';

// Spacing of a stream's events: enough for the proxy to see them as separate writes.
const EVENT_SPACING_MS = 1;
// A stream held for the client to abort ends by itself after this long, so an upstream request the
// proxy forgot to abort shows up as a stream that finished instead of one that was closed early.
const HOLD_MS = 10_000;
// Idle keep-alive connections are kept a minute (Node's default is 5 s), so the soak sees the proxy
// retire its idle upstream sockets itself (at UPSTREAM_IDLE_MS, SPEC §8) instead of the upstream doing it.
const KEEP_ALIVE_TIMEOUT_MS = 60_000;
// Brotli's default quality (11) costs milliseconds per small body; servers use 4-6 on the fly.
const BROTLI_OPTIONS = { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 } };

export interface UpstreamCounts {
  /** Responses begun, per kind. */
  readonly served: Record<Kind, number>;
  /** Responses whose last byte was written. */
  readonly finished: Record<Kind, number>;
  /** Responses closed before their end: the proxy went away (it does when its client does). */
  readonly closedEarly: Record<Kind, number>;
  /** Streaming requests without include_usage that arrived with it (the proxy injected it, SPEC §5). */
  injected: number;
  /** Streaming requests without include_usage that arrived without it. */
  notInjected: number;
  /** Requests the soak did not send (no or unknown x-soak-kind). */
  unknown: number;
}

export interface SoakUpstream {
  readonly origin: string;
  readonly counts: UpstreamCounts;
  /** Responses begun and not yet closed. */
  openResponses(): number;
  /** TCP connections open to the upstream (the proxy's pool). */
  connections(): Promise<number>;
  close(): Promise<void>;
}

function perKind(): Record<Kind, number> {
  return Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
}

export async function startSoakUpstream(): Promise<SoakUpstream> {
  const counts: UpstreamCounts = { served: perKind(), finished: perKind(), closedEarly: perKind(), injected: 0, notInjected: 0, unknown: 0 };
  let open = 0;

  function serve(kind: Kind, id: number, body: string, req: http.IncomingMessage, res: http.ServerResponse): void {
    counts.served[kind]++;
    open++;
    res.once('close', () => {
      open--;
      if (res.writableFinished) counts.finished[kind]++;
      else counts.closedEarly[kind]++;
    });
    const spec = SPECS[kind];
    const asksUsage = /"include_usage"\s*:\s*true/.test(body);
    if (spec.stream && !spec.includeUsage) {
      if (asksUsage) counts.injected++;
      else counts.notInjected++;
    }
    const accepts = (coding: string): boolean => (req.headers['accept-encoding'] ?? '').includes(coding);
    switch (kind) {
      case 'json':
      case 'json-gzip':
      case 'json-br': {
        const plain = Buffer.from(chatJson(id));
        const coding = spec.acceptEncoding !== null && accepts(spec.acceptEncoding) ? spec.acceptEncoding : null;
        const bytes = coding === 'gzip' ? zlib.gzipSync(plain) : coding === 'br' ? zlib.brotliCompressSync(plain, BROTLI_OPTIONS) : plain;
        const headers: Record<string, string> = { 'content-type': 'application/json', 'content-length': String(bytes.length) };
        if (coding !== null) headers['content-encoding'] = coding;
        res.writeHead(200, headers);
        res.end(bytes);
        return;
      }
      case 'models':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(MODELS_JSON)) });
        res.end(MODELS_JSON);
        return;
      case 'sse':
      case 'sse-injected':
      case 'sse-gzip':
        streamEventsTo(res, streamEvents(id, asksUsage), kind === 'sse-gzip' && accepts('gzip'));
        return;
      case 'abort-after-usage':
      case 'abort-before-usage': {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.write(firstAbortEvent(id, kind === 'abort-after-usage'));
        const rest = streamEvents(id, asksUsage).slice(1).join('');
        const timer = setTimeout(() => res.end(rest), HOLD_MS);
        res.once('close', () => clearTimeout(timer));
        return;
      }
    }
  }

  const server = http.createServer({ noDelay: true, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }, (req, res) => {
    const kind = req.headers['x-soak-kind'];
    const id = Number(req.headers['x-soak-id']);
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => {
      if (typeof kind !== 'string' || !(KINDS as readonly string[]).includes(kind) || !Number.isInteger(id)) {
        counts.unknown++;
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"error":{"message":"not a soak request"}}');
        return;
      }
      serve(kind as Kind, id, Buffer.concat(parts).toString('utf8'), req, res);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    counts,
    openResponses: () => open,
    connections: () => new Promise((resolve) => server.getConnections((_err, n) => resolve(n))),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Writes the events EVENT_SPACING_MS apart, as they come; gzip flushed after each, as SSE servers do. */
function streamEventsTo(res: http.ServerResponse, events: readonly string[], gzip: boolean): void {
  const headers: Record<string, string> = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };
  if (gzip) headers['content-encoding'] = 'gzip';
  res.writeHead(200, headers);
  const encoder = gzip ? zlib.createGzip() : null;
  encoder?.on('data', (chunk: Buffer) => res.write(chunk));
  encoder?.on('end', () => res.end());
  let next = 0;
  let timer: NodeJS.Timeout | undefined;
  res.once('close', () => {
    clearTimeout(timer);
    encoder?.destroy();
  });
  const send = (): void => {
    if (res.destroyed) return;
    const event = events[next++] ?? '';
    const last = next >= events.length;
    if (encoder === null) {
      if (last) res.end(event);
      else res.write(event);
    } else if (last) {
      encoder.end(event);
    } else {
      encoder.write(event);
      encoder.flush();
    }
    if (!last) timer = setTimeout(send, EVENT_SPACING_MS);
  };
  send();
}
