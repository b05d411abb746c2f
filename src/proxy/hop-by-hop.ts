// Header rules for both directions, on Node's flat `rawHeaders` lists
// ([name, value, name, value, …]) so names keep their case, order and repeats
// (several `set-cookie`, two `authorization` lines stay several). Each rule is a
// pure function from a header list to a new one; nothing is mutated in place.
// RFC 9110 §7.6.1 (Connection) and SPEC §3, §8.

import type { RawHeaders } from '../shared/raw-headers.ts';
import { TAGS_HEADER } from '../shared/tags.ts';

// https://www.rfc-editor.org/rfc/rfc9110#section-7.6.1 — a proxy removes these, and
// `proxy-connection`, a non-standard alias old clients still send (SPEC §8).
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'trailers',
  'transfer-encoding',
  'upgrade',
]);

// Headers a Connection option may never remove: the message framing and the
// headers the proxy sets itself. `Connection: host, content-length` from a client
// must not strip them (RFC 9110 §7.6.1 lets a proxy keep what it must).
const PROTECTED_FROM_CONNECTION: ReadonlySet<string> = new Set(['host', 'content-length', 'content-type']);

/** The lower-cased option names listed in every `Connection` header (RFC 9110 §7.6.1). */
export function connectionOptions(raw: RawHeaders): Set<string> {
  const options = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 10 && name.toLowerCase() === 'connection') {
      for (const option of (raw[i + 1] as string).split(',')) {
        const token = option.trim().toLowerCase();
        if (token !== '' && !PROTECTED_FROM_CONNECTION.has(token)) options.add(token);
      }
    }
  }
  return options;
}

/**
 * Removes the hop-by-hop headers, every header the Connection header names, and
 * any extra names given (such as `host`, which the forwarder sets itself).
 */
export function withoutHopByHop(raw: RawHeaders, alsoRemove?: ReadonlySet<string>): string[] {
  const named = connectionOptions(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP_HEADERS.has(lower) || named.has(lower) || alsoRemove?.has(lower) === true) continue;
    out.push(name, raw[i + 1] as string);
  }
  return out;
}

// `expect` is answered by the proxy itself (Node sends `100 Continue` to the client
// as soon as the request handler runs), so the upstream must not be asked to wait.
// `lm-proxy-tags` is the proxy's own (SPEC §10): it never reaches the upstream.
const REQUEST_REMOVALS: ReadonlySet<string> = new Set(['host', 'expect', TAGS_HEADER]);

/**
 * The headers sent upstream: the client's, minus hop-by-hop ones, with `Host` set
 * to the upstream authority. `Host` comes first, as RFC 9112 §3.2 asks, and is
 * added after filtering so no client `Connection` option can remove it (SPEC §8).
 * A forged `Host`, `X-Forwarded-Host` or `Forwarded` never changes the destination.
 */
export function upstreamRequestHeaders(raw: RawHeaders, upstreamAuthority: string): string[] {
  const filtered = withoutHopByHop(raw, REQUEST_REMOVALS);
  filtered.unshift('Host', upstreamAuthority);
  // Transfer-Encoding is hop-by-hop, but the body it framed is not: without framing of
  // its own, Node's client sends a GET, HEAD, DELETE or OPTIONS body as bare bytes after
  // the head, and the upstream reads them as a second request that never passed the
  // proxy's checks (request smuggling). So the body is re-framed, chunked, for every method.
  const codings = transferCodings(raw);
  if (codings !== null) filtered.push('Transfer-Encoding', codings);
  return filtered;
}

/**
 * The request's transfer codings, ending in `chunked`, or null without a Transfer-Encoding.
 * Node's parser removed only the chunked framing: a body sent `gzip, chunked` still reaches
 * the proxy gzip-coded, so the codings before `chunked` go upstream with it.
 */
function transferCodings(raw: RawHeaders): string | null {
  let present = false;
  const codings: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length !== 17 || name.toLowerCase() !== 'transfer-encoding') continue;
    present = true;
    for (const coding of (raw[i + 1] as string).split(',')) {
      const token = coding.trim().toLowerCase();
      if (token !== '' && token !== 'chunked') codings.push(token);
    }
  }
  // One `chunked`, last: the framing this hop adds (RFC 9112 §6.1).
  return present ? [...codings, 'chunked'].join(', ') : null;
}

/** The headers sent to the client: the upstream's, minus hop-by-hop ones. */
export function clientResponseHeaders(raw: RawHeaders): string[] {
  return withoutHopByHop(raw);
}

/** An upstream response head as the forwarder needs it, read in one pass over the list. */
export interface ResponseHead {
  /** The headers for the client: the upstream's, minus hop-by-hop ones. */
  readonly headers: string[];
  readonly contentType: string | undefined;
  readonly contentEncoding: string | undefined;
  readonly contentLength: string | undefined;
}

export function clientResponseHead(raw: RawHeaders): ResponseHead {
  const named = connectionOptions(raw);
  const headers: string[] = [];
  let contentType: string | undefined;
  let contentEncoding: string | undefined;
  let contentLength: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP_HEADERS.has(lower) || named.has(lower)) continue;
    headers.push(name, value);
    if (lower === 'content-type') contentType ??= value;
    else if (lower === 'content-encoding') contentEncoding ??= value;
    else if (lower === 'content-length') contentLength ??= value;
  }
  return { headers, contentType, contentEncoding, contentLength };
}

// ---- WebSocket (SPEC §13) ----

/**
 * A WebSocket request: `GET` with an `Upgrade` header naming `websocket` and a `Connection`
 * header naming `upgrade` (RFC 6455 §4.1). Any other Upgrade offer (h2c) is not one (SPEC §8).
 */
export function asksForWebSocket(method: string | undefined, raw: RawHeaders): boolean {
  if (method !== 'GET') return false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 7 && name.toLowerCase() === 'upgrade' && /(?:^|,)\s*websocket\s*(?:,|$)/i.test(raw[i + 1] as string)) {
      return connectionOptions(raw).has('upgrade');
    }
  }
  return false;
}

/** The request without its Upgrade offer: what the proxy serves over HTTP/1.1 instead (SPEC §8). */
export function withoutUpgradeOffer(raw: RawHeaders): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 7 && name.toLowerCase() === 'upgrade') continue;
    out.push(name, raw[i + 1] as string);
  }
  return out;
}

/**
 * A WebSocket handshake's headers, either way (SPEC §13): `Upgrade` as sent, the first
 * `Connection` header as `Connection: Upgrade` (any other option it names is hop-by-hop and
 * goes), every `Sec-WebSocket-*` header kept even where `Connection` names it; every other
 * hop-by-hop header removed, and `alsoRemove` too.
 */
function handshakeHeaders(raw: RawHeaders, alsoRemove: ReadonlySet<string> | undefined): string[] {
  const named = connectionOptions(raw);
  const out: string[] = [];
  let connectionSent = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    if (lower === 'upgrade') {
      out.push(name, raw[i + 1] as string);
    } else if (lower === 'connection') {
      if (!connectionSent) out.push(name, 'Upgrade');
      connectionSent = true;
    } else if (lower.startsWith('sec-websocket-')) {
      out.push(name, raw[i + 1] as string);
    } else if (!HOP_BY_HOP_HEADERS.has(lower) && !named.has(lower) && alsoRemove?.has(lower) !== true) {
      out.push(name, raw[i + 1] as string);
    }
  }
  return out;
}

/**
 * The upgrade request's headers for the upstream: the handshake's, `Host` the upstream's and
 * first, `LM-Proxy-Tags` and `Expect` removed. No `Transfer-Encoding` is added back: nothing
 * the client sends after its head reaches the upstream before the 101 (websocket-tunnel.ts).
 */
export function upgradeRequestHeaders(raw: RawHeaders, upstreamAuthority: string): string[] {
  const headers = handshakeHeaders(raw, REQUEST_REMOVALS);
  headers.unshift('Host', upstreamAuthority);
  return headers;
}

/** The upstream's 101 headers for the client: the handshake's. */
export function upgradeResponseHeaders(raw: RawHeaders): string[] {
  return handshakeHeaders(raw, undefined);
}
