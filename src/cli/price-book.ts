// The price table the proxy prices with (SPEC §9): read from PRICES_FILE at start —
// a file that cannot be read or parsed stops the start — and again on SIGHUP, when a
// good file replaces the table and a bad one keeps the old. Reading is the only I/O;
// matching and the formula are src/pricing/'s pure functions.

import { readFileSync } from 'node:fs';
import { costOf } from '../pricing/cost.ts';
import { findPrice } from '../pricing/price-match.ts';
import { parsePriceTable, type ModelPrice, type PriceTable } from '../pricing/price-table.ts';
import type { PriceUsage } from '../shared/usage-record.ts';

export interface PriceLoad {
  /** Models in the file (sample_spec aside). */
  readonly entries: number;
  /** Models with token prices: those the table can price. */
  readonly priced: number;
  /** Entries with a non-numeric or negative price, left out. */
  readonly skipped: number;
}

export type PriceRead = ({ readonly ok: true } & PriceLoad) | { readonly ok: false; readonly problem: string };

export interface PriceBook {
  readonly price: PriceUsage;
  /** Reads the file again; on failure the table in use stays. */
  reload(): PriceRead;
}

function readTable(path: string): { ok: true; table: PriceTable; load: PriceLoad } | { ok: false; problem: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, problem: code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'a folder, not a file' : String((err as Error).message) };
  }
  const parsed = parsePriceTable(text);
  if (!parsed.ok) return { ok: false, problem: parsed.problem };
  return { ok: true, table: parsed.table, load: { entries: parsed.entries, priced: parsed.table.size, skipped: parsed.skipped } };
}

// Most traffic names a handful of models: a match, once found, is looked up again by the two
// names instead of walking SPEC §9's candidate names per response. Bounded: an upstream that
// names a new model per response empties the cache now and then instead of growing it.
const MAX_CACHED_MATCHES = 1_024;

/** The book, and what was loaded; or why the file cannot be used (the caller exits 2). */
export function openPriceBook(path: string): { ok: true; book: PriceBook; load: PriceLoad } | { ok: false; problem: string } {
  const first = readTable(path);
  if (!first.ok) return first;
  let table = first.table;
  const matches = new Map<string, ModelPrice | null>();
  const book: PriceBook = {
    price(usage, responseModel, requestModel) {
      const key = `${responseModel ?? ''}\n${requestModel ?? ''}`;
      let price = matches.get(key);
      if (price === undefined) {
        price = findPrice(table, responseModel, requestModel)?.price ?? null;
        if (matches.size >= MAX_CACHED_MATCHES) matches.clear();
        matches.set(key, price);
      }
      return price === null ? null : costOf(price, usage);
    },
    reload() {
      const next = readTable(path);
      if (!next.ok) return next;
      table = next.table;
      matches.clear();
      return { ok: true, ...next.load };
    },
  };
  return { ok: true, book, load: first.load };
}
