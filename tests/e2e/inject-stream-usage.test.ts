import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { headerValues, readBody, request, startProxy, startUpstream, type ProxyProcess, type TestUpstream } from './harness.ts';

// An upstream that behaves like OpenAI: a usage-only chunk (`"choices": []`) only when
// the request asks for it, and `"usage": null` on every other chunk when it does.
function openAiLikeStream(body: Buffer, res: http.ServerResponse): void {
  let request: { stream?: unknown; stream_options?: { include_usage?: unknown } };
  try {
    request = JSON.parse(body.toString()) as typeof request;
  } catch {
    res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"bad json"}}');
    return;
  }
  const withUsage = request.stream_options?.include_usage === true;
  const extra = withUsage ? ',"usage":null' : '';
  const chunk = (delta: string, finish: string | null): string =>
    `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${finish === null ? 'null' : `"${finish}"`}}]${extra}}\n\n`;
  if (request.stream !== true) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"id":"c1","object":"chat.completion","model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}');
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
  res.write(chunk('{"role":"assistant","content":""}', null));
  res.write(chunk('{"content":"Hello"}', null));
  res.write(chunk('{"content":" there"}', null));
  res.write(chunk('{}', 'stop'));
  if (withUsage) {
    res.write('data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}\n\n');
  }
  res.end('data: [DONE]\n\n');
}

describe('stream usage injection', () => {
  let upstream: TestUpstream;
  let proxy: ProxyProcess;
  let plain: ProxyProcess;

  before(async () => {
    upstream = await startUpstream((req, res) => {
      void readBody(req).then((body) => openAiLikeStream(body, res));
    });
    [proxy, plain] = await Promise.all([
      startProxy({ upstream: `${upstream.origin}/v1` }),
      startProxy({ upstream: `${upstream.origin}/v1`, args: ['--inject-stream-usage=false'] }),
    ]);
  });
  after(async () => {
    await Promise.all([proxy.stop(), plain.stop()]);
    await upstream.close();
  });

  async function post(via: ProxyProcess, body: string | Buffer, key: string, path = '/v1/chat/completions'): Promise<{ clientBody: string; upstreamBody: Buffer; upstreamHeaders: readonly string[] }> {
    const res = await request(via.origin, {
      method: 'POST',
      path,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'accept-encoding': 'gzip, br' },
      body,
    });
    const got = upstream.requests.at(-1)!;
    return { clientBody: res.body.toString(), upstreamBody: got.body, upstreamHeaders: got.rawHeaders };
  }

  test('a stream that did not ask for usage is asked for it; the client gets no usage chunk; the line appears', async () => {
    const body = '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}';
    const { clientBody, upstreamBody, upstreamHeaders } = await post(proxy, body, 'sk-inject-1');
    assert.equal(upstreamBody.toString(), '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":true}}');
    assert.deepEqual(headerValues(upstreamHeaders, 'content-length'), [String(upstreamBody.length)]);
    assert.deepEqual(headerValues(upstreamHeaders, 'accept-encoding'), ['identity']);
    assert.doesNotMatch(clientBody, /"choices":\[\]/);
    assert.match(clientBody, /"usage":null/, 'ordinary chunks keep the upstream\'s "usage": null');
    assert.ok(clientBody.endsWith('data: [DONE]\n\n'));
    assert.equal((clientBody.match(/^data: /gm) ?? []).length, 5);
    const line = await proxy.waitForLine(/\[USAGE\].*model=gpt-4o-mini-2024-07-18 stream=true/);
    assert.match(line, /^\[USAGE\] prompt_tokens=9 completion_tokens=3 total_tokens=12/);
  });

  test('big integers and key order survive byte for byte apart from the insertion', async () => {
    const body = '{ "seed": 12345678901234567890, "stream" : true, "z": 1, "a": [1.0, 2e5], "model": "m", "n": -0.0000000000000000001 }';
    const { upstreamBody } = await post(proxy, body, 'sk-inject-2');
    const text = upstreamBody.toString();
    const inserted = ',"stream_options":{"include_usage":true}';
    const at = text.indexOf(inserted);
    assert.ok(at > 0);
    assert.equal(text.slice(0, at) + text.slice(at + inserted.length), body);
  });

  test('a client that asked for usage receives its chunk, and nothing changes on the wire', async () => {
    const body = '{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[]}';
    const { clientBody, upstreamBody, upstreamHeaders } = await post(proxy, body, 'sk-inject-3');
    assert.equal(upstreamBody.toString(), body);
    assert.deepEqual(headerValues(upstreamHeaders, 'accept-encoding'), ['gzip, br']);
    assert.match(clientBody, /"choices":\[\],"usage":\{"prompt_tokens":9/);
  });

  test('an existing stream_options without include_usage gets it added inside', async () => {
    const { upstreamBody } = await post(proxy, '{"stream":true,"stream_options":{"other":1},"model":"m"}', 'sk-inject-4');
    assert.equal(upstreamBody.toString(), '{"stream":true,"stream_options":{"other":1,"include_usage":true},"model":"m"}');
  });

  test('an explicit include_usage false is left alone', async () => {
    const body = '{"stream":true,"stream_options":{"include_usage":false},"model":"m"}';
    const { upstreamBody, clientBody } = await post(proxy, body, 'sk-inject-5');
    assert.equal(upstreamBody.toString(), body);
    assert.doesNotMatch(clientBody, /"choices":\[\]/);
  });

  test('stream false, a non-JSON body and a 9 MiB body are untouched', async () => {
    for (const body of ['{"stream":false,"model":"m"}', '{"stream":true,"model":', 'stream=true']) {
      const { upstreamBody, upstreamHeaders } = await post(proxy, body, 'sk-inject-6');
      assert.equal(upstreamBody.toString(), body);
      assert.deepEqual(headerValues(upstreamHeaders, 'accept-encoding'), ['gzip, br']);
    }
    const big = Buffer.from(`{"stream":true,"model":"m","messages":[{"role":"user","content":"${'x'.repeat(9 * 1024 * 1024)}"}]}`);
    const { upstreamBody } = await post(proxy, big, 'sk-inject-7');
    assert.ok(upstreamBody.equals(big));
  });

  test('a legacy /completions stream is injected too; other paths are not', async () => {
    const body = '{"model":"m","stream":true,"prompt":"hi"}';
    assert.match((await post(proxy, body, 'sk-inject-8', '/v1/completions')).upstreamBody.toString(), /"stream_options":\{"include_usage":true\}\}$/);
    assert.equal((await post(proxy, body, 'sk-inject-9', '/v1/responses')).upstreamBody.toString(), body);
  });

  test('with the option off the upstream receives the client\'s exact bytes', async () => {
    const body = '{"model":"m","stream":true,"messages":[]}';
    const { upstreamBody, clientBody } = await post(plain, body, 'sk-inject-10');
    assert.equal(upstreamBody.toString(), body);
    assert.doesNotMatch(clientBody, /"choices":\[\]/);
  });

  test('the OpenAI SDK sees exactly the chunks a direct call gives, and its usage chunk when it asks', async () => {
    const collect = async (baseURL: string, includeUsage: boolean): Promise<unknown[]> => {
      const client = new OpenAI({ baseURL, apiKey: 'sk-sdk', maxRetries: 0 });
      const stream = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
        ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
      });
      const chunks: unknown[] = [];
      for await (const chunk of stream) chunks.push(chunk);
      return chunks;
    };
    const direct = await collect(`${upstream.origin}/v1`, false);
    const proxied = await collect(`${proxy.origin}/v1`, false);
    // SPEC §8: the `"usage": null` the upstream adds to each chunk of an injected stream is left
    // as it comes; apart from that field the SDK sees the very chunks, and no extra one.
    assert.equal(proxied.length, direct.length);
    assert.equal(proxied.length, 4);
    const withoutNullUsage = (chunk: unknown): unknown => {
      const { usage, ...rest } = chunk as { usage?: unknown };
      assert.equal(usage, null);
      return rest;
    };
    assert.deepEqual(proxied.map(withoutNullUsage), direct);
    const withUsage = await collect(`${proxy.origin}/v1`, true);
    assert.deepEqual(withUsage, await collect(`${upstream.origin}/v1`, true));
    const last = withUsage.at(-1) as { choices: unknown[]; usage: { total_tokens: number } };
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage.total_tokens, 12);
  });
});
