// Cost and attribution through the real proxy (SPEC §9, §10, and §8's usage rules they rely on):
// PRICES_FILE read at start and on SIGHUP, priced records in the ledger, the [USAGE] line and
// /metrics, the upstream's own usage.cost, LM-Proxy-Tags and TAGS, and the request's end user.
// Each request carries its own API key, so its ledger entry and line are found by key_id.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  headerValues, keyIdOf, rawExchange, readLedger, request, ROOT, runProxyToExit, startProxy, startUpstream, waitUntil,
  type ProxyProcess, type RecordedRequest, type TestUpstream,
} from './harness.ts';

const TMP = mkdtempSync(join(tmpdir(), 'lm-proxy-cost-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

const REAL_PRICES = join(ROOT, 'tests', 'fixtures', 'prices', 'litellm-model-prices-2025-09.json');

/** Writes a price file (an object as JSON, or raw text) into the test's folder; returns its path. */
function writePrices(name: string, table: object | string): string {
  const path = join(TMP, name);
  writeFileSync(path, typeof table === 'string' ? table : JSON.stringify(table, null, 2));
  return path;
}

// USD per token, chosen so hand-computed costs are short decimals.
const TEST_MODEL = {
  input_cost_per_token: 0.000001,
  output_cost_per_token: 0.000002,
  cache_read_input_token_cost: 0.0000005,
  output_cost_per_reasoning_token: 0.000003,
  input_cost_per_audio_token: 0.00001,
  output_cost_per_audio_token: 0.00002,
  max_tokens: 4096,
  litellm_provider: 'openai',
  mode: 'chat',
};
const SMALL_TABLE = {
  sample_spec: { input_cost_per_token: 0, output_cost_per_token: 0, litellm_provider: 'one of the providers' },
  'test-model': TEST_MODEL,
  'llama-3.1-8b-instant': { input_cost_per_token: 0.00000005, output_cost_per_token: 0.00000008 },
  'negative-model': { input_cost_per_token: -0.000001, output_cost_per_token: 0.000001 },
};

interface Reply {
  readonly contentType?: string;
  readonly body: string;
}

// What the upstream answers, by the API key of the request.
const replies = new Map<string, Reply>();
let upstream: TestUpstream;

before(async () => {
  upstream = await startUpstream((req, res) => {
    const key = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
    const reply = replies.get(key) ?? { body: '{"model":"default","usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}' };
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': reply.contentType ?? 'application/json', 'content-length': Buffer.byteLength(reply.body) });
      // Two writes, so the proxy's readers see the body cut.
      const half = Math.floor(reply.body.length / 2);
      res.write(reply.body.slice(0, half));
      res.end(reply.body.slice(half));
    });
  });
});
after(() => upstream.close());

function chatBody(model: string | null, usage: Record<string, unknown>): string {
  return JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', ...(model === null ? {} : { model }), choices: [{ index: 0, message: { role: 'assistant', content: 'hi' } }], usage });
}

/** The `key=value` pairs of a `[USAGE]` line, quoted values read back as JSON strings. */
function lineFields(line: string): Record<string, string> {
  assert.match(line, /^\[USAGE\] prompt_tokens=\d+ completion_tokens=\d+ total_tokens=\d+/);
  const fields: Record<string, string> = {};
  for (const match of line.slice('[USAGE]'.length).matchAll(/ ([^\s=]+)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
    const value = match[2] as string;
    fields[match[1] as string] = value.startsWith('"') ? (JSON.parse(value) as string) : value;
  }
  return fields;
}

interface Recorded {
  readonly status: number;
  readonly entry: Record<string, unknown>;
  readonly line: string;
  readonly fields: Record<string, string>;
  /** The request as the upstream received it. */
  readonly upstreamRequest: RecordedRequest;
}

let keys = 0;
function newKey(label: string): string {
  return `sk-cost-${label}-${++keys}`;
}

/** Waits for the [USAGE] line and the ledger entry of the request made with `key`. */
async function recordOf(proxy: ProxyProcess, ledger: string, key: string): Promise<Omit<Recorded, 'status'>> {
  const id = keyIdOf(key);
  const line = await proxy.waitForLine(new RegExp(`^\\[USAGE\\] .* key_id=${id}\\b`), 5_000);
  let entry: Record<string, unknown> | undefined;
  await waitUntil(() => (entry = readLedger(ledger).find((e) => e['key_id'] === id)) !== undefined, `the ledger entry of ${key}`, 5_000);
  const upstreamRequest = upstream.requests.find((r) => headerValues(r.rawHeaders, 'authorization')[0] === `Bearer ${key}`);
  assert.ok(upstreamRequest !== undefined, `the upstream received ${key}`);
  return { entry: entry!, line, fields: lineFields(line), upstreamRequest };
}

/** One POST through the proxy, answered by `reply`; resolves once its record is out. */
async function call(
  proxy: ProxyProcess,
  ledger: string,
  reply: Reply,
  options: { path?: string; body?: string; headers?: readonly string[]; label?: string } = {},
): Promise<Recorded> {
  const key = newKey(options.label ?? 'call');
  replies.set(key, reply);
  const res = await request(proxy.origin, {
    method: 'POST',
    path: options.path ?? '/v1/chat/completions',
    // A raw header list gets no Host from node:http, so it is given here.
    headers: ['Host', `127.0.0.1:${proxy.port}`, 'Authorization', `Bearer ${key}`, 'Content-Type', 'application/json', ...(options.headers ?? [])],
    body: options.body ?? '{"model":"asked","messages":[]}',
  });
  assert.equal(res.status, 200);
  return { status: res.status, ...(await recordOf(proxy, ledger, key)) };
}

function metricsOrigin(proxy: ProxyProcess): Promise<string> {
  return proxy.waitForLine(/Metrics on/).then((line) => `http://127.0.0.1:${/127\.0\.0\.1:(\d+)/.exec(line)?.[1]}`);
}

/** The value of one sample line of the exposition, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

function near(actual: unknown, expected: number, what: string): void {
  assert.equal(typeof actual, 'number', `${what}: ${String(actual)}`);
  assert.ok(Math.abs((actual as number) - expected) <= expected * 1e-12, `${what}: ${String(actual)} is not ${expected}`);
}

const hasTagsHeader = (raw: readonly string[]): boolean => raw.some((name, i) => i % 2 === 0 && name.toLowerCase() === 'lm-proxy-tags');

describe('with a small PRICES_FILE and TAGS', () => {
  let proxy: ProxyProcess;
  let ledger: string;
  let admin: string;
  let pricesPath: string;

  before(async () => {
    pricesPath = writePrices('small.json', SMALL_TABLE);
    ledger = join(TMP, 'small-ledger.jsonl');
    proxy = await startProxy({
      upstream: `${upstream.origin}/v1`,
      args: ['--usage-log', ledger, '--metrics', '127.0.0.1:0'],
      env: { PRICES_FILE: pricesPath, TAGS: 'deploy=blue, team=platform' },
    });
    admin = await metricsOrigin(proxy);
  });
  after(() => proxy.stop());

  test('the start-up info line names the file and counts its entries, the negative-priced one as skipped', async () => {
    const line = await proxy.waitForLine(/Prices loaded/);
    assert.ok(line.startsWith('[INFO] '), line);
    assert.ok(line.includes(pricesPath), line);
    assert.match(line, /\bentries=3\b/);
    assert.match(line, /\bpriced=2\b/);
    assert.match(line, /\bskipped=1\b/);
  });

  test('a chat response is priced by the formula: the ledger, the line and lm_proxy_cost_usd_total agree', async () => {
    // P 1000 (K 200 cached, AP 50 audio), C 500 (R 100 reasoning, AC 30 audio), response model with a trailing date:
    // input = 750 × 1e-6 + 200 × 5e-7 + 50 × 1e-5 = 0.00135; output = 370 × 2e-6 + 100 × 3e-6 + 30 × 2e-5 = 0.00164.
    const usage = {
      prompt_tokens: 1000,
      completion_tokens: 500,
      total_tokens: 1500,
      prompt_tokens_details: { cached_tokens: 200, audio_tokens: 50 },
      completion_tokens_details: { reasoning_tokens: 100, audio_tokens: 30 },
    };
    const { entry, fields } = await call(proxy, ledger, { body: chatBody('test-model-2024-08-06', usage) });
    near(entry['cost'], 0.00299, 'ledger cost');
    assert.equal(entry['cost_source'], 'prices');
    assert.equal(fields['cost'], '0.00299');
    assert.deepEqual(
      [entry['prompt_tokens'], entry['completion_tokens'], entry['cached_tokens'], entry['reasoning_tokens'], entry['audio_prompt_tokens'], entry['audio_completion_tokens']],
      [1000, 500, 200, 100, 50, 30],
    );
    const text = (await request(admin, { path: '/metrics' })).body.toString();
    near(sample(text, 'lm_proxy_cost_usd_total{model="test-model-2024-08-06"}'), 0.00299, 'cost counter');
  });

  test('a response naming no model is priced by the request\'s', async () => {
    const { entry, fields } = await call(proxy, ledger, { body: chatBody(null, { prompt_tokens: 100, completion_tokens: 10, total_tokens: 110 }) }, { body: '{"model":"test-model","messages":[]}' });
    near(entry['cost'], 0.00012, 'ledger cost');
    assert.equal(entry['model'], 'test-model');
    assert.equal(fields['cost'], '0.00012');
  });

  test('an unpriced model, or one whose entry was skipped, has cost null and cost_source null, no cost= and no cost series', async () => {
    for (const model of ['mystery-model-x', 'negative-model']) {
      const { entry, line } = await call(proxy, ledger, { body: chatBody(model, { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 }) }, { body: '{"model":"also-unknown"}' });
      assert.equal(entry['cost'], null, model);
      assert.equal(entry['cost_source'], null, model);
      assert.ok(Object.hasOwn(entry, 'cost') && Object.hasOwn(entry, 'cost_source'), 'present as null');
      assert.doesNotMatch(line, / cost=/, model);
      const text = (await request(admin, { path: '/metrics' })).body.toString();
      assert.equal(sample(text, `lm_proxy_cost_usd_total{model="${model}"}`), undefined, model);
      assert.equal(sample(text, `lm_proxy_tokens_total{model="${model}",type="prompt"}`), 10, `${model}: its tokens still count`);
    }
  });

  test('an upstream usage.cost wins over the table: cost_source "upstream"', async () => {
    // openrouter/test-model would be priced from the table (provider prefix dropped), but the upstream priced it.
    const usage = { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500, cost: 0.5, is_byok: false };
    const { entry, fields } = await call(proxy, ledger, { body: chatBody('openrouter/test-model', usage) });
    assert.equal(entry['cost'], 0.5);
    assert.equal(entry['cost_source'], 'upstream');
    assert.equal(fields['cost'], '0.5');
    const text = (await request(admin, { path: '/metrics' })).body.toString();
    assert.equal(sample(text, 'lm_proxy_cost_usd_total{model="openrouter/test-model"}'), 0.5);
  });

  test("Groq's x_groq.usage in an SSE stream reaches the ledger, priced", async () => {
    const stream =
      'data: {"id":"c1","object":"chat.completion.chunk","model":"llama-3.1-8b-instant","choices":[{"index":0,"delta":{"role":"assistant","content":""}}],"x_groq":{"id":"req_1"}}\n\n' +
      'data: {"id":"c1","object":"chat.completion.chunk","model":"llama-3.1-8b-instant","choices":[{"index":0,"delta":{"content":"Hello"}}]}\n\n' +
      'data: {"id":"c1","object":"chat.completion.chunk","model":"llama-3.1-8b-instant","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],' +
      '"x_groq":{"id":"req_1","usage":{"queue_time":0.01,"prompt_tokens":18,"prompt_time":0.002,"completion_tokens":7,"completion_time":0.006,"total_tokens":25,"total_time":0.008}}}\n\n' +
      'data: [DONE]\n\n';
    const { entry } = await call(
      proxy,
      ledger,
      { contentType: 'text/event-stream', body: stream },
      { path: '/openai/v1/chat/completions', body: '{"model":"llama-3.1-8b-instant","stream":true,"messages":[]}' },
    );
    assert.deepEqual([entry['prompt_tokens'], entry['completion_tokens'], entry['total_tokens'], entry['model'], entry['stream']], [18, 7, 25, 'llama-3.1-8b-instant', true]);
    near(entry['cost'], 18 * 0.00000005 + 7 * 0.00000008, 'cost');
    assert.equal(entry['cost_source'], 'prices');
  });

  test('audio tokens are counted within prompt and completion and on their own in the ledger, and priced at the audio prices', async () => {
    // input = 60 × 1e-6 + 40 × 1e-5 = 0.00046; output = 20 × 2e-6 + 30 × 2e-5 = 0.00064.
    const usage = { prompt_tokens: 100, completion_tokens: 50, total_tokens: 150, prompt_tokens_details: { audio_tokens: 40 }, completion_tokens_details: { audio_tokens: 30 } };
    const { entry, fields } = await call(proxy, ledger, { body: chatBody('test-model', usage) });
    assert.deepEqual([entry['prompt_tokens'], entry['completion_tokens'], entry['audio_prompt_tokens'], entry['audio_completion_tokens']], [100, 50, 40, 30]);
    near(entry['cost'], 0.0011, 'cost');
    assert.equal(fields['audio_prompt_tokens'], '40');
  });

  test('reasoning counted outside completion is added to it in the ledger, and priced as reasoning', async () => {
    // completion 5 + reasoning 20 = 25; input = 10 × 1e-6; output = 5 × 2e-6 + 20 × 3e-6.
    const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 35, completion_tokens_details: { reasoning_tokens: 20 } };
    const { entry, fields } = await call(proxy, ledger, { body: chatBody('test-model', usage) });
    assert.deepEqual([entry['prompt_tokens'], entry['completion_tokens'], entry['total_tokens'], entry['reasoning_tokens']], [10, 25, 35, 20]);
    assert.equal(fields['completion_tokens'], '25');
    near(entry['cost'], 0.00008, 'cost');
  });

  test('LM-Proxy-Tags in any case and any number never reaches the upstream, while its tags reach the ledger and the line', async () => {
    const headers = ['LM-Proxy-Tags', 'team=search', 'lm-proxy-tags', 'feature=chat, env=dev', 'X-Kept', 'yes', 'LM-PROXY-TAGS', 'x=1', 'lM-pRoXy-TaGs', 'bad pair, y=2'];
    const { entry, fields, upstreamRequest } = await call(proxy, ledger, { body: chatBody('test-model', { prompt_tokens: 1, completion_tokens: 1 }) }, { headers });
    assert.equal(hasTagsHeader(upstreamRequest.rawHeaders), false, JSON.stringify(upstreamRequest.rawHeaders));
    assert.deepEqual(headerValues(upstreamRequest.rawHeaders, 'x-kept'), ['yes'], 'other headers still pass');
    assert.deepEqual(entry['tags'], { deploy: 'blue', team: 'search', feature: 'chat', env: 'dev', x: '1', y: '2' });
    for (const [name, value] of Object.entries({ deploy: 'blue', team: 'search', feature: 'chat', env: 'dev', x: '1', y: '2' })) {
      assert.equal(fields[`tag.${name}`], value, `tag.${name}`);
    }
  });

  test('a tags header named by Connection is still the proxy\'s: it never reaches the upstream either', async () => {
    const { entry, upstreamRequest } = await call(proxy, ledger, { body: chatBody('test-model', { prompt_tokens: 1, completion_tokens: 1 }) }, {
      headers: ['Connection', 'keep-alive, LM-Proxy-Tags', 'LM-Proxy-Tags', 'via=connection'],
    });
    assert.equal(hasTagsHeader(upstreamRequest.rawHeaders), false);
    assert.equal((entry['tags'] as Record<string, string>)['deploy'], 'blue');
  });

  test('hostile tags headers (10 KB, 1,000 pairs, tabs and obs-text bytes, 100 repeats) are answered normally and never reach the upstream', async () => {
    const cases: Record<string, Buffer[]> = {
      '10 KB of junk': [Buffer.from('x'.repeat(10 * 1024))],
      '1,000 pairs': [Buffer.from(Array.from({ length: 1000 }, (_, i) => `k${i}=${i}`).join(','))],
      'tabs and obs-text bytes': [Buffer.concat([Buffer.from('a=1\t, b=2'), Buffer.from([0x80, 0xff, 0xa0]), Buffer.from(', \tc=3\t, d\xe9=4', 'latin1')])],
      '100 repeated headers': Array.from({ length: 100 }, (_, i) => Buffer.from(`r${i}=v`)),
    };
    for (const [what, values] of Object.entries(cases)) {
      const key = newKey('hostile');
      replies.set(key, { body: chatBody('test-model', { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 }) });
      const body = '{"model":"test-model"}';
      const head = Buffer.concat([
        Buffer.from(`POST /v1/chat/completions HTTP/1.1\r\nHost: proxy\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\n`),
        ...values.flatMap((value) => [Buffer.from('LM-Proxy-Tags: '), value, Buffer.from('\r\n')]),
        Buffer.from(`Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`),
      ]);
      const response = (await rawExchange(proxy.port, head, 3_000)).toString('latin1');
      assert.match(response, /^HTTP\/1\.1 200 /, `${what}: ${response.slice(0, 200)}`);
      assert.ok(response.endsWith(chatBody('test-model', { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 })), `${what}: the upstream's body`);
      const { entry, upstreamRequest } = await recordOf(proxy, ledger, key);
      assert.equal(hasTagsHeader(upstreamRequest.rawHeaders), false, what);
      const tags = entry['tags'] as Record<string, string>;
      assert.ok(Object.keys(tags).length <= 16 + 2, `${what}: ${Object.keys(tags).length} tags`);
      for (const [name, value] of Object.entries(tags)) {
        assert.match(name, /^[a-z0-9_.-]{1,32}$/, what);
        assert.match(value, /^[A-Za-z0-9_.:/@+-]{1,128}$/, what);
      }
      if (what === '1,000 pairs') assert.deepEqual(Object.keys(tags).filter((n) => n.startsWith('k')), Array.from({ length: 16 }, (_, i) => `k${i}`));
      if (what === 'tabs and obs-text bytes') assert.deepEqual(tags, { deploy: 'blue', team: 'platform', a: '1', c: '3' });
    }
  });

  test("the user of an OpenAI body, an Anthropic body's metadata.user_id and a Responses body's safety_identifier reach the ledger and the line", async () => {
    const openai = await call(proxy, ledger, { body: chatBody('test-model', { prompt_tokens: 1, completion_tokens: 1 }) }, {
      body: '{"model":"test-model","messages":[{"role":"user","content":"hi"}],"user":"end-user-1"}',
    });
    assert.equal(openai.entry['user'], 'end-user-1');
    assert.equal(openai.fields['user'], 'end-user-1');

    const anthropicReply = '{"id":"msg_1","type":"message","role":"assistant","model":"claude-3-5-sonnet-20241022","content":[],"usage":{"input_tokens":12,"output_tokens":3}}';
    const anthropic = await call(proxy, ledger, { body: anthropicReply }, {
      path: '/v1/messages',
      body: '{"model":"claude-3-5-sonnet-20241022","max_tokens":16,"metadata":{"user_id":"anthropic user 9"},"messages":[{"role":"user","content":"hi"}]}',
    });
    assert.equal(anthropic.entry['user'], 'anthropic user 9');
    assert.equal(anthropic.fields['user'], 'anthropic user 9', 'quoted in the line, read back whole');
    assert.ok(anthropic.line.includes(' user="anthropic user 9"'), anthropic.line);

    const responsesReply = '{"id":"resp_1","object":"response","model":"test-model","usage":{"input_tokens":5,"output_tokens":2,"total_tokens":7}}';
    const responses = await call(proxy, ledger, { body: responsesReply }, { path: '/v1/responses', body: '{"model":"test-model","input":"hi","safety_identifier":"sid-7"}' });
    assert.equal(responses.entry['user'], 'sid-7');

    const none = await call(proxy, ledger, { body: chatBody('test-model', { prompt_tokens: 1, completion_tokens: 1 }) }, { body: '{"model":"test-model","user":42}' });
    assert.equal(none.entry['user'], null);
    assert.doesNotMatch(none.line, / user=/);
  });

  test('tags and users never become metric labels', async () => {
    const text = (await request(admin, { path: '/metrics' })).body.toString();
    const labelNames = new Set<string>();
    for (const line of text.split('\n')) {
      if (line.startsWith('#') || !line.includes('{')) continue;
      for (const match of line.slice(line.indexOf('{')).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labelNames.add(match[1] as string);
    }
    for (const name of labelNames) assert.ok(['method', 'status', 'model', 'type', 'code', 'le'].includes(name), `label ${name}`);
    for (const word of ['search', 'platform', 'blue', 'end-user-1', 'anthropic user', 'sid-7', 'feature']) assert.ok(!text.includes(word), `${word} in /metrics`);
  });

  test('TAGS from the environment is on every record', () => {
    const entries = readLedger(ledger);
    assert.ok(entries.length >= 12, `${entries.length} entries`);
    for (const entry of entries) assert.equal((entry['tags'] as Record<string, string>)['deploy'], 'blue', JSON.stringify(entry));
  });
});

describe("with LiteLLM's real price file", () => {
  let proxy: ProxyProcess;
  let ledger: string;

  before(async () => {
    ledger = join(TMP, 'real-ledger.jsonl');
    proxy = await startProxy({ upstream: `${upstream.origin}/v1`, args: ['--usage-log', ledger, '--prices', REAL_PRICES] });
  });
  after(() => proxy.stop());

  test('the file loads at start, its thousands of entries counted', async () => {
    const line = await proxy.waitForLine(/Prices loaded/);
    const entries = Number(/\bentries=(\d+)/.exec(line)?.[1]);
    const priced = Number(/\bpriced=(\d+)/.exec(line)?.[1]);
    assert.ok(entries > 1000 && priced > 1000 && priced <= entries, line);
  });

  test('real model names are priced by SPEC §9 matching: exact, provider prefixes, dates, case, the request\'s model', async () => {
    const usage = { prompt_tokens: 1000, completion_tokens: 100, total_tokens: 1100 };
    // gpt-4o-2024-08-06: 2.5e-6 in, 1e-5 out. openrouter/anthropic/claude-3.5-sonnet and claude-3-5-sonnet-20241022: 3e-6 in, 1.5e-5 out.
    const cases: [string | null, string, number][] = [
      ['gpt-4o-2024-08-06', 'x', 0.0035],
      ['GPT-4o-2024-08-06', 'x', 0.0035],
      ['openrouter/openai/gpt-4o-2024-08-06', 'x', 0.0035],
      ['openrouter/anthropic/claude-3.5-sonnet', 'x', 0.0045],
      ['anthropic/claude-3-5-sonnet-20241022', 'x', 0.0045],
      [null, 'gpt-4o', 0.0035],
    ];
    for (const [model, asked, cost] of cases) {
      const { entry } = await call(proxy, ledger, { body: chatBody(model, usage) }, { body: JSON.stringify({ model: asked }) });
      near(entry['cost'], cost, String(model));
      assert.equal(entry['cost_source'], 'prices', String(model));
    }
    const unknown = await call(proxy, ledger, { body: chatBody('gpt-4o-turbo-fake', usage) }, { body: '{"model":"nor-this-one"}' });
    assert.equal(unknown.entry['cost'], null, 'nothing fuzzier: unpriced');
  });

  test('an Anthropic response is priced with its cache reads and writes at their own prices', async () => {
    // claude-3-5-sonnet-20241022: 3e-6 in, 3e-7 cache read, 3.75e-6 cache creation, 1.5e-5 out.
    const reply = '{"type":"message","model":"claude-3-5-sonnet-20241022","usage":{"input_tokens":100,"cache_read_input_tokens":1000,"cache_creation_input_tokens":200,"output_tokens":50}}';
    const { entry } = await call(proxy, ledger, { body: reply }, { path: '/v1/messages', body: '{"model":"claude-3-5-sonnet-20241022"}' });
    assert.deepEqual([entry['prompt_tokens'], entry['cached_tokens'], entry['cache_creation_tokens']], [1300, 1000, 200]);
    near(entry['cost'], 100 * 3e-6 + 1000 * 3e-7 + 200 * 3.75e-6 + 50 * 1.5e-5, 'cost');
  });
});

describe('SIGHUP reads PRICES_FILE again', () => {
  let proxy: ProxyProcess;
  let ledger: string;
  let pricesPath: string;

  before(async () => {
    pricesPath = writePrices('reloaded.json', { 'hup-model': { input_cost_per_token: 0.000001, output_cost_per_token: 0.000001 } });
    ledger = join(TMP, 'hup-ledger.jsonl');
    proxy = await startProxy({ upstream: `${upstream.origin}/v1`, args: ['--usage-log', ledger], env: { PRICES_FILE: pricesPath } });
  });
  after(() => proxy.stop());

  const priced = async (): Promise<unknown> =>
    (await call(proxy, ledger, { body: chatBody('hup-model', { prompt_tokens: 1000, completion_tokens: 1000, total_tokens: 2000 }) })).entry['cost'];
  const linesMatching = (lines: readonly string[], pattern: RegExp): number => lines.filter((l) => pattern.test(l)).length;

  test('a good file replaces the table, with an info line; a bad one keeps the old table, with an error line', async () => {
    near(await priced(), 0.002, 'before');

    writePrices('reloaded.json', { 'hup-model': { input_cost_per_token: 0.00001, output_cost_per_token: 0.00002 }, 'other-model': { input_cost_per_token: 0.1 } });
    proxy.child.kill('SIGHUP');
    await waitUntil(() => linesMatching(proxy.stdout, /Prices reloaded/) === 1, 'the reloaded line');
    const reloaded = proxy.stdout.find((l) => /Prices reloaded/.test(l)) as string;
    assert.ok(reloaded.startsWith('[INFO] '), reloaded);
    assert.match(reloaded, /\bentries=2\b/);
    near(await priced(), 0.03, 'after the reload');

    for (const [what, write] of [
      ['invalid JSON', () => writePrices('reloaded.json', '{"hup-model": {"input_cost_per_token": 1e-9,')],
      ['not an object', () => writePrices('reloaded.json', '["hup-model"]')],
      ['a folder', () => (rmSync(pricesPath), mkdirSync(pricesPath))],
      ['missing', () => rmSync(pricesPath, { recursive: true })],
    ] as const) {
      const errorsBefore = linesMatching(proxy.stderr, /PRICES_FILE|[Pp]rices/);
      write();
      proxy.child.kill('SIGHUP');
      await waitUntil(() => linesMatching(proxy.stderr, /PRICES_FILE|[Pp]rices/) === errorsBefore + 1, `the error line (${what})`);
      const line = proxy.stderr.filter((l) => /PRICES_FILE|[Pp]rices/.test(l)).at(-1) as string;
      assert.ok(line.startsWith('[ERROR] '), `${what}: ${line}`);
      assert.ok(line.includes(pricesPath), `${what}: ${line}`);
      near(await priced(), 0.03, `${what}: the old table stays in use`);
    }
    assert.equal(linesMatching(proxy.stdout, /Prices reloaded/), 1, 'no bad file was reported as loaded');
    assert.equal(proxy.child.exitCode, null, 'the proxy runs on');
  });
});

describe('a PRICES_FILE that cannot be used stops the start', () => {
  const bad: Record<string, () => string> = {
    'not JSON': () => writePrices('not-json.json', 'model,input,output\ngpt-4o,0.0000025,0.00001\n'),
    'an HTML error page saved as the file': () => writePrices('page.json', '<html>\n<body>404 Not Found</body>\n</html>\n'),
    'cut short': () => writePrices('cut.json', JSON.stringify(SMALL_TABLE).slice(0, 60)),
    'an array': () => writePrices('array.json', '[{"input_cost_per_token": 1}]'),
    'a string': () => writePrices('string.json', '"gpt-4o"'),
    'null': () => writePrices('null.json', 'null'),
    'a number': () => writePrices('number.json', '42'),
    'empty': () => writePrices('empty.json', ''),
    'missing': () => join(TMP, 'no-such-prices.json'),
    'a folder': () => {
      const path = join(TMP, 'prices-folder.json');
      mkdirSync(path, { recursive: true });
      return path;
    },
  };

  for (const [what, make] of Object.entries(bad)) {
    test(`${what}: exit 2, nothing on stdout, one stderr line naming PRICES_FILE and the path`, async () => {
      const path = make();
      const run = await runProxyToExit({ upstream: `${upstream.origin}/v1`, env: { PRICES_FILE: path } });
      assert.equal(run.code, 2, `exit code; stderr: ${run.stderr}`);
      assert.equal(run.stdout, '');
      const lines = run.stderr.replace(/\n$/, '').split('\n');
      assert.equal(lines.length, 1, `exactly one stderr line: ${JSON.stringify(run.stderr)}`);
      assert.ok(lines[0]!.includes('PRICES_FILE'), lines[0]);
      assert.ok(lines[0]!.includes(path), lines[0]);
    });
  }

  test('the --prices flag is judged the same way, and in LOG_FORMAT=json the line is JSON', async () => {
    const path = join(TMP, 'no-such-flag-prices.json');
    const run = await runProxyToExit({ upstream: `${upstream.origin}/v1`, args: ['--prices', path, '--log-format', 'json'] });
    assert.equal(run.code, 2);
    const lines = run.stderr.replace(/\n$/, '').split('\n');
    assert.equal(lines.length, 1, run.stderr);
    const event = JSON.parse(lines[0]!) as { level: string; msg: string };
    assert.equal(event.level, 'error');
    assert.ok(event.msg.includes('PRICES_FILE') && event.msg.includes(path), event.msg);
  });
});
