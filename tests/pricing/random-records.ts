// Random usage records for the pricing property tests, and the seven kinds of "more tokens".
//
// A record's counts nest (SPEC §4, §8): cached, cache-creation and audio-prompt tokens are among
// the prompt tokens; reasoning and audio-completion tokens among the completion tokens. So one
// more cached token is one more prompt token AND one more cached token (P+1, K+1).

import type { PricedCounts } from '../../src/pricing/cost.ts';

export type Random = () => number;
type More = (counts: PricedCounts, n: number) => PricedCounts;

/** n more tokens of one kind, the rest of the record held. */
export const MORE_TOKENS_OF: Readonly<Record<string, More>> = {
  'text input': (c, n) => ({ ...c, prompt_tokens: c.prompt_tokens + n }),
  'cache read': (c, n) => ({ ...c, prompt_tokens: c.prompt_tokens + n, cached_tokens: c.cached_tokens + n }),
  'cache write': (c, n) => ({ ...c, prompt_tokens: c.prompt_tokens + n, cache_creation_tokens: c.cache_creation_tokens + n }),
  'audio input': (c, n) => ({ ...c, prompt_tokens: c.prompt_tokens + n, audio_prompt_tokens: c.audio_prompt_tokens + n }),
  'text output': (c, n) => ({ ...c, completion_tokens: c.completion_tokens + n }),
  reasoning: (c, n) => ({ ...c, completion_tokens: c.completion_tokens + n, reasoning_tokens: c.reasoning_tokens + n }),
  'audio output': (c, n) => ({ ...c, completion_tokens: c.completion_tokens + n, audio_completion_tokens: c.audio_completion_tokens + n }),
};

export const NO_TOKENS: PricedCounts = {
  prompt_tokens: 0,
  completion_tokens: 0,
  cached_tokens: 0,
  cache_creation_tokens: 0,
  reasoning_tokens: 0,
  audio_prompt_tokens: 0,
  audio_completion_tokens: 0,
};

/** A whole number from 0 to max. */
export const int = (random: Random, max: number): number => Math.floor(random() * (max + 1));

/** A random record: usually consistent, sometimes with parts larger than their whole; often near 200,000. */
export function randomCounts(random: Random): PricedCounts {
  const roll = random();
  const P = roll < 0.3 ? int(random, 5000) : roll < 0.6 ? 199_990 + int(random, 20) : int(random, 2_000_000);
  const C = int(random, random() < 0.5 ? 2000 : 200_000);
  const part = (whole: number): number => (random() < 0.1 ? int(random, whole * 2 + 10) : int(random, Math.floor(whole / 3)));
  return {
    prompt_tokens: P,
    completion_tokens: C,
    cached_tokens: part(P),
    cache_creation_tokens: part(P),
    audio_prompt_tokens: part(P),
    reasoning_tokens: part(C),
    audio_completion_tokens: part(C),
  };
}

/** How many tokens to add: often 1, sometimes enough to cross 200,000. */
export function randomIncrement(random: Random): number {
  const roll = random();
  return roll < 0.4 ? 1 : roll < 0.8 ? 1 + int(random, 100) : 1 + int(random, 300_000);
}
