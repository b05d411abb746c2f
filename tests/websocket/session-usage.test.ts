// The session tap (SPEC §13 "Usage"): the upstream's bytes in, one usage record per usage event
// out — whatever the cuts of the byte stream, compressed or not — with the session's model,
// key, tags, cost and timing rules, and nothing for events that carry no usage or are broken.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, test } from 'node:test';
import { createHash } from 'node:crypto';
import type { ExchangeSummary } from '../../src/shared/exchange-tap.ts';
import type { UsageRecord } from '../../src/shared/usage-record.ts';
import { createSessionUsage, type SessionUsageOptions } from '../../src/websocket/session-usage.ts';
import { closeFrame, cutAt, cutRandomly, frame, messageFrames, PING, ServerDeflater, TEXT, BINARY } from '../helpers/ws-frames.ts';
import { prng } from '../helpers/prng.ts';

const SUMMARY: ExchangeSummary = { method: 'GET', clientPath: '/v1/realtime', status: 101, end: 'done', durationMs: 10, ttfbMs: 2, requestBytes: 0, responseBytes: 0, errorCode: null };

interface Run {
  readonly records: UsageRecord[];
  readonly problems: string[];
  readonly closeCode: number | null;
  readonly stats: { readingStopped: number; skippedMessages: number };
}

async function run(
  chunks: readonly Buffer[],
  options: { query?: string; headers?: string[]; extensions?: string; usage?: Partial<SessionUsageOptions> } = {},
): Promise<Run> {
  const records: UsageRecord[] = [];
  const problems: string[] = [];
  const usage = createSessionUsage({ onRecord: (record) => records.push(record), onProblem: (problem) => problems.push(problem), ...options.usage });
  const tap = usage.openSessionTap({ method: 'GET', clientPath: '/v1/realtime', query: options.query ?? '', requestHeaders: options.headers ?? [] });
  tap.opened({ responseHeaders: options.extensions === undefined ? [] : ['Sec-WebSocket-Extensions', options.extensions], ttfbMs: 12.34 });
  for (const chunk of chunks) tap.upstreamChunk(chunk);
  const closeCode = tap.closeCode();
  tap.finish(SUMMARY);
  await usage.drain();
  return { records, problems, closeCode, stats: usage.stats() };
}

const text = (payload: string | object): Buffer => frame({ opcode: TEXT, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) });
const realtimeDone = (id: string, input: number, output: number, extra: Record<string, unknown> = {}): object => ({
  type: 'response.done',
  event_id: `ev_${id}`,
  response: { object: 'realtime.response', id, status: 'completed', output: [], usage: { total_tokens: input + output, input_tokens: input, output_tokens: output, input_token_details: { cached_tokens: 3, audio_tokens: 4 }, output_token_details: { audio_tokens: 5 } }, ...extra },
});
const delta = (n: number): object => ({ type: 'response.output_audio.delta', event_id: `d${n}`, response_id: 'r', delta: Buffer.alloc(3000, n).toString('base64') });

/** A Realtime session's bytes: session events, responses of audio deltas, pings, a close. */
function realtimeStream(): Buffer {
  return Buffer.concat([
    text({ type: 'session.created', event_id: 'e0', session: { model: 'gpt-realtime', voice: 'alloy' } }),
    text({ type: 'response.created', event_id: 'e1', response: { id: 'r1', usage: null } }),
    text(delta(1)),
    frame({ opcode: PING, payload: 'p' }),
    text(delta(2)),
    text(realtimeDone('r1', 100, 50)),
    text({ type: 'session.updated', session: { model: 'gpt-realtime-mini' } }),
    // A fragmented usage event with a ping between its fragments.
    ...(() => {
      const [first, second] = messageFrames(TEXT, Buffer.from(JSON.stringify(realtimeDone('r2', 200, 70))), 2);
      return [first!, frame({ opcode: PING }), second!];
    })(),
    frame({ opcode: BINARY, payload: Buffer.from('binary is never read') }),
    closeFrame(1000, 'bye'),
  ]);
}

/** Views of the cut pieces as Buffers, the way sockets hand them over. */
function pieces(chunks: readonly Uint8Array[]): Buffer[] {
  return chunks.map((chunk) => Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
}

function summaryOf(records: readonly UsageRecord[]): unknown[] {
  return records.map((r) => [r.model, r.prompt_tokens, r.completion_tokens, r.total_tokens, r.cached_tokens, r.audio_prompt_tokens, r.audio_completion_tokens]);
}

describe('the session tap', () => {
  test('a Realtime session gives one record per response.done, with SPEC §13 fields, the session model as it was at each event, and the close code', async () => {
    const result = await run([realtimeStream()], { headers: ['Authorization', 'Bearer sk-unit'], query: 'model=from-query' });
    assert.deepEqual(summaryOf(result.records), [
      ['gpt-realtime', 100, 50, 150, 3, 4, 5],
      ['gpt-realtime-mini', 200, 70, 270, 3, 4, 5],
    ]);
    const [first] = result.records;
    assert.equal(first!.method, 'GET');
    assert.equal(first!.status, 101);
    assert.equal(first!.stream, true);
    assert.equal(first!.path, '/v1/realtime');
    assert.equal(first!.complete, true);
    assert.equal(first!.end, 'done');
    assert.equal(first!.ttfb_ms, 12.3);
    assert.equal(first!.key_id, createHash('sha256').update('sk-unit').digest('hex').slice(0, 12));
    assert.equal(result.closeCode, 1000);
    assert.deepEqual(result.problems, []);
  });

  test('the same bytes cut at every boundary, or at random ones, give the same records', async () => {
    const bytes = realtimeStream();
    const whole = summaryOf((await run([bytes])).records);
    assert.equal(whole.length, 2);
    // Every cut of the head of the stream, where events are small; random cuts everywhere.
    for (let at = 1; at < 400; at++) assert.deepEqual(summaryOf((await run(pieces(cutAt(bytes, [at])))).records), whole, `cut at ${at}`);
    const random = prng(16);
    for (let i = 0; i < 200; i++) assert.deepEqual(summaryOf((await run(pieces(cutRandomly(bytes, random, 1 + Math.floor(random() * 40))))).records), whole, `random cuts, round ${i}`);
  });

  test('compressed sessions give the same records, with and without context takeover, cut anywhere', async () => {
    const random = prng(13);
    for (const contextTakeover of [true, false]) {
      const deflater = new ServerDeflater(contextTakeover);
      const events = [{ type: 'session.created', session: { model: 'm-z' } }, delta(3), realtimeDone('a', 1, 2), delta(4), realtimeDone('b', 3, 4)];
      const bytes = Buffer.concat(events.map((event) => frame({ opcode: TEXT, rsv1: true, payload: deflater.compress(Buffer.from(JSON.stringify(event))) })));
      const extensions = contextTakeover ? 'permessage-deflate' : 'permessage-deflate; server_no_context_takeover';
      for (let i = 0; i < 20; i++) {
        const result = await run(pieces(cutRandomly(bytes, random, 1 + Math.floor(random() * 40))), { extensions });
        assert.deepEqual(summaryOf(result.records), [['m-z', 1, 2, 3, 3, 4, 5], ['m-z', 3, 4, 7, 3, 4, 5]], `context takeover ${contextTakeover}`);
      }
    }
  });

  test('the Responses WebSocket mode gives a record for response.completed, response.incomplete and response.failed, with the event\'s model', async () => {
    const usage = (input: number): object => ({ input_tokens: input, input_tokens_details: { cached_tokens: 1 }, output_tokens: 2, output_tokens_details: { reasoning_tokens: 1 }, total_tokens: input + 2 });
    const events = ['response.completed', 'response.incomplete', 'response.failed', 'response.in_progress'].map((type, i) => text({ type, sequence_number: i, response: { id: `r${i}`, model: `gpt-5-${i}`, output: [{ content: [{ text: 'x'.repeat(1000) }] }], usage: usage(10 + i) } }));
    const result = await run(events);
    assert.deepEqual(result.records.map((r) => [r.model, r.prompt_tokens, r.completion_tokens, r.cached_tokens, r.reasoning_tokens]), [
      ['gpt-5-0', 10, 2, 1, 1],
      ['gpt-5-1', 11, 2, 1, 1],
      ['gpt-5-2', 12, 2, 1, 1],
    ]);
  });

  test('the model is the event\'s, else the latest session event\'s, else the model query parameter (percent-decoded)', async () => {
    const noSession = await run([text(realtimeDone('a', 1, 1))], { query: 'x=1&model=gpt%2Drealtime' });
    assert.deepEqual(noSession.records.map((r) => r.model), ['gpt-realtime']);
    const none = await run([text(realtimeDone('a', 1, 1))]);
    assert.deepEqual(none.records.map((r) => r.model), [null]);
    const event = await run([text({ type: 'session.created', session: { model: 's' } }), text(realtimeDone('a', 1, 1, { model: 'e' }))], { query: 'model=q' });
    assert.deepEqual(event.records.map((r) => r.model), ['e']);
  });

  test('events whose type is not written first, or whose keys are escaped, are read all the same', async () => {
    const late = JSON.stringify(realtimeDone('a', 7, 8)).replace('{"type":"response.done",', '{').replace(/}$/, ',"type":"response.done"}');
    const escaped = JSON.stringify(realtimeDone('b', 9, 10)).replace('"usage"', '"us\\u0061ge"');
    const spaced = JSON.stringify(realtimeDone('c', 11, 12), null, 2);
    const result = await run([text(late), text(escaped), text(spaced), text({ event_id: 'x', type: 'session.updated', session: { model: 'late-model' } }), text(realtimeDone('d', 1, 1))]);
    assert.deepEqual(result.records.map((r) => [r.prompt_tokens, r.model]), [[7, null], [9, null], [11, null], [1, 'late-model']]);
  });

  test('no record for an event without valid usage, an event that is not JSON, a usage object in another event type, or a binary message', async () => {
    const result = await run([
      text({ type: 'response.done', response: { id: 'a', usage: null } }),
      text({ type: 'response.done', response: { id: 'b', usage: { input_tokens: -1, output_tokens: 'x' } } }),
      text(JSON.stringify(realtimeDone('c', 5, 5)).slice(0, -1)), // cut before its last brace
      text(JSON.stringify(realtimeDone('d', 5, 5)) + 'garbage'),
      text({ type: 'conversation.item.input_audio_transcription.completed', usage: { type: 'tokens', input_tokens: 5, output_tokens: 5, total_tokens: 10 } }),
      text({ type: 'response.created', response: { id: 'e', usage: { input_tokens: 5, output_tokens: 5, total_tokens: 10 } } }),
      frame({ opcode: BINARY, payload: Buffer.from(JSON.stringify(realtimeDone('f', 5, 5))) }),
    ]);
    assert.deepEqual(result.records, []);
  });

  test('a malformed frame ends usage reading for the session (reported once), and events after it give no record', async () => {
    const result = await run([text(realtimeDone('a', 1, 1)), frame({ opcode: TEXT, payload: 'x', mask: Buffer.from([1, 2, 3, 4]) }), text(realtimeDone('b', 2, 2))]);
    assert.deepEqual(result.records.map((r) => r.prompt_tokens), [1]);
    assert.deepEqual(result.problems, ['masked_frame']);
    assert.equal(result.stats.readingStopped, 1);
  });

  test('a text message over 8 MiB is skipped and counted, and the session\'s next event still gives its record', async () => {
    const big = Buffer.from(JSON.stringify(realtimeDone('big', 1, 1, { output: [{ text: 'x'.repeat(9 * 1024 * 1024) }] })));
    const result = await run([...messageFrames(TEXT, big, 3), text(realtimeDone('next', 2, 2))]);
    assert.deepEqual(result.records.map((r) => r.prompt_tokens), [2]);
    assert.equal(result.stats.skippedMessages, 1);
  });

  test('tags are the deployment\'s and the upgrade request\'s LM-Proxy-Tags; the key is the subprotocol\'s when no other is present', async () => {
    const headers = ['LM-Proxy-Tags', 'team=voice', 'lm-proxy-tags', 'env=override, bad tag', 'Sec-WebSocket-Protocol', 'realtime, openai-insecure-api-key.sk-browser'];
    const result = await run([text(realtimeDone('a', 1, 1))], { headers, usage: { tags: { env: 'prod', region: 'eu' } } });
    assert.deepEqual(result.records[0]!.tags, { env: 'override', region: 'eu', team: 'voice' });
    assert.equal(result.records[0]!.key_id, createHash('sha256').update('sk-browser').digest('hex').slice(0, 12));
  });

  test('a record is priced by the price function (the event\'s model, then the session\'s) unless the upstream priced it', async () => {
    const seen: unknown[] = [];
    const price: SessionUsageOptions['price'] = (usage, responseModel, requestModel) => {
      seen.push([usage.prompt_tokens, responseModel, requestModel]);
      return 0.5;
    };
    const result = await run([text({ type: 'session.created', session: { model: 'sess' } }), text(realtimeDone('a', 4, 4))], { usage: { price } });
    assert.deepEqual(seen, [[4, null, 'sess']]);
    assert.deepEqual([result.records[0]!.cost, result.records[0]!.cost_source], [0.5, 'prices']);
    const unpriced = await run([text(realtimeDone('a', 4, 4))]);
    assert.deepEqual([unpriced.records[0]!.cost, unpriced.records[0]!.cost_source], [null, null]);
  });

  test('a response is timed from its response.created', async () => {
    const records: UsageRecord[] = [];
    const usage = createSessionUsage({ onRecord: (record) => records.push(record) });
    const tap = usage.openSessionTap({ method: 'GET', clientPath: '/v1/realtime', query: '', requestHeaders: [] });
    tap.opened({ responseHeaders: [], ttfbMs: 1 });
    tap.upstreamChunk(text({ type: 'response.created', response: { id: 'slow', usage: null } }));
    await new Promise((resolve) => setTimeout(resolve, 60));
    tap.upstreamChunk(text(realtimeDone('other', 1, 1)));
    tap.upstreamChunk(text(realtimeDone('slow', 2, 2)));
    tap.finish(SUMMARY);
    await usage.drain();
    assert.deepEqual(records.map((r) => r.prompt_tokens), [1, 2]);
    assert.ok(records[1]!.duration_ms >= 50, `duration ${records[1]!.duration_ms} ms`);
  });

  test('drain() waits for messages still being inflated after finish()', async () => {
    const records: UsageRecord[] = [];
    const usage = createSessionUsage({ onRecord: (record) => records.push(record) });
    const tap = usage.openSessionTap({ method: 'GET', clientPath: '/v1/realtime', query: '', requestHeaders: [] });
    tap.opened({ responseHeaders: ['Sec-WebSocket-Extensions', 'permessage-deflate'], ttfbMs: 1 });
    const deflater = new ServerDeflater(true);
    for (let i = 0; i < 20; i++) tap.upstreamChunk(frame({ opcode: TEXT, rsv1: true, payload: deflater.compress(Buffer.from(JSON.stringify(realtimeDone(`r${i}`, i, 1)))) }));
    tap.finish(SUMMARY);
    await usage.drain();
    assert.deepEqual(records.map((r) => r.prompt_tokens), Array.from({ length: 20 }, (_, i) => i));
  });

  test('a tap that never opened (the upstream did not switch) gives nothing and does not hold drain()', async () => {
    const usage = createSessionUsage({ onRecord: () => assert.fail('no record') });
    usage.openSessionTap({ method: 'GET', clientPath: '/v1/realtime', query: '', requestHeaders: [] }).finish({ ...SUMMARY, status: 401 });
    await usage.drain();
  });
});
