// Client faults against the real proxy: a slowloris head, a client that never
// reads, one that leaves during its upload or between events, pipelining, and
// request targets with bytes that are not clean ASCII (SPEC §3, §8). A client
// leaving mid-response is in forward-bodies.test.ts.

import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  delay, keyIdOf, peakRssMib, rawExchange, request, startProxy, startUpstream, waitUntil,
  type ProxyProcess, type RecordedRequest, type TestUpstream,
} from './harness.ts';

const MiB = 1024 * 1024;

/** Splits raw HTTP/1.1 responses that each carry a Content-Length. */
function splitResponses(bytes: Buffer): { status: number; body: string }[] {
  const out: { status: number; body: string }[] = [];
  let at = 0;
  while (at < bytes.length) {
    const headEnd = bytes.indexOf('\r\n\r\n', at);
    if (headEnd < 0) break;
    const head = bytes.subarray(at, headEnd).toString('latin1');
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? NaN);
    assert.ok(Number.isInteger(length), `every pipelined answer has a Content-Length:\n${head}`);
    out.push({ status: Number(head.slice(9, 12)), body: bytes.subarray(headEnd + 4, headEnd + 4 + length).toString() });
    at = headEnd + 4 + length;
  }
  return out;
}

describe('client faults', () => {
  let upstream: TestUpstream;
  let proxy: ProxyProcess;
  /** The huge response's progress, as the upstream sees it. */
  const huge = { sent: 0, lastWriteAt: 0, writableLength: 0, res: null as http.ServerResponse | null };
  let uploadBytes = 0;

  before(async () => {
    const block = Buffer.alloc(MiB, 'x');
    upstream = await startUpstream((req, res) => {
      const url = new URL(req.url ?? '/', 'http://u');
      if (url.pathname === '/v1/huge') {
        // Offers 4 GiB in 1 MiB writes, writing on only when the proxy drains it.
        huge.res = res;
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const pump = (): void => {
          while (huge.sent < 4096 * MiB) {
            huge.sent += block.length;
            huge.lastWriteAt = Date.now();
            const flowing = res.write(block);
            huge.writableLength = res.writableLength;
            if (!flowing) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
      } else if (url.pathname === '/v1/upload') {
        // Reads the body and never answers.
        req.on('data', (chunk: Buffer) => (uploadBytes += chunk.length));
      } else if (url.pathname === '/v1/events') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: {"model":"m-abort","choices":[{"delta":{"content":"hi"}}]}\n\n');
        res.write('data: {"model":"m-abort","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}\n\n');
        // The next event never comes: the client leaves first.
      } else if (url.pathname === '/v1/pipe') {
        const n = Number(url.searchParams.get('n'));
        // Later requests are answered sooner upstream: the order must still hold.
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => setTimeout(() => res.end(`${req.method} ${n} ${Buffer.concat(chunks).toString()}`), (6 - n) * 30));
      } else {
        res.end(`ok ${req.url}`);
      }
    });
    proxy = await startProxy({ upstream: `${upstream.origin}/v1` });
  });
  after(async () => {
    huge.res?.destroy();
    await proxy.stop();
    await upstream.close();
  });

  // One test for both, so the suite waits out the 10 s once.
  test('a head sent one byte at a time is cut off by the 10 s head timeout with 408, and never forwarded; a connection that sends nothing is closed without an answer', { timeout: 20_000 }, async () => {
    const before = upstream.requests.length;
    const idle = net.connect(proxy.port, '127.0.0.1');
    const idleReceived: Buffer[] = [];
    idle.on('data', (chunk) => idleReceived.push(chunk));
    idle.on('error', () => {});
    const idleClosed = new Promise<void>((resolve) => idle.on('close', () => resolve()));
    const socket = net.connect(proxy.port, '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (chunk) => received.push(chunk));
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    const head = 'GET /v1/slow HTTP/1.1\r\nHost: h\r\nX-Slow: ' + 'a'.repeat(200);
    const startedAt = Date.now();
    let i = 0;
    const timer = setInterval(() => {
      if (socket.writable && i < head.length) socket.write(head[i++]!);
    }, 200);
    try {
      await closed;
    } finally {
      clearInterval(timer);
    }
    const elapsed = Date.now() - startedAt;
    const text = Buffer.concat(received).toString('latin1');
    assert.match(text, /^HTTP\/1\.1 408 /);
    assert.equal((JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { error: { code: string } }).error.code, 'request_timeout');
    assert.ok(i < head.length, 'the client was still sending its head when cut off');
    assert.ok(elapsed >= 5_000, `cut after ${elapsed} ms: a slow but live client must get its 10 s`);
    assert.equal(upstream.requests.length, before, 'nothing reached the upstream');
    // No byte, no request: there is nothing to answer 408 to (SPEC §8 counts from the first byte).
    await idleClosed;
    assert.equal(Buffer.concat(idleReceived).toString('latin1'), '');
  });

  test('a client that never reads: backpressure reaches the upstream and the proxy\'s memory stays bounded', { skip: process.platform !== 'linux' ? 'reads /proc' : false }, async () => {
    const startPeak = peakRssMib(proxy.child.pid!);
    const socket = net.connect(proxy.port, '127.0.0.1');
    socket.on('error', () => {});
    // No 'data' listener: the socket stays paused and reads nothing.
    socket.write('GET /v1/huge HTTP/1.1\r\nHost: h\r\n\r\n');
    try {
      await waitUntil(() => huge.sent > 0, 'the upstream starts writing');
      // Settled: the upstream has been waiting for a drain for a full second (or has
      // written far too much already, and the assertion below says so).
      const settled = (): boolean => huge.writableLength > 0 && Date.now() - huge.lastWriteAt > 1_000;
      await waitUntil(() => settled() || huge.sent >= 256 * MiB, 'the upstream is held back', 15_000, 50);
      const growth = peakRssMib(proxy.child.pid!) - startPeak;
      // Socket buffers on both sides hold some tens of MiB at most; without backpressure the
      // upstream would have pushed gigabytes by now. Generous bounds: figures are for benchmarks.
      assert.ok(huge.sent < 256 * MiB, `the upstream wrote ${(huge.sent / MiB).toFixed(0)} MiB to a client that reads nothing`);
      assert.ok(huge.writableLength <= 2 * MiB, `the upstream's own buffer holds ${huge.writableLength} bytes`);
      assert.ok(growth < 100, `the proxy's peak RSS grew by ${growth.toFixed(1)} MiB`);
    } finally {
      socket.destroy();
    }
    const recorded = upstream.requests.find((r) => r.url === '/v1/huge')!;
    await waitUntil(() => recorded.aborted, 'the upstream sees its response closed once the client leaves');
  });

  test('a client that leaves during its request body aborts the upstream request', async () => {
    const before = upstream.requests.length;
    const socket = net.connect(proxy.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write('POST /v1/upload HTTP/1.1\r\nHost: h\r\nContent-Type: application/octet-stream\r\nContent-Length: 10000000\r\n\r\n');
    socket.write(Buffer.alloc(64 * 1024, 'u'));
    await waitUntil(() => uploadBytes > 0, 'the upload starts reaching the upstream');
    socket.destroy();
    const recorded: RecordedRequest = upstream.requests[before]!;
    await waitUntil(() => recorded.aborted, 'the upstream request is aborted');
    assert.equal(recorded.complete, false, 'the upstream never saw a complete body');
  });

  test('a client that leaves between SSE events: the upstream is closed promptly and the usage seen is logged as client_abort', async () => {
    const before = upstream.requests.length;
    const req = http.get({ host: '127.0.0.1', port: proxy.port, path: '/v1/events', headers: { authorization: 'Bearer sk-leaves-between-events' }, agent: false });
    req.on('error', () => {});
    const res = await new Promise<http.IncomingMessage>((resolve) => req.on('response', resolve));
    let text = '';
    await new Promise<void>((resolve) => {
      res.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        if (text.includes('"usage"') && text.endsWith('\n\n')) resolve();
      });
    });
    req.destroy();
    const recorded = upstream.requests[before]!;
    await waitUntil(() => recorded.aborted, 'the upstream sees its response closed');
    const line = await proxy.waitForLine(new RegExp(`^\\[USAGE\\].*key_id=${keyIdOf('sk-leaves-between-events')}`), 3_000);
    assert.match(line, /^\[USAGE\] prompt_tokens=3 completion_tokens=4 total_tokens=7 /);
    assert.match(line, / complete=false /);
    assert.match(line, / end=client_abort /);
  });

  test('pipelined requests on one connection are all answered, in order', async () => {
    const requests = [
      'GET /v1/pipe?n=1 HTTP/1.1\r\nHost: h\r\n\r\n',
      'POST /v1/pipe?n=2 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello',
      'GET /v1/pipe?n=3 HTTP/1.1\r\nHost: h\r\n\r\n',
      'POST /v1/pipe?n=4 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
      'GET /v1/pipe?n=5 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n',
    ];
    const answers = splitResponses(await rawExchange(proxy.port, requests.join(''), 3_000));
    assert.deepEqual(answers, [
      { status: 200, body: 'GET 1 ' },
      { status: 200, body: 'POST 2 hello' },
      { status: 200, body: 'GET 3 ' },
      { status: 200, body: 'POST 4 abc' },
      { status: 200, body: 'GET 5 ' },
    ]);
  });

  test('invalid percent-encoding is forwarded as received; raw bytes outside ASCII get 400; the proxy keeps serving', async () => {
    for (const target of ['/v1/%zz', '/v1/%', '/v1/a%ff%fe', '/v1/x?q=%zz']) {
      const before = upstream.requests.length;
      const res = await rawExchange(proxy.port, `GET ${target} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`);
      assert.match(res.toString('latin1'), /^HTTP\/1\.1 200 /, target);
      assert.equal(upstream.requests[before]?.url, target, `${target} is forwarded as received`);
    }
    const rawTargets = [Buffer.from([0xff]), Buffer.from('€'), Buffer.from('?q=\xff', 'latin1'), Buffer.from([0x7f]), Buffer.from([0x01])];
    for (const bytes of rawTargets) {
      const before = upstream.requests.length;
      const res = await rawExchange(proxy.port, Buffer.concat([Buffer.from('GET /v1/a'), bytes, Buffer.from(' HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')]));
      const text = res.toString('latin1');
      assert.match(text, /^HTTP\/1\.1 400 /, bytes.toString('hex'));
      const error = (JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { error: { code: string; type: string } }).error;
      assert.equal(error.type, 'proxy_error');
      assert.equal(upstream.requests.length, before, 'refused targets are not forwarded');
    }
    await delay(50);
    const res = await request(proxy.origin, { path: '/v1/after' });
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'ok /v1/after');
  });
});
