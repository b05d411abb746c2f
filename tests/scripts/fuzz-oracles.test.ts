// scripts/fuzz: the oracles the fuzz targets judge by must be right themselves — the RFC 3986 §5.2.4
// reference against the RFC's own examples, the RFC 8259 reference against JSON.parse and the sniffer's
// end() cases, the chunk filter's reference on a stream of known shape — and a short seeded run of a
// cheap target finds nothing in code that is correct.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { removeDotSegments } from '../../scripts/fuzz/targets/upstream-target.ts';
import { parsedAtPaths, referenceSniff } from '../../scripts/fuzz/json-reference.ts';
import { expectedClientBytes } from '../../scripts/fuzz/targets/usage-chunk-filter.ts';
import { cutAt, mutate, prng, rechunk } from '../../scripts/fuzz/mutate.ts';
import { fuzzTarget } from '../../scripts/fuzz/engine.ts';
import { tagsTarget } from '../../scripts/fuzz/targets/tags.ts';
import { randomInput } from '../helpers/random-json.ts';

describe('the RFC 3986 §5.2.4 reference', () => {
  test('gives the RFC examples', () => {
    // RFC 3986 §5.2.4: "/a/b/c/./../../g" → "/a/g" and "mid/content=5/../6" → "mid/6"; §5.4.2's abnormal cases.
    assert.equal(removeDotSegments('/a/b/c/./../../g'), '/a/g');
    assert.equal(removeDotSegments('mid/content=5/../6'), 'mid/6');
    assert.equal(removeDotSegments('/../g'), '/g');
    assert.equal(removeDotSegments('/a/b/..'), '/a/');
    assert.equal(removeDotSegments('/a/./b/.'), '/a/b/');
    assert.equal(removeDotSegments('/a/b/../../..'), '/');
    assert.equal(removeDotSegments('/a/.../b'), '/a/.../b');
    assert.equal(removeDotSegments('/v1//..'), '/v1/');
  });
});

describe('the RFC 8259 reference', () => {
  test('agrees with JSON.parse on 300 generated values, and finds the values at the paths', () => {
    const rand = prng(5);
    for (let n = 0; n < 300; n++) {
      const input = randomInput(rand);
      const result = referenceSniff(Buffer.from(input.text), ['usage', 'model']);
      assert.equal(result.end, 'ok', input.text);
      assert.equal(result.documents.length, input.values.length, input.text);
      result.documents.forEach((text, i) => assert.deepStrictEqual(JSON.parse(text), input.values[i]));
    }
    const one = referenceSniff(Buffer.from('{"usage":{"a":1},"model":"m","x":[{"usage":2}]}'), ['usage', 'model']);
    assert.deepStrictEqual(one.occurrences, [['usage', '{"a":1}'], ['model', '"m"']]);
    assert.deepStrictEqual([...parsedAtPaths(JSON.parse('[{"usage":1},{"model":"m"}]'), ['usage', 'model'])], [['usage', 1], ['model', 'm']]);
  });

  test('tells ok, empty, truncated and malformed apart as the sniffer must', () => {
    const cases: Record<string, string[]> = {
      ok: ['{}', '1 2', '{}{}', '\ufeff[]', '"a"1', '0'],
      empty: ['', ' \n', '\ufeff'],
      truncated: ['{', '[1', '"ab', '1.', '-', '{"a":1', '{"a":"\\u12'],
      malformed: ['{,}', '1true', '01', '[1,]', '{"a" 1}', '\ufeff\ufeff{}', '"a\u0001"', '[1 2]', '{"a":[1,,2]}'],
    };
    for (const [end, inputs] of Object.entries(cases)) {
      for (const input of inputs) assert.equal(referenceSniff(Buffer.from(input), ['usage']).end, end, JSON.stringify(input));
    }
    assert.equal(referenceSniff(Buffer.from([0xef, 0xbb]), ['usage']).end, 'truncated');
    assert.equal(referenceSniff(Buffer.from('['.repeat(1025)), ['usage']).end, 'malformed');
  });

  test('marks a path under a key written twice as shadowed', () => {
    const result = referenceSniff(Buffer.from('{"message":{"usage":1},"message":2}'), ['message.usage']);
    assert.ok(result.shadowed.has('message.usage'));
  });
});

describe("the usage-chunk filter's reference", () => {
  test('removes exactly the usage-only event with its blank line, whatever the line ends', () => {
    for (const eol of ['\n', '\r\n', '\r']) {
      const keep = `data: {"choices":[{"delta":{}}],"usage":null}${eol}${eol}`;
      const usage = `data: {"choices":[],"usage":{"total_tokens":3}}${eol}${eol}`;
      const stream = Buffer.from(`${keep}${usage}data: [DONE]${eol}${eol}`);
      const expected = expectedClientBytes(stream, 1 << 20);
      assert.equal(expected.bytes.toString(), `${keep}data: [DONE]${eol}${eol}`);
      assert.equal(expected.removed, 1);
      assert.equal(expectedClientBytes(stream, 10).removed, 0, 'an event over maxEventBytes is never removed');
    }
  });
});

describe('the mutation engine', () => {
  test('is a pure function of its seed, and re-cutting keeps every byte', () => {
    const input = Buffer.from('{"usage":{"prompt_tokens":1}}');
    assert.deepStrictEqual(mutate(prng(9), input, input), mutate(prng(9), input, input));
    for (let seed = 0; seed < 50; seed++) assert.deepStrictEqual(Buffer.concat(rechunk(prng(seed), input)), input);
    assert.deepStrictEqual(cutAt(input, [0, 3, 3]).map((c) => c.length), [0, 3, 0, input.length - 3]);
  });

  test('a short seeded run of the tags target finds nothing in correct code', async () => {
    const run = await fuzzTarget(tagsTarget, { seed: 1, seconds: 30, maxCases: 2000, skipLinearCheck: true });
    assert.equal(run.cases, 2000);
    assert.deepStrictEqual(run.counts, {});
  });
});
