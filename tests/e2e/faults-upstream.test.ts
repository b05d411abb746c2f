// Upstream faults against the real proxy: resets at every point of a response,
// malformed heads, lying lengths, a trickling or hanging upstream, stale kept-alive
// sockets (SPEC §3, §8 "Forwarding"). Refused connections, a body cut short of its
// Content-Length and one sent past it on a closing socket are in forward-errors.test.ts.

import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  delay, rawExchange, request, responseEnding, startProxy, startRawUpstream, startUpstream, waitUntil,
  type ProxyProcess, type RawUpstream, type RawUpstreamRequest, type TestUpstream,
} from './harness.ts';

interface ErrorBody {
  error: { message: string; type: string; code: string };
}

function errorOf(body: Buffer): ErrorBody['error'] {
  return (JSON.parse(body.toString()) as ErrorBody).error;
}

/** A kept-alive response with a Content-Length. */
function okResponse(body: string): string {
  return `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: keep-alive\r\n\r\n${body}`;
}

// Heads node:http would never send. Each must give 502 upstream_invalid_response.
const MALFORMED_HEADS: Record<string, string> = {
  'no-colon': 'HTTP/1.1 200 OK\r\nBad Header\r\nContent-Length: 2\r\n\r\nok',
  'nul-in-value': 'HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok',
  'cr-in-value': 'HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 2\r\n\r\nok',
  'space-in-name': 'HTTP/1.1 200 OK\r\nX Bad: 1\r\nContent-Length: 2\r\n\r\nok',
  'empty-name': 'HTTP/1.1 200 OK\r\n: v\r\nContent-Length: 2\r\n\r\nok',
  'obs-fold': 'HTTP/1.1 200 OK\r\nX-A: a\r\n folded\r\nContent-Length: 2\r\n\r\nok',
  'two-content-lengths': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
  'length-and-chunked': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'negative-length': 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nok',
  'word-length': 'HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nok',
  'letters-in-status': 'HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\nok',
  'bare-lf-lines': 'HTTP/1.1 200 OK\nContent-Length: 2\n\nok',
  'control-byte-in-reason': 'HTTP/1.1 200 O\x01K\r\nContent-Length: 2\r\n\r\nok',
  'no-status-line': 'ok\r\n',
  'header-block-of-100-kb': `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(100_000)}\r\nContent-Length: 2\r\n\r\nok`,
  // Node destroys the socket on an unasked 101 and reports nothing at all.
  'unasked-101': 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\nraw bytes',
};

describe('upstream faults', () => {
  let raw: RawUpstream;
  let proxy: ProxyProcess;

  before(async () => {
    raw = await startRawUpstream((socket, req) => {
      const name = req.url.slice('/v1/'.length);
      const malformed = MALFORMED_HEADS[name];
      if (malformed !== undefined) {
        socket.end(Buffer.from(malformed, 'latin1'));
      } else if (name === 'reset-before-head') {
        socket.resetAndDestroy();
      } else if (name === 'reset-in-head') {
        socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/ev', () => setTimeout(() => socket.resetAndDestroy(), 30));
      } else if (name === 'reset-after-head') {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n', () => setTimeout(() => socket.resetAndDestroy(), 30));
      } else if (name === 'reset-in-chunked-body') {
        socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\nf\r\ndata: partial\n\n\r\n', () =>
          setTimeout(() => socket.resetAndDestroy(), 30));
      } else if (name === 'fin-in-chunked-body') {
        // A clean TCP close before the last chunk: still a truncated body.
        socket.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
      } else if (name === 'bad-chunk-size') {
        socket.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n');
      } else if (name === 'reset-after-response') {
        socket.write(okResponse('whole'), () => setTimeout(() => socket.resetAndDestroy(), 50));
      } else if (name === 'obs-text') {
        socket.write(Buffer.from('HTTP/1.1 200 \xe2\x82\xac\r\nX-Euro: \xe2\x82\xac\xff\r\nContent-Length: 2\r\n\r\nok', 'latin1'));
      } else if (name === 'interim-flood') {
        // Interim responses over and over before the final one: the client gets each kind once.
        const hint = 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n';
        socket.write(`${'HTTP/1.1 102 Processing\r\n\r\n'.repeat(500)}${hint.repeat(500)}${okResponse('final')}`);
      } else if (name === 'hostile-early-hint') {
        // A Link value whose parameters make Node's validating regular expression backtrack
        // exponentially (25 of them took seconds), then a good one, then the final response.
        const hostile = `<a>${'; a=b'.repeat(25)} ;`;
        socket.write(`HTTP/1.1 103 Early Hints\r\nLink: ${hostile}\r\nLink: </ok.css>; rel=preload\r\n\r\n${okResponse('final')}`);
      } else if (name === 'extra-in-same-write') {
        socket.write(okResponse('hello') + 'HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled');
      } else if (name === 'extra-after-a-pause') {
        socket.write(okResponse('hello'), () => setTimeout(() => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled'), 50));
      } else {
        socket.write(okResponse(`answer to ${req.method} ${req.url}`));
      }
    });
    proxy = await startProxy({ upstream: `${raw.origin}/v1`, args: ['--upstream-timeout', '2000'] });
  });
  after(async () => {
    await proxy.stop();
    await raw.close();
  });

  test('a reset before any response byte gives 502 in the OpenAI error shape', async () => {
    const before = raw.requests.length;
    for (const method of ['GET', 'POST']) {
      const res = await request(proxy.origin, { method, path: '/v1/reset-before-head', body: method === 'POST' ? '{}' : undefined });
      assert.equal(res.status, 502, method);
      const error = errorOf(res.body);
      assert.equal(error.type, 'proxy_error');
      assert.match(error.code, /^upstream_(unreachable|reset)$/, method);
    }
    assert.ok(raw.requests.length > before, 'the upstream accepted the requests before resetting');
  });

  test('interim responses repeated by the upstream reach the client once of each kind, then the final one', async () => {
    const text = (await rawExchange(proxy.port, 'GET /v1/interim-flood HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')).toString('latin1');
    assert.equal(text.split('HTTP/1.1 102 ').length - 1, 1, text.slice(0, 300));
    assert.equal(text.split('HTTP/1.1 103 ').length - 1, 1, text.slice(0, 300));
    assert.match(text, /HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nfinal$/);
  });

  // The test's timeout is a hang guard, not a speed measurement: unbounded, this took 14 s.
  test('a Link value with too many parameters is dropped before Node validates it; the rest of the hint and the response go on', { timeout: 10_000 }, async () => {
    const text = (await rawExchange(proxy.port, 'GET /v1/hostile-early-hint HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')).toString('latin1');
    const hint = text.slice(0, text.indexOf('\r\n\r\n'));
    assert.match(hint, /^HTTP\/1\.1 103 Early Hints\r\nLink: <\/ok\.css>; rel=preload$/);
    assert.match(text, /\r\n\r\nfinal$/);
  });

  test('a reset in the middle of the response head gives 502', async () => {
    const res = await request(proxy.origin, { path: '/v1/reset-in-head' });
    assert.equal(res.status, 502);
    assert.equal(errorOf(res.body).type, 'proxy_error');
  });

  test('a reset or close after the head cuts the client connection; the response never ends cleanly', async () => {
    // A sized response's head leaves with its first body bytes, so when none come the
    // client sees the connection fail before any head: just as abrupt, never a success.
    const cutBeforeHead = await responseEnding(proxy.origin, { path: '/v1/reset-after-head' }).then(
      (res) => res.ending,
      (err: NodeJS.ErrnoException) => err.code,
    );
    assert.ok(cutBeforeHead === 'error' || cutBeforeHead === 'ECONNRESET', String(cutBeforeHead));
    for (const path of ['/v1/reset-in-chunked-body', '/v1/fin-in-chunked-body', '/v1/bad-chunk-size']) {
      const res = await responseEnding(proxy.origin, { path });
      assert.equal(res.status, 200, path);
      assert.equal(res.ending, 'error', `${path} must not look like a complete response`);
    }
    const chunked = await responseEnding(proxy.origin, { path: '/v1/reset-in-chunked-body' });
    assert.equal(chunked.body.toString(), 'data: partial\n\n', 'what came before the reset was forwarded');
  });

  test('a reset just after a complete response leaves that response whole, and the next GET and POST are served', async () => {
    const res = await responseEnding(proxy.origin, { path: '/v1/reset-after-response' });
    assert.equal(res.ending, 'end');
    assert.equal(res.body.toString(), 'whole');
    await delay(100);
    for (const method of ['GET', 'POST']) {
      const next = await request(proxy.origin, { method, path: '/v1/next', body: method === 'POST' ? '{}' : undefined });
      assert.equal(next.status, 200, method);
      assert.equal(next.body.toString(), `answer to ${method} /v1/next`);
    }
  });

  test('each malformed head gives 502 upstream_invalid_response and the proxy keeps serving', async () => {
    for (const name of Object.keys(MALFORMED_HEADS)) {
      const res = await request(proxy.origin, { path: `/v1/${name}` });
      assert.equal(res.status, 502, name);
      assert.equal(res.headers['content-type'], 'application/json', name);
      const error = errorOf(res.body);
      assert.equal(error.code, 'upstream_invalid_response', name);
      assert.equal(error.type, 'proxy_error', name);
    }
    const res = await request(proxy.origin, { path: '/v1/still-there' });
    assert.equal(res.status, 200);
    assert.equal(proxy.child.exitCode, null, 'the proxy is still running');
  });

  test('header and reason-phrase bytes above 0x7f reach the client byte for byte', async () => {
    const res = await rawExchange(proxy.port, 'GET /v1/obs-text HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
    const head = res.subarray(0, res.indexOf('\r\n\r\n'));
    const statusLine = Buffer.from('HTTP/1.1 200 \xe2\x82\xac\r\n', 'latin1');
    assert.ok(head.subarray(0, statusLine.length).equals(statusLine), head.toString('latin1'));
    assert.ok(head.includes(Buffer.from('\r\nX-Euro: \xe2\x82\xac\xff\r\n', 'latin1')), head.toString('latin1'));
  });

  test('bytes past Content-Length on a kept-alive socket never reach the next request', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (const name of ['extra-in-same-write', 'extra-after-a-pause']) {
        const first = await request(proxy.origin, { path: `/v1/${name}`, agent });
        assert.equal(first.body.toString(), 'hello', name);
        await delay(100);
        const next = await request(proxy.origin, { path: '/v1/after-extra', agent });
        assert.equal(next.body.toString(), 'answer to GET /v1/after-extra', `${name}: the leftover bytes were taken for the next response`);
      }
    } finally {
      agent.destroy();
    }
  });
});

describe('a slow or silent upstream', () => {
  let upstream: TestUpstream;
  let proxy: ProxyProcess;
  let lastTrickleByteSentAt = 0;
  const TRICKLE = 'data: 1234\n\n';

  before(async () => {
    upstream = await startUpstream((req, res) => {
      if (req.url === '/v1/trickle') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.flushHeaders();
        let i = 0;
        const timer = setInterval(() => {
          res.write(TRICKLE[i]);
          if (++i === TRICKLE.length) {
            clearInterval(timer);
            lastTrickleByteSentAt = Date.now();
            res.end();
          }
        }, 200);
        res.on('close', () => clearInterval(timer));
      } else if (req.url === '/v1/hang-mid-stream') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: first\n\n');
        // …and nothing more, ever.
      } else {
        res.end('ok');
      }
    });
    // An upstream timeout far shorter than the gaps between body bytes: it bounds the
    // wait for the head only, never the body (SPEC §3).
    proxy = await startProxy({ upstream: `${upstream.origin}/v1`, args: ['--upstream-timeout', '100'] });
  });
  after(async () => {
    await proxy.stop();
    await upstream.close();
  });

  test('a body trickled one byte every 200 ms arrives whole, each byte as it comes, past a shorter upstream timeout', async () => {
    let firstByteAt = 0;
    const res = await new Promise<{ ending: string; body: string }>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: proxy.port, path: '/v1/trickle', agent: false }, (r) => {
        let body = '';
        r.on('data', (chunk: Buffer) => {
          if (body === '') firstByteAt = Date.now();
          body += chunk.toString();
        });
        r.on('end', () => resolve({ ending: 'end', body }));
        r.on('error', () => resolve({ ending: 'error', body }));
      }).on('error', reject);
    });
    assert.equal(res.ending, 'end');
    assert.equal(res.body, TRICKLE);
    assert.ok(firstByteAt < lastTrickleByteSentAt, 'the first byte reached the client before the upstream sent the last one');
  });

  test('an upstream that goes silent mid-stream leaves the response open, and the client\'s abort reaches the upstream', async () => {
    const before = upstream.requests.length;
    const outcome: string[] = [];
    const req = http.get({ host: '127.0.0.1', port: proxy.port, path: '/v1/hang-mid-stream', agent: false });
    req.on('error', () => {});
    const res = await new Promise<http.IncomingMessage>((resolve) => req.on('response', resolve));
    res.on('end', () => outcome.push('end'));
    res.on('error', () => outcome.push('error'));
    const first = await new Promise<string>((resolve) => res.once('data', (chunk: Buffer) => resolve(chunk.toString())));
    assert.equal(first, 'data: first\n\n');
    // No body idle timeout by design: the proxy neither ends nor cuts it on its own.
    await delay(600);
    assert.deepEqual(outcome, [], 'the client was told neither success nor failure while the upstream is silent');
    assert.equal(res.complete, false);
    req.destroy();
    const recorded = upstream.requests[before]!;
    await waitUntil(() => recorded.aborted, 'the upstream sees its response closed');
  });
});

describe('stale kept-alive upstream sockets', () => {
  /** Sockets whose next request is answered by closing them, as a server that timed them out would. */
  const armed = new WeakSet<net.Socket>();
  /** Sockets whose next request gets part of a response head, then a reset. */
  const partial = new WeakSet<net.Socket>();
  let raw: RawUpstream;

  before(async () => {
    raw = await startRawUpstream((socket, req) => {
      if (armed.has(socket) || req.url === '/v1/always-closed') {
        socket.destroy();
        return;
      }
      if (partial.has(socket)) {
        socket.write('HTTP/1.1 200 OK\r\nX-Partial: 1\r\n');
        setTimeout(() => socket.destroy(), 20);
        return;
      }
      if (req.url === '/v1/arm-partial') {
        socket.write(okResponse('armed'));
        partial.add(socket);
        return;
      }
      const answer = (): void => {
        socket.write(okResponse(`${req.method} ${req.url} on connection ${req.connection}`));
        if (req.url === '/v1/arm') armed.add(socket);
      };
      // A short wait, so concurrent warm-up requests need connections of their own.
      if (req.url === '/v1/arm') setTimeout(answer, 100);
      else answer();
    });
  });
  after(() => raw.close());

  /** A proxy of its own, with `count` idle upstream sockets that close on their next request. */
  async function proxyWithArmedSockets(count: number): Promise<ProxyProcess> {
    const proxy = await startProxy({ upstream: `${raw.origin}/v1` });
    const before = raw.sockets.length;
    await Promise.all(Array.from({ length: count }, () => request(proxy.origin, { path: '/v1/arm' })));
    assert.equal(raw.sockets.length - before, count, 'each warm-up request had its own connection');
    return proxy;
  }

  function requestsFor(url: string, method: string): RawUpstreamRequest[] {
    return raw.requests.filter((r) => r.url === url && r.method === method);
  }

  const IDEMPOTENT_CASES: readonly { method: string; body?: string }[] = [
    { method: 'GET' },
    { method: 'HEAD' },
    { method: 'OPTIONS' },
    { method: 'DELETE' },
    { method: 'DELETE', body: '{"id":"file-1"}' },
    { method: 'PUT', body: 'x'.repeat(10_000) },
  ];

  for (const { method, body } of IDEMPOTENT_CASES) {
    test(`${method}${body === undefined ? '' : ' with a body'} failing on a reused socket before any response byte is retried once on a fresh connection`, async () => {
      // Two stale sockets: a retry taken from the pool would meet the second one.
      const proxy = await proxyWithArmedSockets(2);
      try {
        const url = `/v1/idempotent-${method}-${body === undefined ? 'bodyless' : 'body'}`;
        // Content-Length given: Node's client frames no DELETE body by itself.
        const withBody = body === undefined ? {} : { body, headers: { 'content-length': String(body.length) } };
        const res = await request(proxy.origin, { method, path: url, ...withBody });
        assert.equal(res.status, 200, `${method}: ${res.body.toString()}`);
        const attempts = requestsFor(url, method);
        assert.equal(attempts.length, 2, method);
        assert.ok(attempts[0]!.indexOnConnection > 1, `${method}: the first attempt reused a socket`);
        assert.equal(attempts[1]!.indexOnConnection, 1, `${method}: the retry went on a fresh connection`);
        assert.equal(attempts[1]!.body.toString(), body ?? '', `${method}: the retry carried the whole body`);
        if (method !== 'HEAD') assert.equal(res.body.toString(), `${method} ${url} on connection ${attempts[1]!.connection}`);
      } finally {
        await proxy.stop();
      }
    });
  }

  test('a PUT whose body is too large to keep for a retry is not retried and gets 502', async () => {
    const proxy = await proxyWithArmedSockets(1);
    try {
      const res = await request(proxy.origin, { method: 'PUT', path: '/v1/big-put', body: 'x'.repeat(100 * 1024) });
      assert.equal(res.status, 502);
      assert.equal(errorOf(res.body).code, 'upstream_reset');
      assert.equal(requestsFor('/v1/big-put', 'PUT').length, 1);
    } finally {
      await proxy.stop();
    }
  });

  test('a GET whose reused socket broke after part of a response head is not retried', async () => {
    const proxy = await startProxy({ upstream: `${raw.origin}/v1` });
    try {
      assert.equal((await request(proxy.origin, { path: '/v1/arm-partial' })).status, 200);
      const res = await request(proxy.origin, { path: '/v1/partial-then-reset' });
      assert.equal(res.status, 502);
      assert.equal(requestsFor('/v1/partial-then-reset', 'GET').length, 1, 'the upstream had begun to answer: never asked again');
    } finally {
      await proxy.stop();
    }
  });

  test('a POST failing on a reused socket is never retried and gets 502 upstream_reset', async () => {
    const proxy = await proxyWithArmedSockets(1);
    try {
      const res = await request(proxy.origin, { method: 'POST', path: '/v1/generate', headers: { 'content-type': 'application/json' }, body: '{"prompt":"x"}' });
      assert.equal(res.status, 502);
      assert.equal(errorOf(res.body).code, 'upstream_reset');
      assert.equal(requestsFor('/v1/generate', 'POST').length, 1, 'the POST reached the upstream once');
    } finally {
      await proxy.stop();
    }
  });

  test('after one stale pooled socket, the other idle ones are dropped: the next POST is served', async () => {
    const proxy = await proxyWithArmedSockets(2);
    try {
      const post = (): Promise<{ status: number }> =>
        request(proxy.origin, { method: 'POST', path: '/v1/after-restart', headers: { 'content-type': 'application/json' }, body: '{}' });
      assert.equal((await post()).status, 502, 'the first POST met a stale socket and is never retried');
      const next = await post();
      assert.equal(next.status, 200, 'the second POST went on a fresh connection, not the other stale one');
      assert.equal(requestsFor('/v1/after-restart', 'POST').at(-1)!.indexOnConnection, 1);
    } finally {
      await proxy.stop();
    }
  });

  test('a GET failing again on the fresh connection is not retried a second time and gets 502', async () => {
    const proxy = await proxyWithArmedSockets(1);
    try {
      const res = await request(proxy.origin, { path: '/v1/always-closed' });
      assert.equal(res.status, 502);
      assert.equal(errorOf(res.body).type, 'proxy_error');
      assert.equal(requestsFor('/v1/always-closed', 'GET').length, 2);
    } finally {
      await proxy.stop();
    }
  });

  test('a PUT whose body is still arriving when its reused socket fails is retried, the rest of the body following', async () => {
    // An upstream whose first connection, once it has answered, resets at the next byte it
    // reads: the reused socket fails while the client is still sending its body.
    const bodies: string[] = [];
    let connections = 0;
    const server = net.createServer((socket) => {
      const first = ++connections === 1;
      let answered = false;
      let buffered = '';
      socket.on('error', () => {});
      socket.on('data', (chunk: Buffer) => {
        if (first && answered) {
          socket.resetAndDestroy();
          return;
        }
        buffered += chunk.toString('latin1');
        const headEnd = buffered.indexOf('\r\n\r\n');
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(buffered)?.[1] ?? 0);
        if (headEnd < 0 || buffered.length < headEnd + 4 + length) return;
        const body = buffered.slice(headEnd + 4, headEnd + 4 + length);
        bodies.push(body);
        buffered = '';
        answered = true;
        socket.write(okResponse(`got ${body}`));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = await startProxy({ upstream: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/v1` });
    try {
      assert.equal((await request(proxy.origin, { path: '/v1/warm' })).status, 200);
      const client = net.connect(proxy.port, '127.0.0.1');
      const received: Buffer[] = [];
      client.on('data', (chunk: Buffer) => received.push(chunk));
      const closed = new Promise<void>((resolve) => client.on('close', () => resolve()));
      client.write('PUT /v1/late-body HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhe');
      await delay(150);
      client.write('llo'); // not end(): Node's server takes a half-closed request as abandoned
      await closed;
      const text = Buffer.concat(received).toString('latin1');
      assert.match(text, /^HTTP\/1\.1 200 /, text);
      assert.ok(text.endsWith('got hello'), text);
      assert.equal(connections, 2, 'the retry went on a fresh connection');
      assert.deepEqual(bodies, ['', 'hello'], 'the warm-up GET, then the whole body once, on the retry');
    } finally {
      await proxy.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  // SPEC §8 (issue 12): kept as long as the upstream allows, up to UPSTREAM_IDLE_MS; this upstream
  // gives no hint and never closes, so UPSTREAM_IDLE_MS alone decides (tests/e2e/upstream-reuse.test.ts
  // has the upstreams that close, and the default of 60 s across a pause).
  test('an idle upstream socket is closed by the proxy once UPSTREAM_IDLE_MS has passed, not before', async () => {
    const proxy = await startProxy({ upstream: `${raw.origin}/v1`, env: { UPSTREAM_IDLE_MS: '1500' } });
    try {
      const before = raw.sockets.length;
      const res = await request(proxy.origin, { path: '/v1/idle' });
      assert.equal(res.status, 200);
      const socket = raw.sockets[before]!;
      assert.ok(socket !== undefined, 'the request came on a new connection');
      const answeredAt = Date.now();
      // This upstream never closes a socket itself: any end comes from the proxy.
      const closedAt = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the proxy kept the idle socket open for 8 s')), 8_000);
        socket.once('close', () => {
          clearTimeout(timer);
          resolve(Date.now());
        });
      });
      assert.ok(closedAt - answeredAt >= 1_400, `closed after ${closedAt - answeredAt} ms: kept-alive sockets stay for reuse up to UPSTREAM_IDLE_MS`);
    } finally {
      await proxy.stop();
    }
  });
});
