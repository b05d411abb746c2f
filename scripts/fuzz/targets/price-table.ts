/**
 * Fuzz target: src/pricing/price-table.ts parsePriceTable (SPEC §9) on random price files: mutated
 * slices of the real LiteLLM file and generated entries. It never throws; a refusal is one bounded line;
 * an accepted table agrees with a reference worked out from JSON.parse (names lower-cased, the later
 * spelling winning, sample_spec ignored; an entry without input_cost_per_token unpriced; a read field that
 * is not a finite number ≥ 0 skips the entry), every price finite, ≥ 0 and never -0, counts safe integers.
 */
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { parsePriceTable, PRICE_FIELDS } from '../../../src/pricing/price-table.ts';
import { expect, type FuzzTarget } from '../engine.ts';
import { int, pick, type Rand } from '../mutate.ts';

const REAL_FILE = 'tests/fixtures/prices/litellm-model-prices-2025-09.json';

function realSlices(rand: Rand, count: number): Buffer[] {
  const entries = Object.entries(JSON.parse(readFileSync(REAL_FILE, 'utf8')) as Record<string, unknown>);
  const out: Buffer[] = [];
  for (let n = 0; n < count; n++) {
    const from = int(rand, entries.length);
    out.push(Buffer.from(JSON.stringify(Object.fromEntries(entries.slice(from, from + 1 + int(rand, 6))), null, rand() < 0.5 ? 2 : undefined)));
  }
  return out;
}

const VALUES = ['1e-6', '0', '-0', '-1e-9', '1e999', '"3e-06"', 'null', 'true', '{}', '[]', '5e-324', '1.7976931348623157e308', '2.5e-7'];
const NAMES = ['gpt-4o', 'GPT-4o', 'openai/gpt-4o', 'sample_spec', 'Sample_Spec', 'claude-3', '__proto__', 'constructor', 'toString', 'a'];

function randomFile(rand: Rand): Buffer {
  const entries: string[] = [];
  for (let n = int(rand, 6); n > 0; n--) {
    const fields: string[] = [];
    for (let k = int(rand, 5); k > 0; k--) fields.push(`"${pick(rand, [...PRICE_FIELDS, 'mode', 'max_tokens'])}":${pick(rand, VALUES)}`);
    const value = rand() < 0.9 ? `{${fields.join(',')}}` : pick(rand, VALUES);
    entries.push(`${JSON.stringify(pick(rand, NAMES))}:${value}`);
  }
  return Buffer.from(`${rand() < 0.05 ? '\ufeff' : ''}{${entries.join(',')}}`);
}

type Expected = Map<string, Record<string, number> | 'unpriced' | 'skipped'>;

function reference(root: Record<string, unknown>): Expected {
  const byName = new Map<string, unknown>();
  for (const [key, value] of Object.entries(root)) if (key.toLowerCase() !== 'sample_spec') byName.set(key.toLowerCase(), value);
  const out: Expected = new Map();
  for (const [name, entry] of byName) {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) out.set(name, 'skipped');
    else if (!Object.hasOwn(entry, 'input_cost_per_token')) out.set(name, 'unpriced');
    else {
      const price: Record<string, number> = {};
      let ok = true;
      for (const field of PRICE_FIELDS) {
        if (!Object.hasOwn(entry, field)) continue;
        const v = (entry as Record<string, unknown>)[field];
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) ok = false;
        else price[field] = v === 0 ? 0 : v;
      }
      out.set(name, ok ? price : 'skipped');
    }
  }
  return out;
}

export const priceTableTarget: FuzzTarget = {
  name: 'price-table',
  description: 'src/pricing/price-table.ts parsePriceTable: never throws; agrees with a JSON.parse reference; prices finite and ≥ 0',
  seeds(rand) {
    return [...realSlices(rand, 20), ...Array.from({ length: 20 }, () => randomFile(rand))];
  },
  generate: randomFile,
  check(input) {
    const text = input.toString('utf8');
    const result = parsePriceTable(text);
    if (!result.ok) {
      expect(result.problem.length <= 220, 'problem-too-long', () => `${result.problem.length} characters`);
      // The caller prints it as one start-up error line (found here; fixed in bfd0da9).
      expect(!/[\r\n]/.test(result.problem), 'problem-not-one-line', () => JSON.stringify(result.problem));
      return;
    }
    const { table, entries, skipped } = result;
    for (const count of [table.size, entries, skipped]) expect(Number.isSafeInteger(count) && count >= 0, 'bad-count', () => `${count}`);
    const root = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) as Record<string, unknown>;
    const expected = reference(root);
    let priced = 0;
    let skippedRef = 0;
    for (const [name, want] of expected) {
      const got = table.get(name);
      if (want === 'skipped') skippedRef++;
      if (typeof want === 'object') priced++;
      expect(typeof want === 'object' ? isDeepStrictEqual({ ...got }, want) : got === undefined, 'entry-differs', () => `${name}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
      if (got !== undefined) {
        for (const value of Object.values(got)) expect(typeof value === 'number' && Number.isFinite(value) && value >= 0 && !Object.is(value, -0), 'bad-price', () => `${name}: ${JSON.stringify(got)}`);
        expect(Object.isFrozen(got), 'price-not-frozen', () => name);
      }
    }
    expect(table.size === priced && entries === expected.size && skipped === skippedRef, 'counts-differ', () => `size ${table.size}/${priced}, entries ${entries}/${expected.size}, skipped ${skipped}/${skippedRef}`);
    for (const name of ['nope', '__proto__', 'constructor', 'hasOwnProperty', 'SAMPLE_SPEC']) {
      if (!expected.has(name.toLowerCase())) expect(table.get(name) === undefined, 'phantom-entry', () => `${name}: ${JSON.stringify(table.get(name))}`);
    }
  },
  grow(input, factor) {
    const text = input.toString('utf8').trim();
    if (!text.startsWith('{') || text === '{}') return Buffer.concat(Array.from({ length: factor }, () => input));
    const body = text.slice(1, -1);
    return Buffer.from(`{${Array.from({ length: factor }, (_, i) => body.replace(/"([^"]+)":\{/g, `"$1-${i}":{`)).join(',')}}`);
  },
  work(input) {
    parsePriceTable(input.toString('utf8'));
  },
};
