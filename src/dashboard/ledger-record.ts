// One ledger line (SPEC §4, §9, §10: a JSON object per response) read back as the dashboard's
// usage input. Pure; never throws: a line that is not a ledger record gives null, and a field of
// the wrong type reads as absent (0 tokens, no model, unpriced, no tags), so a ledger written by
// an older version (no cost, tags or user) still counts.

import type { DashboardUsage } from './usage-window.ts';

/** A ledger line's record, with `at` its time in milliseconds; null when the line is not one. */
export interface LedgerEntry {
  readonly at: number;
  readonly usage: DashboardUsage;
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function tokens(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}

function tagsOf(value: unknown): Readonly<Record<string, string>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
  // No prototype: a tag named __proto__ is kept as data, not taken for the object's prototype.
  const tags = Object.create(null) as Record<string, string>;
  for (const [name, tag] of Object.entries(value)) if (typeof tag === 'string') tags[name] = tag;
  return tags;
}

export function parseLedgerLine(line: string): LedgerEntry | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const record = value as Record<string, unknown>;
  // `time` decides the bucket; a record without a readable one cannot be placed in the window.
  const time = record['time'];
  if (typeof time !== 'string') return null;
  const at = Date.parse(time);
  if (!Number.isFinite(at)) return null;
  const cost = record['cost'];
  return {
    at,
    usage: {
      time,
      model: stringOrNull(record['model']),
      prompt_tokens: tokens(record['prompt_tokens']),
      completion_tokens: tokens(record['completion_tokens']),
      total_tokens: tokens(record['total_tokens']),
      key_id: stringOrNull(record['key_id']),
      cost: typeof cost === 'number' && Number.isFinite(cost) && cost >= 0 ? cost : null,
      tags: tagsOf(record['tags']),
      user: stringOrNull(record['user']),
    },
  };
}
