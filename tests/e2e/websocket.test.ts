// WebSocket sessions through the real proxy (SPEC §13): the handshake as the upstream sees it and
// as the client gets it back, bytes unchanged both ways, one usage record per usage event as it
// passes, the session's model, tags and key, compressed sessions, and the access log and metrics.

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { delay, headerValues, keyIdOf, rawExchange, request, startProxy, waitUntil, type ProxyProcess } from './harness.ts';
import {
  jsonLines,
  ledgerRecords,
  openClient,
  playRealtime,
  playResponses,
  realtimeUsage,
  responsesUsage,
  startWsUpstream,
  type WsUpstream,
} from './websocket-harness.ts';
import { prng } from '../helpers/prng.ts';
import { frame, TEXT } from '../helpers/ws-frames.ts';

const KEY = 'sk-ws-test-7c1e';

/** The access line of the session that asked for `path` (LOG_FORMAT=json). */
function accessLine(proxy: ProxyProcess, path: string): Record<string, unknown> | undefined {
  return jsonLines(proxy.stdout, 'request').find((line) => line['path'] === path);
}

describe('a WebSocket session through the proxy', () => {
  let upstream: WsUpstream;
  let proxy: ProxyProcess;
  let ledger = '';
  let admin = '';

  before(async () => {
    upstream = await startWsUpstream((ws, req) => {
      const path = (req.url ?? '').split('?')[0];
      if (path === '/v1/realtime') {
        playRealtime(ws, { model: 'gpt-realtime-2025-08-28', usages: [realtimeUsage(120, 80, { cached: 64, audioIn: 100, audioOut: 70 }), realtimeUsage(300, 40, { audioIn: 250, audioOut: 30 })] });
      } else if (path === '/v1/responses') {
        playResponses(ws, { usages: [responsesUsage(1000, 50, 900, 10), responsesUsage(1200, 70), responsesUsage(1300, 5)], finals: ['response.completed', 'response.incomplete', 'response.failed'] });
      } else if (path === '/v1/echo') {
        ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      } else if (path === '/v1/models-by-session') {
        ws.send(JSON.stringify({ type: 'session.created', session: { model: 'first-model' } }));
        ws.send(JSON.stringify({ type: 'session.updated', session: { model: 'updated-model' } }));
        ws.send(JSON.stringify({ type: 'response.done', response: { id: 'a', usage: realtimeUsage(1, 1) } }));
        ws.send(JSON.stringify({ type: 'response.done', response: { id: 'b', model: 'event-model', usage: realtimeUsage(2, 2) } }));
      } else if (path === '/v1/models-by-query') {
        // Neither the event nor a session event names a model: the query's does.
        ws.send(JSON.stringify({ type: 'response.done', response: { id: 'a', usage: realtimeUsage(3, 3) } }));
      }
    });
    ledger = join(mkdtempSync(join(tmpdir(), 'lm-proxy-ws-')), 'ledger.jsonl');
    proxy = await startProxy({
      upstream: `${upstream.origin}/v1`,
      args: ['--usage-log', ledger, '--log-format', 'json', '--metrics', '127.0.0.1:0', '--tags', 'env=test,team=deploy'],
    });
    admin = `http://127.0.0.1:${(await proxy.waitForLine(/Metrics on/)).match(/127\.0\.0\.1:(\d+)/)?.[1]}`;
  });
  after(async () => {
    await proxy.stop();
    await upstream.close();
  });

  test('the upgrade reaches the upstream with Upgrade, Connection: Upgrade and every Sec-WebSocket-* header, the upstream Host, and no other hop-by-hop header or LM-Proxy-Tags', async () => {
    const before = upstream.upgrades.length;
    const answer = (
      await rawExchange(
        proxy.port,
        'GET /realtime?model=gpt-realtime&x=%2F%20 HTTP/1.1\r\nHost: forged.example\r\nConnection: keep-alive, Upgrade, X-Hop, Sec-WebSocket-Protocol\r\nUpgrade: websocket\r\n' +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: realtime\r\nSec-WebSocket-Extensions: permessage-deflate\r\n' +
          'Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nX-Hop: secret-hop\r\nLM-Proxy-Tags: team=a\r\nOpenAI-Beta: realtime=v1\r\nAuthorization: Bearer sk-x\r\n\r\n',
        300,
      )
    ).toString('latin1');
    assert.match(answer, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    const seen = upstream.upgrades.slice(before);
    assert.equal(seen.length, 1);
    // SPEC §3: the base path is added; the query goes byte for byte.
    assert.equal(seen[0]!.url, '/v1/realtime?model=gpt-realtime&x=%2F%20');
    const raw = seen[0]!.rawHeaders;
    assert.deepEqual(headerValues(raw, 'host'), [`127.0.0.1:${upstream.port}`]);
    assert.deepEqual(headerValues(raw, 'connection'), ['Upgrade']);
    assert.deepEqual(headerValues(raw, 'upgrade'), ['websocket']);
    assert.deepEqual(headerValues(raw, 'sec-websocket-version'), ['13']);
    assert.deepEqual(headerValues(raw, 'sec-websocket-key'), ['dGhlIHNhbXBsZSBub25jZQ==']);
    assert.deepEqual(headerValues(raw, 'sec-websocket-protocol'), ['realtime']);
    assert.deepEqual(headerValues(raw, 'sec-websocket-extensions'), ['permessage-deflate']);
    for (const gone of ['keep-alive', 'proxy-connection', 'te', 'x-hop', 'lm-proxy-tags']) assert.deepEqual(headerValues(raw, gone), [], gone);
    assert.deepEqual(headerValues(raw, 'openai-beta'), ['realtime=v1']);
    assert.deepEqual(headerValues(raw, 'authorization'), ['Bearer sk-x']);
  });

  test("the upstream's 101 reaches the client with its headers, and a ws client's bytes pass unchanged both ways, text and binary", async () => {
    const random = prng(7);
    const client = await openClient(`ws://127.0.0.1:${proxy.port}/v1/echo`, { protocols: ['chat', 'realtime'] });
    // ws only opens when the accept key matches its own key and the protocol is one it offered.
    assert.equal(client.ws.protocol, 'chat');
    const binaries: Buffer[] = [];
    client.ws.on('message', (data, isBinary) => {
      if (isBinary) binaries.push(data as Buffer);
    });
    const sent: Buffer[] = [];
    for (const size of [0, 1, 125, 126, 65_535, 65_536, 300_000]) {
      const payload = Buffer.alloc(size);
      for (let i = 0; i < size; i++) payload[i] = Math.floor(random() * 256);
      sent.push(payload);
      client.ws.send(payload);
    }
    client.ws.send('héllo, wörld');
    await waitUntil(() => binaries.length === sent.length && client.texts.length === 1, 'every message came back');
    assert.deepEqual(binaries.map((b) => b.toString('hex')), sent.map((b) => b.toString('hex')));
    assert.deepEqual(client.texts, ['héllo, wörld']);
    client.ws.close(4001, 'done here');
    assert.deepEqual(await client.closed, { code: 4001, reason: 'done here' });
  });

  test('frames a client sends right behind its upgrade request reach the upstream after the 101, in order', async () => {
    const frames = ['first', 'second'].map((text) => frame({ opcode: TEXT, payload: text, mask: Buffer.from([1, 2, 3, 4]) }));
    const socket = net.connect(proxy.port, '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    // One write: the head and two frames arrive together, before the upstream has answered.
    socket.write(Buffer.concat([Buffer.from('GET /v1/echo HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'), ...frames]));
    const echoed = Buffer.concat([frame({ opcode: TEXT, payload: 'first' }), frame({ opcode: TEXT, payload: 'second' })]);
    await waitUntil(() => Buffer.concat(received).includes(echoed), 'both echoes, in order');
    assert.match(Buffer.concat(received).toString('latin1'), /^HTTP\/1\.1 101 /);
    socket.destroy();
  });

  test('a Realtime session gives one record per response.done, each written as its event passes, with the session model, the audio counts, tags and key_id', async () => {
    const before = ledgerRecords(ledger).length;
    const client = await openClient(`ws://127.0.0.1:${proxy.port}/v1/realtime?model=gpt-realtime`, { headers: { authorization: `Bearer ${KEY}`, 'lm-proxy-tags': 'team=voice, call=c-42' } });
    await waitUntil(() => client.texts.length === 1, 'session.created came');
    client.ws.send(JSON.stringify({ type: 'response.create' }));
    await waitUntil(() => client.texts.length === 6, 'the first response came');
    // Written while the session is still open (SPEC §13: not at the session's end).
    await waitUntil(() => ledgerRecords(ledger).length === before + 1, 'the first record is in the ledger');
    client.ws.send(JSON.stringify({ type: 'response.create' }));
    await waitUntil(() => ledgerRecords(ledger).length === before + 2, 'the second record is in the ledger');
    client.ws.close(1000);
    await client.closed;
    const [first, second] = ledgerRecords(ledger).slice(before);
    assert.deepEqual(
      { ...first, time: undefined, duration_ms: undefined, ttfb_ms: undefined },
      {
        time: undefined, method: 'GET', path: '/v1/realtime', status: 101, model: 'gpt-realtime-2025-08-28', stream: true,
        prompt_tokens: 120, completion_tokens: 80, total_tokens: 200, cached_tokens: 64, reasoning_tokens: 0, cache_creation_tokens: 0,
        audio_prompt_tokens: 100, audio_completion_tokens: 70, complete: true, end: 'done', duration_ms: undefined, ttfb_ms: undefined,
        key_id: keyIdOf(KEY), cost: null, cost_source: null, tags: { env: 'test', team: 'voice', call: 'c-42' }, user: null,
      },
    );
    assert.equal(typeof first!['duration_ms'], 'number');
    assert.equal(typeof first!['ttfb_ms'], 'number');
    assert.deepEqual([second!['prompt_tokens'], second!['completion_tokens'], second!['audio_prompt_tokens'], second!['audio_completion_tokens']], [300, 40, 250, 30]);
  });

  test('a Responses WebSocket session of three response.create turns gives three records: completed, incomplete and failed, each with its model', async () => {
    const before = ledgerRecords(ledger).length;
    const client = await openClient(`ws://127.0.0.1:${proxy.port}/v1/responses`, { headers: { authorization: `Bearer ${KEY}`, 'OpenAI-Beta': 'responses_websockets=2026-02-06' } });
    for (const [turn, model] of ['gpt-5-codex', 'gpt-5', 'gpt-5-mini'].entries()) {
      client.ws.send(JSON.stringify({ type: 'response.create', model, input: [{ role: 'user', content: `turn ${turn}` }] }));
      await waitUntil(() => client.texts.length === (turn + 1) * 6, `turn ${turn + 1} came`);
    }
    await waitUntil(() => ledgerRecords(ledger).length === before + 3, 'three records');
    client.ws.close();
    await client.closed;
    const records = ledgerRecords(ledger).slice(before);
    assert.deepEqual(records.map((r) => [r['path'], r['model'], r['prompt_tokens'], r['completion_tokens'], r['cached_tokens'], r['reasoning_tokens'], r['status'], r['complete']]), [
      ['/v1/responses', 'gpt-5-codex', 1000, 50, 900, 10, 101, true],
      ['/v1/responses', 'gpt-5', 1200, 70, 0, 0, 101, true],
      ['/v1/responses', 'gpt-5-mini', 1300, 5, 0, 0, 101, true],
    ]);
    assert.ok(records.every((r) => r['key_id'] === keyIdOf(KEY) && r['stream'] === true && r['method'] === 'GET'));
  });

  test("the model is the event's response.model, else the latest session.created/updated's, else the model query parameter", async () => {
    const before = ledgerRecords(ledger).length;
    const bySession = await openClient(`ws://127.0.0.1:${proxy.port}/v1/models-by-session?model=query-model`);
    await waitUntil(() => ledgerRecords(ledger).length === before + 2, 'two records');
    const byQuery = await openClient(`ws://127.0.0.1:${proxy.port}/v1/models-by-query?model=query%2Dmodel`);
    await waitUntil(() => ledgerRecords(ledger).length === before + 3, 'three records');
    bySession.ws.close();
    byQuery.ws.close();
    assert.deepEqual(ledgerRecords(ledger).slice(before).map((r) => r['model']), ['updated-model', 'event-model', 'query-model']);
  });

  test('the key for key_id is the openai-insecure-api-key subprotocol when no other is present, and Authorization when it is', async () => {
    const before = ledgerRecords(ledger).length;
    const browserKey = 'sk-browser-5d2a';
    const browser = await openClient(`ws://127.0.0.1:${proxy.port}/v1/models-by-query`, { protocols: ['realtime', `openai-insecure-api-key.${browserKey}`] });
    assert.equal(browser.ws.protocol, 'realtime');
    await waitUntil(() => ledgerRecords(ledger).length === before + 1, 'a record');
    const both = await openClient(`ws://127.0.0.1:${proxy.port}/v1/models-by-query`, { protocols: [`openai-insecure-api-key.${browserKey}`], headers: { authorization: `Bearer ${KEY}` } });
    await waitUntil(() => ledgerRecords(ledger).length === before + 2, 'two records');
    browser.ws.close();
    both.ws.close();
    assert.deepEqual(ledgerRecords(ledger).slice(before).map((r) => r['key_id']), [keyIdOf(browserKey), keyIdOf(KEY)]);
  });

  test('a session counts in lm_proxy_active_requests while open and once in lm_proxy_requests_total with status 101; its access line has the close code and the bytes each way', async () => {
    const metricsText = async (): Promise<string> => (await request(admin, { path: '/metrics' })).body.toString();
    const sample = (text: string, series: string): number => Number(text.split('\n').find((l) => l.startsWith(series + ' '))?.slice(series.length + 1) ?? 0);
    const total = 'lm_proxy_requests_total{method="GET",status="101"}';
    let active = -1;
    const poll = setInterval(() => void metricsText().then((text) => (active = sample(text, 'lm_proxy_active_requests'))), 20);
    let client;
    let countBefore = 0;
    try {
      // Sessions of earlier tests may take a moment to finish on the proxy's side.
      await waitUntil(() => active === 0, 'no session in flight');
      countBefore = sample(await metricsText(), total);
      client = await openClient(`ws://127.0.0.1:${proxy.port}/v1/echo?session=metrics`);
      await waitUntil(() => active === 1, 'the open session is in flight');
    } finally {
      clearInterval(poll);
    }
    client.ws.send('x'.repeat(1000));
    await waitUntil(() => client.texts.length === 1, 'the echo');
    client.ws.close(4321, 'metrics');
    await client.closed;
    await waitUntil(() => accessLine(proxy, '/v1/echo') !== undefined && jsonLines(proxy.stdout, 'request').some((l) => l['close_code'] === 4321), 'the access line');
    const line = jsonLines(proxy.stdout, 'request').find((l) => l['close_code'] === 4321)!;
    assert.equal(line['status'], 101);
    assert.equal(line['method'], 'GET');
    assert.equal(line['end'], 'done');
    // 1000 bytes of text in a masked frame (8 bytes of header) and a close frame (2 + 4 + 2 + 7) each way.
    assert.equal(line['bytes_in'], 1000 + 8 + 6 + 9);
    assert.equal(line['bytes_out'], 1000 + 4 + 2 + 9);
    const after = await metricsText();
    assert.equal(sample(after, total), countBefore + 1);
    assert.equal(sample(after, 'lm_proxy_active_requests'), 0);
  });

  test('after the 101 a session has no idle limit of the proxy: UPSTREAM_TIMEOUT_MS bounds only the wait for the 101', async () => {
    const quick = await startProxy({ upstream: `${upstream.origin}/v1`, args: ['--upstream-timeout', '200'] });
    try {
      const client = await openClient(`ws://127.0.0.1:${quick.port}/v1/echo`);
      await delay(700);
      client.ws.send('still here');
      await waitUntil(() => client.texts.length === 1, 'the echo after the idle time');
      assert.deepEqual(client.texts, ['still here']);
      client.ws.close();
      await client.closed;
    } finally {
      await quick.stop();
    }
  });

  test('an h2c offer is still dropped and the request served over HTTP/1.1, its body and a pipelined request after it too', async () => {
    const before = upstream.requests.length;
    const res = (await rawExchange(
      proxy.port,
      'POST /v1/models HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nContent-Length: 5\r\n\r\nhello' +
        'GET /v1/second HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n',
    )).toString('latin1');
    assert.equal(res.match(/HTTP\/1\.1 426 /g)?.length, 2, res);
    assert.deepEqual(upstream.requests.slice(before), ['POST /v1/models', 'GET /v1/second']);
  });

  test('a POST asking for WebSocket is not a WebSocket request: its offer is dropped and it is served', async () => {
    const res = (await rawExchange(proxy.port, 'POST /v1/x HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')).toString('latin1');
    assert.match(res, /^HTTP\/1\.1 426 /);
  });
});

describe('the proxy connects nowhere but its upstream for a WebSocket request', () => {
  test('no absolute-form target, Host or forwarding header sends an upgrade elsewhere; dot segments above the base path get 400', async () => {
    let evilConnections = 0;
    const evil = net.createServer((socket) => {
      evilConnections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    const evilHost = `127.0.0.1:${(evil.address() as net.AddressInfo).port}`;
    const upstream = await startWsUpstream(() => undefined);
    const proxy = await startProxy({ upstream: `${upstream.origin}/v1` });
    try {
      const handshake = `Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Forwarded-Host: ${evilHost}\r\nForwarded: host=${evilHost}\r\n`;
      for (const target of [`http://${evilHost}/v1/realtime`, `ws://${evilHost}/v1/realtime`, `//${evilHost}/x`, `/v1/@${evilHost}`, `http://u@${evilHost}`]) {
        const res = await rawExchange(proxy.port, `GET ${target} HTTP/1.1\r\nHost: ${evilHost}\r\n${handshake}\r\n`, 300);
        assert.match(res.toString('latin1'), /^HTTP\/1\.1 101 /, target);
      }
      const refused = (await rawExchange(proxy.port, `GET /v1/../../x HTTP/1.1\r\nHost: h\r\n${handshake}\r\n`, 300)).toString('latin1');
      assert.match(refused, /^HTTP\/1\.1 400 /);
      assert.match(refused, /"code":"invalid_path"/);
      await delay(100);
      assert.equal(evilConnections, 0);
      for (const seen of upstream.upgrades) {
        assert.deepEqual(headerValues(seen.rawHeaders, 'host'), [`127.0.0.1:${upstream.port}`]);
        assert.ok(seen.url.startsWith('/v1/'), seen.url);
      }
      assert.equal(upstream.upgrades.length, 5);
    } finally {
      await proxy.stop();
      await upstream.close();
      await new Promise((resolve) => evil.close(resolve));
    }
  });
});
