import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { delay, rawExchange, request, startProxy, startUpstream, type ProxyProcess, type TestUpstream } from './harness.ts';

describe('bodies', () => {
  let upstream: TestUpstream;
  let proxy: ProxyProcess;
  const big = randomBytes(8 * 1024 * 1024 + 17);
  let releaseStream: () => void = () => {};

  before(async () => {
    upstream = await startUpstream((req, res) => {
      const url = req.url ?? '';
      if (url.startsWith('/v1/echo')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        req.pipe(res);
      } else if (url === '/v1/big') {
        res.writeHead(200, { 'content-length': String(big.length) });
        res.end(big);
      } else if (url === '/v1/sse') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: first\n\n');
        releaseStream = () => res.end('data: second\n\n');
      } else if (url === '/v1/status') {
        const status = Number(req.headers['x-status']);
        res.writeHead(status, { 'x-status': String(status) });
        res.end(status === 204 || status === 304 ? undefined : 'body');
      } else if (url === '/v1/early-hints') {
        res.writeProcessing();
        res.writeEarlyHints({ link: ['</a.css>; rel=preload; as=style', '</b.js>; rel=preload; as=script'], 'x-hint': '1' });
        setTimeout(() => res.end('final'), 20);
      } else if (url === '/v1/slow') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const timer = setInterval(() => res.write('data: tick\n\n'), 20);
        res.on('close', () => clearInterval(timer));
      } else {
        res.end('ok');
      }
    });
    proxy = await startProxy({ upstream: `${upstream.origin}/v1`, args: ['--upstream-timeout', '400'] });
  });
  after(async () => {
    await proxy.stop();
    await upstream.close();
  });

  test('a large request body reaches the upstream byte for byte, and the echo comes back byte for byte', async () => {
    const res = await request(proxy.origin, { method: 'POST', path: '/v1/echo', body: big, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(res.status, 200);
    assert.ok(upstream.requests.at(-1)!.body.equals(big));
    assert.ok(res.body.equals(big));
  });

  test('a chunked request body is forwarded', async () => {
    const res = await new Promise<Buffer>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: proxy.port, method: 'POST', path: '/v1/echo', agent: false });
      req.on('response', (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => resolve(Buffer.concat(chunks)));
      });
      req.on('error', reject);
      req.write('part one,');
      setTimeout(() => req.end('part two'), 50);
    });
    assert.equal(res.toString(), 'part one,part two');
  });

  test('interim 102 and 103 responses reach an HTTP/1.1 client before the final one, and never an HTTP/1.0 one', async () => {
    const text = (await rawExchange(proxy.port, 'GET /v1/early-hints HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')).toString('latin1');
    const processing = text.indexOf('HTTP/1.1 102 Processing\r\n');
    const hints = text.indexOf('HTTP/1.1 103 Early Hints\r\n');
    const final = text.indexOf('HTTP/1.1 200 ');
    assert.ok(processing === 0 && hints > processing && final > hints, text);
    const hintsHead = text.slice(hints, text.indexOf('\r\n\r\n', hints));
    assert.match(hintsHead, /\r\nLink: <\/a\.css>; rel=preload; as=style, <\/b\.js>; rel=preload; as=script$/i);
    assert.ok(text.endsWith('final'));
    const old = (await rawExchange(proxy.port, 'GET /v1/early-hints HTTP/1.0\r\nHost: h\r\n\r\n')).toString('latin1');
    assert.match(old, /^HTTP\/1\.1 200 /);
    assert.ok(old.endsWith('final'));
  });

  test('a large response reaches the client byte for byte with its Content-Length', async () => {
    const res = await request(proxy.origin, { path: '/v1/big' });
    assert.equal(res.headers['content-length'], String(big.length));
    assert.ok(res.body.equals(big));
  });

  test('a slow upload keeps going past the upstream timeout while bytes flow', async () => {
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: proxy.port, method: 'POST', path: '/v1/echo', agent: false });
      req.on('response', (r) => {
        let body = '';
        r.on('data', (c: Buffer) => (body += c.toString()));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      let sent = 0;
      const timer = setInterval(() => {
        req.write('x');
        if (++sent === 10) {
          clearInterval(timer);
          req.end();
        }
      }, 150); // 1.5 s in all, against a 400 ms upstream timeout
    });
    assert.equal(res.status, 200);
    assert.equal(res.body, 'x'.repeat(10));
  });

  test('an event reaches the client while the upstream is still streaming', async () => {
    const first = await new Promise<string>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: proxy.port, path: '/v1/sse', agent: false }, (res) => {
        res.once('data', (chunk: Buffer) => {
          resolve(chunk.toString());
          releaseStream();
          res.resume();
        });
      });
      req.on('error', reject);
    });
    assert.equal(first, 'data: first\n\n');
  });

  test('HEAD, 204 and 304 responses have no body; other statuses pass through unchanged', async () => {
    const head = (await rawExchange(proxy.port, 'HEAD /v1/big HTTP/1.1\r\nHost: h\r\n\r\n', 300)).toString('latin1');
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.match(head, new RegExp(`content-length: ${big.length}`, "i"));
    assert.ok(head.endsWith('\r\n\r\n'));
    for (const status of [204, 304]) {
      const text = (await rawExchange(proxy.port, `GET /v1/status HTTP/1.1\r\nHost: h\r\nX-Status: ${status}\r\n\r\n`, 300)).toString('latin1');
      assert.match(text, new RegExp(`^HTTP/1\\.1 ${status} `));
      assert.ok(text.endsWith('\r\n\r\n'), `${status} must have no body`);
      assert.doesNotMatch(text, /transfer-encoding/i);
    }
    for (const status of [201, 400, 418, 429, 500, 503, 599]) {
      const res = await request(proxy.origin, { path: '/v1/status', headers: { 'x-status': String(status) } });
      assert.equal(res.status, status);
      assert.equal(res.body.toString(), 'body');
    }
  });

  test('Expect: 100-continue is answered and the body still arrives', async () => {
    const socket = net.connect(proxy.port, '127.0.0.1');
    socket.write('POST /v1/echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n');
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString();
      if (text.startsWith('HTTP/1.1 100 Continue\r\n\r\n') && !text.includes('hello')) socket.write('hello');
    });
    await new Promise((resolve) => socket.on('close', resolve));
    assert.match(text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    assert.match(text, /hello/);
    const got = upstream.requests.at(-1)!;
    assert.equal(got.rawHeaders.some((h) => h.toLowerCase() === 'expect'), false);
  });

  test('the client going away aborts the upstream request at once', async () => {
    const before = upstream.requests.length;
    await new Promise<void>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: proxy.port, path: '/v1/slow', agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => {});
      req.on('timeout', reject);
    });
    const recorded = upstream.requests[before]!;
    for (let i = 0; i < 100 && !recorded.aborted; i++) await delay(20);
    assert.equal(recorded.aborted, true, 'the upstream response should have been cut');
  });

  test('upstream connections are reused', async () => {
    const before = upstream.connections();
    const agent = new http.Agent({ keepAlive: false });
    for (let i = 0; i < 5; i++) await request(proxy.origin, { path: '/v1/models', agent });
    assert.ok(upstream.connections() - before <= 1, `expected at most one new upstream connection, got ${upstream.connections() - before}`);
  });
});
