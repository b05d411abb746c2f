import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PRICE_FIELDS, parsePriceTable } from '../../src/pricing/price-table.ts';
import type { PriceTable, PriceTableResult } from '../../src/pricing/price-table.ts';
import { prng } from '../helpers/prng.ts';

type Ok = Extract<PriceTableResult, { ok: true }>;

function parsed(file: unknown): Ok {
  const result = parsePriceTable(JSON.stringify(file));
  assert.ok(result.ok, result.ok ? '' : result.problem);
  return result;
}

function problemOf(text: string): string {
  const result = parsePriceTable(text);
  assert.equal(result.ok, false);
  return result.ok ? '' : result.problem;
}

describe('parsePriceTable: files that are not a price table (SPEC §9: the start stops)', () => {
  test('refuses a text that is not JSON, saying so', () => {
    assert.match(problemOf('{"gpt-4o": {"input_cost_per_token": 1e-6,}'), /^not valid JSON: /);
    assert.match(problemOf(''), /^not valid JSON: /);
    assert.match(problemOf('{"gpt-4o": '), /^not valid JSON: /);
  });

  test('keeps the problem short even when the text is huge', () => {
    const problem = problemOf(`{"a": ${'x'.repeat(2_000_000)}}`);
    assert.ok(problem.length <= 'not valid JSON: '.length + 200, `${problem.length} chars`);
  });

  test('refuses JSON that is not an object: an array, null, a number, a string, a boolean', () => {
    for (const text of ['[]', '[{"input_cost_per_token": 1}]', 'null', '42', '"gpt-4o"', 'true']) {
      assert.equal(problemOf(text), 'not a JSON object', text);
    }
  });

  test('accepts an empty object as a table that prices nothing', () => {
    const result = parsed({});
    assert.equal(result.entries, 0);
    assert.equal(result.skipped, 0);
    assert.equal(result.table.size, 0);
  });

  test('accepts a file that starts with a UTF-8 byte order mark (RFC 8259 §8.1)', () => {
    const result = parsePriceTable('\uFEFF{"m": {"input_cost_per_token": 1e-6}}');
    assert.ok(result.ok);
    assert.equal(result.table.get('m')?.input_cost_per_token, 1e-6);
  });

  test('never throws, and never reads a cut file as a smaller table: every proper prefix is refused', () => {
    const text = JSON.stringify({ a: { input_cost_per_token: 1e-6 }, b: { input_cost_per_token: 2e-6, output_cost_per_token: 3e-6 } }, null, 1);
    for (let cut = 0; cut < text.length; cut++) {
      assert.equal(parsePriceTable(text.slice(0, cut)).ok, false, `cut at ${cut}`);
    }
    assert.equal(parsePriceTable(text).ok, true);
  });
});

describe('parsePriceTable: what an entry yields', () => {
  test('reads the SPEC §9 fields and nothing else, into a frozen object', () => {
    const { table } = parsed({
      'gpt-4o': {
        input_cost_per_token: 2.5e-6,
        output_cost_per_token: 1e-5,
        cache_read_input_token_cost: 1.25e-6,
        input_cost_per_token_batches: 1.25e-6,
        litellm_provider: 'openai',
        max_tokens: 'LEGACY: a string here is another field, and ignored',
        search_context_cost_per_query: { search_context_size_low: 0.01 },
      },
    });
    const price = table.get('gpt-4o');
    assert.equal(price?.cache_creation_input_token_cost, undefined);
    assert.ok(Object.isFrozen(price));
    assert.deepEqual(price, { input_cost_per_token: 2.5e-6, output_cost_per_token: 1e-5, cache_read_input_token_cost: 1.25e-6 });
  });

  test('keeps all eleven fields when an entry has them all', () => {
    const entry = Object.fromEntries(PRICE_FIELDS.map((field, i) => [field, (i + 1) * 1e-7]));
    assert.deepEqual(parsed({ m: entry }).table.get('m'), entry);
  });

  test('takes 0 as a price (a free local model), and a -0 as +0', () => {
    const price = parsePriceTable('{"ollama/llama3": {"input_cost_per_token": 0, "output_cost_per_token": -0}}');
    assert.ok(price.ok);
    assert.equal(price.table.size, 1);
    assert.ok(Object.is(price.table.get('ollama/llama3')?.output_cost_per_token, 0));
  });

  test('an entry without input_cost_per_token prices nothing: counted among the entries, not skipped', () => {
    const result = parsed({
      '256-x-256/dall-e-2': { mode: 'image_generation', input_cost_per_pixel: 2.4414e-7, output_cost_per_pixel: 0 },
      'azure/standard/1024-x-1024/dall-e-3': { output_cost_per_token: 0, output_cost_per_pixel: 0 },
      'whisper-1': { input_cost_per_second: 0.0001, output_cost_per_reasoning_token: 'not read: the entry prices nothing' },
      'gpt-4o': { input_cost_per_token: 2.5e-6 },
    });
    assert.equal(result.entries, 4);
    assert.equal(result.skipped, 0);
    assert.equal(result.table.size, 1);
    assert.equal(result.table.get('256-x-256/dall-e-2'), undefined);
    assert.equal(result.table.get('azure/standard/1024-x-1024/dall-e-3'), undefined);
    assert.equal(result.table.get('whisper-1'), undefined);
  });

  test('skips and counts an entry with a read field that is not a finite non-negative number', () => {
    const bad: unknown[] = ['2.5e-06', null, -1e-6, true, {}, [1e-6]];
    const file: Record<string, unknown> = { good: { input_cost_per_token: 1e-6 } };
    bad.forEach((value, i) => {
      file[`in-${i}`] = { input_cost_per_token: value };
      file[`cache-${i}`] = { input_cost_per_token: 1e-6, cache_read_input_token_cost: value };
    });
    const result = parsed(file);
    assert.equal(result.entries, 1 + 2 * bad.length);
    assert.equal(result.skipped, 2 * bad.length);
    assert.equal(result.table.size, 1);
    assert.equal(result.table.get('cache-0'), undefined);
  });

  test('skips a price of 1e999, which JSON.parse reads as Infinity', () => {
    const result = parsePriceTable('{"m": {"input_cost_per_token": 1e-6, "output_cost_per_token": 1e999}}');
    assert.ok(result.ok);
    assert.equal(result.skipped, 1);
    assert.equal(result.table.get('m'), undefined);
  });

  test('skips and counts an entry that is not an object: a string, a number, an array, null', () => {
    const result = parsed({ a: 'gpt-4o', b: 2.5e-6, c: [{ input_cost_per_token: 1e-6 }], d: null, e: { input_cost_per_token: 1e-6 } });
    assert.deepEqual([result.entries, result.skipped, result.table.size], [5, 4, 1]);
  });

  test('ignores sample_spec, in any case, even though it has token prices', () => {
    const result = parsed({
      sample_spec: { input_cost_per_token: 0, output_cost_per_token: 0, max_tokens: 'LEGACY parameter' },
      SAMPLE_SPEC: { input_cost_per_token: 0 },
      'gpt-4o': { input_cost_per_token: 2.5e-6 },
    });
    assert.deepEqual([result.entries, result.skipped, result.table.size], [1, 0, 1]);
    assert.equal(result.table.get('sample_spec'), undefined);
  });

  test('treats __proto__, constructor and toString as ordinary model names', () => {
    const result = parsePriceTable('{"__proto__": {"input_cost_per_token": 1e-6}, "constructor": {"input_cost_per_token": 2e-6}}');
    assert.ok(result.ok);
    assert.equal(result.table.size, 2);
    assert.equal(result.table.get('__proto__')?.input_cost_per_token, 1e-6);
    assert.equal(result.table.get('constructor')?.input_cost_per_token, 2e-6);
    assert.equal(result.table.get('tostring'), undefined);
    assert.equal(result.table.get('hasOwnProperty'), undefined);
  });
});

describe('parsePriceTable: names compared case-insensitively (SPEC §9)', () => {
  test('stores names lower-cased and finds them in any case', () => {
    const { table } = parsed({ 'azure_ai/Meta-Llama-3-70B-Instruct': { input_cost_per_token: 1.1e-6 } });
    assert.equal(table.get('azure_ai/meta-llama-3-70b-instruct')?.input_cost_per_token, 1.1e-6);
    assert.equal(table.get('AZURE_AI/Meta-Llama-3-70B-Instruct')?.input_cost_per_token, 1.1e-6);
  });

  test('when two names differ only in case, the later entry in the file wins, in either order', () => {
    const first = parsed({ 'GPT-4o': { input_cost_per_token: 1e-6 }, 'gpt-4o': { input_cost_per_token: 2e-6 } });
    assert.equal(first.table.get('gpt-4o')?.input_cost_per_token, 2e-6);
    const second = parsed({ 'gpt-4o': { input_cost_per_token: 2e-6 }, 'GPT-4o': { input_cost_per_token: 1e-6 } });
    assert.equal(second.table.get('gpt-4o')?.input_cost_per_token, 1e-6);
    assert.deepEqual([first.entries, first.table.size, second.entries, second.table.size], [1, 1, 1, 1]);
  });

  test('the later entry wins even when it prices nothing or is skipped, as a key spelt twice does in JSON.parse', () => {
    const unpriced = parsed({ 'gpt-4o': { input_cost_per_token: 2e-6 }, 'GPT-4O': { mode: 'chat' } });
    assert.deepEqual([unpriced.entries, unpriced.skipped, unpriced.table.size], [1, 0, 0]);
    const skipped = parsed({ 'gpt-4o': { input_cost_per_token: 2e-6 }, 'GPT-4O': { input_cost_per_token: 'cheap' } });
    assert.deepEqual([skipped.entries, skipped.skipped, skipped.table.size], [1, 1, 0]);
    const rescued = parsed({ 'GPT-4O': { input_cost_per_token: 'cheap' }, 'gpt-4o': { input_cost_per_token: 2e-6 } });
    assert.deepEqual([rescued.entries, rescued.skipped, rescued.table.size], [1, 0, 1]);
    const exact = parsePriceTable('{"gpt-4o": {"input_cost_per_token": 2e-6}, "gpt-4o": {"mode": "chat"}}');
    assert.ok(exact.ok);
    assert.equal(exact.table.size, 0);
  });
});

describe('parsePriceTable: property — random files read as a simple model says', () => {
  const VALUES: readonly unknown[] = [0, 1e-9, 2.5e-6, 0.071, 3, -1e-6, '1e-6', null, true];
  const valid = (value: unknown): boolean => typeof value === 'number' && value >= 0;

  test('random entries, key cases, field orders and indentation give the expected table (200 files)', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const random = prng(seed);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
      const file: Record<string, unknown> = {};
      const expected = new Map<string, Record<string, unknown> | 'unpriced' | 'skipped'>();
      const count = Math.floor(random() * 12);
      for (let i = 0; i < count; i++) {
        // Names repeat; a repeat replaces the earlier entry under one spelling (collisions
        // between spellings have their own tests above).
        const base = `m${Math.floor(random() * 8)}`;
        const key = random() < 0.3 ? base.toUpperCase() : base;
        const entry: Record<string, unknown> = { mode: 'chat', litellm_provider: 'x' };
        const fields = PRICE_FIELDS.filter(() => random() < 0.4).sort(() => random() - 0.5);
        for (const field of fields) entry[field] = pick(VALUES);
        delete file[base.toUpperCase()];
        delete file[base];
        file[key] = entry;
        const read = Object.fromEntries(fields.map((field) => [field, entry[field]]));
        expected.set(base, !fields.includes('input_cost_per_token') ? 'unpriced' : fields.every((f) => valid(entry[f])) ? read : 'skipped');
      }
      const text = JSON.stringify(file, null, pick([0, 1, 2, '\t']));
      const result = parsePriceTable(text);
      assert.ok(result.ok, `seed ${seed}`);
      assert.equal(result.entries, expected.size, `seed ${seed}`);
      assert.equal(result.skipped, [...expected.values()].filter((v) => v === 'skipped').length, `seed ${seed}`);
      const priced = [...expected].filter((entry): entry is [string, Record<string, unknown>] => typeof entry[1] === 'object');
      assert.equal(result.table.size, priced.length, `seed ${seed}`);
      for (const [name, fields] of priced) assert.deepEqual(pricesOf(result.table, name), fields, `seed ${seed} ${name}`);
    }
  });
});

function pricesOf(table: PriceTable, name: string): Record<string, unknown> | undefined {
  const price = table.get(name);
  return price === undefined ? undefined : { ...price };
}

test('a file that is not JSON gets a one-line problem, whatever bytes V8 quotes from it (found by the fuzzer)', () => {
  for (const text of ['<html>\n<body>404</body>\n</html>\n', '{"tool_ch: "chat",\r\n  "x": 1}', '{\u0000\u001b[2J}']) {
    const result = parsePriceTable(text);
    assert.equal(result.ok, false);
    if (!result.ok) assert.doesNotMatch(result.problem, /[\u0000-\u001f\u007f]/, JSON.stringify(result.problem));
  }
});
