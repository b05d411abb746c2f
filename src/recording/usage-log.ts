// Where a usage record goes: the `[USAGE]` line on stdout (or its JSON event),
// the ledger line when USAGE_LOG is set, and the token counters of the metrics
// (SPEC §4, §6, §7). Field names are the ledger's everywhere, so a line, an event
// and a ledger entry of one response read alike.

import type { Ledger } from './ledger.ts';
import type { Fields, Logger } from './logger.ts';
import type { UsageRecord } from '../shared/usage-record.ts';

export interface TokenCounter {
  tokens(model: string | null, promptTokens: number, completionTokens: number): void;
}

/** The `[USAGE]` fields in order: SPEC §4's three counts first, as the line must start. */
export function usageLineFields(record: UsageRecord): Fields {
  return {
    prompt_tokens: record.prompt_tokens,
    completion_tokens: record.completion_tokens,
    total_tokens: record.total_tokens,
    cached_tokens: record.cached_tokens,
    reasoning_tokens: record.reasoning_tokens,
    cache_creation_tokens: record.cache_creation_tokens,
    model: record.model,
    stream: record.stream,
    complete: record.complete,
    end: record.end,
    method: record.method,
    path: record.path,
    status: record.status,
    duration_ms: record.duration_ms,
    ttfb_ms: record.ttfb_ms,
    key_id: record.key_id,
  };
}

/** One ledger line: every SPEC §4 field, `time` first. */
export function ledgerLine(record: UsageRecord): string {
  return (
    JSON.stringify({
      time: record.time,
      method: record.method,
      path: record.path,
      status: record.status,
      model: record.model,
      stream: record.stream,
      prompt_tokens: record.prompt_tokens,
      completion_tokens: record.completion_tokens,
      total_tokens: record.total_tokens,
      cached_tokens: record.cached_tokens,
      reasoning_tokens: record.reasoning_tokens,
      cache_creation_tokens: record.cache_creation_tokens,
      complete: record.complete,
      end: record.end,
      duration_ms: record.duration_ms,
      ttfb_ms: record.ttfb_ms,
      key_id: record.key_id,
    }) + '\n'
  );
}

export function createUsageLog(logger: Logger, ledger: Ledger | null, counter: TokenCounter | null): (record: UsageRecord) => void {
  return (record) => {
    logger.usage(usageLineFields(record));
    ledger?.append(ledgerLine(record));
    counter?.tokens(record.model, record.prompt_tokens, record.completion_tokens);
  };
}
