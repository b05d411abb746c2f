import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { delay, request, startProxy, startUpstream, type TestUpstream } from './harness.ts';

describe('graceful shutdown', () => {
  let upstream: TestUpstream;
  let onSlow: () => void = () => {};

  before(async () => {
    upstream = await startUpstream((req, res) => {
      if (req.url === '/v1/slow') {
        onSlow();
        setTimeout(() => res.end('finished'), 400);
      } else if (req.url === '/v1/head-first') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: first\n\n', () => onSlow());
        setTimeout(() => res.end('data: last\n\n'), 400);
      } else if (req.url === '/v1/forever') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const timer = setInterval(() => res.write('data: tick\n\n'), 50);
        res.on('close', () => clearInterval(timer));
      } else {
        res.end('ok');
      }
    });
  });
  after(() => upstream.close());

  test('SIGTERM lets a request in flight finish with Connection: close, refuses new connections, and exits 0', async () => {
    const proxy = await startProxy({ upstream: `${upstream.origin}/v1`, args: ['--shutdown-grace', '5000'] });
    const arrived = new Promise<void>((resolve) => (onSlow = resolve));
    const inFlight = request(proxy.origin, { path: '/v1/slow' });
    await arrived;
    const exit = proxy.stop('SIGTERM');
    await proxy.waitForLine(/shutting down/);
    const res = await inFlight;
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'finished');
    assert.equal(res.headers.connection, 'close');
    await assert.rejects(request(proxy.origin, { path: '/v1/models' }), /ECONNREFUSED|ECONNRESET/);
    assert.equal(await exit, 0);
  });

  test('a keep-alive connection whose response was under way at SIGTERM is closed when it ends; the grace period is not waited out', async () => {
    const proxy = await startProxy({ upstream: `${upstream.origin}/v1`, args: ['--shutdown-grace', '60000'] });
    const agent = new http.Agent({ keepAlive: true });
    try {
      const headSent = new Promise<void>((resolve) => (onSlow = resolve));
      const inFlight = request(proxy.origin, { path: '/v1/head-first', agent });
      await headSent;
      await delay(50); // the head (without Connection: close) has reached the client
      const exit = proxy.stop('SIGTERM');
      const res = await inFlight;
      assert.equal(res.status, 200);
      assert.equal(res.headers.connection, 'keep-alive');
      const guard = delay(10_000).then(() => 'still running after 10 s of a 60 s grace period');
      assert.equal(await Promise.race([exit, guard]), 0);
    } finally {
      agent.destroy();
      await proxy.stop('SIGKILL');
    }
  });

  test('past the grace period the remaining connections are cut, counted in the log, and the process exits 0', async () => {
    const proxy = await startProxy({ upstream: `${upstream.origin}/v1`, args: ['--shutdown-grace', '300'] });
    const ending = new Promise<string>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: proxy.port, path: '/v1/forever', agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve('end'));
        res.on('error', () => resolve('error'));
      });
      req.on('error', reject);
    });
    await delay(150);
    const exit = proxy.stop('SIGINT');
    assert.equal(await ending, 'error');
    assert.equal(await exit, 0);
    assert.ok(proxy.stderr.some((line) => /cut 1 connection/.test(line)), proxy.stderr.join('\n'));
  });

  test('SIGINT with nothing in flight exits 0 at once', async () => {
    const proxy = await startProxy({ upstream: `${upstream.origin}/v1` });
    await request(proxy.origin, { path: '/v1/models', agent: new http.Agent({ keepAlive: true }) });
    assert.equal(await proxy.stop('SIGINT'), 0);
  });
});
