import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import zlib from 'node:zlib';
import { USAGE_FIXTURES, type UsageFixture } from '../fixtures/usage/index.ts';
import { delay, request, startProxy, startUpstream, type ProxyProcess, type TestUpstream } from './harness.ts';

function keyIdOf(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

/** The `key=value` pairs of a `[USAGE]` line. */
function usageFields(line: string): Record<string, string> {
  assert.match(line, /^\[USAGE\] prompt_tokens=\d+ completion_tokens=\d+ total_tokens=\d+/);
  const fields: Record<string, string> = {};
  for (const pair of line.slice('[USAGE] '.length).split(' ')) {
    const eq = pair.indexOf('=');
    fields[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return fields;
}

const ENCODERS: Record<string, (body: Buffer) => Buffer> = {
  gzip: (b) => zlib.gzipSync(b),
  deflate: (b) => zlib.deflateSync(b),
  'deflate-raw': (b) => zlib.deflateRawSync(b),
  br: (b) => zlib.brotliCompressSync(b),
  'gzip, br': (b) => zlib.brotliCompressSync(zlib.gzipSync(b)),
};

const USAGE_EVENT = 'data: {"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6}}\n\n';
/** Bodies that end cleanly but are not whole and valid (SPEC §8), by the name the route serves them at. */
const RAW_BODIES: Record<string, { contentType: string; parts: string[] }> = {
  'sse-usage-then-garbage': { contentType: 'text/event-stream', parts: [USAGE_EVENT, 'data: {not json\n\n', 'data: [DONE]\n\n'] },
  'sse-usage-then-cut-event': { contentType: 'text/event-stream', parts: [USAGE_EVENT, 'data: {"choices":[{"delta":'] },
  'sse-usage-then-cut-json': { contentType: 'text/event-stream', parts: [USAGE_EVENT, 'data: {"choices":[],"usage":{"prompt_tokens":9,\n\n'] },
  'sse-garbage-then-usage': { contentType: 'text/event-stream', parts: ['data: {garbage\n\n', USAGE_EVENT] },
  'ndjson-usage-then-garbage': { contentType: 'application/x-ndjson', parts: ['{"model":"m","prompt_eval_count":3,"eval_count":2}\n', '{oops\n'] },
  'sse-whole': { contentType: 'text/event-stream', parts: ['event: ping\ndata: {"type":"ping"}\n\n', USAGE_EVENT, ': comment\n\ndata: [DONE]\n\n'] },
};

describe('usage tracking through the real proxy', () => {
  let upstream: TestUpstream;
  let proxy: ProxyProcess;
  const ledgerPath = join(mkdtempSync(join(tmpdir(), 'lm-proxy-usage-')), 'ledger.jsonl');
  const served = new Map<string, { fixture: UsageFixture; encoding?: string; body: Buffer }>();
  let bytesSentToClient: Buffer = Buffer.alloc(0);

  before(async () => {
    upstream = await startUpstream((req, res) => {
      const name = String(req.headers['x-fixture'] ?? '');
      const entry = served.get(name);
      if (req.url === '/v1/usage-then-cut') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: {"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6}}\n\n');
        setTimeout(() => res.socket?.destroy(), 30);
        return;
      }
      if (req.url === '/v1/usage-then-garbage') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6}, oops}');
        return;
      }
      const raw = RAW_BODIES[(req.url ?? '').slice('/v1/raw/'.length)];
      if (req.url?.startsWith('/v1/raw/') && raw !== undefined) {
        res.writeHead(200, { 'content-type': raw.contentType });
        // One write per part, so the fault may sit at a chunk boundary.
        for (const part of raw.parts) res.write(part);
        res.end();
        return;
      }
      if (req.url === '/v1/malformed') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"usage": {"prompt_tokens": 4,, }');
        return;
      }
      if (req.url === '/v1/escaped-key-sse') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: {"model":"m-esc","choices":[{"delta":{"content":"hi"}}]}\n\n');
        res.write('data: {"choices":[{"delta":{"content":"there"}}]}\n\n');
        res.end('data: {"choices":[],"us\\u0061ge":{"prompt_tokens":2,"completion_tokens":3,"total_tokens":5}}\n\ndata: [DONE]\n\n');
        return;
      }
      if (req.url === '/v1/big-completed') {
        // A Responses API stream whose final event repeats a 2 MiB output, usage last.
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('event: response.created\ndata: {"type":"response.created","response":{"usage":null}}\n\n');
        res.end(`event: response.completed\ndata: {"type":"response.completed","response":{"model":"gpt-big","output":[{"type":"message","content":[{"type":"output_text","text":"${'x'.repeat(2 * 1024 * 1024)}"}]}],"usage":{"input_tokens":3,"output_tokens":524288,"total_tokens":524291}}}\n\n`);
        return;
      }
      if (req.url === '/v1/no-model') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}');
        return;
      }
      if (req.url === '/v1/zstd') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'zstd' });
        res.end('not really zstd');
        return;
      }
      if (entry === undefined) {
        res.writeHead(404).end();
        return;
      }
      const headers: Record<string, string> = { 'content-type': entry.fixture.contentType };
      if (entry.encoding !== undefined) headers['content-encoding'] = entry.encoding === 'deflate-raw' ? 'deflate' : entry.encoding;
      res.writeHead(entry.fixture.status, headers);
      bytesSentToClient = entry.body;
      // Several writes, so parsers see bodies cut across chunks.
      const step = Math.max(1, Math.ceil(entry.body.length / 5));
      for (let i = 0; i < entry.body.length; i += step) res.write(entry.body.subarray(i, i + step));
      res.end();
    });
    proxy = await startProxy({ upstream: `${upstream.origin}/v1`, args: ['--usage-log', ledgerPath] });
  });
  after(async () => {
    await proxy.stop();
    await upstream.close();
  });

  async function replay(fixture: UsageFixture, encoding?: string): Promise<{ key: string; body: Buffer; status: number }> {
    const key = `sk-${fixture.name}-${(encoding ?? 'identity').replace(/\W+/g, '-')}`;
    const raw = Buffer.from(fixture.body);
    served.set(key, { fixture, ...(encoding !== undefined ? { encoding } : {}), body: encoding === undefined ? raw : ENCODERS[encoding]!(raw) });
    const res = await request(proxy.origin, {
      method: 'POST',
      path: fixture.path,
      headers: { 'x-fixture': key, authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: '{"model":"requested-model"}',
    });
    return { key, body: res.body, status: res.status };
  }

  test('every usage shape gives exactly one correct [USAGE] line; bodies without usage give none', async () => {
    for (const fixture of USAGE_FIXTURES) {
      const { key, status, body } = await replay(fixture);
      assert.equal(status, fixture.status, fixture.name);
      assert.equal(body.toString(), fixture.body, `${fixture.name} reaches the client unchanged`);
      if (fixture.expected === null) continue;
      const line = await proxy.waitForLine(new RegExp(`key_id=${keyIdOf(key)}`), 3_000);
      const fields = usageFields(line);
      const { model, ...counts } = fixture.expected;
      for (const [name, value] of Object.entries(counts)) assert.equal(fields[name], String(value), `${fixture.name}: ${name}`);
      assert.equal(fields.model, model ?? 'requested-model', `${fixture.name}: model`);
      assert.equal(fields.complete, 'true');
      assert.equal(fields.end, 'done');
      // Gemini's JSON-array stream is a stream too (SPEC §4).
      const streamed = !fixture.contentType.startsWith('application/json') || fixture.path.includes(':streamGenerateContent');
      assert.equal(fields.stream, String(streamed), `${fixture.name}: stream`);
    }
    // A sentinel request with usage, so every earlier line has surely been written.
    const sentinel = await replay(USAGE_FIXTURES[0]!, 'gzip');
    await proxy.waitForLine(new RegExp(`key_id=${keyIdOf(sentinel.key)}`), 3_000);
    for (const fixture of USAGE_FIXTURES) {
      const id = keyIdOf(`sk-${fixture.name}-identity`);
      const count = proxy.stdout.filter((line) => line.startsWith('[USAGE]') && line.includes(`key_id=${id}`)).length;
      assert.equal(count, fixture.expected === null ? 0 : 1, `${fixture.name}: usage lines`);
    }
  });

  test('gzip, deflate (zlib and raw), br and stacked codings reach the client byte for byte and still give the line', async () => {
    const chat = USAGE_FIXTURES.find((f) => f.name === 'openai-chat.json')!;
    const stream = USAGE_FIXTURES.find((f) => f.name === 'anthropic-messages-stream.sse')!;
    for (const fixture of [chat, stream]) {
      for (const encoding of Object.keys(ENCODERS)) {
        const { key, body } = await replay(fixture, encoding);
        assert.ok(body.equals(bytesSentToClient), `${fixture.name} ${encoding}: compressed bytes unchanged`);
        const fields = usageFields(await proxy.waitForLine(new RegExp(`key_id=${keyIdOf(key)}`), 3_000));
        assert.equal(fields.total_tokens, String(fixture.expected!.total_tokens), `${fixture.name} ${encoding}`);
      }
    }
  });

  test('a malformed body gives no line, and the next request is served', async () => {
    const res = await request(proxy.origin, { path: '/v1/malformed', headers: { authorization: 'Bearer sk-malformed' } });
    assert.equal(res.status, 200);
    const next = await replay(USAGE_FIXTURES[0]!);
    await proxy.waitForLine(new RegExp(`key_id=${keyIdOf(next.key)}`), 3_000);
    assert.ok(!proxy.stdout.some((line) => line.includes(`key_id=${keyIdOf('sk-malformed')}`)));
  });

  test('usage seen before the upstream is lost gives complete=false end=upstream_error', async () => {
    await new Promise<void>((resolve) => {
      http.get({ host: '127.0.0.1', port: proxy.port, path: '/v1/usage-then-cut', headers: { authorization: 'Bearer sk-cut' } }, (res) => {
        res.resume();
        res.on('error', () => resolve());
        res.on('end', () => resolve());
      });
    });
    const fields = usageFields(await proxy.waitForLine(new RegExp(`key_id=${keyIdOf('sk-cut')}`), 3_000));
    assert.equal(fields.total_tokens, '6');
    assert.equal(fields.complete, 'false');
    assert.equal(fields.end, 'upstream_error');
  });

  test('a stream event whose usage key is written with an escape is still read', async () => {
    await request(proxy.origin, { path: '/v1/escaped-key-sse', headers: { authorization: 'Bearer sk-escaped' } });
    const fields = usageFields(await proxy.waitForLine(new RegExp(`key_id=${keyIdOf('sk-escaped')}`), 3_000));
    assert.equal(fields.total_tokens, '5');
    assert.equal(fields.model, 'm-esc');
  });

  test('a Responses stream whose final event is larger than 1 MiB still gives its usage', async () => {
    await request(proxy.origin, { path: '/v1/big-completed', headers: { authorization: 'Bearer sk-big-event' } });
    const fields = usageFields(await proxy.waitForLine(new RegExp(`key_id=${keyIdOf('sk-big-event')}`), 3_000));
    assert.equal(fields.completion_tokens, '524288');
    assert.equal(fields.model, 'gpt-big');
  });

  test('a clean end with a malformed body after the usage gives complete=false end=malformed', async () => {
    await request(proxy.origin, { path: '/v1/usage-then-garbage', headers: { authorization: 'Bearer sk-garbage' } });
    const fields = usageFields(await proxy.waitForLine(new RegExp(`key_id=${keyIdOf('sk-garbage')}`), 3_000));
    assert.equal(fields.complete, 'false');
    assert.equal(fields.end, 'malformed');
  });

  for (const name of ['sse-usage-then-garbage', 'sse-usage-then-cut-event', 'sse-usage-then-cut-json', 'ndjson-usage-then-garbage']) {
    test(`${name}: usage, then a fault before a clean end, gives complete=false end=malformed`, async () => {
      await request(proxy.origin, { path: `/v1/raw/${name}`, headers: { authorization: `Bearer sk-${name}` } });
      const fields = usageFields(await proxy.waitForLine(new RegExp(`key_id=${keyIdOf(`sk-${name}`)}`), 3_000));
      assert.ok(fields.total_tokens === '6' || fields.total_tokens === '5', fields.total_tokens);
      assert.equal(fields.complete, 'false');
      assert.equal(fields.end, 'malformed');
    });
  }

  test('a whole event stream with pings, comments and [DONE] is complete', async () => {
    await request(proxy.origin, { path: '/v1/raw/sse-whole', headers: { authorization: 'Bearer sk-sse-whole' } });
    const fields = usageFields(await proxy.waitForLine(new RegExp(`key_id=${keyIdOf('sk-sse-whole')}`), 3_000));
    assert.equal(fields.total_tokens, '6');
    assert.equal(fields.complete, 'true');
    assert.equal(fields.end, 'done');
  });

  test('an event stream that turns out malformed before its usage gives no line', async () => {
    await request(proxy.origin, { path: '/v1/raw/sse-garbage-then-usage', headers: { authorization: 'Bearer sk-garbage-first' } });
    const next = await replay(USAGE_FIXTURES[0]!);
    await proxy.waitForLine(new RegExp(`key_id=${keyIdOf(next.key)}`), 3_000);
    assert.ok(!proxy.stdout.some((line) => line.includes(`key_id=${keyIdOf('sk-garbage-first')}`)));
  });

  test('the model falls back to the request body\'s, and the ledger line carries every field', async () => {
    await request(proxy.origin, {
      method: 'POST',
      path: '/v1/no-model',
      headers: { 'x-api-key': 'sk-ledger', 'content-type': 'application/json' },
      body: '{"messages":[{"model":"nested"}],"model":"from-request"}',
    });
    const fields = usageFields(await proxy.waitForLine(new RegExp(`key_id=${keyIdOf('sk-ledger')}`), 3_000));
    assert.equal(fields.model, 'from-request');
    await delay(100);
    const entry = readFileSync(ledgerPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((e) => e.key_id === keyIdOf('sk-ledger'));
    assert.ok(entry !== undefined);
    for (const name of ['time', 'method', 'path', 'status', 'model', 'stream', 'prompt_tokens', 'completion_tokens', 'total_tokens', 'cached_tokens', 'reasoning_tokens', 'complete', 'end', 'duration_ms', 'ttfb_ms', 'key_id']) {
      assert.ok(name in entry, `ledger field ${name}`);
    }
    assert.equal(entry.path, '/v1/no-model');
    assert.equal(entry.model, 'from-request');
    assert.equal(entry.total_tokens, 2);
    assert.ok(!Number.isNaN(Date.parse(entry.time as string)));
  });

  test('the line\'s and the ledger\'s path is the path the client asked for, without the query or its key', async () => {
    const key = 'sk-query-secret-7f3a';
    const fixture = USAGE_FIXTURES.find((f) => f.name === 'openai-chat.json')!;
    served.set('query-path', { fixture, body: Buffer.from(fixture.body) });
    // No /v1 prefix: the proxy adds the upstream's base path, but the client asked for /chat/completions.
    const res = await request(proxy.origin, {
      method: 'POST',
      path: `/chat/completions?x=1&key=${key}&alt=sse`,
      headers: { 'x-fixture': 'query-path', 'content-type': 'application/json' },
      body: '{"model":"requested-model"}',
    });
    assert.equal(res.status, fixture.status);
    assert.equal(upstream.requests.at(-1)?.url, `/v1/chat/completions?x=1&key=${key}&alt=sse`, 'the query is forwarded as it came');
    const fields = usageFields(await proxy.waitForLine(new RegExp(`key_id=${keyIdOf(key)}`), 3_000));
    assert.equal(fields.path, '/chat/completions');
    let entry: Record<string, unknown> | undefined;
    for (let i = 0; i < 50 && entry === undefined; i++) {
      entry = readFileSync(ledgerPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((e) => e.key_id === keyIdOf(key));
      if (entry === undefined) await delay(20);
    }
    assert.ok(entry !== undefined, 'a ledger line for the request');
    assert.equal(entry.path, '/chat/completions');
    await delay(50);
    for (const [where, text] of [['stdout', proxy.stdout.join('\n')], ['stderr', proxy.stderr.join('\n')], ['the ledger', readFileSync(ledgerPath, 'utf8')]] as const) {
      assert.ok(!text.includes(key), `the key appears in ${where}`);
      assert.ok(!text.includes('x=1&'), `the query appears in ${where}`);
    }
  });

  test('a coding Node cannot decode is forwarded as it came, with no line and one warning', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await request(proxy.origin, { path: '/v1/zstd' });
      assert.equal(res.body.toString(), 'not really zstd');
    }
    if (typeof (zlib as { createZstdDecompress?: unknown }).createZstdDecompress === 'function') return;
    await proxy.waitForLine(/zstd/, 3_000);
    await delay(100);
    assert.equal(proxy.stderr.filter((line) => line.includes('zstd')).length, 1);
  });

  test('200 concurrent requests give 200 whole ledger lines', async () => {
    const before = readFileSync(ledgerPath, 'utf8').split('\n').filter(Boolean).length;
    const fixture = USAGE_FIXTURES.find((f) => f.name === 'openai-chat-stream.sse')!;
    served.set('concurrent', { fixture, body: Buffer.from(fixture.body) });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 200 });
    await Promise.all(Array.from({ length: 200 }, (_, i) =>
      request(proxy.origin, { method: 'POST', path: '/v1/chat/completions', agent, headers: { 'x-fixture': 'concurrent', authorization: `Bearer sk-c${i}` }, body: '{}' })));
    agent.destroy();
    let lines: string[] = [];
    for (let i = 0; i < 50; i++) {
      lines = readFileSync(ledgerPath, 'utf8').split('\n').filter(Boolean);
      if (lines.length >= before + 200) break;
      await delay(50);
    }
    assert.equal(lines.length, before + 200);
    const ids = new Set(lines.slice(before).map((line) => (JSON.parse(line) as { key_id: string; total_tokens: number }).key_id));
    assert.equal(ids.size, 200);
  });
});
