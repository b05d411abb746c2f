// The real LiteLLM price file (tests/fixtures/prices/, MIT, see its README) loads and prices as
// SPEC §9 says. Expected prices are copied from the JSON into this file as literals, so a test
// never checks the parser against itself.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { costOf } from '../../src/pricing/cost.ts';
import type { PricedCounts } from '../../src/pricing/cost.ts';
import { findPrice } from '../../src/pricing/price-match.ts';
import { parsePriceTable } from '../../src/pricing/price-table.ts';
import type { ModelPrice, PriceTable } from '../../src/pricing/price-table.ts';
import { prng } from '../helpers/prng.ts';
import { MORE_TOKENS_OF, NO_TOKENS, randomCounts, randomIncrement } from './random-records.ts';

const TEXT = readFileSync(new URL('../fixtures/prices/litellm-model-prices-2025-09.json', import.meta.url), 'utf8');

// LiteLLM's published file opens with this documentation entry (this copy has none): token
// prices of 0 and strings where numbers go elsewhere. It must change nothing.
const SAMPLE_SPEC = `"sample_spec": {
    "code_interpreter_cost_per_session": 0.0,
    "input_cost_per_token": 0.0,
    "output_cost_per_token": 0.0,
    "output_cost_per_reasoning_token": 0.0,
    "litellm_provider": "one of https://docs.litellm.ai/docs/providers",
    "max_input_tokens": "max input tokens, if the provider specifies it. if not default to max_tokens",
    "max_output_tokens": "max output tokens, if the provider specifies it. if not default to max_tokens",
    "max_tokens": "LEGACY parameter. set to max_output_tokens if provider specifies it. IF not set to max_input_tokens, if provider specifies it.",
    "mode": "one of: chat, embedding, completion, image_generation, audio_transcription, audio_speech, image_generation, moderation, rerank, search",
    "supported_regions": ["global", "us-west-2"],
    "supports_function_calling": true
},`;

function load(text: string): { table: PriceTable; entries: number; skipped: number } {
  const result = parsePriceTable(text);
  assert.ok(result.ok, result.ok ? '' : result.problem);
  return result;
}

const { table } = load(TEXT);
const counts = (some: Partial<PricedCounts>): PricedCounts => ({ ...NO_TOKENS, ...some });

function priceOf(response: string | null, request: string | null = null): { name: string; price: ModelPrice } {
  const hit = findPrice(table, response, request);
  assert.ok(hit !== null, `${response} / ${request} should be priced`);
  return hit;
}

function assertCost(actual: number, expected: number): void {
  assert.ok(Math.abs(actual - expected) <= 1e-15 * Math.abs(expected), `expected ${expected}, got ${actual}`);
}

describe('the real LiteLLM price file (2025-09)', () => {
  test('parses: 1,701 entries, none skipped, 1,461 with token prices', () => {
    const result = load(TEXT);
    assert.deepEqual([result.entries, result.skipped, result.table.size], [1701, 0, 1461]);
  });

  test('with LiteLLM\'s sample_spec entry added at the top, the same table', () => {
    const withSpec = load(TEXT.replace(/^\{\s*/, `{\n    ${SAMPLE_SPEC}\n    `));
    assert.deepEqual([withSpec.entries, withSpec.skipped, withSpec.table.size], [1701, 0, 1461]);
    assert.equal(withSpec.table.get('sample_spec'), undefined);
  });

  test('image, transcription and speech models, priced per pixel, second or character, price nothing', () => {
    for (const name of ['256-x-256/dall-e-2', 'hd/1024-x-1792/dall-e-3', 'gpt-image-1', 'whisper-1', 'tts-1', 'azure/standard/1024-x-1024/dall-e-3']) {
      assert.equal(table.get(name), undefined, name);
      assert.equal(findPrice(table, name, null), null, name);
    }
  });

  test('gpt-4o and its spellings find the same prices', () => {
    const expected = { input_cost_per_token: 2.5e-6, output_cost_per_token: 1e-5, cache_read_input_token_cost: 1.25e-6 };
    for (const name of ['gpt-4o', 'GPT-4o', 'openai/gpt-4o', 'gpt-4o-2024-08-06', 'azure/gpt-4o']) {
      assert.deepEqual({ ...priceOf(name).price }, expected, name);
    }
    assert.equal(priceOf('gpt-4o-2024-08-06').name, 'gpt-4o-2024-08-06'); // its own entry, not the stripped name
  });

  test('a gpt-4o chat response with cached tokens costs what the hand says', () => {
    const cost = costOf(priceOf('gpt-4o-2024-08-06').price, counts({ prompt_tokens: 1000, cached_tokens: 200, completion_tokens: 150 }));
    assertCost(cost, (1000 - 200) * 2.5e-6 + 200 * 1.25e-6 + 150 * 1e-5);
  });

  test('claude-3-5-sonnet-20241022 prices its cache reads and writes', () => {
    const { name, price } = priceOf('claude-3-5-sonnet-20241022');
    assert.equal(name, 'claude-3-5-sonnet-20241022');
    const cost = costOf(price, counts({ prompt_tokens: 10 + 4000 + 500, cached_tokens: 4000, cache_creation_tokens: 500, completion_tokens: 300 }));
    assertCost(cost, (4510 - 4000 - 500) * 3e-6 + 4000 * 3e-7 + 500 * 3.75e-6 + 300 * 1.5e-5);
  });

  test('openrouter/… names: their own entry where there is one, else a shorter name', () => {
    assert.deepEqual({ ...priceOf('openrouter/openai/gpt-4o').price }, { input_cost_per_token: 2.5e-6, output_cost_per_token: 1e-5 });
    assert.equal(priceOf('openrouter/anthropic/claude-3.5-sonnet').name, 'openrouter/anthropic/claude-3.5-sonnet');
    const mini = priceOf('openrouter/openai/gpt-4o-mini'); // no such key in this file
    assert.equal(mini.name, 'openai/gpt-4o-mini');
    assert.equal(mini.price.input_cost_per_token, 1.5e-7);
  });

  test('gemini names, with and without gemini/, and thoughts at the reasoning price', () => {
    assert.deepEqual(priceOf('gemini/gemini-2.5-flash').price, priceOf('gemini-2.5-flash').price);
    const cost = costOf(priceOf('gemini-2.5-flash-preview-04-17').price, counts({ prompt_tokens: 800, completion_tokens: 100 + 900, reasoning_tokens: 900 }));
    assertCost(cost, 800 * 1.5e-7 + ((1000 - 900) * 6e-7 + 900 * 3.5e-6));
  });

  test('gemini-2.5-pro over 200,000 prompt tokens uses its long-context prices, cache reads their base one', () => {
    const { price } = priceOf('gemini-2.5-pro');
    assertCost(costOf(price, counts({ prompt_tokens: 200_000, completion_tokens: 1000 })), 200_000 * 1.25e-6 + 1000 * 1e-5);
    assertCost(
      costOf(price, counts({ prompt_tokens: 250_000, cached_tokens: 100_000, completion_tokens: 1000 })),
      (250_000 - 100_000) * 2.5e-6 + 100_000 * 3.125e-7 + 1000 * 1.5e-5,
    );
  });

  test('dated and versioned names: stripped only as SPEC §9 says', () => {
    assert.equal(priceOf('gpt-4-0613').name, 'gpt-4-0613');
    assert.equal(priceOf('claude-3-7-sonnet-latest').name, 'claude-3-7-sonnet-latest');
    assert.equal(priceOf('vertex_ai/claude-3-5-sonnet-v2@20241022').name, 'vertex_ai/claude-3-5-sonnet-v2@20241022');
    assert.equal(priceOf('claude-opus-4-1@20250805').name, 'claude-opus-4-1');
    assert.equal(priceOf('gpt-4o-mini-2099-01-01').name, 'gpt-4o-mini');
    // Vertex answers with the bare dated name; no key of this file is reached by SPEC §9's rules.
    assert.equal(findPrice(table, 'claude-3-5-sonnet-v2@20241022', null), null);
    assert.equal(findPrice(table, 'claude-3-7-sonnet-20990101', null), null);
  });

  test('an unknown response model falls back to the request\'s model', () => {
    assert.equal(priceOf('my-company/finetune-7', 'gpt-4o-mini').name, 'gpt-4o-mini');
  });

  test('audio, embeddings and a free local model', () => {
    const audio = costOf(priceOf('gpt-4o-audio-preview').price, counts({ prompt_tokens: 1000, audio_prompt_tokens: 600, completion_tokens: 800, audio_completion_tokens: 700 }));
    assertCost(audio, (1000 - 600) * 2.5e-6 + 600 * 1e-4 + ((800 - 700) * 1e-5 + 700 * 2e-4));
    assertCost(costOf(priceOf('text-embedding-3-small').price, counts({ prompt_tokens: 8000 })), 8000 * 2e-8);
    assertCost(costOf(priceOf('mistral/mistral-embed').price, counts({ prompt_tokens: 8000 })), 8000 * 1e-7);
    assert.ok(Object.is(costOf(priceOf('ollama/llama3').price, counts({ prompt_tokens: 26, completion_tokens: 300 })), 0));
    assert.equal(findPrice(table, 'llama3', null), null); // Ollama's own name is not ollama/llama3
  });

  test('no long-context price is below the price it replaces (what monotone cost relies on)', () => {
    const pairs = [
      ['input_cost_per_token_above_200k_tokens', 'input_cost_per_token'],
      ['output_cost_per_token_above_200k_tokens', 'output_cost_per_token'],
      ['cache_read_input_token_cost_above_200k_tokens', 'cache_read_input_token_cost'],
      ['cache_creation_input_token_cost_above_200k_tokens', 'cache_creation_input_token_cost'],
    ] as const;
    const file = JSON.parse(TEXT) as Record<string, Record<string, unknown>>;
    let checked = 0;
    for (const name of Object.keys(file)) {
      const price = table.get(name);
      if (price === undefined) continue;
      for (const [above, base] of pairs) {
        const tier = price[above];
        if (tier === undefined) continue;
        checked++;
        const replaced = price[base] ?? (base.startsWith('cache') ? price.input_cost_per_token : 0);
        assert.ok(tier >= replaced, `${name}: ${above} ${tier} < ${replaced}`);
      }
    }
    assert.equal(checked, 30);
  });

  test('every entry: random records cost a finite non-negative amount, and more tokens never cost less (seeded)', () => {
    const random = prng(20250905);
    const kinds = Object.values(MORE_TOKENS_OF);
    const file = JSON.parse(TEXT) as Record<string, unknown>;
    for (const name of Object.keys(file)) {
      const price = table.get(name);
      if (price === undefined) continue;
      for (let i = 0; i < 7; i++) {
        const before = randomCounts(random);
        const cost = costOf(price, before);
        assert.ok(Number.isFinite(cost) && cost >= 0, `${name}: ${cost}`);
        const after = (kinds[i] as (typeof kinds)[number])(before, randomIncrement(random));
        assert.ok(costOf(price, after) >= cost, `${name}: ${JSON.stringify({ before, after })}`);
      }
    }
  });
});
