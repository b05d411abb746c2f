import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { delay, keyIdOf, rawExchange, request, startProxy, startUpstream, type ProxyProcess, type TestUpstream } from './harness.ts';

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

async function metricsText(admin: string): Promise<string> {
  return (await request(admin, { path: '/metrics' })).body.toString();
}

/** The exposition once `series` has reached `atLeast` (a request counts when its response
 *  has ended, which may be just after the client saw it), read again after a short wait so
 *  that a second, wrong count would show too. */
async function metricsWhen(admin: string, series: string, atLeast: number): Promise<string> {
  const deadline = Date.now() + 3_000;
  while ((sample(await metricsText(admin), series) ?? 0) < atLeast && Date.now() < deadline) await delay(20);
  await delay(100);
  return metricsText(admin);
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

  test('a CONNECT, answered 405 by the proxy itself, counts once in lm_proxy_requests_total', async () => {
    const series = 'lm_proxy_requests_total{method="CONNECT",status="405"}';
    const before = sample(await metricsText(admin), series) ?? 0;
    const forwarded = upstream.requests.length;
    const reply = await rawExchange(proxy.port, 'CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n');
    assert.match(reply.toString('latin1'), /^HTTP\/1\.1 405 /);
    assert.match(reply.toString('latin1'), /"code":"method_not_allowed"/);
    assert.equal(sample(await metricsWhen(admin, series, before + 1), series), before + 1);
    assert.equal(upstream.requests.length, forwarded, 'nothing reached the upstream');
  });

  test('a WebSocket upgrade the upstream refuses counts once in lm_proxy_requests_total, with the upstream\'s status', async () => {
    const upgrade = (): ReturnType<typeof request> => request(proxy.origin, {
      path: '/v1/realtime',
      headers: { connection: 'upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    });
    // The first learns what this upstream answers; the second is counted.
    const first = await upgrade();
    assert.notEqual(first.status, 501, 'forwarded, not refused by the proxy (SPEC §13)');
    const series = `lm_proxy_requests_total{method="GET",status="${first.status}"}`;
    const before = sample(await metricsWhen(admin, series, 1), series) ?? 0;
    const forwarded = upstream.requests.length;
    assert.equal((await upgrade()).status, first.status);
    assert.equal(upstream.requests.length, forwarded + 1, 'the upgrade reached the upstream');
    assert.equal(sample(await metricsWhen(admin, series, before + 1), series), before + 1);
  });

  test('an unreachable upstream\'s 502 counts once in lm_proxy_requests_total and in upstream_errors_total{code="upstream_unreachable"}', async () => {
    const closedPort = await freePort();
    const adminPort = await freePort();
    const unreachableAdmin = `http://127.0.0.1:${adminPort}`;
    const unreachable = await startProxy({ upstream: `http://127.0.0.1:${closedPort}/v1`, args: ['--metrics', `127.0.0.1:${adminPort}`] });
    try {
      const series = 'lm_proxy_requests_total{method="POST",status="502"}';
      const unreachableErrors = 'lm_proxy_upstream_errors_total{code="upstream_unreachable"}';
      const timeoutErrors = 'lm_proxy_upstream_errors_total{code="upstream_timeout"}';
      const before = await metricsText(unreachableAdmin);
      const res = await request(unreachable.origin, { method: 'POST', path: '/v1/chat/completions', body: '{}' });
      assert.equal(res.status, 502);
      assert.equal((JSON.parse(res.body.toString()) as { error: { code: string } }).error.code, 'upstream_unreachable');
      const after = await metricsWhen(unreachableAdmin, series, (sample(before, series) ?? 0) + 1);
      assert.equal(sample(after, series), (sample(before, series) ?? 0) + 1);
      assert.equal(sample(after, unreachableErrors), (sample(before, unreachableErrors) ?? 0) + 1);
      assert.equal(sample(after, timeoutErrors), sample(before, timeoutErrors), 'a refusal is not a timeout');
    } finally {
      await unreachable.stop();
    }
  });

  test('an upstream timeout\'s 504 counts once in lm_proxy_requests_total and in upstream_errors_total{code="upstream_timeout"}', async () => {
    // An upstream that reads the request and never answers.
    const silent = await startUpstream(() => {});
    const adminPort = await freePort();
    const timingOutAdmin = `http://127.0.0.1:${adminPort}`;
    const timingOut = await startProxy({ upstream: `${silent.origin}/v1`, args: ['--metrics', `127.0.0.1:${adminPort}`, '--upstream-timeout', '200'] });
    try {
      const series = 'lm_proxy_requests_total{method="POST",status="504"}';
      const timeoutErrors = 'lm_proxy_upstream_errors_total{code="upstream_timeout"}';
      const unreachableErrors = 'lm_proxy_upstream_errors_total{code="upstream_unreachable"}';
      const before = await metricsText(timingOutAdmin);
      const res = await request(timingOut.origin, { method: 'POST', path: '/v1/chat/completions', body: '{}' });
      assert.equal(res.status, 504);
      assert.equal((JSON.parse(res.body.toString()) as { error: { code: string } }).error.code, 'upstream_timeout');
      const after = await metricsWhen(timingOutAdmin, series, (sample(before, series) ?? 0) + 1);
      assert.equal(sample(after, series), (sample(before, series) ?? 0) + 1);
      assert.equal(sample(after, timeoutErrors), (sample(before, timeoutErrors) ?? 0) + 1);
      assert.equal(sample(after, unreachableErrors), sample(before, unreachableErrors), 'a timeout is not a refusal');
      assert.equal(silent.requests.length, 1, 'a timed-out POST is not retried');
    } finally {
      await timingOut.stop();
      await silent.close();
    }
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

/** SPEC §4's ledger fields, which a JSON usage event carries too (SPEC §8). */
const LEDGER_FIELDS: readonly string[] = [
  'time', 'method', 'path', 'status', 'model', 'stream', 'prompt_tokens', 'completion_tokens', 'total_tokens',
  'cached_tokens', 'reasoning_tokens', 'complete', 'end', 'duration_ms', 'ttfb_ms', 'key_id',
];

describe('LOG_FORMAT=json', () => {
  test('every line the proxy writes, on stdout and stderr, is one JSON object with level, time and msg; a usage event carries every ledger field', async () => {
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
    // SPEC §8: a usage event carries every ledger field name at the top level.
    for (const name of LEDGER_FIELDS) assert.ok(Object.hasOwn(usage, name), `usage event field ${name}: ${JSON.stringify(usage)}`);
    assert.match(usage.time as string, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/, 'time is ISO 8601');
    assert.ok(!Number.isNaN(Date.parse(usage.time as string)));
    assert.equal(usage.method, 'POST');
    assert.equal(usage.path, '/v1/chat/completions');
    assert.equal(usage.status, 200);
    assert.equal(usage.stream, false);
    assert.equal(usage.end, 'done');
    for (const name of ['prompt_tokens', 'completion_tokens', 'total_tokens', 'cached_tokens', 'reasoning_tokens']) {
      assert.ok(Number.isInteger(usage[name]) && (usage[name] as number) >= 0, `${name} is a whole number: ${String(usage[name])}`);
    }
    assert.equal(usage.cached_tokens, 0);
    assert.equal(usage.reasoning_tokens, 0);
    for (const name of ['duration_ms', 'ttfb_ms']) {
      assert.ok(typeof usage[name] === 'number' && (usage[name] as number) >= 0, `${name} is a number: ${String(usage[name])}`);
    }
    assert.ok((usage.ttfb_ms as number) <= (usage.duration_ms as number), 'the first byte came before the end');
    assert.match(usage.key_id as string, /^[0-9a-f]{12}$/);
    assert.equal(usage.key_id, keyIdOf('sk-json-secret'));
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
