// The cost of one usage record in US dollars, SPEC §9 "The formula", and how the `[USAGE]`
// line writes it. Pure arithmetic: which entry prices the record is price-match.ts's job, and
// an upstream-reported cost (OpenRouter's `usage.cost`) never comes through here.

import type { ModelPrice } from './price-table.ts';

/** The record's counts as SPEC §4 and §8 define them: cached, cache-creation and audio-prompt
 * tokens are among the prompt tokens; reasoning and audio-completion among the completion ones. */
export interface PricedCounts {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly cached_tokens: number;
  readonly cache_creation_tokens: number;
  readonly reasoning_tokens: number;
  readonly audio_prompt_tokens: number;
  readonly audio_completion_tokens: number;
}

// SPEC §9: "Where P is over 200,000" — 200,000 itself is not over.
const LONG_CONTEXT_ABOVE = 200_000;

interface EffectivePrices {
  readonly input: number;
  readonly output: number;
  readonly cacheRead: number;
  readonly cacheCreation: number;
  readonly reasoning: number;
  readonly audioInput: number;
  readonly audioOutput: number;
}

/**
 * The prices that apply to a response with `promptTokens` input tokens.
 *
 * Long context: where P is over 200,000 and the entry has any `_above_200k_tokens` price, each
 * such price replaces its base counterpart for the whole response (a cliff, as LiteLLM bills
 * it, not ccusage's marginal split); a base price without an above-200k twin stays as it is.
 * The fallbacks come after that replacement: a price the entry lacks falls back to the input
 * price (input side) or the output price (output side) that applies to this response.
 *
 * An entry without `output_cost_per_token` prices its output side at 0. SPEC §9 makes
 * `input_cost_per_token` the one price an entry needs to price anything, so such an entry
 * prices; 0 is the only output price it states. In LiteLLM's file the one such entry is an
 * embedding model (`mistral/mistral-embed`), whose records have no completion tokens.
 */
function effectivePrices(price: ModelPrice, promptTokens: number): EffectivePrices {
  const long = promptTokens > LONG_CONTEXT_ABOVE;
  const input = (long ? price.input_cost_per_token_above_200k_tokens : undefined) ?? price.input_cost_per_token;
  const output = (long ? price.output_cost_per_token_above_200k_tokens : undefined) ?? price.output_cost_per_token ?? 0;
  const cacheRead = (long ? price.cache_read_input_token_cost_above_200k_tokens : undefined) ?? price.cache_read_input_token_cost;
  const cacheCreation =
    (long ? price.cache_creation_input_token_cost_above_200k_tokens : undefined) ?? price.cache_creation_input_token_cost;
  return {
    input,
    output,
    cacheRead: cacheRead ?? input,
    cacheCreation: cacheCreation ?? input,
    reasoning: price.output_cost_per_reasoning_token ?? output,
    audioInput: price.input_cost_per_audio_token ?? input,
    audioOutput: price.output_cost_per_audio_token ?? output,
  };
}

/**
 * SPEC §9: input = (P − K − W − AP) × input + K × cache_read + W × cache_creation + AP × audio_input;
 * output = (C − R − AC) × output + R × reasoning + AC × audio_output; cost = input + output.
 *
 * A count in parentheses that would be negative (an upstream reporting more cached than prompt
 * tokens) counts as 0. A count that is not a finite non-negative number (a hand-edited ledger)
 * counts as 0 too, as SPEC §8 treats absent numbers. The terms are summed in the order written
 * above, so the same record always gives the same bits. The result is never NaN, negative or -0,
 * and never Infinity: a price times a count beyond the double range (prices near 1e292 per
 * token, which no real table has) saturates at Number.MAX_VALUE.
 */
export function costOf(price: ModelPrice, counts: PricedCounts): number {
  const P = countOf(counts.prompt_tokens);
  const C = countOf(counts.completion_tokens);
  const K = countOf(counts.cached_tokens);
  const W = countOf(counts.cache_creation_tokens);
  const R = countOf(counts.reasoning_tokens);
  const AP = countOf(counts.audio_prompt_tokens);
  const AC = countOf(counts.audio_completion_tokens);
  const p = effectivePrices(price, P);

  const input = Math.max(0, P - K - W - AP) * p.input + K * p.cacheRead + W * p.cacheCreation + AP * p.audioInput;
  const output = Math.max(0, C - R - AC) * p.output + R * p.reasoning + AC * p.audioOutput;
  const cost = input + output;
  // Every term is a finite non-negative count times a finite non-negative price, so the sum is
  // NaN-free and at least 0; `!(cost > 0)` still returns a literal +0 for 0, -0 and NaN alike.
  if (!(cost > 0)) return 0;
  return cost === Infinity ? Number.MAX_VALUE : cost;
}

function countOf(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}

// SPEC §9: the `[USAGE]` line's cost is "plain decimal, at most 10 places, no exponent".
const MAX_PLACES = 10;

/**
 * `cost=` as the `[USAGE]` line writes it: 0.0001234 → "0.0001234", 12.5 → "12.5", 1e-12 → "0"
 * (rounded to 10 places), 1e21 → "1000000000000000000000". The shortest decimal that reads back
 * as the same number is used where it fits in 10 places, so 0.1 + 0.2 prints "0.3" and
 * 1234567.1 prints "1234567.1", never the binary noise of a fixed 10 places. NaN and ±Infinity,
 * which costOf never returns, print "0" rather than a word the line's readers cannot parse.
 */
export function formatCost(usd: number): string {
  if (!Number.isFinite(usd)) return '0';
  const sign = usd < 0 ? '-' : '';
  const magnitude = Math.abs(usd);
  const shortest = String(magnitude);
  let digits: string;
  if (shortest.includes('e+')) digits = expandPositiveExponent(shortest);
  else if (!shortest.includes('e') && placesOf(shortest) <= MAX_PLACES) digits = shortest;
  else digits = trimZeros(magnitude.toFixed(MAX_PLACES));
  // A small negative number rounds to "0"; a sign on it would read as "-0".
  return digits === '0' ? '0' : sign + digits;
}

function placesOf(decimal: string): number {
  const dot = decimal.indexOf('.');
  return dot < 0 ? 0 : decimal.length - dot - 1;
}

function trimZeros(fixed: string): string {
  if (!fixed.includes('.')) return fixed;
  return fixed.replace(/0+$/, '').replace(/\.$/, '');
}

// Number#toString uses an exponent from 1e21 on ("1.5e+21"); the digits it gives, followed by
// zeros, are the same number in plain decimal (such numbers are integers: no places to round).
function expandPositiveExponent(text: string): string {
  const [mantissa = '', exponentText = '0'] = text.split('e+');
  const exponent = Number(exponentText);
  const [whole = '', fraction = ''] = mantissa.split('.');
  return whole + fraction.padEnd(exponent, '0');
}
