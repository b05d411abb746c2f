// Where a usage record goes: the `[USAGE]` line on stdout (or its JSON event),
// the ledger line when USAGE_LOG is set, and the token and cost counters of the
// metrics (SPEC §4, §6, §7, §9, §10). Field names are the ledger's everywhere, so a
// line, an event and a ledger entry of one response read alike; only the text line
// spells its extras for a terminal (` cost=0.0001234`, ` tag.team=a`, ` user=…`).

import type { LogFormat } from '../config/config.ts';
import { formatCost } from '../pricing/cost.ts';
import type { UsageRecord } from '../shared/usage-record.ts';
import type { Ledger } from './ledger.ts';
import type { Fields, Logger } from './logger.ts';

export interface UsageCounters {
  tokens(model: string | null, promptTokens: number, completionTokens: number): void;
  /** A priced response's cost in USD (SPEC §9: priced responses only). */
  cost(model: string | null, usd: number): void;
}

/** The fields every form shares, in order: SPEC §4's three counts first, as the line must start. */
function countFields(record: UsageRecord): Record<string, Fields[string]> {
  return {
    prompt_tokens: record.prompt_tokens,
    completion_tokens: record.completion_tokens,
    total_tokens: record.total_tokens,
    cached_tokens: record.cached_tokens,
    reasoning_tokens: record.reasoning_tokens,
    cache_creation_tokens: record.cache_creation_tokens,
    audio_prompt_tokens: record.audio_prompt_tokens,
    audio_completion_tokens: record.audio_completion_tokens,
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

/** The `[USAGE]` text line's fields: the extras only where they say something (SPEC §9, §10). */
export function usageLineFields(record: UsageRecord): Fields {
  const fields = countFields(record);
  if (record.cost !== null) fields['cost'] = formatCost(record.cost);
  for (const name in record.tags) fields[`tag.${name}`] = record.tags[name] as string;
  if (record.user !== null) fields['user'] = record.user;
  return fields;
}

/** The JSON usage event's fields: every ledger field at the top level (SPEC §8). */
export function usageEventFields(record: UsageRecord): Fields {
  const fields = countFields(record);
  fields['cost'] = record.cost;
  fields['cost_source'] = record.cost_source;
  fields['tags'] = record.tags;
  fields['user'] = record.user;
  return fields;
}

/** One ledger line: every SPEC §4, §9 and §10 field, `time` first. */
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
      audio_prompt_tokens: record.audio_prompt_tokens,
      audio_completion_tokens: record.audio_completion_tokens,
      complete: record.complete,
      end: record.end,
      duration_ms: record.duration_ms,
      ttfb_ms: record.ttfb_ms,
      key_id: record.key_id,
      cost: record.cost,
      cost_source: record.cost_source,
      tags: record.tags,
      user: record.user,
    }) + '\n'
  );
}

export function createUsageLog(
  logger: Logger,
  ledger: Ledger | null,
  counters: UsageCounters | null,
  format: LogFormat,
): (record: UsageRecord) => void {
  const fieldsOf = format === 'json' ? usageEventFields : usageLineFields;
  return (record) => {
    logger.usage(fieldsOf(record));
    ledger?.append(ledgerLine(record));
    counters?.tokens(record.model, record.prompt_tokens, record.completion_tokens);
    if (record.cost !== null) counters?.cost(record.model, record.cost);
  };
}
