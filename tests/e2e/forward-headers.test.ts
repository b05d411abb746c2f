import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { headerNames, headerValues, rawExchange, startProxy, startUpstream, type ProxyProcess, type TestUpstream } from './harness.ts';

describe('headers', () => {
  let upstream: TestUpstream;
  let proxy: ProxyProcess;

  before(async () => {
    upstream = await startUpstream((_req, res) => {
      res.writeHead(200, [
        'X-Mixed-Case', 'one',
        'set-cookie', 'a=1; Path=/',
        'Set-Cookie', 'b=2; Path=/',
        'x-mixed-case', 'two',
        'Connection', 'X-Upstream-Private, keep-alive',
        'X-Upstream-Private', 'secret-hop',
        'Keep-Alive', 'timeout=5',
        'Proxy-Authenticate', 'Basic',
        'Content-Length', '2',
      ]);
      res.end('ok');
    });
    proxy = await startProxy({ upstream: `${upstream.origin}/v1` });
  });
  after(async () => {
    await proxy.stop();
    await upstream.close();
  });

  test('request headers keep their case, order and repeats; hop-by-hop ones are removed; Host is the upstream\'s', async () => {
    await rawExchange(
      proxy.port,
      'POST /v1/chat/completions HTTP/1.1\r\n' +
        'Host: client.example\r\n' +
        'X-First: 1\r\n' +
        'authorization: Bearer one\r\n' +
        'Authorization: Bearer two\r\n' +
        'Connection: keep-alive, X-Drop-Me, x-drop-too\r\n' +
        'X-Drop-Me: gone\r\n' +
        'X-DROP-TOO: gone\r\n' +
        'Keep-Alive: timeout=5\r\n' +
        'Proxy-Authorization: Basic c2VjcmV0\r\n' +
        'Proxy-Connection: keep-alive\r\n' +
        'TE: trailers\r\n' +
        'Upgrade: h2c\r\n' +
        'X-Forwarded-Host: evil.example\r\n' +
        'Forwarded: host=evil.example\r\n' +
        'x-CUSTOM: a\r\n' +
        'X-Custom: b\r\n' +
        'Content-Length: 2\r\n' +
        '\r\nhi',
      300,
    );
    const got = upstream.requests.at(-1)!;
    // The only Connection header is Node's own for the proxy's hop to the upstream.
    assert.deepEqual(headerNames(got.rawHeaders), [
      'Host', 'X-First', 'authorization', 'Authorization', 'X-Forwarded-Host', 'Forwarded', 'x-CUSTOM', 'X-Custom', 'Content-Length', 'Connection',
    ]);
    assert.deepEqual(headerValues(got.rawHeaders, 'connection'), ['keep-alive']);
    assert.deepEqual(headerValues(got.rawHeaders, 'authorization'), ['Bearer one', 'Bearer two']);
    assert.deepEqual(headerValues(got.rawHeaders, 'host'), [`127.0.0.1:${upstream.port}`]);
    assert.equal(got.body.toString(), 'hi');
  });

  test('response headers keep their case, order and repeats; hop-by-hop ones are removed', async () => {
    const res = (await rawExchange(proxy.port, 'GET /v1/models HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')).toString('latin1');
    const head = res.slice(0, res.indexOf('\r\n\r\n')).split('\r\n');
    assert.equal(head[0], 'HTTP/1.1 200 OK');
    const names = head.slice(1).map((line) => line.slice(0, line.indexOf(':')));
    // Node adds Date and its own Connection; everything else is the upstream's, in its order.
    assert.deepEqual(names.filter((n) => n !== 'Date' && n !== 'Connection'), ['X-Mixed-Case', 'set-cookie', 'Set-Cookie', 'x-mixed-case', 'Content-Length']);
    assert.ok(head.includes('set-cookie: a=1; Path=/'));
    assert.ok(head.includes('Set-Cookie: b=2; Path=/'));
    assert.ok(!res.includes('secret-hop'));
    assert.ok(!/keep-alive: timeout=5|proxy-authenticate/i.test(res));
    assert.ok(res.endsWith('\r\n\r\nok'));
  });

  // SPEC §13 (issue 13): a WebSocket upgrade is forwarded with its Upgrade and Sec-WebSocket-*
  // headers, and an upstream that does not switch has its answer relayed (tests/e2e/websocket*.test.ts
  // cover the tunnel itself).
  test('a WebSocket upgrade is forwarded with its upgrade headers and the answer relayed; an h2c offer is dropped and served', async () => {
    const before = upstream.requests.length;
    const ws = (await rawExchange(proxy.port, 'GET /v1/realtime HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n', 300)).toString();
    assert.match(ws, /^HTTP\/1\.1 200 /, 'this upstream does not switch: its answer comes back');
    assert.equal(upstream.requests.length, before + 1);
    const sent = upstream.requests.at(-1)!.rawHeaders;
    assert.deepEqual(headerValues(sent, 'upgrade'), ['websocket']);
    assert.deepEqual(headerValues(sent, 'sec-websocket-key'), ['dGhlIHNhbXBsZSBub25jZQ==']);
    const h2c = (await rawExchange(proxy.port, 'GET /v1/models HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n', 300)).toString();
    assert.match(h2c, /^HTTP\/1\.1 200 /);
    assert.deepEqual(headerValues(upstream.requests.at(-1)!.rawHeaders, 'upgrade'), []);
    assert.deepEqual(headerValues(upstream.requests.at(-1)!.rawHeaders, 'http2-settings'), []);
  });

  test('CONNECT is answered 405 method_not_allowed', async () => {
    const res = (await rawExchange(proxy.port, 'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n', 300)).toString();
    assert.match(res, /^HTTP\/1\.1 405 /);
    assert.match(res, /"code":"method_not_allowed"/);
  });

  test('an HTTP/1.0 client is served', async () => {
    const res = (await rawExchange(proxy.port, 'GET /v1/models HTTP/1.0\r\n\r\n', 300)).toString();
    assert.match(res, /^HTTP\/1\.1 200 /);
    assert.ok(res.endsWith('ok'));
  });

  test('a header block over 16 KiB is answered 431', async () => {
    const res = (await rawExchange(proxy.port, `GET /v1/models HTTP/1.1\r\nHost: h\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`, 300)).toString();
    assert.match(res, /^HTTP\/1\.1 431 /);
    assert.match(res, /"code":"headers_too_large"/);
  });

  test('Content-Length with Transfer-Encoding, or two different Content-Lengths, get 400 and are never forwarded', async () => {
    const before = upstream.requests.length;
    const smuggle = [
      'POST /v1/x HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'POST /v1/x HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde',
    ];
    for (const text of smuggle) {
      const res = (await rawExchange(proxy.port, text, 300)).toString();
      assert.match(res, /^HTTP\/1\.1 400 /, text);
      assert.match(res, /"type":"proxy_error"/);
    }
    assert.equal(upstream.requests.length, before);
  });
});
