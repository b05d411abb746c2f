// `npm run demo`: the offline tour of SPEC §1. Starts the fake upstream and the proxy from source
// on loopback with a small price table (scripts/demo-prices.json) and a deployment tag, sends a chat,
// a streaming chat (without stream_options) and an embeddings request, and narrates what went out,
// what came back and the proxy's [USAGE] lines — token counts and what they cost.
// Needs no network beyond 127.0.0.1 and no API key; exits non-zero naming the step that failed.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { costOf, formatCost } from '../src/pricing/cost.ts';
import { parsePriceTable, type PriceTable } from '../src/pricing/price-table.ts';
import { ROOT } from './build.ts';
import { expectedChatUsage, expectedEmbeddingsUsage, FAKE_EMBEDDING_MODEL, FAKE_MODEL, startFakeUpstream } from './fake-upstream.ts';
import type { FakeUpstream, ReceivedRequest, Usage } from './fake-upstream.ts';
import { cleanEnv, freePort, parseUsageLine, postJson, sseData, startProxy, type ProxyProcess } from './proxy-harness.ts';

const DEMO_TIMEOUT_MS = 60_000;
const PRICES_FILE = join('scripts', 'demo-prices.json');
const STEP_TIMEOUT_MS = 10_000;

let step = 'starting';
let upstream: FakeUpstream | undefined;
let proxy: ProxyProcess | undefined;

function say(text = ''): void {
  console.log(text);
}

/** What the proxy should charge for `usage` of `model`, by SPEC §9's formula on the demo's table. */
function expectedCost(model: string, usage: Usage): string {
  const table = parsePriceTable(readFileSync(join(ROOT, PRICES_FILE), 'utf8'));
  const price = table.ok ? (table.table as PriceTable).get(model) : undefined;
  if (price === undefined) throw new Error(`${PRICES_FILE} has no price for ${model}`);
  const counts = { cached_tokens: 0, cache_creation_tokens: 0, reasoning_tokens: 0, audio_prompt_tokens: 0, audio_completion_tokens: 0, ...usage };
  return formatCost(costOf(price, counts));
}

function usageText(u: Usage): string {
  return `prompt=${u.prompt_tokens} completion=${u.completion_tokens} total=${u.total_tokens}`;
}

/** Sends one request, then waits for the proxy's [USAGE] line and checks its numbers. */
async function exchange(
  title: string,
  path: string,
  body: Record<string, unknown> & { model: string },
  expected: Usage,
  describeResponse: (text: string, sentUpstream: ReceivedRequest | undefined) => string[],
): Promise<void> {
  if (proxy === undefined || upstream === undefined) throw new Error('the proxy is not running');
  step = title;
  const url = `http://${proxy.listening.replace(/^(0\.0\.0\.0|\[?::\]?)(?=:)/, '127.0.0.1')}${path}`;
  say(`\n== ${title}`);
  say(`  -> POST ${path}`);
  say(`     ${JSON.stringify(body)}`);
  const mark = proxy.lines.length;
  const response = await postJson(url, body, STEP_TIMEOUT_MS);
  say(`  <- ${response.status} ${response.contentType}`);
  if (response.status !== 200) throw new Error(`expected status 200, got ${response.status}: ${response.text.slice(0, 300)}`);
  for (const line of describeResponse(response.text, upstream.received.at(-1))) say(`     ${line}`);
  const usageLine = await proxy.waitForLine(/^\[USAGE\] /, STEP_TIMEOUT_MS, mark);
  say(`  proxy printed: ${usageLine}`);
  const seen = parseUsageLine(usageLine);
  const matches =
    seen !== null &&
    seen.prompt_tokens === expected.prompt_tokens &&
    seen.completion_tokens === expected.completion_tokens &&
    seen.total_tokens === expected.total_tokens;
  if (!matches) throw new Error(`the [USAGE] line should say ${usageText(expected)}`);
  say(`  (the fake upstream counts one token per word: ${usageText(expected)}, as recorded)`);
  const cost = expectedCost(body.model, expected);
  if (!usageLine.includes(` cost=${cost} `)) throw new Error(`the [USAGE] line should say cost=${cost}`);
  say(`  (priced from ${PRICES_FILE}: ${expected.prompt_tokens} prompt and ${expected.completion_tokens} completion tokens of ${body.model} cost $${cost})`);
}

function describeChat(text: string): string[] {
  const json = JSON.parse(text) as { choices?: Array<{ message?: { content?: string } }>; usage?: Usage };
  return [
    `reply: ${JSON.stringify(json.choices?.[0]?.message?.content ?? null)}`,
    `usage in the body: ${json.usage === undefined ? 'none' : usageText(json.usage)}`,
  ];
}

function describeStream(text: string, sentUpstream: ReceivedRequest | undefined): string[] {
  const events = sseData(text);
  let reply = '';
  let usageOnlyChunks = 0;
  for (const event of events) {
    if (typeof event !== 'object' || event === null) continue;
    const chunk = event as { choices?: Array<{ delta?: { content?: string } }>; usage?: unknown };
    for (const choice of chunk.choices ?? []) reply += choice.delta?.content ?? '';
    if (chunk.choices?.length === 0 && typeof chunk.usage === 'object' && chunk.usage !== null) usageOnlyChunks += 1;
  }
  const sent = sentUpstream?.body as { stream_options?: { include_usage?: unknown } } | undefined;
  const asked = sent?.stream_options?.include_usage === true;
  return [
    `${events.length} SSE events, ending with ${JSON.stringify(events.at(-1) ?? null)}`,
    `reply assembled from the deltas: ${JSON.stringify(reply)}`,
    asked
      ? `upstream received ${JSON.stringify({ stream_options: sent?.stream_options })}: the proxy asked for usage on the client's behalf`
      : 'upstream received the body unchanged: nobody asked it for usage',
    `usage-only chunks the client saw: ${usageOnlyChunks}${asked && usageOnlyChunks === 0 ? ' (the proxy kept the one it asked for to itself)' : ''}`,
  ];
}

function describeEmbeddings(text: string): string[] {
  const json = JSON.parse(text) as { data?: Array<{ embedding?: number[] }>; usage?: Partial<Usage> };
  return [
    `${json.data?.length ?? 0} embeddings of ${json.data?.[0]?.embedding?.length ?? 0} numbers`,
    `usage in the body: ${JSON.stringify(json.usage ?? null)} (embeddings have no completion tokens)`,
  ];
}

async function main(): Promise<void> {
  say('lm-proxy demo: a fake upstream and the proxy, both on 127.0.0.1. No network, no API key.');
  step = 'starting the fake upstream';
  upstream = await startFakeUpstream();
  say(`\nFake OpenAI-like upstream: ${upstream.url}`);

  step = 'starting the proxy';
  const listen = `127.0.0.1:${await freePort()}`;
  const args = ['--import', 'tsx', join('src', 'cli', 'main.ts'), '--upstream', upstream.url, '--listen', listen, '--prices', PRICES_FILE, '--tags', 'env=demo'];
  say(`Proxy: node ${args.join(' ')}`);
  proxy = await startProxy(process.execPath, args, { cwd: ROOT, env: cleanEnv(), timeoutMs: STEP_TIMEOUT_MS });
  for (const line of proxy.lines) say(`  proxy printed: ${line}`);

  const chat = {
    model: FAKE_MODEL,
    messages: [
      { role: 'system', content: 'You are a terse assistant.' },
      { role: 'user', content: 'How many tokens does this sentence cost?' },
    ],
  };
  await exchange('1. Chat completion', '/v1/chat/completions', chat, expectedChatUsage(chat), describeChat);

  const streaming = { model: FAKE_MODEL, stream: true, messages: [{ role: 'user', content: 'Stream me a short reply please' }] };
  await exchange('2. Streaming chat, no stream_options', '/v1/chat/completions', streaming, expectedChatUsage(streaming), describeStream);

  const embeddings = { model: FAKE_EMBEDDING_MODEL, input: ['the quick brown fox', 'jumps over the lazy dog'] };
  await exchange('3. Embeddings', '/v1/embeddings', embeddings, expectedEmbeddingsUsage(embeddings), describeEmbeddings);
}

async function shutdown(): Promise<void> {
  await proxy?.stop();
  await upstream?.close();
}

const deadline = setTimeout(() => {
  console.error(`\ndemo failed: timed out after ${DEMO_TIMEOUT_MS / 1000} s during "${step}"`);
  void shutdown().finally(() => process.exit(1));
}, DEMO_TIMEOUT_MS);

try {
  await main();
  await shutdown();
  say('\nDone: three requests, three [USAGE] lines. Proxy and fake upstream stopped.');
} catch (error) {
  console.error(`\ndemo failed during "${step}": ${error instanceof Error ? error.message : String(error)}`);
  await shutdown();
  process.exitCode = 1;
} finally {
  clearTimeout(deadline);
}
