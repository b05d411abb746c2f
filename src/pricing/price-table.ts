// The price table of SPEC §9: the text of a LiteLLM `model_prices_and_context_window.json`
// in, the token prices of each model out. Pure: the caller reads the file (and handles
// SIGHUP); this module never touches the file system and never throws on bad input —
// a text that is not such an object is a result with a `problem`, for the caller's exit 2.

/** The fields SPEC §9 reads, USD per token. Every other field of an entry is ignored. */
export const PRICE_FIELDS = [
  'input_cost_per_token',
  'output_cost_per_token',
  'cache_read_input_token_cost',
  'cache_creation_input_token_cost',
  'output_cost_per_reasoning_token',
  'input_cost_per_audio_token',
  'output_cost_per_audio_token',
  'input_cost_per_token_above_200k_tokens',
  'output_cost_per_token_above_200k_tokens',
  'cache_read_input_token_cost_above_200k_tokens',
  'cache_creation_input_token_cost_above_200k_tokens',
] as const;

export type PriceField = (typeof PRICE_FIELDS)[number];

/**
 * One model's prices, frozen. `input_cost_per_token` is always there (SPEC §9: an entry
 * without it prices nothing, so it never becomes a ModelPrice); a price the entry lacks is
 * undefined, and cost.ts applies SPEC §9's fallbacks.
 */
export type ModelPrice = { readonly input_cost_per_token: number } & {
  readonly [F in Exclude<PriceField, 'input_cost_per_token'>]?: number | undefined;
};

export interface PriceTable {
  /** How many models have token prices (the entries findPrice can hit). */
  readonly size: number;
  /** The prices of a model by its lower-cased name (the name is lower-cased again, to be safe). */
  get(lowerName: string): ModelPrice | undefined;
}

/**
 * `entries` counts the file's models, `sample_spec` excepted, after names that differ only
 * in case are merged: token-priced ones (`table.size`), ones without `input_cost_per_token`
 * (image, audio-per-second and other models priced per something else: they are models of
 * the file, so they count, but price nothing) and skipped ones. `skipped` counts entries with
 * a read field that is not a finite non-negative number, or that are not objects at all.
 */
export type PriceTableResult =
  | { readonly ok: true; readonly table: PriceTable; readonly entries: number; readonly skipped: number }
  | { readonly ok: false; readonly problem: string };

// A JSON.parse message quotes part of the text; a 1.6 MB file must not become one log line.
const MAX_PROBLEM_CHARS = 200;

export function parsePriceTable(text: string): PriceTableResult {
  let root: unknown;
  try {
    // RFC 8259 §8.1: a parser MAY ignore a byte order mark; editors on Windows write one.
    root = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    // V8's message quotes the text around the fault, line breaks and control bytes included:
    // escaped, so the problem stays one line wherever it is printed.
    const message = (error instanceof Error ? error.message : String(error)).slice(0, MAX_PROBLEM_CHARS);
    return { ok: false, problem: `not valid JSON: ${JSON.stringify(message).slice(1, -1)}` };
  }
  if (typeof root !== 'object' || root === null || Array.isArray(root)) return { ok: false, problem: 'not a JSON object' };

  // Names are compared case-insensitively (SPEC §9), so `GPT-4o` and `gpt-4o` are one name.
  // When a file spells one name twice that way, the LATER entry wins, whatever it holds (even
  // an entry that is then skipped or prices nothing): the same rule JSON.parse applies to a key
  // spelt twice exactly, so both kinds of duplicate behave alike. Map.set keeps the last value.
  const byName = new Map<string, unknown>();
  for (const [key, value] of Object.entries(root)) {
    const name = key.toLowerCase();
    // SPEC §9: the `sample_spec` entry documents the format and is not a model.
    if (name === 'sample_spec') continue;
    byName.set(name, value);
  }

  const prices = new Map<string, ModelPrice>();
  let skipped = 0;
  for (const [name, entry] of byName) {
    const read = readEntry(entry);
    if (read === 'skipped') skipped++;
    else if (read !== 'unpriced') prices.set(name, read);
  }
  return { ok: true, table: tableOf(prices), entries: byName.size, skipped };
}

function readEntry(entry: unknown): ModelPrice | 'unpriced' | 'skipped' {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return 'skipped';
  const fields = entry as Record<string, unknown>;
  // SPEC §9: "An entry without input_cost_per_token prices nothing" — not a fault of the file
  // (dall-e, whisper and tts are priced per image, second or character), so not skipped.
  if (!Object.hasOwn(fields, 'input_cost_per_token')) return 'unpriced';
  const price: Partial<Record<PriceField, number>> = {};
  for (const field of PRICE_FIELDS) {
    if (!Object.hasOwn(fields, field)) continue;
    const value = fields[field];
    // A string ("3e-06"), null, an object or 1e999 (Infinity) is not a price we can trust; a
    // negative one would make a cost negative. The whole entry goes rather than a guess at it.
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return 'skipped';
    price[field] = value === 0 ? 0 : value; // -0 in the file must not become a cost of -0
  }
  return Object.freeze(price) as ModelPrice;
}

function tableOf(prices: ReadonlyMap<string, ModelPrice>): PriceTable {
  return Object.freeze({
    size: prices.size,
    get: (lowerName: string): ModelPrice | undefined => prices.get(lowerName.toLowerCase()),
  });
}
