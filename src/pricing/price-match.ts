// Which price table entry prices a record: SPEC §9 "Matching", and nothing fuzzier. First hit
// wins, names compared case-insensitively: the response's model, then the request's; for each,
// the name as it is, then without its leading `provider/` segments one at a time, then each of
// those names without a trailing date, in the same order. A model no rule finds is unpriced.

import type { ModelPrice, PriceTable } from './price-table.ts';

// The three date spellings SPEC §9 names, at the very end of the name only: `-2024-08-06`
// (OpenAI), `-20241022` (Anthropic), `@20241022` (Vertex AI). A date must look like one
// (20YY, month 01–12, day 01–31) so that an 8-digit build number is not taken for a date.
// Shorter suffixes such as `-0613` (OpenAI's old snapshots) or `-latest` are names of their
// own in price tables and are never stripped.
const YEAR = '20\\d\\d';
const MONTH = '(?:0[1-9]|1[0-2])';
const DAY = '(?:0[1-9]|[12]\\d|3[01])';
const TRAILING_DATE = new RegExp(`(?:-${YEAR}-${MONTH}-${DAY}|-${YEAR}${MONTH}${DAY}|@${YEAR}${MONTH}${DAY})$`);

/**
 * The names tried for one model, in SPEC §9's order, lower-cased, without repeats or empty
 * names: `openrouter/openai/gpt-4o-2024-08-06` gives `openrouter/openai/gpt-4o-2024-08-06`,
 * `openai/gpt-4o-2024-08-06`, `gpt-4o-2024-08-06`, then `openrouter/openai/gpt-4o`,
 * `openai/gpt-4o`, `gpt-4o`.
 */
export function priceCandidates(name: string): string[] {
  const lower = name.toLowerCase();
  const withoutProviders: string[] = [lower];
  for (let slash = lower.indexOf('/'); slash >= 0; slash = lower.indexOf('/', slash + 1)) {
    withoutProviders.push(lower.slice(slash + 1));
  }
  const candidates: string[] = [];
  const add = (candidate: string): void => {
    if (candidate !== '' && !candidates.includes(candidate)) candidates.push(candidate);
  };
  for (const candidate of withoutProviders) add(candidate);
  for (const candidate of withoutProviders) {
    const undated = candidate.replace(TRAILING_DATE, '');
    if (undated !== candidate) add(undated);
  }
  return candidates;
}

export interface PriceMatch {
  /** The table's (lower-cased) name that matched. */
  readonly name: string;
  readonly price: ModelPrice;
}

/** The first entry SPEC §9's rules find for the response's model, then the request's; null when none. */
export function findPrice(table: PriceTable, responseModel: string | null, requestModel: string | null): PriceMatch | null {
  for (const model of [responseModel, requestModel]) {
    if (model === null || model === '') continue;
    for (const name of priceCandidates(model)) {
      const price = table.get(name);
      if (price !== undefined) return { name, price };
    }
  }
  return null;
}
