import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  HOP_BY_HOP_HEADERS,
  clientResponseHeaders,
  connectionOptions,
  asksForWebSocket,
  upgradeRequestHeaders,
  upgradeResponseHeaders,
  upstreamRequestHeaders,
  withoutHopByHop,
  withoutUpgradeOffer,
} from '../../src/proxy/hop-by-hop.ts';
import { headerValue, type RawHeaders } from '../../src/shared/raw-headers.ts';

/** Builds a flat raw header list from pairs. */
function raw(...pairs: (readonly [string, string])[]): string[] {
  return pairs.flatMap(([name, value]) => [name, value]);
}

function names(headers: RawHeaders): string[] {
  return headers.filter((_, i) => i % 2 === 0);
}

// SPEC §3 and §8: the hop-by-hop list, plus proxy-connection.
const SPEC_HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'trailers', 'transfer-encoding', 'upgrade', 'proxy-connection'];

function casings(name: string): string[] {
  const title = name.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase());
  const alternating = [...name].map((c, i) => (i % 2 === 0 ? c.toUpperCase() : c)).join('');
  return [name, name.toUpperCase(), title, alternating];
}

describe('hop-by-hop headers (RFC 9110 §7.6.1, SPEC §3)', () => {
  test('the list holds every header SPEC §3 and §8 name', () => {
    assert.deepEqual([...HOP_BY_HOP_HEADERS].sort(), [...SPEC_HOP_BY_HOP].sort());
  });

  test('every hop-by-hop header is removed in any case, both ways', () => {
    for (const name of SPEC_HOP_BY_HOP) {
      for (const spelled of casings(name)) {
        const headers = raw(['Accept', '*/*'], [spelled, 'x'], ['X-After', '1']);
        assert.deepEqual(withoutHopByHop(headers), raw(['Accept', '*/*'], ['X-After', '1']), spelled);
        assert.deepEqual(clientResponseHeaders(headers), raw(['Accept', '*/*'], ['X-After', '1']), spelled);
        // A request's Transfer-Encoding goes, and its body is re-framed by the proxy's own (below).
        const reframed = name === 'transfer-encoding' ? [['Transfer-Encoding', 'x, chunked'] as const] : [];
        assert.deepEqual(upstreamRequestHeaders(headers, 'up.example'), raw(['Host', 'up.example'], ['Accept', '*/*'], ['X-After', '1'], ...reframed), spelled);
      }
    }
  });

  test('Proxy-Connection is removed like Connection', () => {
    assert.deepEqual(withoutHopByHop(raw(['Proxy-Connection', 'keep-alive'], ['X', '1'])), raw(['X', '1']));
  });

  test('a header that merely starts or ends like a hop-by-hop one is kept', () => {
    const headers = raw(['Connections', '1'], ['X-Connection', '2'], ['Upgrade-Insecure-Requests', '1'], ['Tes', '3'], ['Trailer-X', '4'], ['Proxy-Authorization2', '5']);
    assert.deepEqual(withoutHopByHop(headers), headers);
  });
});

describe('headers named by Connection (RFC 9110 §7.6.1)', () => {
  test('every header a Connection header names is removed, in any case', () => {
    const headers = raw(['Connection', 'X-Session, keep-alive'], ['x-session', 'a'], ['X-SESSION', 'b'], ['X-Keep', 'c']);
    assert.deepEqual(withoutHopByHop(headers), raw(['X-Keep', 'c']));
  });

  test('several Connection headers each name headers to remove', () => {
    const headers = raw(['Connection', 'X-A'], ['X-A', '1'], ['X-B', '2'], ['connection', 'x-b'], ['X-C', '3']);
    assert.deepEqual(withoutHopByHop(headers), raw(['X-C', '3']));
    assert.deepEqual(connectionOptions(headers), new Set(['x-a', 'x-b']));
  });

  test('tokens are split on commas with odd spacing, tabs and empty items', () => {
    const headers = raw(['Connection', ' ,X-A ,\tX-B,,  x-c  ,'], ['X-A', '1'], ['X-B', '2'], ['X-C', '3'], ['X-D', '4']);
    assert.deepEqual(connectionOptions(headers), new Set(['x-a', 'x-b', 'x-c']));
    assert.deepEqual(withoutHopByHop(headers), raw(['X-D', '4']));
  });

  test('a header named before the Connection header that names it is removed too', () => {
    assert.deepEqual(withoutHopByHop(raw(['X-Early', '1'], ['Connection', 'x-early'])), []);
  });

  test('Connection cannot remove Host, Content-Length or Content-Type', () => {
    const headers = raw(['Connection', 'host, content-length, Content-Type, x-gone'], ['Content-Length', '5'], ['Content-Type', 'application/json'], ['X-Gone', '1']);
    assert.deepEqual(connectionOptions(headers), new Set(['x-gone']));
    assert.deepEqual(withoutHopByHop(headers), raw(['Content-Length', '5'], ['Content-Type', 'application/json']));
    assert.deepEqual(clientResponseHeaders(headers), raw(['Content-Length', '5'], ['Content-Type', 'application/json']));
  });

  test('Connection: host cannot remove the Host the proxy sends upstream', () => {
    const out = upstreamRequestHeaders(raw(['Host', 'client.example'], ['Connection', 'host, content-length'], ['Content-Length', '2']), 'up.example:8080');
    assert.deepEqual(out, raw(['Host', 'up.example:8080'], ['Content-Length', '2']));
  });

  test('a chunked request body is re-framed chunked upstream, with the codings it still carries', () => {
    const out = upstreamRequestHeaders(raw(['transfer-encoding', 'gzip, chunked'], ['Content-Type', 'text/plain']), 'up.example');
    assert.deepEqual(out, raw(['Host', 'up.example'], ['Content-Type', 'text/plain'], ['Transfer-Encoding', 'gzip, chunked']));
    // Repeated headers are one list; `chunked` once, last.
    const repeated = upstreamRequestHeaders(raw(['Transfer-Encoding', 'gzip'], ['Transfer-Encoding', ' Chunked ']), 'h');
    assert.deepEqual(repeated, raw(['Host', 'h'], ['Transfer-Encoding', 'gzip, chunked']));
    // Named by Connection too: still one header, the proxy's own.
    const named = upstreamRequestHeaders(raw(['Connection', 'transfer-encoding'], ['Transfer-Encoding', 'chunked']), 'h');
    assert.deepEqual(named, raw(['Host', 'h'], ['Transfer-Encoding', 'chunked']));
  });

  test('an empty or absent Connection header removes nothing else', () => {
    assert.deepEqual(connectionOptions(raw(['Connection', ''])), new Set());
    assert.deepEqual(connectionOptions(raw(['X', 'connection'])), new Set());
    assert.deepEqual(withoutHopByHop(raw(['Connection', ' , '], ['X', '1'])), raw(['X', '1']));
  });
});

describe('what passes through', () => {
  test('names keep their case and order, and repeated headers stay repeated', () => {
    const headers = raw(
      ['authorization', 'Bearer a'],
      ['X-Trace-ID', 't'],
      ['Authorization', 'Bearer b'],
      ['Set-Cookie', 'a=1; Path=/'],
      ['set-cookie', 'b=2'],
      ['Set-Cookie', 'c=3, d=4'],
      ['x-mIxEd-CaSe', 'v'],
    );
    assert.deepEqual(withoutHopByHop(headers), headers);
    assert.deepEqual(clientResponseHeaders(headers), headers);
    assert.deepEqual(upstreamRequestHeaders(headers, 'h'), ['Host', 'h', ...headers]);
  });

  test('values pass byte for byte, including empty values and odd bytes', () => {
    const headers = raw(['X-Empty', ''], ['X-Bytes', '\u00e9\u00ff a\tb'], ['Content-Length', '0']);
    assert.deepEqual(withoutHopByHop(headers), headers);
  });

  test('an empty list gives an empty list (and the request gets only Host)', () => {
    assert.deepEqual(withoutHopByHop([]), []);
    assert.deepEqual(clientResponseHeaders([]), []);
    assert.deepEqual(upstreamRequestHeaders([], 'h'), ['Host', 'h']);
  });

  test('extra names to remove are matched without regard to case', () => {
    assert.deepEqual(withoutHopByHop(raw(['X-A', '1'], ['x-b', '2']), new Set(['x-a'])), raw(['x-b', '2']));
  });

  test('the inputs are never mutated', () => {
    const headers = raw(['Host', 'c'], ['Connection', 'x-a, keep-alive'], ['X-A', '1'], ['Keep-Alive', 'timeout=5'], ['Expect', '100-continue'], ['X-B', '2']);
    const frozen = Object.freeze([...headers]);
    const extra = new Set(['x-b']);
    withoutHopByHop(frozen, extra);
    clientResponseHeaders(frozen);
    const out = upstreamRequestHeaders(frozen, 'up');
    connectionOptions(frozen);
    assert.deepEqual(frozen, headers);
    assert.deepEqual([...extra], ['x-b']);
    assert.notEqual(out, frozen);
  });
});

describe('the request sent upstream (SPEC §3, §8)', () => {
  test('Host is the upstream authority, first, and the client Host is gone wherever it was', () => {
    const out = upstreamRequestHeaders(raw(['Accept', '*/*'], ['HOST', 'client.example'], ['host', 'second.example']), '[::1]:8080');
    assert.deepEqual(out, raw(['Host', '[::1]:8080'], ['Accept', '*/*']));
    assert.equal(names(out).filter((n) => n.toLowerCase() === 'host').length, 1);
  });

  test('Expect is removed from requests, in any case, since the proxy answers it itself', () => {
    for (const name of ['Expect', 'expect', 'EXPECT']) {
      assert.deepEqual(upstreamRequestHeaders(raw([name, '100-continue'], ['Content-Length', '3']), 'up'), raw(['Host', 'up'], ['Content-Length', '3']));
    }
  });

  test('Expect is not a hop-by-hop header: responses keep it', () => {
    assert.deepEqual(clientResponseHeaders(raw(['Expect', 'x'])), raw(['Expect', 'x']));
  });

  test('forged X-Forwarded-Host and Forwarded pass as plain headers and never become the Host', () => {
    const headers = raw(['Host', 'evil.example'], ['X-Forwarded-Host', 'evil.example'], ['Forwarded', 'host=evil.example;proto=http'], ['X-Forwarded-Proto', 'http']);
    const out = upstreamRequestHeaders(headers, 'api.openai.com');
    assert.deepEqual(out, raw(['Host', 'api.openai.com'], ['X-Forwarded-Host', 'evil.example'], ['Forwarded', 'host=evil.example;proto=http'], ['X-Forwarded-Proto', 'http']));
    assert.equal(headerValue(out, 'host'), 'api.openai.com');
  });

  test('the proxy adds no header of its own besides Host', () => {
    const out = upstreamRequestHeaders(raw(['A', '1']), 'up');
    assert.deepEqual(out, raw(['Host', 'up'], ['A', '1']));
    assert.equal(headerValue(out, 'via'), undefined);
    assert.equal(headerValue(out, 'x-forwarded-for'), undefined);
  });

  test('credentials for the upstream pass, credentials for the proxy do not', () => {
    const out = upstreamRequestHeaders(raw(['Authorization', 'Bearer k'], ['Proxy-Authorization', 'Basic p'], ['x-api-key', 'k2']), 'up');
    assert.deepEqual(out, raw(['Host', 'up'], ['Authorization', 'Bearer k'], ['x-api-key', 'k2']));
  });

  test('a websocket or h2c Upgrade offer is dropped with its Connection option', () => {
    const out = upstreamRequestHeaders(raw(['Connection', 'Upgrade, HTTP2-Settings'], ['Upgrade', 'h2c'], ['HTTP2-Settings', 'AAMAAABkAAQAAP__'], ['Accept', '*/*']), 'up');
    assert.deepEqual(out, raw(['Host', 'up'], ['Accept', '*/*']));
  });
});

describe('the response sent to the client', () => {
  test('framing and connection headers of the upstream are removed, the rest kept in order', () => {
    const headers = raw(
      ['Content-Type', 'text/event-stream'],
      ['Transfer-Encoding', 'chunked'],
      ['Connection', 'keep-alive, X-Upstream-Hop'],
      ['Keep-Alive', 'timeout=5'],
      ['X-Upstream-Hop', '1'],
      ['Proxy-Authenticate', 'Basic'],
      ['Trailer', 'X-Checksum'],
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
      ['Content-Encoding', 'gzip'],
    );
    assert.deepEqual(
      clientResponseHeaders(headers),
      raw(['Content-Type', 'text/event-stream'], ['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2'], ['Content-Encoding', 'gzip']),
    );
  });

  test('a response keeps its Host-like headers untouched (nothing is added)', () => {
    assert.deepEqual(clientResponseHeaders(raw(['Host', 'x'])), raw(['Host', 'x']));
  });
});

describe('headerValue', () => {
  test('returns the first value of a header by name, in any case, or undefined', () => {
    const headers = raw(['X-A', '1'], ['x-a', '2'], ['Content-Type', 'application/json']);
    assert.equal(headerValue(headers, 'x-a'), '1');
    assert.equal(headerValue(headers, 'content-type'), 'application/json');
    assert.equal(headerValue(headers, 'x-b'), undefined);
    assert.equal(headerValue(headers, 'x'), undefined);
    assert.equal(headerValue([], 'x-a'), undefined);
  });
});

describe('WebSocket handshake headers (SPEC §13)', () => {
  const upgrade = raw(
    ['Host', 'proxy.local'],
    ['Connection', 'keep-alive, Upgrade, Sec-WebSocket-Extensions, X-Drop'],
    ['Upgrade', 'websocket'],
    ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='],
    ['Sec-WebSocket-Version', '13'],
    ['Sec-WebSocket-Extensions', 'permessage-deflate'],
    ['Sec-WebSocket-Protocol', 'realtime, openai-insecure-api-key.sk-x'],
    ['X-Drop', 'named by Connection'],
    ['Keep-Alive', 'timeout=5'],
    ['LM-Proxy-Tags', 'team=a'],
    ['Authorization', 'Bearer sk-y'],
  );

  test('asksForWebSocket: a GET with Upgrade: websocket and Connection: upgrade, in any case; nothing else', () => {
    assert.equal(asksForWebSocket('GET', upgrade), true);
    assert.equal(asksForWebSocket('GET', raw(['connection', 'UPGRADE'], ['upgrade', 'WebSocket'])), true);
    assert.equal(asksForWebSocket('POST', upgrade), false);
    assert.equal(asksForWebSocket('GET', raw(['Upgrade', 'websocket'])), false, 'no Connection: upgrade');
    assert.equal(asksForWebSocket('GET', raw(['Connection', 'Upgrade'], ['Upgrade', 'h2c'])), false);
    assert.equal(asksForWebSocket('GET', raw(['Connection', 'Upgrade'], ['Upgrade', 'notwebsocket'])), false);
  });

  test('the upgrade request keeps Upgrade, Connection: Upgrade and every Sec-WebSocket-* header, even one Connection names; the rest of the hop-by-hop rules hold', () => {
    const out = upgradeRequestHeaders(upgrade, 'api.example.com');
    assert.deepEqual(out.slice(0, 2), ['Host', 'api.example.com']);
    assert.deepEqual(headerValue(out, 'connection'), 'Upgrade');
    assert.equal(out.filter((_, i) => i % 2 === 0 && out[i]?.toLowerCase() === 'connection').length, 1);
    assert.equal(headerValue(out, 'upgrade'), 'websocket');
    assert.equal(headerValue(out, 'sec-websocket-key'), 'dGhlIHNhbXBsZSBub25jZQ==');
    assert.equal(headerValue(out, 'sec-websocket-extensions'), 'permessage-deflate');
    assert.equal(headerValue(out, 'sec-websocket-protocol'), 'realtime, openai-insecure-api-key.sk-x', 'the upstream needs the key it was sent');
    assert.equal(headerValue(out, 'authorization'), 'Bearer sk-y');
    for (const gone of ['x-drop', 'keep-alive', 'lm-proxy-tags']) assert.equal(headerValue(out, gone), undefined, gone);
    assert.equal(out.filter((name, i) => i % 2 === 0 && name.toLowerCase() === 'host').length, 1, 'one Host, the upstream’s');
  });

  test('the 101 goes back with its handshake headers and without other hop-by-hop ones', () => {
    const out = upgradeResponseHeaders(raw(['Upgrade', 'websocket'], ['Connection', 'Upgrade, X-Hop'], ['Sec-WebSocket-Accept', 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='], ['X-Hop', '1'], ['X-Request-Id', 'r1']));
    assert.deepEqual(out, ['Upgrade', 'websocket', 'Connection', 'Upgrade', 'Sec-WebSocket-Accept', 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=', 'X-Request-Id', 'r1']);
  });

  test('withoutUpgradeOffer drops only the Upgrade header: an h2c offer is served over HTTP/1.1', () => {
    assert.deepEqual(withoutUpgradeOffer(raw(['Host', 'h'], ['Upgrade', 'h2c'], ['UPGRADE', 'x'], ['Accept', '*/*'])), ['Host', 'h', 'Accept', '*/*']);
  });
});
