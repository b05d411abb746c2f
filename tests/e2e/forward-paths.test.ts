import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { rawExchange, request, startProxy, startUpstream, type ProxyProcess, type TestUpstream } from './harness.ts';

describe('request targets', () => {
  let upstream: TestUpstream;
  let proxy: ProxyProcess;
  let rootProxy: ProxyProcess;

  before(async () => {
    upstream = await startUpstream((_req, res) => res.end('ok'));
    [proxy, rootProxy] = await Promise.all([
      startProxy({ upstream: `${upstream.origin}/v1` }),
      startProxy({ upstream: `${upstream.origin}/api/` }),
    ]);
  });
  after(async () => {
    await Promise.all([proxy.stop(), rootProxy.stop()]);
    await upstream.close();
  });

  async function upstreamPathFor(via: ProxyProcess, target: string): Promise<string> {
    const before = upstream.requests.length;
    const res = await rawExchange(via.port, `GET ${target} HTTP/1.1\r\nHost: client.example\r\nConnection: close\r\n\r\n`);
    assert.match(res.toString('latin1'), /^HTTP\/1\.1 200 /, `${target} should be forwarded`);
    assert.equal(upstream.requests.length, before + 1);
    return upstream.requests[before]!.url;
  }

  test('every method is forwarded as is', async () => {
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'PROPFIND']) {
      const res = await request(proxy.origin, { method, path: '/v1/models' });
      assert.equal(res.status, 200);
      assert.equal(upstream.requests.at(-1)?.method, method);
    }
  });

  test('the base path is added once, on whole segments', async () => {
    assert.equal(await upstreamPathFor(proxy, '/v1/chat/completions'), '/v1/chat/completions');
    assert.equal(await upstreamPathFor(proxy, '/chat/completions'), '/v1/chat/completions');
    assert.equal(await upstreamPathFor(proxy, '/v1'), '/v1');
    assert.equal(await upstreamPathFor(proxy, '/v1x/models'), '/v1/v1x/models');
    assert.equal(await upstreamPathFor(rootProxy, '/v1/chat/completions'), '/api/v1/chat/completions');
    assert.equal(await upstreamPathFor(rootProxy, '/api/x'), '/api/x');
  });

  test('the query string is forwarded byte for byte', async () => {
    const query = '?a=1&a=2&b=%2F%zz+x&&c=%E2%82%AC&key=&=';
    assert.equal(await upstreamPathFor(proxy, `/v1/models${query}`), `/v1/models${query}`);
    assert.equal(await upstreamPathFor(proxy, '/v1/models?'), '/v1/models?');
  });

  test('an absolute-form target uses only its path and query, never its host', async () => {
    assert.equal(await upstreamPathFor(proxy, 'http://evil.example:81/v1/models?x=1'), '/v1/models?x=1');
    assert.equal(await upstreamPathFor(proxy, 'http://evil.example'), '/v1/');
    const last = upstream.requests.at(-1)!;
    assert.equal(last.rawHeaders[1], `127.0.0.1:${upstream.port}`);
  });

  test('a path that looks like another authority stays a path on the upstream', async () => {
    assert.equal(await upstreamPathFor(proxy, '//evil.example/x'), '/v1//evil.example/x');
    assert.equal(await upstreamPathFor(proxy, '/@evil.example/x'), '/v1/@evil.example/x');
  });

  test('dot segments that stay below the base path are forwarded as received', async () => {
    assert.equal(await upstreamPathFor(proxy, '/v1/a/../models'), '/v1/a/../models');
    assert.equal(await upstreamPathFor(proxy, '/v1/./models'), '/v1/./models');
  });

  test('dot segments that climb above the base path get 400 invalid_path and are not forwarded', async () => {
    for (const target of ['/v1/../admin', '/../x', '/v1/%2e%2e/x', '/v1/%2E%2e/x', '/v1/..%2fx/..%2f..', '/x%2f..%2f..%2fy', '/v1/..\\..\\x', '/v1/.%2e/%2e./x']) {
      const before = upstream.requests.length;
      const res = await rawExchange(proxy.port, `GET ${target} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`);
      const text = res.toString('latin1');
      assert.match(text, /^HTTP\/1\.1 400 /, target);
      const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { error: { code: string; type: string } };
      assert.equal(body.error.code, 'invalid_path');
      assert.equal(body.error.type, 'proxy_error');
      assert.equal(upstream.requests.length, before, `${target} must not reach the upstream`);
    }
  });
});
