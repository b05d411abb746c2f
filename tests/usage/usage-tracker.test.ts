// The usage tracker as the forwarder drives it: request chunks, a response head, response chunks,
// then finish(). End-to-end tests cover it through the real proxy; these cover what is hard to
// arrange over sockets: streams interleaved chunk by chunk, and every cut of a body.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ExchangeSummary } from '../../src/shared/exchange-tap.ts';
import type { UsageRecord } from '../../src/shared/usage-record.ts';
import { createUsageTracker } from '../../src/usage/usage-tracker.ts';

const SSE = 'text/event-stream';

function summary(end: ExchangeSummary['end'] = 'done'): ExchangeSummary {
  return { method: 'POST', clientPath: '/v1/chat/completions', status: 200, end, durationMs: 12.34, ttfbMs: 1.25, requestBytes: 10, responseBytes: 100, errorCode: null };
}

function chatStream(model: string, prompt: number, completion: number): string {
  return (
    `data: {"model":"${model}","choices":[{"delta":{"content":"hi"}}],"usage":null}\n\n` +
    'data: {"choices":[{"delta":{"content":" there"}}],"usage":null}\n\n' +
    `data: {"model":"${model}","choices":[],"usage":{"prompt_tokens":${prompt},"completion_tokens":${completion},"total_tokens":${prompt + completion}}}\n\n` +
    'data: [DONE]\n\n'
  );
}

/** Runs one exchange through a tap, the response body cut into the given pieces; resolves with its records. */
async function track(pieces: readonly string[], contentType = SSE, requestBody = '{"model":"asked"}', end: ExchangeSummary['end'] = 'done'): Promise<UsageRecord[]> {
  const records: UsageRecord[] = [];
  const tracker = createUsageTracker({ onRecord: (r) => records.push(r) });
  const tap = tracker.openTap({ method: 'POST', clientPath: '/v1/chat/completions', query: '', requestHeaders: ['Authorization', 'Bearer sk-test'] });
  tap.requestChunk(Buffer.from(requestBody));
  tap.responseHead({ status: 200, contentType, contentEncoding: undefined });
  for (const piece of pieces) tap.responseChunk(Buffer.from(piece));
  tap.finish(summary(end));
  await tracker.drain();
  return records;
}

function counts(record: UsageRecord | undefined): [number, number, number, string | null, boolean, string] | undefined {
  return record && [record.prompt_tokens, record.completion_tokens, record.total_tokens, record.model, record.complete, record.end];
}

describe('usage tracker', () => {
  test('streams interleaved chunk by chunk each get their own usage and model (one event sniffer serves them all)', async () => {
    const records: UsageRecord[] = [];
    const tracker = createUsageTracker({ onRecord: (r) => records.push(r) });
    const bodies = [chatStream('model-a', 11, 2), chatStream('model-b', 30, 7), chatStream('model-c', 5, 40)];
    const taps = bodies.map((_, i) => {
      const tap = tracker.openTap({ method: 'POST', clientPath: `/v1/s${i}`, query: '', requestHeaders: [] });
      tap.responseHead({ status: 200, contentType: SSE, contentEncoding: undefined });
      return tap;
    });
    // Seven bytes at a time, round robin: events of different streams complete in between.
    const longest = Math.max(...bodies.map((b) => b.length));
    for (let at = 0; at < longest; at += 7) {
      bodies.forEach((body, i) => {
        if (at < body.length) taps[i]!.responseChunk(Buffer.from(body.slice(at, at + 7)));
      });
    }
    taps.forEach((tap) => tap.finish(summary()));
    await tracker.drain();
    const byPath = new Map(records.map((r) => [r.path, counts(r)]));
    assert.deepEqual(byPath.get('/v1/s0'), [11, 2, 13, 'model-a', true, 'done']);
    assert.deepEqual(byPath.get('/v1/s1'), [30, 7, 37, 'model-b', true, 'done']);
    assert.deepEqual(byPath.get('/v1/s2'), [5, 40, 45, 'model-c', true, 'done']);
  });

  test('an event stream cut at every byte boundary gives the record it gives whole', async () => {
    const body = chatStream('m', 3, 4);
    const whole = counts((await track([body]))[0]);
    assert.deepEqual(whole, [3, 4, 7, 'm', true, 'done']);
    for (let cut = 1; cut < body.length; cut++) {
      assert.deepEqual(counts((await track([body.slice(0, cut), body.slice(cut)]))[0]), whole, `cut at ${cut}`);
    }
  });

  test('a JSON body cut at every byte boundary gives the record it gives whole', async () => {
    const body = '{"id":"x","model":"gpt-x","choices":[{"message":{"content":"a \\"quoted\\" word"}}],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}';
    const whole = counts((await track([body], 'application/json'))[0]);
    assert.deepEqual(whole, [9, 1, 10, 'gpt-x', true, 'done']);
    for (let cut = 1; cut < body.length; cut++) {
      assert.deepEqual(counts((await track([body.slice(0, cut), body.slice(cut)], 'application/json'))[0]), whole, `cut at ${cut}`);
    }
  });

  test('the request\'s model is the fallback, however its body is cut', async () => {
    const response = 'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}\n\n';
    const request = '{"messages":[{"role":"user","content":"hi"}],"model":"asked-for"}';
    for (let cut = 1; cut < request.length; cut++) {
      const records: UsageRecord[] = [];
      const tracker = createUsageTracker({ onRecord: (r) => records.push(r) });
      const tap = tracker.openTap({ method: 'POST', clientPath: '/v1/chat/completions', query: '', requestHeaders: [] });
      tap.requestChunk(Buffer.from(request.slice(0, cut)));
      tap.requestChunk(Buffer.from(request.slice(cut)));
      tap.responseHead({ status: 200, contentType: SSE, contentEncoding: undefined });
      tap.responseChunk(Buffer.from(response));
      tap.finish(summary());
      await tracker.drain();
      assert.equal(records[0]?.model, 'asked-for', `cut at ${cut}`);
    }
  });

  test('an event of broken JSON after the usage marks the record malformed; before it, there is no record', async () => {
    const usage = 'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}\n\n';
    assert.deepEqual(counts((await track([usage, 'data: {not json\n\n']))[0]), [1, 2, 3, 'asked', false, 'malformed']);
    assert.deepEqual(counts((await track([usage, 'data: [1, 2\n\n']))[0]), [1, 2, 3, 'asked', false, 'malformed']);
    assert.deepEqual(counts((await track([usage, 'data: {"usage": {"prompt_tokens": 9\n\n']))[0]), [1, 2, 3, 'asked', false, 'malformed']);
    assert.deepEqual(await track(['data: {oops\n\n', usage]), []);
    // Cut off before its blank line at a clean end: truncated.
    assert.deepEqual(counts((await track([usage, 'data: {"choices":[]}']))[0]), [1, 2, 3, 'asked', false, 'malformed']);
    // The connection lost is what the record says, whatever the body.
    assert.deepEqual(counts((await track([usage, 'data: {"choices":[]}'], SSE, '{}', 'upstream_error'))[0]), [1, 2, 3, null, false, 'upstream_error']);
  });

  test('events whose data is not JSON at all (empty, a text heartbeat, a word with "usage" in it) are not faults', async () => {
    const usage = 'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}\n\n';
    for (const event of ['data:\n\n', 'data\n\n', 'event: ping\ndata: ping\n\n', 'data: usage report follows\n\n', 'data: 42\n\n']) {
      assert.deepEqual(counts((await track([event, usage, event]))[0]), [1, 2, 3, 'asked', true, 'done'], JSON.stringify(event));
    }
  });

  test('comments, named events, ids, retry fields and [DONE] are not faults', async () => {
    const body =
      ': keep-alive\n\nretry: 3000\n\nid: 7\nevent: message_start\ndata: {"type":"message_start","message":{"model":"claude-x","usage":{"input_tokens":5,"output_tokens":1}}}\n\n' +
      'event: ping\ndata: {"type": "ping"}\n\n' +
      'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":12}}\n\ndata: [DONE]\n\n';
    assert.deepEqual(counts((await track([body]))[0]), [5, 12, 17, 'claude-x', true, 'done']);
  });
});
