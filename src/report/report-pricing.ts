// How a report prices its records (SPEC §11 with §9's rules): as the ledger says, or with
// `--prices FILE` the records without a cost, or with `--reprice` every record — except an
// upstream-reported cost, which is kept, and a model the table lacks, which stays unpriced.
// The price table itself (matching, the formula) is src/pricing's; this file only decides
// which records it prices, behind a function type so the engine can be tested without it.

import { costOf, type PricedCounts } from '../pricing/cost.ts';
import { findPrice } from '../pricing/price-match.ts';
import type { ModelPrice, PriceTable } from '../pricing/price-table.ts';
import type { LedgerRecord } from './ledger-record.ts';

/** The cost of a record's counts at its model's price; null when nothing prices the model. */
export type ModelPricer = (model: string | null, counts: PricedCounts) => number | null;

export type Pricing = { readonly mode: 'ledger' } | { readonly mode: 'fill' | 'reprice'; readonly price: ModelPricer };

export const LEDGER_PRICING: Pricing = { mode: 'ledger' };

// Model names seen in one report are few; the bound only keeps a ledger of random names
// (one per line) from growing the cache with the ledger (SPEC §11: memory grows with groups).
const MAX_CACHED_MODELS = 10_000;

/**
 * A pricer over a price table. The ledger's `model` is the response's model, else the request's
 * (SPEC §8), so it is matched as the response's; the match is cached per name, since SPEC §9's
 * candidate names cost a few string operations and a report asks millions of times.
 */
export function tablePricer(table: PriceTable): ModelPricer {
  const prices = new Map<string, ModelPrice | null>();
  return (model, counts) => {
    if (model === null) return null;
    let price = prices.get(model);
    if (price === undefined) {
      price = findPrice(table, model, null)?.price ?? null;
      if (prices.size < MAX_CACHED_MODELS) prices.set(model, price);
    }
    return price === null ? null : costOf(price, counts);
  };
}

/** Sets `record.cost` as the pricing mode says. */
export function applyPricing(pricing: Pricing, record: LedgerRecord): void {
  if (pricing.mode === 'ledger') return;
  if (pricing.mode === 'fill') {
    if (record.cost === null) record.cost = pricing.price(record.model, record);
    return;
  }
  // --reprice: an upstream's own figure (OpenRouter's usage.cost) is what was billed; keep it.
  if (record.costFromUpstream && record.cost !== null) return;
  record.cost = pricing.price(record.model, record);
}
