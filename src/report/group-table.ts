// The groups of a report (SPEC §11): one set of totals per combination of `--by` values, in
// nested maps (one level per `--by` field, so a record costs one lookup per field and no key
// string is built), and their order: time groups oldest first; other groups by total_tokens,
// largest first, ties by name. The order is applied level by level, so the rows of one group
// stay together: under `--by model,key` each model's keys follow it, models by their own totals.

import type { LedgerRecord } from './ledger-record.ts';

/** A group's value for one `--by` field: a period key, a field's text, a status, or null (absent). */
export type GroupKey = string | number | null;

export interface GroupTotals {
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cached_tokens: number;
  reasoning_tokens: number;
  /** The sum of the known costs (USD); meaningful only when `priced` > 0. */
  cost: number;
  priced: number;
  unpriced: number;
  incomplete: number;
}

export interface Group {
  readonly keys: readonly GroupKey[];
  readonly totals: GroupTotals;
}

interface Leaf {
  readonly keys: readonly GroupKey[];
  readonly totals: GroupTotals;
}

type Level = Map<GroupKey, Level | Leaf>;

export function emptyTotals(): GroupTotals {
  return { requests: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, cached_tokens: 0, reasoning_tokens: 0, cost: 0, priced: 0, unpriced: 0, incomplete: 0 };
}

export function addRecord(totals: GroupTotals, record: LedgerRecord): void {
  totals.requests++;
  totals.prompt_tokens += record.prompt_tokens;
  totals.completion_tokens += record.completion_tokens;
  totals.total_tokens += record.total_tokens;
  totals.cached_tokens += record.cached_tokens;
  totals.reasoning_tokens += record.reasoning_tokens;
  if (record.cost === null) totals.unpriced++;
  else {
    totals.cost += record.cost;
    totals.priced++;
  }
  if (!record.complete) totals.incomplete++;
}

export function addTotals(into: GroupTotals, from: GroupTotals): void {
  into.requests += from.requests;
  into.prompt_tokens += from.prompt_tokens;
  into.completion_tokens += from.completion_tokens;
  into.total_tokens += from.total_tokens;
  into.cached_tokens += from.cached_tokens;
  into.reasoning_tokens += from.reasoning_tokens;
  into.cost += from.cost;
  into.priced += from.priced;
  into.unpriced += from.unpriced;
  into.incomplete += from.incomplete;
}

export class GroupTable {
  readonly #root: Level = new Map();
  readonly #timeLevels: readonly boolean[];
  #groups = 0;

  /** `timeLevels[i]` is true when the i-th `--by` field is a period (sorted oldest first). */
  constructor(timeLevels: readonly boolean[]) {
    if (timeLevels.length === 0) throw new RangeError('a report groups by at least one field');
    this.#timeLevels = timeLevels;
  }

  get size(): number {
    return this.#groups;
  }

  /** Adds a record to the group of `keys` (read, not kept: the caller may reuse the array). */
  add(keys: readonly GroupKey[], record: LedgerRecord): void {
    let level = this.#root;
    const last = keys.length - 1;
    for (let i = 0; i < last; i++) {
      let next = level.get(keys[i]!) as Level | undefined;
      if (next === undefined) {
        next = new Map();
        level.set(keys[i]!, next);
      }
      level = next;
    }
    let leaf = level.get(keys[last]!) as Leaf | undefined;
    if (leaf === undefined) {
      leaf = { keys: keys.slice(), totals: emptyTotals() };
      level.set(keys[last]!, leaf);
      this.#groups++;
    }
    addRecord(leaf.totals, record);
  }

  /** Every group, in SPEC §11's order. */
  groups(): Group[] {
    const out: Group[] = [];
    this.#collect(this.#root, 0, out);
    return out;
  }

  /** The totals of every group together. */
  static totalOf(groups: readonly Group[]): GroupTotals {
    const total = emptyTotals();
    for (const group of groups) addTotals(total, group.totals);
    return total;
  }

  #collect(level: Level, depth: number, out: Group[]): void {
    const leafDepth = depth === this.#timeLevels.length - 1;
    const entries = [...level].map(([key, child]) => ({ key, child, tokens: leafDepth ? (child as Leaf).totals.total_tokens : tokensUnder(child as Level) }));
    if (this.#timeLevels[depth] === true) entries.sort((a, b) => compareNames(a.key, b.key));
    else entries.sort((a, b) => b.tokens - a.tokens || compareNames(a.key, b.key));
    for (const entry of entries) {
      if (leafDepth) out.push(entry.child as Leaf);
      else this.#collect(entry.child as Level, depth + 1, out);
    }
  }
}

function tokensUnder(level: Level): number {
  let sum = 0;
  for (const child of level.values()) sum += child instanceof Map ? tokensUnder(child) : child.totals.total_tokens;
  return sum;
}

/**
 * Names in code-unit order (the same on every machine, unlike a locale's collation), statuses
 * by number, and null — the group of records without the field — after every name.
 */
export function compareNames(a: GroupKey, b: GroupKey): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
