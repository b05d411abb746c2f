// Security properties of the real proxy: no credential in any output it makes,
// no connection anywhere but UPSTREAM_URL whatever the request says, and no
// listener beyond the ones configured (SPEC §3, §6, §8).

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { delay, keyIdOf, rawExchange, request, startProxy, startUpstream, waitUntil, type TestUpstream } from './harness.ts';
import { ledgerRecords, openClient, playRealtime, realtimeUsage, startWsUpstream, switchingProtocols } from './websocket-harness.ts';

// Each secret is unique, so a hit names the place it leaked from.
const SECRET = {
  bearer: 'sk-bearer-4f1c9e2a7b',
  basicUser: 'basicuser-8d3e',
  basicPass: 'basicpass-6a0f5c1d',
  xApiKey: 'xapikey-2b7e91c4',
  apiKey: 'apikey-9c5d03e8',
  googKey: 'googkey-71e4a6b2',
  proxyAuth: 'proxyauth-3f8b2d90',
  cookie: 'cookie-5e6a1b7c',
  queryKey: 'querykey-0d9c4e3f',
  userinfo: 'userinfo-c2a8f61e',
  subprotocol: 'subprotocol-e4b7a90d',
} as const;
const BASIC = Buffer.from(`${SECRET.basicUser}:${SECRET.basicPass}`).toString('base64');
const PROXY_BASIC = Buffer.from(`proxyuser:${SECRET.proxyAuth}`).toString('base64');
/** Every string that must never appear in the proxy's own output. */
const NEEDLES: readonly string[] = [...Object.values(SECRET), BASIC, PROXY_BASIC];

function credentialHeaders(authorization: 'bearer' | 'basic'): Record<string, string> {
  return {
    authorization: authorization === 'bearer' ? `Bearer ${SECRET.bearer}` : `Basic ${BASIC}`,
    'x-api-key': SECRET.xApiKey,
    'api-key': SECRET.apiKey,
    'x-goog-api-key': SECRET.googKey,
    'proxy-authorization': `Basic ${PROXY_BASIC}`,
    cookie: `session=${SECRET.cookie}; other=1`,
  };
}

function rawCredentialHeaders(): string {
  return Object.entries(credentialHeaders('bearer')).map(([name, value]) => `${name}: ${value}\r\n`).join('');
}

function leaks(text: string): string[] {
  return NEEDLES.filter((needle) => text.includes(needle));
}

describe('no credential in any output', () => {
  let upstream: TestUpstream;

  before(async () => {
    upstream = await startUpstream((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (path === '/v1/hang') return;
      if (path === '/v1/reset') {
        req.socket.destroy();
        return;
      }
      if (path === '/v1/stream') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end('data: {"model":"m","choices":[],"usage":{"prompt_tokens":2,"completion_tokens":3,"total_tokens":5}}\n\ndata: [DONE]\n\n');
        return;
      }
      if (path === '/v1/cut') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: {"model":"m","choices":[],"usage":{"prompt_tokens":2,"completion_tokens":3,"total_tokens":5}}\n\n');
        setTimeout(() => req.socket.destroy(), 30);
        return;
      }
      // The upstream's own answers hold no secret, so any hit is the proxy's doing.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"model":"m","usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}');
    });
  });
  after(() => upstream.close());

  for (const format of ['text', 'json'] as const) {
    test(`in ${format} logs: stdout, stderr, the ledger, /metrics and the proxy's error bodies hold no secret`, async () => {
      const ledger = join(mkdtempSync(join(tmpdir(), 'lm-proxy-security-')), 'ledger.jsonl');
      const proxy = await startProxy({
        upstream: `${upstream.origin}/v1`,
        args: ['--usage-log', ledger, '--metrics', '127.0.0.1:0', '--log-format', format, '--upstream-timeout', '300'],
      });
      const bodies: string[] = [];
      try {
        const query = `?key=${SECRET.queryKey}&x=1`;
        for (const authorization of ['bearer', 'basic'] as const) {
          for (const [method, path] of [['POST', '/v1/chat/completions'], ['GET', '/v1/stream'], ['GET', '/v1/cut'], ['GET', '/v1/hang'], ['GET', '/v1/reset'], ['GET', '/v1/../../etc/passwd']]) {
            const res = await request(proxy.origin, { method: method!, path: path + query, headers: credentialHeaders(authorization), body: method === 'POST' ? '{"model":"m"}' : undefined }).catch((err: Error) => ({ body: Buffer.from(err.message), status: 0 }));
            bodies.push(res.body.toString('latin1'));
          }
        }
        // Answers the proxy gives before forwarding, each to a request full of credentials.
        const rawRequests = [
          `GET http://u:${SECRET.userinfo}@127.0.0.1:${upstream.port}/v1/models${query} HTTP/1.1\r\nHost: h\r\n${rawCredentialHeaders()}Connection: close\r\n\r\n`,
          `CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n${rawCredentialHeaders()}\r\n`,
          `GET /v1/ws${query} HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: websocket\r\n${rawCredentialHeaders()}Connection: close\r\n\r\n`,
          `POST /v1/x${query} HTTP/1.1\r\nHost: h\r\n${rawCredentialHeaders()}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
          `GET /v1/x${query} HTTP/1.1\r\nHost: h\r\n${rawCredentialHeaders()}X-Pad: ${'p'.repeat(20_000)}\r\n\r\n`,
          `GET /v1/x${query} HTTP/1.1\r\nHost: h\r\n${rawCredentialHeaders()}Bad Header: ${SECRET.bearer}\r\n\r\n`,
        ];
        for (const bytes of rawRequests) bodies.push((await rawExchange(proxy.port, bytes)).toString('latin1'));

        const metricsAt = (await proxy.waitForLine(/Metrics on/)).match(/127\.0\.0\.1:(\d+)/)?.[1];
        const metrics = await request(`http://127.0.0.1:${metricsAt}`, { path: '/metrics' });
        assert.equal(metrics.status, 200);
        // Wait for the last usage line (the cut stream's), so every line is out.
        await waitUntil(() => proxy.stdout.filter((line) => /end[=":]+upstream_error/.test(line) && /usage|USAGE/.test(line)).length >= 2, 'the usage lines are written');
        assert.ok(bodies.some((b) => b.includes('"type":"proxy_error"')), 'the proxy answered some requests itself');
        await delay(200);
        const stopped = proxy.stop();
        assert.equal(await stopped, 0);

        const outputs: Record<string, string> = {
          stdout: proxy.stdout.join('\n'),
          stderr: proxy.stderr.join('\n'),
          ledger: readFileSync(ledger, 'utf8'),
          metrics: metrics.body.toString(),
          'answers to clients': bodies.join('\n'),
        };
        assert.ok(outputs.ledger!.split('\n').filter(Boolean).length >= 6, 'the ledger has lines to check');
        assert.ok(outputs.stdout!.includes('key_id'), 'the usage lines carry a key id');
        for (const [where, text] of Object.entries(outputs)) assert.deepEqual(leaks(text), [], `secrets in ${where}`);
      } finally {
        await proxy.stop();
      }
    });
  }
});

describe('no WebSocket credential in any output (SPEC §13)', () => {
  for (const format of ['text', 'json'] as const) {
    test(`in ${format} logs: the openai-insecure-api-key subprotocol and every other credential of an upgrade stay out of stdout, stderr, the ledger, /metrics and the proxy's answers`, async () => {
      const upstream = await startWsUpstream((ws) => playRealtime(ws, { model: 'gpt-realtime', usages: [realtimeUsage(10, 20, { audioIn: 5 })] }));
      upstream.onUpgrade = (req, socket) => {
        const path = (req.url ?? '').split('?')[0];
        if (path === '/v1/refused') {
          socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
          return true;
        }
        if (path === '/v1/silent') return true;
        if (path === '/v1/malformed') {
          socket.write(switchingProtocols(req));
          socket.write(Buffer.from([0x81, 0x82, 1, 2, 3, 4, 0x61, 0x62]));
          socket.on('end', () => socket.end());
          return true;
        }
        return false;
      };
      const ledger = join(mkdtempSync(join(tmpdir(), 'lm-proxy-security-ws-')), 'ledger.jsonl');
      const proxy = await startProxy({
        upstream: `${upstream.origin}/v1`,
        args: ['--usage-log', ledger, '--metrics', '127.0.0.1:0', '--log-format', format, '--upstream-timeout', '300'],
      });
      const bodies: string[] = [];
      try {
        const query = `?model=gpt-realtime&key=${SECRET.queryKey}`;
        const subprotocol = `openai-insecure-api-key.${SECRET.subprotocol}`;
        // A browser's session: the subprotocol is its only credential, so it is the key_id's key.
        const browser = await openClient(`ws://127.0.0.1:${proxy.port}/v1/realtime?model=gpt-realtime`, { protocols: ['realtime', subprotocol] });
        browser.ws.send('{"type":"response.create"}');
        await waitUntil(() => ledgerRecords(ledger).length === 1, 'the browser session\'s record');
        browser.ws.close();
        // Every credential at once, on every path: the session, a refusal, a timeout, a malformed frame, a bad path.
        const everything = `${rawCredentialHeaders()}Sec-WebSocket-Protocol: realtime, ${subprotocol}\r\n`;
        for (const path of ['/v1/realtime', '/v1/refused', '/v1/silent', '/v1/malformed', '/v1/../../x']) {
          const bytes = `GET ${path}${query} HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${everything}\r\n`;
          const answer = (await rawExchange(proxy.port, bytes, 600)).toString('latin1');
          // Only the proxy's own answers are its output; what the upstream sends back is the upstream's.
          if (!answer.startsWith('HTTP/1.1 101') && !answer.startsWith('HTTP/1.1 401')) bodies.push(answer);
        }
        assert.equal(bodies.length, 2, 'the 504 and the 400 are the proxy\'s own');
        const metricsAt = (await proxy.waitForLine(/Metrics on/)).match(/127\.0\.0\.1:(\d+)/)?.[1];
        const metrics = await request(`http://127.0.0.1:${metricsAt}`, { path: '/metrics' });
        await proxy.waitForLine(/masked_frame/);
        await delay(200);
        assert.equal(await proxy.stop(), 0);
        const outputs: Record<string, string> = {
          stdout: proxy.stdout.join('\n'),
          stderr: proxy.stderr.join('\n'),
          ledger: readFileSync(ledger, 'utf8'),
          metrics: metrics.body.toString(),
          'answers to clients': bodies.join('\n'),
        };
        assert.equal(ledgerRecords(ledger)[0]!['key_id'], keyIdOf(SECRET.subprotocol));
        assert.ok(outputs.stdout!.includes('status') && outputs.stdout!.includes('101'), 'the access lines are there to check');
        for (const [where, text] of Object.entries(outputs)) assert.deepEqual(leaks(text), [], `secrets in ${where}`);
      } finally {
        await proxy.stop();
        await upstream.close();
      }
    });
  }
});

describe('the proxy connects nowhere but its upstream', () => {
  let upstream: TestUpstream;
  let evil: net.Server;
  let evilPort = 0;
  let evilConnections = 0;

  before(async () => {
    upstream = await startUpstream((_req, res) => res.end('ok'));
    evil = net.createServer((socket) => {
      evilConnections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    evilPort = (evil.address() as net.AddressInfo).port;
  });
  after(async () => {
    await upstream.close();
    await new Promise((resolve) => evil.close(resolve));
  });

  test('no request target, Host or forwarding header makes the proxy connect to another server', async () => {
    const proxy = await startProxy({ upstream: `${upstream.origin}/v1` });
    try {
      const evilHost = `127.0.0.1:${evilPort}`;
      const targets = [
        `http://${evilHost}/v1/x`,
        `http://${evilHost}`,
        `https://${evilHost}/v1/x`,
        `http://user@${evilHost}/v1/x`,
        `http://127.0.0.1:${upstream.port}@${evilHost}/v1/x`,
        `http://localhost:${evilPort}/x?y=http://${evilHost}/`,
        `//${evilHost}/x`,
        `///${evilHost}/x`,
        `/@${evilHost}/x`,
        `/v1/@${evilHost}`,
        `/..//${evilHost}/x`,
        `/v1/../../${evilHost}/x`,
        `/v1/%2e%2e/%2e%2e/${evilHost}`,
        `/\\\\${evilHost}\\x`,
        `/v1\\..\\..\\${evilHost}`,
        `http:\\\\${evilHost}\\x`,
        `${evilHost}/x`,
        '*',
      ];
      const forgedHeaders = [
        `Host: ${evilHost}`,
        `X-Forwarded-Host: ${evilHost}`,
        `Forwarded: for=1.2.3.4;host=${evilHost};proto=http`,
        `X-Forwarded-Proto: https`,
        `X-Forwarded-Port: ${evilPort}`,
        `X-Original-URL: http://${evilHost}/x`,
        `X-Rewrite-URL: http://${evilHost}/x`,
        `X-HTTP-Destination-Override: http://${evilHost}/x`,
      ].join('\r\n');
      const before = upstream.requests.length;
      for (const target of targets) {
        const res = await rawExchange(proxy.port, `GET ${target} HTTP/1.1\r\n${forgedHeaders}\r\nConnection: close\r\n\r\n`);
        assert.match(res.toString('latin1'), /^HTTP\/1\.1 (200|400) /, target);
      }
      await rawExchange(proxy.port, `CONNECT ${evilHost} HTTP/1.1\r\nHost: ${evilHost}\r\n\r\n`);
      // Absolute-form with a proxy-style keep-alive connection, twice on one socket.
      await rawExchange(proxy.port, `GET http://${evilHost}/a HTTP/1.1\r\nHost: ${evilHost}\r\n\r\nGET http://${evilHost}/b HTTP/1.1\r\nHost: ${evilHost}\r\nConnection: close\r\n\r\n`);
      await delay(200);
      assert.equal(evilConnections, 0, 'the other server was contacted');
      const forwarded = upstream.requests.slice(before);
      assert.ok(forwarded.length > 5, 'most targets were forwarded, to the upstream');
      for (const r of forwarded) {
        const hosts = r.rawHeaders.flatMap((v, i) => (i % 2 === 0 && v.toLowerCase() === 'host' ? [r.rawHeaders[i + 1]] : []));
        assert.deepEqual(hosts, [`127.0.0.1:${upstream.port}`], `Host sent upstream for ${r.url}`);
        assert.ok(r.url.startsWith('/v1/') || r.url === '/v1', `${r.url} stays under the base path`);
      }
    } finally {
      await proxy.stop();
    }
  });
});

describe('request smuggling', () => {
  let upstream: TestUpstream;
  let proxy: Awaited<ReturnType<typeof startProxy>>;

  before(async () => {
    upstream = await startUpstream((_req, res, recorded) => {
      // Answered once the body is in, so the recorded body is whole.
      _req.on('end', () => res.end(`seen ${recorded.method} ${recorded.url}`));
    });
    proxy = await startProxy({ upstream: `${upstream.origin}/v1` });
  });
  after(async () => {
    await proxy.stop();
    await upstream.close();
  });

  test('a body sent with another transfer coding before chunked reaches the upstream still coded, and says so', async () => {
    const coded = 'not really gzip, but coded';
    const before = upstream.requests.length;
    const res = await rawExchange(proxy.port, `POST /v1/coded HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n${coded.length.toString(16)}\r\n${coded}\r\n0\r\n\r\n`);
    assert.match(res.toString('latin1'), /^HTTP\/1\.1 200 /);
    await delay(100);
    const seen = upstream.requests.slice(before);
    assert.equal(seen.length, 1);
    const te = seen[0]!.rawHeaders.filter((_, i, all) => i % 2 === 1 && all[i - 1]!.toLowerCase() === 'transfer-encoding');
    assert.deepEqual(te, ['gzip, chunked']);
    assert.equal(seen[0]!.body.toString('latin1'), coded);
  });

  // The body of a chunked request is a whole request of its own. Forwarded as bare bytes
  // after the head (what Node's client does for these methods without framing), the upstream
  // would read it as a second request that never passed the proxy's path check.
  for (const method of ['GET', 'HEAD', 'DELETE', 'OPTIONS', 'POST', 'PUT']) {
    test(`a chunked ${method} body reaches the upstream as that request's body, never as a request of its own`, async () => {
      const smuggled = 'GET /v1/../../admin HTTP/1.1\r\nHost: evil\r\n\r\n';
      const chunked = `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`;
      const before = upstream.requests.length;
      const res = await rawExchange(proxy.port, `${method} /v1/models HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunked}`);
      assert.match(res.toString('latin1'), /^HTTP\/1\.1 200 /);
      await delay(100);
      const seen = upstream.requests.slice(before);
      assert.deepEqual(seen.map((r) => `${r.method} ${r.url}`), [`${method} /v1/models`]);
      assert.equal(seen[0]?.body.toString('latin1'), smuggled);
    });
  }
});

/** The TCP ports a process listens on, as `address:port`, from /proc (Linux). */
function listeningSockets(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match?.[1] !== undefined) inodes.add(match[1]);
    } catch {
      // The descriptor closed while we looked.
    }
  }
  const out: string[] = [];
  for (const table of ['tcp', 'tcp6']) {
    for (const row of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const cols = row.trim().split(/\s+/);
      // Columns: sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (cols[3] !== '0A' || !inodes.has(cols[9] ?? '')) continue;
      const [hexAddress = '', hexPort = '0'] = (cols[1] ?? '').split(':');
      out.push(`${decodeAddress(hexAddress)}:${parseInt(hexPort, 16)}`);
    }
  }
  return out.sort();
}

function decodeAddress(hex: string): string {
  if (hex.length === 8) return [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.');
  return hex === '0'.repeat(32) ? '::' : hex === '0000000000000000FFFF00000100007F' ? '::ffff:127.0.0.1' : `[${hex}]`;
}

describe('listeners', { skip: process.platform !== 'linux' ? 'reads /proc' : false }, () => {
  let upstream: TestUpstream;

  before(async () => {
    upstream = await startUpstream((_req, res) => res.end('ok'));
  });
  after(() => upstream.close());

  test('without METRICS_ADDR the proxy listens on its own port only', async () => {
    const proxy = await startProxy({ upstream: `${upstream.origin}/v1`, env: { METRICS_ADDR: '' } });
    try {
      // Some traffic first, so any lazily opened listener would exist by now.
      await request(proxy.origin, { path: '/v1/models' });
      assert.deepEqual(listeningSockets(proxy.child.pid!), [`127.0.0.1:${proxy.port}`]);
      for (const path of ['/metrics', '/healthz', '/readyz']) {
        const res = await request(proxy.origin, { path });
        assert.equal(res.body.toString(), 'ok', `${path} on the proxy port is forwarded, not served`);
      }
    } finally {
      await proxy.stop();
    }
  });

  test('with METRICS_ADDR the admin listener is where it says, and nowhere else', async () => {
    const proxy = await startProxy({ upstream: `${upstream.origin}/v1`, env: { METRICS_ADDR: '127.0.0.1:0' } });
    try {
      const metricsPort = Number((await proxy.waitForLine(/Metrics on/)).match(/127\.0\.0\.1:(\d+)/)?.[1]);
      assert.ok(metricsPort > 0);
      assert.deepEqual(listeningSockets(proxy.child.pid!), [`127.0.0.1:${metricsPort}`, `127.0.0.1:${proxy.port}`].sort());
      const res = await request(`http://127.0.0.1:${metricsPort}`, { path: '/healthz' });
      assert.equal(res.status, 200);
    } finally {
      await proxy.stop();
    }
  });
});
