// The usage record: one response's usage with the ledger's field names (SPEC §4, §8),
// as the usage tracker produces it and every recorder (the [USAGE] line, the ledger,
// the metrics) consumes it. Kept below both, in a module of its own, so recorders
// depend on the record and not on the tracker. Types only.

import type { EndReason } from './exchange-tap.ts';

/** The token counts of one response, in OpenAI's vocabulary (SPEC §4 "How the numbers combine"). */
export interface Usage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
  readonly cached_tokens: number;
  readonly reasoning_tokens: number;
  readonly cache_creation_tokens: number;
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
}
