// The usage tracker as the forwarder drives it: request chunks, a response head, response chunks,
// then finish(). End-to-end tests cover it through the real proxy; these cover what is hard to
// arrange over sockets: streams interleaved chunk by chunk, and every cut of a body.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ExchangeSummary } from '../../src/shared/exchange-tap.ts';
import type { UsageRecord } from '../../src/shared/usage-record.ts';
import { createUsageTracker } from '../../src/usage/usage-tracker.ts';
import { prng } from '../helpers/prng.ts';

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

// ---- Cost and attribution (SPEC §8 Usage, §9, §10)

interface Exchange {
  readonly pieces: readonly string[];
  readonly contentType?: string;
  /** The request body, cut into these pieces. */
  readonly request?: readonly string[];
  readonly requestHeaders?: readonly string[];
  readonly end?: ExchangeSummary['end'];
  readonly options?: Omit<Parameters<typeof createUsageTracker>[0], 'onRecord'>;
}

async function exchange(spec: Exchange): Promise<UsageRecord[]> {
  const records: UsageRecord[] = [];
  const tracker = createUsageTracker({ ...spec.options, onRecord: (r) => records.push(r) });
  const tap = tracker.openTap({ method: 'POST', clientPath: '/v1/chat/completions', query: '', requestHeaders: spec.requestHeaders ?? [] });
  for (const piece of spec.request ?? []) tap.requestChunk(Buffer.from(piece));
  if (spec.request !== undefined) tap.requestEnd();
  tap.responseHead({ status: 200, contentType: spec.contentType ?? 'application/json', contentEncoding: undefined });
  for (const piece of spec.pieces) tap.responseChunk(Buffer.from(piece));
  tap.finish(summary(spec.end ?? 'done'));
  await tracker.drain();
  return records;
}

const CHAT_JSON = '{"model":"gpt-x","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}';

/** The record's user, for a request body cut into the given pieces. */
async function userOf(...request: string[]): Promise<string | null | undefined> {
  return (await exchange({ pieces: [CHAT_JSON], request }))[0]?.user;
}

describe('usage tracker: the request\'s end user (SPEC §10)', () => {
  test('the top-level user, else safety_identifier, else metadata.user_id', async () => {
    assert.equal(await userOf('{"model":"m","user":"u-1","messages":[]}'), 'u-1');
    assert.equal(await userOf('{"model":"m","safety_identifier":"sid-2"}'), 'sid-2');
    assert.equal(await userOf('{"model":"claude","metadata":{"user_id":"anthropic-3"},"max_tokens":5}'), 'anthropic-3');
    assert.equal(await userOf('{"model":"m"}'), null);
  });

  test('the ranking decides, not the order in the body', async () => {
    assert.equal(await userOf('{"metadata":{"user_id":"c"},"safety_identifier":"b","user":"a"}'), 'a');
    assert.equal(await userOf('{"metadata":{"user_id":"c"},"safety_identifier":"b"}'), 'b');
  });

  test('a present user that is not a string, or is over 256 characters, is null even when a later-ranked one is valid', async () => {
    for (const bad of ['42', 'true', '{"id":"x"}', '["x"]', `"${'u'.repeat(257)}"`]) {
      assert.equal(await userOf(`{"user":${bad},"safety_identifier":"ok","metadata":{"user_id":"ok"}}`), null, bad.slice(0, 20));
      assert.equal(await userOf(`{"safety_identifier":${bad},"metadata":{"user_id":"ok"}}`), null, bad.slice(0, 20));
      assert.equal(await userOf(`{"metadata":{"user_id":${bad}}}`), null, bad.slice(0, 20));
    }
    assert.equal(await userOf('{"user":null}'), null);
  });

  test('256 characters is still a user', async () => {
    const user = 'u'.repeat(256);
    assert.equal(await userOf(`{"user":"${user}"}`), user);
  });

  test('a user far longer than 256 characters (past the sniffer\'s capture cap) is null too, not the next-ranked one', async () => {
    assert.equal(await userOf(`{"user":"${'u'.repeat(100 * 1024)}","safety_identifier":"ok"}`), null);
  });

  test('escapes are decoded, and the same names elsewhere in the body do not count', async () => {
    assert.equal(await userOf('{"user":"caf\\u00e9 \\"x\\""}'), 'café "x"');
    assert.equal(await userOf('{"messages":[{"role":"user","user":"no"}],"input":{"user":"no","metadata":{"user_id":"no"}},"metadata":{"user":"no"}}'), null);
  });

  test('a body that is not JSON, or no body at all, has no user and still gives its record', async () => {
    for (const request of [['user=x'], ['{"user":'], []]) {
      const records = await exchange({ pieces: [CHAT_JSON], request });
      assert.equal(records.length, 1);
      assert.equal(records[0]?.user, null);
    }
  });

  test('every cut of the request body gives the same user', async () => {
    const bodies = [
      '{"model":"gpt-4o","messages":[{"role":"user","content":"a \\"user\\": \\"no\\""}],"safety_identifier":"s","metadata":{"user_id":"m"},"user":"the-user"}',
      '{"model":"claude-x","max_tokens":9,"metadata":{"user_id":"anthropic-user"},"messages":[]}',
      '{"messages":[],"user":12,"safety_identifier":"s","model":"m"}',
    ];
    const random = prng(0x05e7);
    for (const body of bodies) {
      const whole = await userOf(body);
      assert.notEqual(whole, undefined);
      for (let cut = 1; cut < body.length; cut++) assert.equal(await userOf(body.slice(0, cut), body.slice(cut)), whole, `cut at ${cut} of ${body}`);
      for (let round = 0; round < 50; round++) {
        const pieces: string[] = [];
        for (let at = 0; at < body.length; ) {
          const next = at + 1 + Math.floor(random() * 12);
          pieces.push(body.slice(at, next));
          at = next;
        }
        assert.equal(await userOf(...pieces), whole, `pieces ${JSON.stringify(pieces)}`);
      }
    }
  });
});

describe('usage tracker: the request\'s end user when the body names it twice', () => {
  test('a body naming user twice gives the later value, as JSON.parse reads it, at every cut', async () => {
    const body = '{"model":"m","user":"first","user":"second"}';
    assert.equal((JSON.parse(body) as { user: string }).user, 'second');
    for (let cut = 1; cut < body.length; cut++) assert.equal(await userOf(body.slice(0, cut), body.slice(cut)), 'second', `cut at ${cut}`);
  });
});

describe('usage tracker: tags (SPEC §10)', () => {
  const tagsOf = async (requestHeaders: readonly string[], tags?: Readonly<Record<string, string>>): Promise<unknown> =>
    (await exchange({ pieces: [CHAT_JSON], requestHeaders, options: tags === undefined ? {} : { tags } }))[0]?.tags;

  test('no tags header and no deployment tags: {}', async () => {
    assert.deepEqual(await tagsOf(['Authorization', 'Bearer k']), {});
  });

  test('LM-Proxy-Tags headers in any case and any number add up', async () => {
    const headers = ['LM-Proxy-Tags', 'team=a, env=dev', 'Content-Type', 'application/json', 'lm-proxy-tags', 'team=b', 'LM-PROXY-TAGS', 'feature=chat', 'lM-pRoXy-TaGs', 'bad, x=1'];
    assert.deepEqual(await tagsOf(headers), { team: 'b', env: 'dev', feature: 'chat', x: '1' });
  });

  test('headers with other names are not tags', async () => {
    assert.deepEqual(await tagsOf(['X-LM-Proxy-Tags', 'a=1', 'LM-Proxy-Tags-Extra', 'b=2', 'LM-Proxy-Tag', 'c=3', 'Tags', 'd=4']), {});
  });

  test('deployment tags are on every record; a request tag of the same name wins', async () => {
    const deployment = Object.freeze({ team: 'platform', region: 'eu' });
    assert.deepEqual(await tagsOf([], deployment), { team: 'platform', region: 'eu' });
    assert.deepEqual(await tagsOf(['lm-proxy-tags', 'team=search, user.tier=pro'], deployment), { team: 'search', region: 'eu', 'user.tier': 'pro' });
    assert.deepEqual(deployment, { team: 'platform', region: 'eu' });
  });

  test('a request carries at most 16 tags of its own, across all its headers', async () => {
    const headers = Array.from({ length: 20 }, (_, i) => ['LM-Proxy-Tags', `t${i}=v`]).flat();
    const tags = (await tagsOf(headers, { deployment: 'yes' })) as Record<string, string>;
    assert.equal(Object.keys(tags).length, 17);
    assert.equal(tags['t15'], 'v');
    assert.equal(tags['t16'], undefined);
  });
});

describe('usage tracker: a JSON or NDJSON value counts only once complete (SPEC §8)', () => {
  const NDJSON = 'application/x-ndjson';
  const ollama =
    '{"model":"llama3.2","created_at":"2025-01-01T00:00:00Z","message":{"role":"assistant","content":"Hi"},"done":false}\n' +
    '{"model":"llama3.2","created_at":"2025-01-01T00:00:01Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":1,"prompt_eval_count":3,"prompt_eval_duration":1,"eval_count":12,"eval_duration":1}\n';

  test('an NDJSON stream whose last line is cut gives no record', async () => {
    for (const end of ['done', 'upstream_error'] as const) {
      assert.deepEqual(await exchange({ contentType: NDJSON, pieces: ['{"model":"llama3.2","done":false}\n', '{"done":true,"prompt_eval_count":3,"eval_co'], end }), [], end);
    }
  });

  test('the same stream complete gives the record', async () => {
    const records = await exchange({ contentType: NDJSON, pieces: ['{"model":"llama3.2","done":false}\n', '{"done":true,"prompt_eval_count":3,"eval_count":5}\n'] });
    assert.deepEqual(counts(records[0]), [3, 5, 8, 'llama3.2', true, 'done']);
  });

  test('an Ollama stream cut anywhere before its last line\'s closing brace gives no record; complete, it gives one however it is split', async () => {
    const lastClose = ollama.lastIndexOf('}');
    for (let cut = 1; cut <= lastClose; cut++) {
      for (const end of ['done', 'upstream_error'] as const) {
        assert.deepEqual(await exchange({ contentType: NDJSON, pieces: [ollama.slice(0, cut)], end }), [], `cut at ${cut} (${end}): ${JSON.stringify(ollama.slice(cut - 10, cut))}`);
      }
    }
    const whole = counts((await exchange({ contentType: NDJSON, pieces: [ollama] }))[0]);
    assert.deepEqual(whole, [3, 12, 15, 'llama3.2', true, 'done']);
    for (let cut = 1; cut < ollama.length; cut++) {
      assert.deepEqual(counts((await exchange({ contentType: NDJSON, pieces: [ollama.slice(0, cut), ollama.slice(cut)] }))[0]), whole, `split at ${cut}`);
    }
  });

  test('an Ollama JSON body (not streamed) counts only at its closing brace', async () => {
    const body = '{"model":"llama3.2","response":"Hi","done":true,"prompt_eval_count":26,"eval_count":9}';
    assert.deepEqual(counts((await exchange({ pieces: [body] }))[0]), [26, 9, 35, 'llama3.2', true, 'done']);
    for (let cut = body.indexOf('prompt_eval_count'); cut < body.length; cut++) {
      assert.deepEqual(await exchange({ pieces: [body.slice(0, cut)] }), [], `cut at ${cut}`);
    }
  });

  test('a JSON body cut inside its usage object gives no record', async () => {
    const start = CHAT_JSON.indexOf('"usage":');
    const close = CHAT_JSON.indexOf('}', start);
    for (let cut = start; cut <= close; cut++) {
      for (const end of ['done', 'upstream_error'] as const) {
        assert.deepEqual(await exchange({ pieces: [CHAT_JSON.slice(0, cut)], end }), [], `cut at ${cut} (${end}): ${CHAT_JSON.slice(start, cut)}`);
      }
    }
    assert.equal((await exchange({ pieces: [CHAT_JSON.slice(0, close + 1)], end: 'upstream_error' })).length, 1, 'cut just after it: a record');
  });
});

describe('usage tracker: cost (SPEC §9)', () => {
  test('the price option gets (usage, response model, request model) and its result is the cost, from "prices"', async () => {
    const calls: unknown[][] = [];
    const records = await exchange({
      pieces: ['{"model":"gpt-4o-2024-08-06","usage":{"prompt_tokens":100,"completion_tokens":20,"total_tokens":120,"prompt_tokens_details":{"cached_tokens":40,"audio_tokens":5}}}'],
      request: ['{"model":"gpt-4o"}'],
      options: { price: (...args) => (calls.push(args), 0.00125) },
    });
    assert.equal(calls.length, 1);
    const [usage, responseModel, requestModel] = calls[0] as [Record<string, number>, string | null, string | null];
    assert.deepEqual(
      { ...usage },
      { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120, cached_tokens: 40, reasoning_tokens: 0, cache_creation_tokens: 0, audio_prompt_tokens: 5, audio_completion_tokens: 0 },
    );
    assert.equal(responseModel, 'gpt-4o-2024-08-06');
    assert.equal(requestModel, 'gpt-4o');
    assert.equal(records[0]?.cost, 0.00125);
    assert.equal(records[0]?.cost_source, 'prices');
  });

  test('a response naming no model is priced by the request\'s: the price option gets null, then the request model', async () => {
    const calls: unknown[][] = [];
    await exchange({ pieces: ['{"usage":{"prompt_tokens":1,"completion_tokens":1}}'], request: ['{"model":"asked"}'], options: { price: (...args) => (calls.push(args), null) } });
    assert.deepEqual(calls.map((c) => c.slice(1)), [[null, 'asked']]);
  });

  test('an unpriced response (the option returns null) and a tracker without the option give cost null, cost_source null', async () => {
    for (const options of [{ price: () => null }, {}]) {
      const records = await exchange({ pieces: [CHAT_JSON], options });
      assert.equal(records[0]?.cost, null);
      assert.equal(records[0]?.cost_source, null);
    }
  });

  test('a price of 0 is a priced response', async () => {
    const records = await exchange({ pieces: [CHAT_JSON], options: { price: () => 0 } });
    assert.equal(records[0]?.cost, 0);
    assert.equal(records[0]?.cost_source, 'prices');
  });

  test("the upstream's usage.cost wins: cost_source upstream, the price option never called", async () => {
    let called = 0;
    const body = '{"model":"openai/gpt-4o","usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10,"cost":0.0000875}}';
    const records = await exchange({ pieces: [body], options: { price: () => (called++, 1) } });
    assert.equal(called, 0);
    assert.equal(records[0]?.cost, 0.0000875);
    assert.equal(records[0]?.cost_source, 'upstream');
    const noTable = await exchange({ pieces: [body] });
    assert.equal(noTable[0]?.cost, 0.0000875, 'whether or not a table is loaded');
    assert.equal(noTable[0]?.cost_source, 'upstream');
  });

  test('an upstream cost that is not a valid number leaves the response to the price option', async () => {
    const records = await exchange({ pieces: ['{"usage":{"prompt_tokens":9,"completion_tokens":1,"cost":"0.5"}}'], options: { price: () => 0.25 } });
    assert.equal(records[0]?.cost, 0.25);
    assert.equal(records[0]?.cost_source, 'prices');
  });

  test('a streamed upstream cost on the final usage chunk wins too', async () => {
    const stream =
      'data: {"model":"x","choices":[{"delta":{"content":"a"}}],"usage":null}\n\n' +
      'data: {"model":"x","choices":[],"usage":{"prompt_tokens":2,"completion_tokens":3,"total_tokens":5,"cost":0.5}}\n\ndata: [DONE]\n\n';
    const records = await exchange({ contentType: SSE, pieces: [stream], options: { price: () => 9 } });
    assert.equal(records[0]?.cost, 0.5);
    assert.equal(records[0]?.cost_source, 'upstream');
  });
});
