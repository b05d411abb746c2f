import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request, startProxy, startUpstream, TEST_CA_PATH, type TestUpstream } from './harness.ts';

describe('https upstreams', () => {
  let upstream: TestUpstream;

  before(async () => {
    upstream = await startUpstream((_req, res) => res.end('secure'), { tls: true });
  });
  after(() => upstream.close());

  test('with NODE_EXTRA_CA_CERTS naming the CA, requests go through with SNI set to the upstream host', async () => {
    const proxy = await startProxy({ upstream: `${upstream.origin}/v1`, env: { NODE_EXTRA_CA_CERTS: TEST_CA_PATH } });
    try {
      const res = await request(proxy.origin, { path: '/v1/models', headers: { host: 'client.example' } });
      assert.equal(res.status, 200);
      assert.equal(res.body.toString(), 'secure');
      const got = upstream.requests.at(-1)!;
      assert.equal(got.servername, 'localhost');
      assert.equal(got.rawHeaders[0], 'Host');
      assert.equal(got.rawHeaders[1], `localhost:${upstream.port}`);
    } finally {
      await proxy.stop();
    }
  });

  test('certificates are verified: an unknown CA gives 502 upstream_unreachable', async () => {
    const proxy = await startProxy({ upstream: `${upstream.origin}/v1`, env: { NODE_EXTRA_CA_CERTS: '' } });
    try {
      const before = upstream.requests.length;
      const res = await request(proxy.origin, { path: '/v1/models' });
      assert.equal(res.status, 502);
      const body = JSON.parse(res.body.toString()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'upstream_unreachable');
      assert.match(body.error.message, /UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
      assert.equal(upstream.requests.length, before);
    } finally {
      await proxy.stop();
    }
  });
});
