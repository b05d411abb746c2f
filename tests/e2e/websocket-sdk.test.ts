// The official `openai` SDK's WebSocket clients pointed at the proxy (SPEC §13): the Realtime
// client (`openai/realtime/ws`) against a local upstream that plays a Realtime session of the
// recorded shape, and the Responses WebSocket mode client (`openai/resources/responses/ws`,
// what Codex CLI speaks) for several response.create turns. Their usage lands in the ledger.

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import { ResponsesWS } from 'openai/resources/responses/ws';
import { keyIdOf, startProxy, waitUntil, type ProxyProcess } from './harness.ts';
import { ledgerRecords, playRealtime, playResponses, realtimeUsage, responsesUsage, startWsUpstream, type WsUpstream } from './websocket-harness.ts';

const KEY = 'sk-sdk-test-93b1';

describe('the openai SDK through the proxy', () => {
  let upstream: WsUpstream;
  let proxy: ProxyProcess;
  let ledger = '';
  let client: OpenAI;

  before(async () => {
    upstream = await startWsUpstream((ws, req) => {
      if ((req.url ?? '').startsWith('/v1/realtime')) {
        playRealtime(ws, { model: 'gpt-realtime', usages: [realtimeUsage(1500, 400, { cached: 1024, audioIn: 1200, audioOut: 380 })], deltas: 20, deltaBytes: 6000 });
      } else {
        playResponses(ws, { usages: [responsesUsage(2000, 120, 1800, 64), responsesUsage(2400, 80, 2000, 0)] });
      }
    }, { perMessageDeflate: { threshold: 0 } });
    ledger = join(mkdtempSync(join(tmpdir(), 'lm-proxy-ws-sdk-')), 'ledger.jsonl');
    proxy = await startProxy({ upstream: `${upstream.origin}/v1`, args: ['--usage-log', ledger] });
    client = new OpenAI({ apiKey: KEY, baseURL: `http://127.0.0.1:${proxy.port}/v1` });
  });
  after(async () => {
    await proxy.stop();
    await upstream.close();
  });

  test('OpenAIRealtimeWS: session.created, a response of audio deltas and response.done reach the SDK, and the usage is recorded with its audio tokens', async () => {
    // The SDK always dials wss://; the proxy listens in plain HTTP, so the SDK's own `ws` gets a
    // plain TCP connection to it (the README says so for local use).
    const rt = new OpenAIRealtimeWS(
      { model: 'gpt-realtime', options: { createConnection: () => net.connect(proxy.port, '127.0.0.1') } },
      client,
    );
    const errors: unknown[] = [];
    rt.on('error', (err) => errors.push(err));
    const types: string[] = [];
    rt.on('event', (event) => types.push(event.type));
    const sessionModel = new Promise<string | undefined>((resolve) => rt.on('session.created', (event) => resolve((event.session as { model?: string }).model)));
    await new Promise<void>((resolve, reject) => {
      rt.socket.once('open', () => resolve());
      rt.socket.once('error', reject);
    });
    assert.equal(await sessionModel, 'gpt-realtime');
    const usage = new Promise<unknown>((resolve) => rt.on('response.done', (event) => resolve(event.response.usage)));
    rt.send({ type: 'response.create' });
    assert.deepEqual(await usage, realtimeUsage(1500, 400, { cached: 1024, audioIn: 1200, audioOut: 380 }));
    assert.deepEqual(types.filter((t) => t === 'response.output_audio.delta').length, 20);
    rt.close();
    await new Promise((resolve) => rt.socket.once('close', resolve));
    assert.deepEqual(errors, []);
    // The deflate extension was agreed end to end, so the side reader had to inflate to see this.
    await waitUntil(() => ledgerRecords(ledger).some((r) => r['path'] === '/v1/realtime'), 'the Realtime record');
    const record = ledgerRecords(ledger).find((r) => r['path'] === '/v1/realtime')!;
    assert.deepEqual(
      [record['model'], record['prompt_tokens'], record['completion_tokens'], record['total_tokens'], record['cached_tokens'], record['audio_prompt_tokens'], record['audio_completion_tokens'], record['key_id'], record['status']],
      ['gpt-realtime', 1500, 400, 1900, 1024, 1200, 380, keyIdOf(KEY), 101],
    );
    assert.match(String(upstream.upgrades.find((u) => u.url.startsWith('/v1/realtime'))?.rawHeaders.join('\n')), /permessage-deflate/);
  });

  test('ResponsesWS: two response.create turns on one connection give two records, each as its response.completed passes', async () => {
    const before = ledgerRecords(ledger).length;
    const ws = new ResponsesWS(client);
    const errors: unknown[] = [];
    ws.on('error', (err) => errors.push(err));
    const completed: unknown[] = [];
    ws.on('response.completed', (event) => completed.push(event.response.usage));
    ws.send({ type: 'response.create', model: 'gpt-5-codex', input: 'first' } as never);
    await waitUntil(() => completed.length === 1, 'the first turn');
    await waitUntil(() => ledgerRecords(ledger).length === before + 1, 'its record, while the connection is open');
    ws.send({ type: 'response.create', model: 'gpt-5-codex', input: 'second', previous_response_id: 'resp_1' } as never);
    await waitUntil(() => completed.length === 2, 'the second turn');
    ws.close();
    await waitUntil(() => ledgerRecords(ledger).length === before + 2, 'two records');
    assert.deepEqual(errors, []);
    const records = ledgerRecords(ledger).slice(before);
    assert.deepEqual(records.map((r) => [r['path'], r['model'], r['prompt_tokens'], r['completion_tokens'], r['cached_tokens'], r['reasoning_tokens'], r['key_id']]), [
      ['/v1/responses', 'gpt-5-codex', 2000, 120, 1800, 64, keyIdOf(KEY)],
      ['/v1/responses', 'gpt-5-codex', 2400, 80, 2000, 0, keyIdOf(KEY)],
    ]);
  });
});
