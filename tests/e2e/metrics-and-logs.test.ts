import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { delay, request, startProxy, startUpstream, type ProxyProcess, type TestUpstream } from './harness.ts';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The value of one sample line of the exposition, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

function upstreamHandler(upstream: { url?: string }, res: import('node:http').ServerResponse): void {
  if (upstream.url === '/v1/chat/completions') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"model":"gpt-test","usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}');
  } else if (upstream.url === '/v1/embeddings') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"model":"emb-test","usage":{"prompt_tokens":7,"total_tokens":7}}');
  } else {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":{"message":"nope"}}');
  }
}

describe('metrics and the admin listener', () => {
  let upstream: TestUpstream;
  let proxy: ProxyProcess;
  let admin = '';

  before(async () => {
    upstream = await startUpstream((req, res) => upstreamHandler(req, res));
    const port = await freePort();
    admin = `http://127.0.0.1:${port}`;
    proxy = await startProxy({ upstream: `${upstream.origin}/v1`, args: ['--metrics', `127.0.0.1:${port}`] });
  });
  after(async () => {
    await proxy.stop();
    await upstream.close();
  });

  test('after a known set of requests, /metrics shows the matching request and token counts', async () => {
    for (let i = 0; i < 3; i++) await request(proxy.origin, { method: 'POST', path: '/v1/chat/completions', body: '{}' });
    await request(proxy.origin, { method: 'POST', path: '/v1/embeddings', body: '{}' });
    await request(proxy.origin, { path: '/v1/missing' });
    await request(proxy.origin, { path: '/v1/../../etc' });
    await delay(50);
    const res = await request(admin, { path: '/metrics' });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const text = res.body.toString();
    assert.equal(sample(text, 'lm_proxy_requests_total{method="POST",status="200"}'), 4);
    assert.equal(sample(text, 'lm_proxy_requests_total{method="GET",status="404"}'), 1);
    assert.equal(sample(text, 'lm_proxy_requests_total{method="GET",status="400"}'), 1, 'refused requests count too');
    assert.equal(sample(text, 'lm_proxy_tokens_total{model="gpt-test",type="prompt"}'), 30);
    assert.equal(sample(text, 'lm_proxy_tokens_total{model="gpt-test",type="completion"}'), 15);
    assert.equal(sample(text, 'lm_proxy_tokens_total{model="emb-test",type="prompt"}'), 7);
    assert.equal(sample(text, 'lm_proxy_tokens_total{model="emb-test",type="completion"}'), 0, 'embeddings add 0 to completion');
    assert.equal(sample(text, 'lm_proxy_request_duration_seconds_count'), 6);
    assert.equal(sample(text, 'lm_proxy_active_requests'), 0);
    assert.match(text, /# TYPE lm_proxy_upstream_errors_total counter/);
  });

  test('the exposition passes promtool check metrics', async (t) => {
    const which = spawnSync('sh', ['-c', 'command -v promtool']);
    if (which.status !== 0) {
      t.skip('promtool not installed (Debian package prometheus): exposition not validated by promtool');
      return;
    }
    const res = await request(admin, { path: '/metrics' });
    const check = spawnSync('promtool', ['check', 'metrics'], { input: res.body });
    assert.equal(check.status, 0, `${check.stdout.toString()}${check.stderr.toString()}`);
  });

  test('/healthz answers 200 ok, /readyz 200, an unknown admin path 404s, and admin requests are not counted', async () => {
    const health = await request(admin, { path: '/healthz' });
    assert.equal(health.status, 200);
    assert.equal(health.body.toString().trim(), 'ok');
    assert.equal((await request(admin, { path: '/readyz' })).status, 200);
    assert.equal((await request(admin, { path: '/v1/chat/completions' })).status, 404);
    const text = (await request(admin, { path: '/metrics' })).body.toString();
    assert.equal(sample(text, 'lm_proxy_requests_total{method="GET",status="200"}'), undefined);
  });

  test('/readyz answers 503 once shutdown begins', async () => {
    const hold = startUpstream((_req, res) => setTimeout(() => res.end('late'), 800));
    const slow = await hold;
    const port = await freePort();
    const draining = await startProxy({ upstream: `${slow.origin}/v1`, args: ['--metrics', `127.0.0.1:${port}`, '--shutdown-grace', '3000'] });
    try {
      const inFlight = request(draining.origin, { path: '/v1/slow' });
      await delay(100);
      const exit = draining.stop('SIGTERM');
      await draining.waitForLine(/shutting down/);
      assert.equal((await request(`http://127.0.0.1:${port}`, { path: '/readyz' })).status, 503);
      assert.equal((await request(`http://127.0.0.1:${port}`, { path: '/healthz' })).status, 200);
      assert.equal((await inFlight).status, 200);
      assert.equal(await exit, 0);
    } finally {
      await draining.stop();
      await slow.close();
    }
  });
});

describe('LOG_FORMAT=json', () => {
  test('every line the proxy writes, on stdout and stderr, is one JSON object with level, time and msg', async () => {
    const upstream = await startUpstream((req, res) => upstreamHandler(req, res));
    const proxy = await startProxy({ upstream: `${upstream.origin}/v1`, env: { LOG_FORMAT: 'json' } });
    try {
      await request(proxy.origin, { method: 'POST', path: '/v1/chat/completions', body: '{}', headers: { authorization: 'Bearer sk-json-secret' } });
      await request(proxy.origin, { path: '/v1/%2e%2e/%2e%2e/x' });
      await request(proxy.origin, { path: '/v1/zstd-free' });
      await proxy.waitForLine(/"level":"usage"/);
    } finally {
      await proxy.stop();
      await upstream.close();
    }
    const lines = [...proxy.stdout, ...proxy.stderr].filter((line) => line !== '');
    assert.ok(lines.length >= 6);
    for (const line of lines) {
      const event = JSON.parse(line) as { level: unknown; time: unknown; msg: unknown };
      assert.equal(typeof event.level, 'string', line);
      assert.equal(typeof event.msg, 'string', line);
      assert.ok(typeof event.time === 'string' && !Number.isNaN(Date.parse(event.time)), line);
    }
    const usage = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.level === 'usage')!;
    assert.equal(usage.prompt_tokens, 10);
    assert.equal(usage.completion_tokens, 5);
    assert.equal(usage.total_tokens, 15);
    assert.equal(usage.model, 'gpt-test');
    assert.equal(usage.complete, true);
    assert.ok(!lines.join('\n').includes('sk-json-secret'));
    const access = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.msg === 'request');
    assert.equal(access.length, 3);
    assert.equal(typeof access[0]!.duration_ms, 'number');
  });

  test('ACCESS_LOG=false turns the access line off', async () => {
    const upstream = await startUpstream((req, res) => upstreamHandler(req, res));
    const proxy = await startProxy({ upstream: `${upstream.origin}/v1`, env: { ACCESS_LOG: 'false' } });
    try {
      await request(proxy.origin, { method: 'POST', path: '/v1/chat/completions', body: '{}' });
      await proxy.waitForLine(/^\[USAGE\]/);
      await delay(50);
      assert.ok(!proxy.stdout.some((line) => line.startsWith('[INFO] request')));
    } finally {
      await proxy.stop();
      await upstream.close();
    }
  });
});
