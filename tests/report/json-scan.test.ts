import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { scanLiteral, scanned, scanNumber, scanString, skipValue, skipWs, textOf } from '../../src/report/json-scan.ts';
import { prng } from '../helpers/prng.ts';
import { randomValue } from '../helpers/random-json.ts';

/** The text as a line: newlines (JSON whitespace, but a line has none) become spaces, and one ends it. */
function line(text: string): { buf: Buffer; end: number } {
  const buf = Buffer.from(`${text.replaceAll('\n', ' ')}\n`);
  return { buf, end: buf.length - 1 };
}

/** True when skipValue vouches for the whole text as one value. */
function vouches(text: string): boolean {
  const { buf, end } = line(text);
  const after = skipValue(buf, skipWs(buf, 0, end), end, 0);
  return after >= 0 && skipWs(buf, after, end) === end;
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

describe('json scanners', () => {
  test('never vouch for a value JSON.parse refuses, over random values and random damage to them', () => {
    const rand = prng(21);
    const noise = '{}[]":,\\ 0.eE+-tfnul\u0001';
    let vouched = 0;
    for (let i = 0; i < 4000; i++) {
      let text = randomValue(rand, 0, { nodes: 10 }).replaceAll('\n', ' ');
      if (rand() < 0.5) {
        const chars = [...text];
        const at = Math.floor(rand() * (chars.length + 1));
        if (rand() < 0.5) chars.splice(at, 1);
        else chars.splice(at, 0, noise[Math.floor(rand() * noise.length)]!);
        text = chars.join('');
      }
      if (vouches(text)) {
        vouched++;
        assert.ok(parses(text), `vouched for ${JSON.stringify(text)}`);
      }
    }
    assert.ok(vouched > 1000, `only ${vouched} values were vouched for`);
  });

  test('vouch for plain values of every kind, and leave escapes and deep nesting to JSON.parse', () => {
    for (const text of ['0', '-1.5e+3', '"plain é"', 'true', 'false', 'null', '[]', '{}', '[1, [2, {"a": [null]}]]', ' { "k" : "v" , "n" : 1 } ']) assert.ok(vouches(text), text);
    for (const text of ['"a\\nb"', '"\\u0041"', '{"k\\"":1}', `${'['.repeat(33)}${']'.repeat(33)}`]) {
      assert.ok(parses(text), text);
      assert.equal(vouches(text), false, text);
    }
  });

  test('scanString reports whether the string was ASCII, so its text is decoded right', () => {
    for (const [text, ascii] of [['"plain"', true], ['"zoë"', false], ['"数据"', false]] as const) {
      const { buf, end } = line(text);
      const after = scanString(buf, 0, end);
      assert.equal(after, end);
      assert.equal(scanned.ascii, ascii);
      assert.equal(textOf(buf, 1, after - 1), JSON.parse(text));
    }
  });

  test('scanNumber and scanLiteral give the value of what they read', () => {
    for (const text of ['0', '-0.25', '12345678901234567890', '1e-7', '0.1', '5e-324']) {
      const { buf, end } = line(text);
      assert.equal(scanNumber(buf, 0, end), end, text);
      assert.equal(scanned.number, JSON.parse(text), text);
    }
    for (const [text, value] of [['true', 1], ['false', 0], ['null', -1]] as const) {
      const { buf, end } = line(text);
      assert.equal(scanLiteral(buf, 0, end), end);
      assert.equal(scanned.literal, value);
    }
    for (const text of ['01', '1.', '.1', '-', '1e', '+1', 'tru', 'nul', 'True']) {
      const { buf, end } = line(text);
      const after = /^[-0-9.]/.test(text) ? scanNumber(buf, 0, end) : scanLiteral(buf, 0, end);
      assert.ok(after < 0 || after !== end, text);
    }
  });
});
