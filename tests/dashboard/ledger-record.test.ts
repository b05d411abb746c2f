import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseLedgerLine } from '../../src/dashboard/ledger-record.ts';
import { prng } from '../helpers/prng.ts';

const LINE = JSON.stringify({
  time: '2026-03-02T12:00:00.000Z', method: 'POST', path: '/v1/chat/completions', status: 200, model: 'gpt-4o',
  prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, key_id: 'k1', cost: 0.5, cost_source: 'prices',
  tags: { team: 'search' }, user: 'alice',
});

describe('ledger record', () => {
  it('reads the fields the dashboard uses, with the time in milliseconds', () => {
    const entry = parseLedgerLine(LINE)!;
    assert.equal(entry.at, Date.parse('2026-03-02T12:00:00.000Z'));
    assert.deepEqual({ ...entry.usage, tags: { ...entry.usage.tags } }, {
      time: '2026-03-02T12:00:00.000Z', model: 'gpt-4o', prompt_tokens: 10, completion_tokens: 5, total_tokens: 15,
      key_id: 'k1', cost: 0.5, tags: { team: 'search' }, user: 'alice',
    });
  });

  it('gives null for a line without a readable time or that is not an object', () => {
    for (const line of ['', 'null', '[]', '"x"', '{}', '{"time":5}', '{"time":"soon"}', '{"time":"2026-03-02T12:00:00Z"', '\u0000']) {
      assert.equal(parseLedgerLine(line), null, JSON.stringify(line));
    }
  });

  it('keeps a tag named __proto__ as data and drops tags that are not strings', () => {
    const entry = parseLedgerLine('{"time":"2026-03-02T12:00:00Z","tags":{"__proto__":"x","n":1,"ok":"y"}}')!;
    assert.deepEqual(Object.entries(entry.usage.tags), [['__proto__', 'x'], ['ok', 'y']]);
    assert.equal(Object.getPrototypeOf(entry.usage.tags), null);
  });

  it('prices nothing from a negative or non-numeric cost', () => {
    for (const cost of [-1, '0.5', null, true]) {
      const line = JSON.stringify({ time: '2026-03-02T12:00:00Z', cost });
      assert.equal(parseLedgerLine(line)!.usage.cost, null);
    }
  });

  it('never throws on any cut or corruption of a record', () => {
    const rand = prng(3);
    for (let cut = 0; cut <= LINE.length; cut++) parseLedgerLine(LINE.slice(0, cut));
    for (let i = 0; i < 2000; i++) {
      const chars = [...LINE];
      const at = Math.floor(rand() * chars.length);
      chars[at] = String.fromCharCode(Math.floor(rand() * 0x3000));
      const entry = parseLedgerLine(chars.join(''));
      if (entry !== null) assert.ok(Number.isFinite(entry.at));
    }
  });
});
