// scripts/fake-upstream.ts: the OpenAI-like upstream the demo, the smoke test and e2e tests rely on.
// Its token counts must be predictable and its streams shaped like OpenAI's (usage chunk only on request).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  countWords,
  expectedChatUsage,
  expectedEmbeddingsUsage,
  startFakeUpstream,
  type FakeUpstream,
} from '../../scripts/fake-upstream.ts';
import { postJson, sseData } from '../../scripts/proxy-harness.ts';

let upstream: FakeUpstream;
before(async () => {
  upstream = await startFakeUpstream();
});
after(() => upstream.close());

const chat = { model: 'm', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'one two  three' }] };

describe('token counts', () => {
  test('count whitespace-separated words, so callers can predict them', () => {
    assert.equal(countWords('  one two\n three '), 3);
    assert.equal(countWords(''), 0);
    assert.deepEqual(expectedChatUsage(chat), { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 });
    assert.deepEqual(expectedEmbeddingsUsage({ input: ['a b', 'c'] }), { prompt_tokens: 3, completion_tokens: 0, total_tokens: 3 });
    assert.deepEqual(expectedEmbeddingsUsage({ input: [1, 2, 3, 4] }), { prompt_tokens: 4, completion_tokens: 0, total_tokens: 4 });
  });

  test('read text parts of array-shaped message content', () => {
    const body = { messages: [{ role: 'user', content: [{ type: 'text', text: 'a b' }, { type: 'image_url' }] }] };
    assert.equal(expectedChatUsage(body).prompt_tokens, 2);
  });
});

describe('the fake upstream', () => {
  test('listens on loopback and refuses any other host', async () => {
    assert.match(upstream.url, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    await assert.rejects(startFakeUpstream({ host: '0.0.0.0' }), /loopback only/);
  });

  test('answers a chat completion with the predicted usage', async () => {
    const response = await postJson(`${upstream.url}/chat/completions`, chat, 5_000);
    assert.equal(response.status, 200);
    const json = JSON.parse(response.text) as { usage: unknown; choices: Array<{ message: { content: string } }> };
    assert.deepEqual(json.usage, expectedChatUsage(chat));
    assert.equal(json.choices[0]?.message.content, 'You said: one two three');
  });

  test('streams without any usage unless stream_options.include_usage is true', async () => {
    const response = await postJson(`${upstream.url}/chat/completions`, { ...chat, stream: true }, 5_000);
    assert.equal(response.contentType, 'text/event-stream');
    const events = sseData(response.text);
    assert.equal(events.at(-1), '[DONE]');
    assert.ok(events.every((e) => typeof e !== 'object' || e === null || !('usage' in e)));
    const finals = events.filter((e) => JSON.stringify(e).includes('"finish_reason":"stop"'));
    assert.equal(finals.length, 1);
  });

  test('adds usage: null to every chunk and one usage-only chunk before [DONE] when asked', async () => {
    const body = { ...chat, stream: true, stream_options: { include_usage: true } };
    const response = await postJson(`${upstream.url}/chat/completions`, body, 5_000);
    const events = sseData(response.text) as Array<{ choices: unknown[]; usage: unknown } | string>;
    assert.equal(events.at(-1), '[DONE]');
    const usageChunk = events.at(-2);
    assert.ok(typeof usageChunk === 'object');
    assert.deepEqual(usageChunk.choices, []);
    assert.deepEqual(usageChunk.usage, expectedChatUsage(chat));
    for (const event of events.slice(0, -2)) assert.equal(typeof event === 'object' && event.usage, null);
    const text = events
      .slice(0, -2)
      .map((e) => (typeof e === 'object' ? ((e.choices[0] as { delta?: { content?: string } }).delta?.content ?? '') : ''))
      .join('');
    assert.equal(text, 'You said: one two three');
  });

  test('records what it received, so callers can see what the proxy sent upstream', async () => {
    const body = { ...chat, stream: true, stream_options: { include_usage: true } };
    await postJson(`${upstream.url}/chat/completions`, body, 5_000);
    assert.deepEqual(upstream.received.at(-1), { method: 'POST', path: '/v1/chat/completions', body });
  });

  test('answers embeddings with prompt and total tokens only', async () => {
    const body = { model: 'e', input: ['a b c', 'd'] };
    const response = await postJson(`${upstream.url}/embeddings`, body, 5_000);
    const json = JSON.parse(response.text) as { data: unknown[]; usage: Record<string, number> };
    assert.equal(json.data.length, 2);
    assert.deepEqual(json.usage, { prompt_tokens: 4, total_tokens: 4 });
  });

  test('answers an unknown route 404 and a non-JSON body 400, in the OpenAI error shape', async () => {
    const missing = await postJson(`${upstream.url}/nope`, {}, 5_000);
    assert.equal(missing.status, 404);
    assert.match(missing.text, /"error":\{"message":/);
    const bad = await fetch(`${upstream.url}/chat/completions`, { method: 'POST', body: '{not json' });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /not JSON/);
  });
});
