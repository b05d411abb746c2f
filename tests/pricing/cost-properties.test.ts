// Property tests of costOf with the seeded PRNG: a failing case names its seed and case.
//
// The monotonicity SPEC §9 means is "more tokens of any kind never cost less", the rest of the
// record's breakdown held. The counts nest (tests/pricing/random-records.ts), so raising K alone at
// a fixed P is not more tokens but a relabelling of uncached tokens as cached, which rightly costs
// less when cache reads are cheaper. The property adds n tokens of one of seven kinds (text input,
// cache read, cache write, audio input, text output, reasoning, audio output) and asserts the cost
// did not go down — exactly, as rounding to nearest is monotone and keeps the order.
//
// It holds for entries whose above-200k prices are not below the prices they replace: crossing
// 200,000 prompt tokens into a cheaper tier lowers the cost (a test below shows it), and no entry
// of the real file does that (tests/pricing/real-price-file.test.ts checks).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { costOf } from '../../src/pricing/cost.ts';
import type { PricedCounts } from '../../src/pricing/cost.ts';
import type { ModelPrice } from '../../src/pricing/price-table.ts';
import { prng } from '../helpers/prng.ts';
import { MORE_TOKENS_OF, NO_TOKENS, int, randomCounts, randomIncrement } from './random-records.ts';
import type { Random } from './random-records.ts';

/** USD per token from 1e-9 to 1e-3, log-uniform, sometimes 0. */
function amount(random: Random): number {
  return random() < 0.1 ? 0 : 10 ** (-9 + random() * 6);
}

/** A random entry; its above-200k prices, when it has them, are at least what they replace. */
function randomPrice(random: Random): ModelPrice {
  const maybe = (): number | undefined => (random() < 0.5 ? amount(random) : undefined);
  const input = amount(random);
  const output = maybe();
  const cacheRead = maybe();
  const cacheCreation = maybe();
  const long = random() < 0.5;
  const dearer = (replaced: number): number | undefined =>
    long && random() < 0.5 ? replaced * (1 + random()) + (random() < 0.5 ? 0 : amount(random)) : undefined;
  return {
    input_cost_per_token: input,
    output_cost_per_token: output,
    cache_read_input_token_cost: cacheRead,
    cache_creation_input_token_cost: cacheCreation,
    output_cost_per_reasoning_token: maybe(),
    input_cost_per_audio_token: maybe(),
    output_cost_per_audio_token: maybe(),
    // What each replaces below 200k is its base price, or that price's fallback.
    input_cost_per_token_above_200k_tokens: dearer(input),
    output_cost_per_token_above_200k_tokens: dearer(output ?? 0),
    cache_read_input_token_cost_above_200k_tokens: dearer(cacheRead ?? input),
    cache_creation_input_token_cost_above_200k_tokens: dearer(cacheCreation ?? input),
  };
}

describe('costOf: properties over random entries and records (seeded)', () => {
  test('is never negative, -0, NaN or Infinity, whatever the counts hold (2,000 cases)', () => {
    const random = prng(0x9e3779b9);
    const junk = [-1, -0, NaN, Infinity, -Infinity, 0.5, 1e300, Number.MAX_SAFE_INTEGER];
    for (let i = 0; i < 2000; i++) {
      const price = randomPrice(random);
      const record: Record<string, number> = { ...randomCounts(random) };
      for (const key of Object.keys(record)) if (random() < 0.2) record[key] = junk[int(random, junk.length - 1)] as number;
      const cost = costOf(price, record as unknown as PricedCounts);
      assert.ok(cost >= 0 && Number.isFinite(cost) && !Object.is(cost, -0), `case ${i}: ${cost}`);
    }
  });

  test('more tokens of any one kind, the rest held, never cost less (7 kinds × 1,000 cases)', () => {
    Object.entries(MORE_TOKENS_OF).forEach(([kind, more], k) => {
      const random = prng(1000 + k);
      for (let i = 0; i < 1000; i++) {
        const price = randomPrice(random);
        const before = randomCounts(random);
        const after = more(before, randomIncrement(random));
        const [was, now] = [costOf(price, before), costOf(price, after)];
        assert.ok(now >= was, `${kind} (seed ${1000 + k}), case ${i}: ${was} → ${now}\n${JSON.stringify({ price, before, after })}`);
      }
    });
  });

  test('the property has teeth: each kind of token, added, raises the cost of a priced entry', () => {
    const price: ModelPrice = {
      input_cost_per_token: 1e-6,
      output_cost_per_token: 2e-6,
      cache_read_input_token_cost: 1e-7,
      cache_creation_input_token_cost: 1.5e-6,
      output_cost_per_reasoning_token: 3e-6,
      input_cost_per_audio_token: 4e-6,
      output_cost_per_audio_token: 5e-6,
    };
    for (const [kind, more] of Object.entries(MORE_TOKENS_OF)) {
      assert.ok(costOf(price, more(NO_TOKENS, 10)) > 0, kind);
    }
  });

  test('relabelling uncached prompt tokens as cached (K up, P held) may cost less: it is not more tokens', () => {
    const price: ModelPrice = { input_cost_per_token: 2.5e-6, output_cost_per_token: 1e-5, cache_read_input_token_cost: 1.25e-6 };
    const uncached: PricedCounts = { ...NO_TOKENS, prompt_tokens: 1000 };
    assert.ok(costOf(price, { ...uncached, cached_tokens: 600 }) < costOf(price, uncached));
  });

  test('a cheaper above-200k price lowers the cost at 200,001: why the property needs dearer ones', () => {
    const odd: ModelPrice = { input_cost_per_token: 2e-6, input_cost_per_token_above_200k_tokens: 1e-6 };
    const at = (P: number): number => costOf(odd, { ...NO_TOKENS, prompt_tokens: P });
    assert.ok(at(200_001) < at(200_000));
  });
});
