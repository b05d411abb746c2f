// Upstream connections kept as long as the upstream keeps them (SPEC §8): a request after a
// pause reuses its connection where the upstream kept it open; the upstream's `Keep-Alive:
// timeout=` hint and the idle time after which it was seen to close connections itself make
// the proxy retire them first, so no request — a POST least of all — meets a closing socket.
// Real upstreams on loopback that close idle connections after 0.25 s, 2 s and 5 s, with and
// without the hint, and a TLS upstream; the upstream counts its accepted connections.

import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { after, describe, test } from 'node:test';
import { delay, request, startProxy, startRawUpstream, startUpstream, TEST_CA_PATH, type ProxyProcess, type RawUpstream } from './harness.ts';

const CHAT = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
const REPLY = '{"id":"x","object":"chat.completion","model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}';

interface ClosingUpstream {
  readonly raw: RawUpstream;
  /** Per accepted connection: who sent the first FIN, 'proxy' or 'upstream'. */
  readonly closedBy: ('proxy' | 'upstream' | null)[];
}

/** A raw upstream that answers every request and closes a connection idle for `idleMs`, sending no Keep-Alive hint. */
async function startClosingUpstream(idleMs: number): Promise<ClosingUpstream> {
  const closedBy: ('proxy' | 'upstream' | null)[] = [];
  const watched = new WeakSet<net.Socket>();
  const raw = await startRawUpstream((socket, req) => {
    if (!watched.has(socket)) {
      watched.add(socket);
      const index = req.connection - 1;
      closedBy[index] = null;
      socket.on('end', () => {
        closedBy[index] ??= 'proxy';
        socket.end();
      });
      // Inactivity in both directions, as an HTTP server's keep-alive timeout measures it.
      socket.setTimeout(idleMs, () => {
        closedBy[index] ??= 'upstream';
        socket.end();
      });
    }
    socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(REPLY)}\r\n\r\n${REPLY}`);
  });
  return { raw, closedBy };
}

const proxies: ProxyProcess[] = [];
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const proxy of proxies) await proxy.stop();
  for (const close of closers) await close();
});

async function proxyFor(upstream: string, env: Readonly<Record<string, string>> = {}): Promise<ProxyProcess> {
  const proxy = await startProxy({ upstream, env: { ACCESS_LOG: 'false', ...env } });
  proxies.push(proxy);
  return proxy;
}

/** A POST on a fresh client connection: the proxy's upstream pool is what is under test. */
async function post(proxy: ProxyProcess): Promise<number> {
  const res = await request(proxy.origin, { method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: CHAT });
  return res.status;
}

describe('idle upstream connections', { concurrency: true }, () => {
  test('an upstream that closes idle connections after 2 s without a hint: reused within 2 s, learned after two closes, then retired by the proxy first; no POST lost', async () => {
    const upstream = await startClosingUpstream(2_000);
    closers.push(() => upstream.raw.close());
    const proxy = await proxyFor(upstream.raw.origin);
    assert.equal(await post(proxy), 200);
    await delay(1_000);
    assert.equal(await post(proxy), 200);
    assert.equal(upstream.raw.sockets.length, 1, 'a request 1 s after the last reuses its connection');
    await delay(2_500);
    assert.equal(await post(proxy), 200, 'the first close is found out without losing the request');
    await delay(2_500);
    assert.equal(await post(proxy), 200);
    assert.deepEqual(upstream.closedBy.slice(0, 2), ['upstream', 'upstream'], 'the upstream closed the first two connections itself');
    assert.equal(upstream.raw.sockets.length, 3);
    await delay(1_000);
    assert.equal(await post(proxy), 200);
    assert.equal(upstream.raw.sockets.length, 3, 'still reused 1 s after');
    // Two closes after 2 s are a rule: the proxy now retires idle connections at 1.5 s.
    await delay(1_800);
    assert.equal(upstream.closedBy[2], 'proxy', 'the proxy closed the idle connection before the upstream did');
    assert.equal(await post(proxy), 200);
    assert.equal(upstream.raw.sockets.length, 4);
  });

  test('an upstream that closes idle connections after 0.25 s: reused within it, and once learned, closed by the proxy first', async () => {
    const upstream = await startClosingUpstream(250);
    closers.push(() => upstream.raw.close());
    const proxy = await proxyFor(upstream.raw.origin);
    assert.equal(await post(proxy), 200);
    await delay(100);
    assert.equal(await post(proxy), 200);
    assert.equal(upstream.raw.sockets.length, 1);
    for (let i = 0; i < 2; i++) {
      await delay(450);
      assert.equal(await post(proxy), 200);
    }
    await delay(450);
    assert.equal(upstream.closedBy.at(-1), 'proxy', `closes: ${upstream.closedBy.join(', ')}`);
    assert.equal(await post(proxy), 200);
  });

  test("an upstream's `Keep-Alive: timeout=5` is honoured a second early: reused after 3 s, retired by the proxy before 5 s", async () => {
    const ends: number[] = [];
    let lastResponseAt = 0;
    const upstream = await startUpstream((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(REPLY, () => (lastResponseAt = performance.now()));
    });
    closers.push(() => upstream.close());
    const proxy = await proxyFor(upstream.origin);
    // The harness's server: Node's default keepAliveTimeout (5 s), which sends the hint.
    assert.equal(await post(proxy), 200);
    await delay(3_000);
    assert.equal(await post(proxy), 200);
    assert.equal(upstream.connections(), 1, 'reused after 3 s');
    const socketEnded = new Promise<void>((resolve) => {
      const probe = setInterval(() => {
        if (ends.length > 0) {
          clearInterval(probe);
          resolve();
        }
      }, 20);
      probe.unref();
    });
    for (const socket of serverSockets(upstream)) socket.once('end', () => ends.push(performance.now() - lastResponseAt));
    await Promise.race([socketEnded, delay(6_000)]);
    assert.equal(ends.length, 1, 'the proxy closed the idle connection');
    assert.ok((ends[0] as number) < 4_800, `closed ${Math.round(ends[0] as number)} ms after the response, before the upstream's 5 s`);
    assert.equal(await post(proxy), 200);
    assert.equal(upstream.connections(), 2);
  });

  test('a TLS upstream that keeps connections for 65 s: a request after a 6 s pause reuses its TLS connection', async () => {
    const upstream = await startUpstream((_req, res) => res.end(REPLY), { tls: true });
    closers.push(() => upstream.close());
    for (const server of serversOf(upstream)) server.keepAliveTimeout = 65_000;
    const proxy = await proxyFor(upstream.origin, { NODE_EXTRA_CA_CERTS: TEST_CA_PATH });
    assert.equal(await post(proxy), 200);
    await delay(6_000);
    assert.equal(await post(proxy), 200);
    assert.equal(upstream.connections(), 1, 'one TLS handshake for both requests');
  });

  test('UPSTREAM_IDLE_MS bounds the wait even where the upstream would keep the connection longer', async () => {
    const upstream = await startClosingUpstream(60_000);
    closers.push(() => upstream.raw.close());
    const proxy = await proxyFor(upstream.raw.origin, { UPSTREAM_IDLE_MS: '300' });
    assert.equal(await post(proxy), 200);
    await delay(700);
    assert.equal(upstream.closedBy[0], 'proxy');
    assert.equal(await post(proxy), 200);
    assert.equal(upstream.raw.sockets.length, 2);
  });
});

// The harness keeps its servers private; the sockets are reached through the listening server,
// found from the upstream's port among this process's handles.
function serversOf(upstream: { readonly port: number }): http.Server[] {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  return handles.filter((h): h is http.Server => {
    const server = h as Partial<http.Server>;
    if (typeof server.keepAliveTimeout !== 'number' || typeof server.address !== 'function') return false;
    const address = server.address();
    return address !== null && typeof address === 'object' && address.port === upstream.port;
  });
}

function serverSockets(upstream: { readonly port: number }): net.Socket[] {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  return handles.filter((h): h is net.Socket => {
    const socket = h as net.Socket;
    return typeof socket.localPort === 'number' && socket.localPort === upstream.port && typeof socket.remotePort === 'number';
  });
}
