import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { costOf, formatCost } from '../../src/pricing/cost.ts';
import type { PricedCounts } from '../../src/pricing/cost.ts';
import type { ModelPrice } from '../../src/pricing/price-table.ts';

// Prices copied from tests/fixtures/prices/litellm-model-prices-2025-09.json, USD per token.
const O1: ModelPrice = { input_cost_per_token: 1.5e-5, output_cost_per_token: 6e-5, cache_read_input_token_cost: 7.5e-6 };
const GPT_4O: ModelPrice = { input_cost_per_token: 2.5e-6, output_cost_per_token: 1e-5, cache_read_input_token_cost: 1.25e-6 };
const O3: ModelPrice = { input_cost_per_token: 2e-6, output_cost_per_token: 8e-6, cache_read_input_token_cost: 5e-7 };
const CLAUDE_3_5_SONNET: ModelPrice = {
  input_cost_per_token: 3e-6,
  output_cost_per_token: 1.5e-5,
  cache_read_input_token_cost: 3e-7,
  cache_creation_input_token_cost: 3.75e-6,
};
const GEMINI_2_5_FLASH_PREVIEW_04_17: ModelPrice = {
  input_cost_per_token: 1.5e-7,
  output_cost_per_token: 6e-7,
  output_cost_per_reasoning_token: 3.5e-6,
  cache_read_input_token_cost: 3.75e-8,
  input_cost_per_audio_token: 1e-6,
};
const OLLAMA_LLAMA3: ModelPrice = { input_cost_per_token: 0, output_cost_per_token: 0 };
const TEXT_EMBEDDING_3_SMALL: ModelPrice = { input_cost_per_token: 2e-8, output_cost_per_token: 0 };
const MISTRAL_EMBED: ModelPrice = { input_cost_per_token: 1e-7 }; // no output_cost_per_token in the file
const GPT_4O_AUDIO_PREVIEW: ModelPrice = {
  input_cost_per_token: 2.5e-6,
  output_cost_per_token: 1e-5,
  input_cost_per_audio_token: 1e-4,
  output_cost_per_audio_token: 2e-4,
};
const GPT_4O_REALTIME_PREVIEW: ModelPrice = {
  input_cost_per_token: 5e-6,
  output_cost_per_token: 2e-5,
  cache_read_input_token_cost: 2.5e-6,
  input_cost_per_audio_token: 4e-5,
  output_cost_per_audio_token: 8e-5,
};
const GEMINI_2_5_PRO: ModelPrice = {
  input_cost_per_token: 1.25e-6,
  output_cost_per_token: 1e-5,
  cache_read_input_token_cost: 3.125e-7,
  input_cost_per_token_above_200k_tokens: 2.5e-6,
  output_cost_per_token_above_200k_tokens: 1.5e-5,
};
const CLAUDE_4_SONNET: ModelPrice = {
  input_cost_per_token: 3e-6,
  output_cost_per_token: 1.5e-5,
  cache_read_input_token_cost: 3e-7,
  cache_creation_input_token_cost: 3.75e-6,
  input_cost_per_token_above_200k_tokens: 6e-6,
  output_cost_per_token_above_200k_tokens: 2.25e-5,
  cache_read_input_token_cost_above_200k_tokens: 6e-7,
  cache_creation_input_token_cost_above_200k_tokens: 7.5e-6,
};

const ZERO: PricedCounts = {
  prompt_tokens: 0,
  completion_tokens: 0,
  cached_tokens: 0,
  cache_creation_tokens: 0,
  reasoning_tokens: 0,
  audio_prompt_tokens: 0,
  audio_completion_tokens: 0,
};
const counts = (some: Partial<PricedCounts>): PricedCounts => ({ ...ZERO, ...some });

/** Equal within 1e-15 relative; an expected 0 must be exactly +0. */
function assertCost(actual: number, expected: number): void {
  if (expected === 0) assert.ok(Object.is(actual, 0), `expected +0, got ${actual}`);
  else assert.ok(Math.abs(actual - expected) <= 1e-15 * Math.abs(expected), `expected ${expected}, got ${actual}`);
}

describe('costOf: SPEC §9 formula on each usage shape of SPEC §4 (hand-computed)', () => {
  test('OpenAI chat with cached and reasoning tokens (o1: no reasoning price, so output\'s)', () => {
    // usage: prompt_tokens 1200 (cached_tokens 1024), completion_tokens 900 (reasoning_tokens 640)
    const cost = costOf(O1, counts({ prompt_tokens: 1200, cached_tokens: 1024, completion_tokens: 900, reasoning_tokens: 640 }));
    assertCost(cost, (1200 - 1024) * 1.5e-5 + 1024 * 7.5e-6 + ((900 - 640) * 6e-5 + 640 * 6e-5));
  });

  test('OpenAI Responses: input_tokens with cached, output_tokens with reasoning', () => {
    const gpt4o = costOf(GPT_4O, counts({ prompt_tokens: 5000, cached_tokens: 4096, completion_tokens: 320 }));
    assertCost(gpt4o, (5000 - 4096) * 2.5e-6 + 4096 * 1.25e-6 + 320 * 1e-5);
    const o3 = costOf(O3, counts({ prompt_tokens: 3000, cached_tokens: 1000, completion_tokens: 2500, reasoning_tokens: 2000 }));
    assertCost(o3, (3000 - 1000) * 2e-6 + 1000 * 5e-7 + ((2500 - 2000) * 8e-6 + 2000 * 8e-6));
  });

  test('Anthropic with cache reads and cache creation (prompt = input + reads + writes, SPEC §4)', () => {
    // usage: input_tokens 50, cache_read_input_tokens 3000, cache_creation_input_tokens 1200, output_tokens 400
    const cost = costOf(CLAUDE_3_5_SONNET, counts({ prompt_tokens: 50 + 3000 + 1200, cached_tokens: 3000, cache_creation_tokens: 1200, completion_tokens: 400 }));
    assertCost(cost, (4250 - 3000 - 1200) * 3e-6 + 3000 * 3e-7 + 1200 * 3.75e-6 + 400 * 1.5e-5);
  });

  test('Gemini with thoughts (completion = candidates + thoughts, SPEC §4) priced at its own reasoning price', () => {
    // usageMetadata: promptTokenCount 8000, cachedContentTokenCount 6000, candidatesTokenCount 150, thoughtsTokenCount 1200
    const cost = costOf(GEMINI_2_5_FLASH_PREVIEW_04_17, counts({ prompt_tokens: 8000, cached_tokens: 6000, completion_tokens: 150 + 1200, reasoning_tokens: 1200 }));
    assertCost(cost, (8000 - 6000) * 1.5e-7 + 6000 * 3.75e-8 + ((1350 - 1200) * 6e-7 + 1200 * 3.5e-6));
  });

  test('Ollama native (prompt_eval_count, eval_count): a free local model costs exactly 0', () => {
    assertCost(costOf(OLLAMA_LLAMA3, counts({ prompt_tokens: 26, completion_tokens: 300 })), 0);
    const priced: ModelPrice = { input_cost_per_token: 1e-7, output_cost_per_token: 3e-7 };
    assertCost(costOf(priced, counts({ prompt_tokens: 26, completion_tokens: 300 })), 26 * 1e-7 + 300 * 3e-7);
  });

  test('embeddings with 0 completion tokens, with or without an output price in the entry', () => {
    assertCost(costOf(TEXT_EMBEDDING_3_SMALL, counts({ prompt_tokens: 8000 })), 8000 * 2e-8);
    assertCost(costOf(MISTRAL_EMBED, counts({ prompt_tokens: 8000 })), 8000 * 1e-7);
  });

  test('audio in and out (SPEC §8: audio tokens are among prompt and completion tokens)', () => {
    // prompt_tokens 1000 (prompt_tokens_details.audio_tokens 600), completion_tokens 800 (audio_tokens 700)
    const cost = costOf(GPT_4O_AUDIO_PREVIEW, counts({ prompt_tokens: 1000, audio_prompt_tokens: 600, completion_tokens: 800, audio_completion_tokens: 700 }));
    assertCost(cost, (1000 - 600) * 2.5e-6 + 600 * 1e-4 + ((800 - 700) * 1e-5 + 700 * 2e-4));
  });

  test('Realtime: cached text, audio in and audio out together', () => {
    const cost = costOf(GPT_4O_REALTIME_PREVIEW, counts({ prompt_tokens: 2000, cached_tokens: 1000, audio_prompt_tokens: 800, completion_tokens: 500, audio_completion_tokens: 450 }));
    assertCost(cost, (2000 - 1000 - 800) * 5e-6 + 1000 * 2.5e-6 + 800 * 4e-5 + ((500 - 450) * 2e-5 + 450 * 8e-5));
  });
});

describe('costOf: a price the entry lacks falls back (SPEC §9)', () => {
  const PLAIN: ModelPrice = { input_cost_per_token: 1e-6, output_cost_per_token: 2e-6 };

  test('cache reads, cache writes and audio input are priced as input tokens', () => {
    const cost = costOf(PLAIN, counts({ prompt_tokens: 1000, cached_tokens: 300, cache_creation_tokens: 200, audio_prompt_tokens: 100 }));
    assertCost(cost, (1000 - 300 - 200 - 100) * 1e-6 + 300 * 1e-6 + 200 * 1e-6 + 100 * 1e-6);
  });

  test('reasoning and audio output are priced as output tokens', () => {
    const cost = costOf(PLAIN, counts({ completion_tokens: 1000, reasoning_tokens: 600, audio_completion_tokens: 300 }));
    assertCost(cost, (1000 - 600 - 300) * 2e-6 + 600 * 2e-6 + 300 * 2e-6);
  });

  test('an entry without output_cost_per_token prices its output at 0 (it prices: it has input_cost_per_token)', () => {
    assertCost(costOf(MISTRAL_EMBED, counts({ prompt_tokens: 10, completion_tokens: 5, reasoning_tokens: 2 })), 10 * 1e-7);
    const reasoningOnly: ModelPrice = { input_cost_per_token: 1e-6, output_cost_per_reasoning_token: 4e-6 };
    assertCost(costOf(reasoningOnly, counts({ prompt_tokens: 10, completion_tokens: 5, reasoning_tokens: 2 })), 10 * 1e-6 + ((5 - 2) * 0 + 2 * 4e-6));
  });
});

describe('costOf: a count in parentheses that would be negative counts as 0 (SPEC §9)', () => {
  test('more cached than prompt tokens: no uncached input, the cached ones at the cache price', () => {
    assertCost(costOf(GPT_4O, counts({ prompt_tokens: 100, cached_tokens: 150 })), 0 * 2.5e-6 + 150 * 1.25e-6);
  });

  test('cache reads, writes and audio that add up to more than the prompt', () => {
    const cost = costOf(CLAUDE_3_5_SONNET, counts({ prompt_tokens: 100, cached_tokens: 80, cache_creation_tokens: 80 }));
    assertCost(cost, 0 * 3e-6 + 80 * 3e-7 + 80 * 3.75e-6);
  });

  test('more reasoning or audio than completion tokens', () => {
    assertCost(costOf(GEMINI_2_5_FLASH_PREVIEW_04_17, counts({ completion_tokens: 10, reasoning_tokens: 50 })), 0 * 6e-7 + 50 * 3.5e-6);
    assertCost(costOf(GPT_4O_AUDIO_PREVIEW, counts({ completion_tokens: 10, reasoning_tokens: 5, audio_completion_tokens: 8 })), 0 * 1e-5 + 5 * 1e-5 + 8 * 2e-4);
  });

  test('a count that is not a finite non-negative number counts as 0', () => {
    for (const bad of [-5, NaN, Infinity, -Infinity, -0]) {
      assertCost(costOf(GPT_4O, counts({ prompt_tokens: 100, cached_tokens: bad, completion_tokens: bad })), 100 * 2.5e-6);
      assertCost(costOf(GPT_4O, counts({ prompt_tokens: bad, completion_tokens: 10 })), 10 * 1e-5);
    }
  });
});

describe('costOf: long context (SPEC §9: over 200,000 prompt tokens, the whole response)', () => {
  test('exactly 200,000 prompt tokens is not over: base prices', () => {
    const cost = costOf(GEMINI_2_5_PRO, counts({ prompt_tokens: 200_000, cached_tokens: 50_000, completion_tokens: 1000 }));
    assertCost(cost, (200_000 - 50_000) * 1.25e-6 + 50_000 * 3.125e-7 + 1000 * 1e-5);
  });

  test('200,001 is over: every above-200k price replaces its base one, output included; a price without a twin stays', () => {
    const cost = costOf(GEMINI_2_5_PRO, counts({ prompt_tokens: 200_001, cached_tokens: 50_000, completion_tokens: 1000 }));
    assertCost(cost, (200_001 - 50_000) * 2.5e-6 + 50_000 * 3.125e-7 + 1000 * 1.5e-5);
  });

  test('all four above-200k prices of an Anthropic entry apply together', () => {
    const cost = costOf(CLAUDE_4_SONNET, counts({ prompt_tokens: 250_000, cached_tokens: 200_000, cache_creation_tokens: 40_000, completion_tokens: 2000 }));
    assertCost(cost, (250_000 - 200_000 - 40_000) * 6e-6 + 200_000 * 6e-7 + 40_000 * 7.5e-6 + 2000 * 2.25e-5);
  });

  test('the threshold is judged on all prompt tokens, cached ones included', () => {
    const cost = costOf(CLAUDE_4_SONNET, counts({ prompt_tokens: 210_000, cached_tokens: 150_000 }));
    assertCost(cost, (210_000 - 150_000) * 6e-6 + 150_000 * 6e-7);
  });

  test('an entry without above-200k prices keeps its base prices over 200,000', () => {
    assertCost(costOf(GPT_4O, counts({ prompt_tokens: 300_000, completion_tokens: 10 })), 300_000 * 2.5e-6 + 10 * 1e-5);
  });

  test('an entry with only some above-200k prices: the others keep their base price', () => {
    const outputOnly: ModelPrice = { input_cost_per_token: 1e-6, output_cost_per_token: 2e-6, output_cost_per_token_above_200k_tokens: 3e-6 };
    assertCost(costOf(outputOnly, counts({ prompt_tokens: 300_000, completion_tokens: 10 })), 300_000 * 1e-6 + 10 * 3e-6);
  });

  test('fallbacks over 200,000 fall back to the long-context input and output prices', () => {
    const sparse: ModelPrice = {
      input_cost_per_token: 1e-6,
      output_cost_per_token: 2e-6,
      input_cost_per_token_above_200k_tokens: 2e-6,
      output_cost_per_token_above_200k_tokens: 4e-6,
    };
    const cost = costOf(sparse, counts({ prompt_tokens: 300_000, cached_tokens: 100_000, audio_prompt_tokens: 1000, completion_tokens: 100, reasoning_tokens: 60 }));
    assertCost(cost, (300_000 - 100_000 - 1000) * 2e-6 + 100_000 * 2e-6 + 1000 * 2e-6 + ((100 - 60) * 4e-6 + 60 * 4e-6));
  });

  test('an entry\'s own audio price is not replaced over 200,000 (there is no above-200k audio price)', () => {
    const preview: ModelPrice = { ...GEMINI_2_5_PRO, input_cost_per_audio_token: 1.25e-6 };
    const cost = costOf(preview, counts({ prompt_tokens: 300_000, audio_prompt_tokens: 100_000 }));
    assertCost(cost, (300_000 - 100_000) * 2.5e-6 + 100_000 * 1.25e-6);
  });
});

describe('costOf: the number itself', () => {
  test('no usage costs +0, never -0', () => {
    assert.ok(Object.is(costOf(GPT_4O, ZERO), 0));
    assert.ok(Object.is(costOf({ input_cost_per_token: -0, output_cost_per_token: -0 }, counts({ prompt_tokens: 5, completion_tokens: 5 })), 0));
  });

  test('the same record always costs the same bits (the terms are summed in a fixed order)', () => {
    const record = counts({ prompt_tokens: 123_457, cached_tokens: 99_999, completion_tokens: 7777, reasoning_tokens: 3333 });
    assert.ok(Object.is(costOf(O1, record), costOf(O1, { ...record })));
  });

  test('a product beyond the double range saturates at Number.MAX_VALUE rather than Infinity', () => {
    const absurd: ModelPrice = { input_cost_per_token: 1e300, output_cost_per_token: 1e300 };
    assert.equal(costOf(absurd, counts({ prompt_tokens: Number.MAX_SAFE_INTEGER, completion_tokens: Number.MAX_SAFE_INTEGER })), Number.MAX_VALUE);
  });
});

describe('formatCost: the [USAGE] line\'s cost= (SPEC §9: plain decimal, at most 10 places, no exponent)', () => {
  test('writes ordinary costs as their shortest decimal', () => {
    assert.equal(formatCost(0.0001234), '0.0001234');
    assert.equal(formatCost(12.5), '12.5');
    assert.equal(formatCost(3), '3');
    assert.equal(formatCost(0), '0');
    assert.equal(formatCost(1234567.1), '1234567.1');
    assert.equal(formatCost(123456789.12345679), '123456789.12345679');
  });

  test('writes small costs without an exponent, where String() would use one', () => {
    assert.equal(formatCost(1e-7), '0.0000001');
    assert.equal(formatCost(0.00000123), '0.00000123');
    assert.equal(formatCost(1e-10), '0.0000000001');
  });

  test('rounds to 10 places: 1e-12 is "0", and binary noise is not printed', () => {
    assert.equal(formatCost(1e-12), '0');
    assert.equal(formatCost(4.9e-11), '0');
    assert.equal(formatCost(0.1 + 0.2), '0.3');
    assert.equal(formatCost(0.0000123456789012345), '0.0000123457');
    assert.equal(formatCost(0.99999999999), '1');
    assert.equal(formatCost(9.99999999995e-7), '0.000001');
  });

  test('writes huge costs as plain digits: 1e21 and above, where String() uses an exponent', () => {
    assert.equal(formatCost(1e21), '1000000000000000000000');
    assert.equal(formatCost(1.5e21), '1500000000000000000000');
    assert.equal(formatCost(1e20), '100000000000000000000');
    assert.equal(formatCost(2 ** 53), '9007199254740992');
    const max = formatCost(Number.MAX_VALUE);
    assert.match(max, /^179769313486231570{292}$/);
    assert.equal(Number(max), Number.MAX_VALUE);
  });

  test('never writes -0, NaN or Infinity; a negative cost keeps its sign', () => {
    assert.equal(formatCost(-0), '0');
    assert.equal(formatCost(-1e-12), '0');
    assert.equal(formatCost(-0.5), '-0.5');
    assert.equal(formatCost(NaN), '0');
    assert.equal(formatCost(Infinity), '0');
    assert.equal(formatCost(-Infinity), '0');
  });

  test('every output is a plain decimal that reads back within half a unit of the 10th place', () => {
    const samples = [1e-11, 5e-11, 3.3e-9, 7.77e-6, 0.012345678901234, 1 / 3, 2 / 3, 42.0000000001, 1e15 + 0.5, 1e22, 6.02e23];
    for (const usd of samples) {
      const text = formatCost(usd);
      assert.match(text, /^(0|[1-9]\d*)(\.\d{0,9}[1-9])?$/, `${usd} → ${text}`);
      assert.ok(Math.abs(Number(text) - usd) <= Math.max(5e-11, Math.abs(usd) * Number.EPSILON), `${usd} → ${text}`);
    }
  });
});
