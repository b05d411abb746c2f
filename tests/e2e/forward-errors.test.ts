import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { request, startProxy, startUpstream, type ProxyProcess, type TestUpstream } from './harness.ts';

interface ErrorBody {
  error: { message: string; type: string; code: string };
}

function parseError(body: Buffer): ErrorBody {
  return JSON.parse(body.toString()) as ErrorBody;
}

/** Resolves with how a streamed response ended: 'end' (clean) or 'error' (cut). */
function streamEnding(port: number, path: string): Promise<{ status: number; ending: 'end' | 'error'; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ending: 'end', body }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, ending: 'error', body }));
    });
    req.on('error', reject);
  });
}

describe('errors the proxy answers', () => {
  let upstream: TestUpstream;
  let proxy: ProxyProcess;
  let rawUpstream: net.Server;
  let rawPort = 0;

  before(async () => {
    upstream = await startUpstream((req, res) => {
      const url = req.url ?? '';
      if (url === '/v1/hang') return; // never answers
      if (url === '/v1/cut-chunked') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: partial\n\n');
        setTimeout(() => res.socket?.destroy(), 50);
        return;
      }
      if (url === '/v1/cut-length') {
        res.writeHead(200, { 'content-length': '100' });
        res.write('only ten b');
        setTimeout(() => res.socket?.destroy(), 50);
        return;
      }
      res.end('ok');
    });
    // A raw upstream for responses node:http would refuse to produce.
    rawUpstream = net.createServer((socket) => {
      socket.once('data', (data) => {
        const line = data.toString().split('\r\n')[0] ?? '';
        if (line.includes('/v1/bad-status')) socket.end('HTTP/1.1 999 Nope\r\nContent-Length: 0\r\n\r\n');
        else if (line.includes('/v1/garbage')) socket.end('this is not http\r\n\r\n');
        else if (line.includes('/v1/too-long')) socket.end('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA BYTES');
        else socket.destroy();
      });
    });
    rawUpstream.listen(0, '127.0.0.1');
    await new Promise((resolve) => rawUpstream.once('listening', resolve));
    rawPort = (rawUpstream.address() as net.AddressInfo).port;
    proxy = await startProxy({ upstream: `${upstream.origin}/v1`, args: ['--upstream-timeout', '300'] });
  });
  after(async () => {
    await proxy.stop();
    await upstream.close();
    rawUpstream.close();
  });

  test('an unreachable upstream gives 502 upstream_unreachable in the OpenAI error shape', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await startProxy({ upstream: `http://127.0.0.1:${port}/v1` });
    try {
      const res = await request(refused.origin, { method: 'POST', path: '/v1/chat/completions', body: '{}' });
      assert.equal(res.status, 502);
      assert.equal(res.headers['content-type'], 'application/json');
      const body = parseError(res.body);
      assert.equal(body.error.code, 'upstream_unreachable');
      assert.equal(body.error.type, 'proxy_error');
      assert.match(body.error.message, /refused/);
    } finally {
      await refused.stop();
    }
  });

  test('no response headers within UPSTREAM_TIMEOUT_MS gives 504 upstream_timeout', async () => {
    const res = await request(proxy.origin, { path: '/v1/hang' });
    assert.equal(res.status, 504);
    assert.equal(parseError(res.body).error.code, 'upstream_timeout');
  });

  test('an upstream lost mid-stream cuts the client connection instead of ending it cleanly', async () => {
    const chunked = await streamEnding(proxy.port, '/v1/cut-chunked');
    assert.equal(chunked.status, 200);
    assert.equal(chunked.body, 'data: partial\n\n');
    assert.equal(chunked.ending, 'error');
    const short = await streamEnding(proxy.port, '/v1/cut-length');
    assert.equal(short.ending, 'error');
  });

  test('a status outside 100-599 or a malformed head gives 502 upstream_invalid_response', async () => {
    const raw = await startProxy({ upstream: `http://127.0.0.1:${rawPort}/v1` });
    try {
      for (const path of ['/v1/bad-status', '/v1/garbage']) {
        const res = await request(raw.origin, { path });
        assert.equal(res.status, 502, path);
        assert.equal(parseError(res.body).error.code, 'upstream_invalid_response', path);
      }
      const long = await request(raw.origin, { path: '/v1/too-long' });
      assert.equal(long.status, 200);
      assert.equal(long.body.toString(), 'hello', 'a body longer than its Content-Length is cut at the declared length');
    } finally {
      await raw.stop();
    }
  });

  test('the proxy keeps serving after each of these', async () => {
    const res = await request(proxy.origin, { path: '/v1/models' });
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'ok');
  });
});
