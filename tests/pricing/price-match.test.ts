import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { findPrice, priceCandidates } from '../../src/pricing/price-match.ts';
import { parsePriceTable } from '../../src/pricing/price-table.ts';
import type { PriceTable } from '../../src/pricing/price-table.ts';

/** A table whose entries' input price names them, so a test can see which entry matched. */
function tableOf(names: readonly string[]): PriceTable {
  const file = Object.fromEntries(names.map((name, i) => [name, { input_cost_per_token: (i + 1) * 1e-6 }]));
  const result = parsePriceTable(JSON.stringify(file));
  assert.ok(result.ok);
  return result.table;
}

function matched(table: PriceTable, response: string | null, request: string | null = null): string | null {
  return findPrice(table, response, request)?.name ?? null;
}

describe('priceCandidates: the names SPEC §9 tries, in its order', () => {
  test('the name, then without each leading provider/ segment, then each of those without its date', () => {
    assert.deepEqual(priceCandidates('openrouter/openai/gpt-4o-2024-08-06'), [
      'openrouter/openai/gpt-4o-2024-08-06',
      'openai/gpt-4o-2024-08-06',
      'gpt-4o-2024-08-06',
      'openrouter/openai/gpt-4o',
      'openai/gpt-4o',
      'gpt-4o',
    ]);
  });

  test('a plain name is tried as it is, lower-cased', () => {
    assert.deepEqual(priceCandidates('gpt-4o'), ['gpt-4o']);
    assert.deepEqual(priceCandidates('GPT-4o'), ['gpt-4o']);
    assert.deepEqual(priceCandidates('together_ai/mistralai/Mixtral-8x7B-Instruct-v0.1'), [
      'together_ai/mistralai/mixtral-8x7b-instruct-v0.1',
      'mistralai/mixtral-8x7b-instruct-v0.1',
      'mixtral-8x7b-instruct-v0.1',
    ]);
  });

  test('strips the three date spellings SPEC §9 names: -YYYY-MM-DD, -YYYYMMDD and @YYYYMMDD', () => {
    assert.deepEqual(priceCandidates('gpt-4o-2024-08-06'), ['gpt-4o-2024-08-06', 'gpt-4o']);
    assert.deepEqual(priceCandidates('claude-3-5-sonnet-20241022'), ['claude-3-5-sonnet-20241022', 'claude-3-5-sonnet']);
    assert.deepEqual(priceCandidates('vertex_ai/claude-3-5-sonnet-v2@20241022'), [
      'vertex_ai/claude-3-5-sonnet-v2@20241022',
      'claude-3-5-sonnet-v2@20241022',
      'vertex_ai/claude-3-5-sonnet-v2',
      'claude-3-5-sonnet-v2',
    ]);
  });

  test('does not strip -0613, -1106, -latest, -001 or -preview: they are not dates', () => {
    for (const name of ['gpt-4-0613', 'gpt-3.5-turbo-1106', 'claude-3-5-sonnet-latest', 'gemini-2.0-flash-001', 'gpt-4o-audio-preview']) {
      assert.deepEqual(priceCandidates(name), [name]);
    }
  });

  test('strips a date only at the very end, only one, and only one that looks like a date', () => {
    assert.deepEqual(priceCandidates('anthropic.claude-3-5-sonnet-20241022-v2:0'), ['anthropic.claude-3-5-sonnet-20241022-v2:0']);
    assert.deepEqual(priceCandidates('m-2024-08-06-20241022'), ['m-2024-08-06-20241022', 'm-2024-08-06']);
    assert.deepEqual(priceCandidates('build-12345678'), ['build-12345678']);
    assert.deepEqual(priceCandidates('m-2024-13-01'), ['m-2024-13-01']);
    assert.deepEqual(priceCandidates('m-20241032'), ['m-20241032']);
    assert.deepEqual(priceCandidates('m-1999-01-01'), ['m-1999-01-01']);
    assert.deepEqual(priceCandidates('m_20241022'), ['m_20241022']);
    assert.deepEqual(priceCandidates('m-202410221'), ['m-202410221']);
    assert.deepEqual(priceCandidates('m@2024-10-22'), ['m@2024-10-22']);
  });

  test('tries no empty name and no name twice', () => {
    assert.deepEqual(priceCandidates('openai/'), ['openai/']);
    assert.deepEqual(priceCandidates('/gpt-4o'), ['/gpt-4o', 'gpt-4o']);
    assert.deepEqual(priceCandidates('a//b'), ['a//b', '/b', 'b']);
    assert.deepEqual(priceCandidates('-20241022'), ['-20241022']);
    assert.deepEqual(priceCandidates(''), []);
  });
});

describe('findPrice: first hit wins (SPEC §9 Matching)', () => {
  test('finds the exact name, in any case, and says which entry matched', () => {
    const table = tableOf(['gpt-4o', 'gpt-4o-mini']);
    const hit = findPrice(table, 'GPT-4o-Mini', null);
    assert.equal(hit?.name, 'gpt-4o-mini');
    assert.equal(hit?.price.input_cost_per_token, 2e-6);
  });

  test('the exact name wins over a shorter one', () => {
    const table = tableOf(['gpt-4o', 'openai/gpt-4o', 'gpt-4o-2024-08-06']);
    assert.equal(matched(table, 'openai/gpt-4o'), 'openai/gpt-4o');
    assert.equal(matched(table, 'gpt-4o-2024-08-06'), 'gpt-4o-2024-08-06');
  });

  test('drops leading provider segments one at a time', () => {
    const table = tableOf(['openai/gpt-4o', 'gpt-4o']);
    assert.equal(matched(table, 'openrouter/openai/gpt-4o'), 'openai/gpt-4o');
    assert.equal(matched(tableOf(['gpt-4o']), 'openrouter/openai/gpt-4o'), 'gpt-4o');
  });

  test('tries every provider-less name before any date-less one', () => {
    const table = tableOf(['openai/gpt-4o', 'gpt-4o-2024-08-06']);
    assert.equal(matched(table, 'openai/gpt-4o-2024-08-06'), 'gpt-4o-2024-08-06');
    assert.equal(matched(tableOf(['openai/gpt-4o', 'gpt-4o']), 'openai/gpt-4o-2024-08-06'), 'openai/gpt-4o');
  });

  test('the response\'s model before the request\'s, and the request\'s when the response\'s finds nothing', () => {
    const table = tableOf(['gpt-4o', 'gpt-4o-mini']);
    assert.equal(matched(table, 'gpt-4o-mini-2024-07-18', 'gpt-4o'), 'gpt-4o-mini');
    assert.equal(matched(table, 'my-finetune', 'gpt-4o'), 'gpt-4o');
    assert.equal(matched(table, null, 'gpt-4o'), 'gpt-4o');
    assert.equal(matched(table, '', 'gpt-4o'), 'gpt-4o');
  });

  test('a model no rule finds is unpriced: nothing fuzzier than SPEC §9\'s rules', () => {
    const table = tableOf(['gpt-4o', 'claude-3-5-sonnet', 'gemini-2.5-pro']);
    for (const name of ['gpt-4', 'gpt-4o-mini', 'gpt-4o-0613', 'gpt-4o-latest', 'gpt4o', 'gpt-4o ', ' gpt-4o', 'models/gemini-2.5-pro-001', 'claude-3-5-sonnet-v2@20241022', 'gpt-4o:free']) {
      assert.equal(findPrice(table, name, null), null, name);
    }
    assert.equal(findPrice(table, null, null), null);
    assert.equal(findPrice(tableOf([]), 'gpt-4o', 'gpt-4o'), null);
  });

  test('a name without input_cost_per_token is not a hit, so the search goes on', () => {
    const result = parsePriceTable(JSON.stringify({ 'openai/dall-e-3': { output_cost_per_pixel: 0 }, 'dall-e-3': { input_cost_per_token: 1e-6 } }));
    assert.ok(result.ok);
    assert.equal(findPrice(result.table, 'openai/dall-e-3', null)?.name, 'dall-e-3');
  });
});
