// The usage record: one response's usage with the ledger's field names (SPEC §4, §8),
// as the usage tracker produces it and every recorder (the [USAGE] line, the ledger,
// the metrics) consumes it. Kept below both, in a module of its own, so recorders
// depend on the record and not on the tracker. Types only.

import type { EndReason } from './exchange-tap.ts';
import type { Tags } from './tags.ts';

/** The token counts of one response, in OpenAI's vocabulary (SPEC §4 "How the numbers combine"). */
export interface Usage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
  readonly cached_tokens: number;
  readonly reasoning_tokens: number;
  readonly cache_creation_tokens: number;
  /** Among prompt_tokens: audio input (SPEC §8). */
  readonly audio_prompt_tokens: number;
  /** Among completion_tokens: audio output (SPEC §8). */
  readonly audio_completion_tokens: number;
}

/** SPEC §4's `end=` values: the forwarder's, plus `malformed` for a body that ended cleanly but was not valid. */
export type UsageEnd = EndReason | 'malformed';

/** One response's usage, with the ledger's field names (SPEC §4, §8). */
export interface UsageRecord extends Usage {
  readonly time: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly model: string | null;
  readonly stream: boolean;
  readonly complete: boolean;
  readonly end: UsageEnd;
  readonly duration_ms: number;
  readonly ttfb_ms: number | null;
  readonly key_id: string | null;
  /** USD, or null when unpriced (SPEC §9). */
  readonly cost: number | null;
  readonly cost_source: CostSource | null;
  /** The deployment's and the request's tags (SPEC §10); `{}` when none. */
  readonly tags: Tags;
  /** The request body's end user (SPEC §10), else null. */
  readonly user: string | null;
}

/** Where a record's cost came from: the price table, or the upstream's own `usage.cost` (SPEC §9). */
export type CostSource = 'prices' | 'upstream';

/** Prices one response from its counts (SPEC §9 matching: the response's model, then the request's); null when unpriced. */
export type PriceUsage = (usage: Usage, responseModel: string | null, requestModel: string | null) => number | null;
