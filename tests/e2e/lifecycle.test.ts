// The edges of an exchange's life: bodies still arriving after the proxy has answered,
// clients that reset, a timeout of 0, and what the access log may show of a target.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { delay, request, startProxy, startUpstream, waitUntil, type ProxyProcess, type TestUpstream } from './harness.ts';

describe('exchange lifecycle', () => {
  let upstream: TestUpstream;
  let proxy: ProxyProcess;

  before(async () => {
    upstream = await startUpstream((req, res) => {
      if (req.url === '/v1/early-close') {
        // Answers before reading the upload, then drops the connection.
        res.writeHead(413, { 'content-type': 'application/json', connection: 'close' });
        res.end('{"error":{"message":"too large"}}', () => req.socket.destroy());
        return;
      }
      if (req.url === '/v1/slow') {
        setTimeout(() => res.end('slow but fine'), 300);
        return;
      }
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    proxy = await startProxy({ upstream: `${upstream.origin}/v1`, args: ['--upstream-timeout', '400'] });
  });
  after(async () => {
    await proxy.stop();
    await upstream.close();
  });

  test('a stalled body held for usage injection gets 408, and the generation is never sent later', async () => {
    const socket = net.connect(proxy.port, '127.0.0.1');
    const body = '{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}';
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
    socket.write(body.slice(0, 10));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('error', () => {});
    await waitUntil(() => answer.includes('\r\n\r\n'), 'the 408 answer', 5_000);
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.match(answer, /Connection: close/i);
    // The rest of the body arrives late: it must not start a generation.
    socket.write(body.slice(10));
    await delay(300);
    socket.destroy();
    assert.equal(upstream.requests.filter((r) => r.url === '/v1/chat/completions').length, 0);
  });

  test('an upload the upstream stops reading is still read to its end, and the client gets its answer', async () => {
    const size = 32 * 1024 * 1024;
    const socket = net.connect(proxy.port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    socket.write(`POST /v1/early-close HTTP/1.1\r\nHost: h\r\nContent-Length: ${size}\r\n\r\n`);
    // Every byte must be taken off the wire: a proxy that stopped reading would leave
    // this write pending forever (the test then fails on its guard).
    const piece = Buffer.alloc(1024 * 1024, 120);
    const sentAll = new Promise<void>((resolve, reject) => {
      let sent = 0;
      const pump = (): void => {
        while (sent < size) {
          sent += piece.length;
          const last = sent >= size;
          if (!socket.write(piece, last ? () => resolve() : undefined)) {
            socket.once('drain', pump);
            return;
          }
        }
      };
      pump();
      socket.on('error', reject);
      setTimeout(() => reject(new Error('the upload was left hanging')), 15_000).unref();
    });
    await sentAll;
    await waitUntil(() => answer.includes('\r\n\r\n'), 'the answer', 5_000);
    socket.destroy();
    assert.match(answer, /^HTTP\/1\.1 (413|502) /);
  });

  test('CONNECT requests whose clients reset at once never bring the proxy down', async () => {
    for (let i = 0; i < 30; i++) {
      const socket = net.connect(proxy.port, '127.0.0.1');
      socket.on('error', () => {});
      socket.write('CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n', () => socket.resetAndDestroy());
    }
    await delay(300);
    assert.equal(proxy.child.exitCode, null, 'the proxy is still running');
    assert.equal((await request(proxy.origin, { path: '/v1/models' })).status, 200);
  });

  test('UPSTREAM_TIMEOUT_MS=0 means no limit, not an instant 504', async () => {
    const unlimited = await startProxy({ upstream: `${upstream.origin}/v1`, args: ['--upstream-timeout', '0'] });
    try {
      const res = await request(unlimited.origin, { path: '/v1/slow' });
      assert.equal(res.status, 200);
      assert.equal(res.body.toString(), 'slow but fine');
    } finally {
      await unlimited.stop();
    }
  });

  test('an absolute-form target never shows its authority (credentials) in the access log', async () => {
    const socket = net.connect(proxy.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.end('GET http://user:sk-LOGSECRET@example/v1/../../x?key=sk-QUERYSECRET HTTP/1.1\r\nHost: h\r\n\r\n');
    socket.resume();
    await new Promise((resolve) => socket.on('close', resolve));
    await proxy.waitForLine(/status=400/);
    const all = [...proxy.stdout, ...proxy.stderr].join('\n');
    assert.ok(!all.includes('sk-LOGSECRET'), 'userinfo of the target');
    assert.ok(!all.includes('sk-QUERYSECRET'), 'query of the target');
  });
});
