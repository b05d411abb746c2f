import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLedgerRecord, readRecordValue, type LedgerRecord, type ReadPlan } from '../../src/report/ledger-record.ts';
import { createRecordSniffer, type RecordSniffer } from '../../src/report/record-sniffer.ts';
import { createZoneClock, type ZoneClock } from '../../src/report/zone-clock.ts';
import { prng } from '../helpers/prng.ts';
import { ledgerLine, oldLedgerLine, randomLedgerLine } from './ledger-lines.ts';

const EVERYTHING: ReadPlan = { model: true, path: true, key_id: true, user: true, tagNames: ['team', 'env', 'feature.x-1', '__proto__'] };
const NOTHING: ReadPlan = { model: false, path: false, key_id: false, user: false, tagNames: [] };
const PARIS = createZoneClock('Europe/Paris')!;

type Read = { readonly ok: false } | { readonly ok: true; readonly record: string };

/** The reference: JSON.parse and ledger-record.ts. */
function byJsonParse(line: Buffer, plan: ReadPlan, clock: ZoneClock): Read {
  let value: unknown;
  try {
    value = JSON.parse(line.toString('utf8'));
  } catch {
    return { ok: false };
  }
  const record = createLedgerRecord(plan);
  return readRecordValue(value, plan, clock, record) ? { ok: true, record: show(record) } : { ok: false };
}

// One sniffer per plan and zone for the whole file, as a report has: it remembers the keys of the
// line before, so each line is also read after lines of other shapes (and records are reused).
const sniffers = new Map<string, { sniff: RecordSniffer; record: LedgerRecord }>();

/** The sniffer alone: null when it leaves the line to JSON.parse. */
function bySniffer(line: Buffer, plan: ReadPlan, clock: ZoneClock): string | null {
  const bytes = Buffer.concat([line, Buffer.from('\n')]);
  const id = `${JSON.stringify(plan)} ${clock.zone}`;
  let shared = sniffers.get(id);
  if (shared === undefined) {
    shared = { sniff: createRecordSniffer(plan, clock), record: createLedgerRecord(plan) };
    sniffers.set(id, shared);
  }
  const fresh = createLedgerRecord(plan);
  const byFresh = createRecordSniffer(plan, clock)(bytes, 0, line.length, fresh) ? show(fresh) : null;
  const byShared = shared.sniff(bytes, 0, line.length, shared.record) ? show(shared.record) : null;
  assert.equal(byShared, byFresh, `a sniffer that has read other lines reads ${line.toString('latin1')} as a new one does`);
  return byShared;
}

function show(record: LedgerRecord): string {
  return JSON.stringify(record);
}

/** The sniffer never accepts a line the reference refuses, and reads every line it accepts alike. */
function assertAgrees(line: Buffer, plan: ReadPlan = EVERYTHING, clock: ZoneClock = PARIS): boolean {
  const reference = byJsonParse(line, plan, clock);
  const sniffed = bySniffer(line, plan, clock);
  if (sniffed !== null) {
    assert.ok(reference.ok, `sniffer accepted a line JSON.parse path refuses: ${line.toString('latin1')}`);
    assert.equal(sniffed, reference.record, `on ${line.toString('latin1')}`);
  }
  return sniffed !== null;
}

describe('record sniffer', () => {
  test('reads the ledger’s own lines, current and old, without falling back to JSON.parse', () => {
    const rand = prng(1);
    for (let i = 0; i < 3000; i++) {
      const line = Buffer.from(randomLedgerLine(rand));
      for (const plan of [EVERYTHING, NOTHING]) assert.ok(assertAgrees(line, plan), `fell back on ${line}`);
    }
    assert.ok(assertAgrees(Buffer.from(oldLedgerLine())));
  });

  test('agrees with JSON.parse on odd but valid lines, whichever of the two reads them', () => {
    const cases: string[] = [
      ledgerLine({ time: '2026-03-01T14:05:09+01:00' }),
      ledgerLine({ time: '2026-03-01T14:05:09' }), // no offset: in the report's zone
      ledgerLine({ time: '2026-03-01 14:05:09.5Z' }),
      ledgerLine({ time: '2026-02-30T00:00:00.000Z' }),
      ledgerLine({ time: '2026-03-01T14:05:09.123\u005a' }),
      ledgerLine({ time: 1772373909123 }),
      ledgerLine({ time: null }),
      ledgerLine({ prompt_tokens: -1, completion_tokens: 1.5, total_tokens: '7', cached_tokens: 1e300, reasoning_tokens: null }),
      ledgerLine({ prompt_tokens: 2 ** 53, completion_tokens: 2 ** 53 - 1 }),
      ledgerLine({ status: 200.5, cost: 'free', cost_source: 'upstream' }),
      ledgerLine({ status: null, cost: -0.5, cost_source: 'Upstream' }),
      ledgerLine({ complete: 'false' }),
      ledgerLine({ complete: null }),
      ledgerLine({ complete: false }),
      ledgerLine({ model: 5, path: ['x'], key_id: { a: 1 }, user: true }),
      ledgerLine({ model: '', user: '' }),
      ledgerLine({ model: 'zoë/数据-😀' }),
      ledgerLine({ model: 'tab\there', user: 'quote"d' }), // escapes: JSON.parse's job
      ledgerLine({ tags: { team: 'a', env: 'b', __proto__: 'c' } }),
      ledgerLine({ tags: { team: 5, env: null, other: { deep: [1, { x: 'y' }] } } }),
      ledgerLine({ tags: ['team'] }),
      ledgerLine({ tags: 'team=a' }),
      ledgerLine({ tags: null }),
      ledgerLine({ extra: { nested: [[[[{ a: [true, false, null, -0.5e-3, 'x'] }]]]] } }),
      ledgerLine({ extra: [] }),
      ledgerLine({ extra: {} }),
      '{"time":"2026-03-01T14:05:09.123Z"}',
      '{"time":"2026-03-01T14:05:09.123Z","time":"nope"}',
      '{"time":"nope","time":"2026-03-01T14:05:09.123Z"}',
      '{"time":"2026-03-01T14:05:09.123Z","model":"a","model":"b","tags":{"team":"x"},"tags":{}}',
      '{"time":"2026-03-01T14:05:09.123Z","tags":{"team":"x","team":"y"}}',
      ' \t{ "time" : "2026-03-01T14:05:09.123Z" , "model" :\t"m" , "total_tokens" : 5 } \r',
      '{"time":"2026-03-01T14:05:09.123Z","total_tokens":1E3,"prompt_tokens":10.0,"cost":1e-7,"status":2e2}',
      '{"time":"2026-03-01T14:05:09.123Z","cost":1e400}',
      '{"time":"2026-03-01T14:05:09.123Z","cost":-0,"prompt_tokens":-0}',
      '{"time":"2026-03-01T14:05:09.123Z","total_tokens":12345678901234567890}',
      '{"time":"2026-03-01T14:05:09.123Z","total_tokens":9007199254740993}',
      '{"tim\\u0065":"2026-03-01T14:05:09.123Z"}',
      '{"time":"2026-03-01T14:05:09.123Z","mod\\u0065l":"escaped-key"}',
      '{"time":"2026-03-01T14:05:09.123Z","model":"\\u0067pt"}',
      '{"time":"\\u0032026-03-01T14:05:09.123Z"}',
      '{"time":"2026-03-01T14:05:09.123Z","a":' + '['.repeat(40) + ']'.repeat(40) + '}', // deeper than the sniffer skips
    ];
    for (const text of cases) assertAgrees(Buffer.from(text));
    for (const text of cases) assertAgrees(Buffer.from(text), NOTHING, createZoneClock('UTC')!);
  });

  test('refuses, as JSON.parse does, lines that are not valid JSON or not records', () => {
    const base = ledgerLine();
    const cases: string[] = [
      '',
      '{}',
      '[]',
      'null',
      '"2026-03-01T14:05:09.123Z"',
      base.slice(0, -1),
      base + ',',
      base + '}',
      base + ' x',
      base.replace('"POST"', "'POST'"),
      base.replace('true', 'tru'),
      base.replace('true', 'True'),
      base.replace('null', 'nul'),
      base.replace(':200', ':0200'),
      base.replace(':200', ':+200'),
      base.replace(':200', ':200.'),
      base.replace(':200', ':.5'),
      base.replace(':200', ':2e'),
      base.replace(':200', ':-'),
      base.replace(':200', ':NaN'),
      base.replace(':200', ':Infinity'),
      base.replace('"status"', 'status'),
      base.replace(',"method"', ',,"method"'),
      base.replace('{}', '{,}'),
      base.replace('{}', '{"team"}'),
      base.replace('{}', '{"team":"a",}'),
      base.replace('{}', '[1,]'),
      base.replace('"done"', '"do\u0001ne"'), // a raw control character in a string
      base.replace('"done"', '"do\tne"'),
      base.replace('"done"', '"do\\x41ne"'), // not a JSON escape
      '\ufeff' + base, // a byte order mark is not JSON whitespace
      base.replace('{', '{\u00a0'), // nor is a no-break space
      '{"time":"2026-03-01T14:05:09.123Z","a":' + '['.repeat(40) + ']'.repeat(39) + '}',
    ];
    for (const text of cases) {
      assert.equal(byJsonParse(Buffer.from(text), EVERYTHING, PARIS).ok, false, `the reference reads ${text}`);
      assertAgrees(Buffer.from(text));
    }
  });

  test('agrees with JSON.parse on lines with bytes changed, removed or added at random', () => {
    const rand = prng(7);
    const noise = Buffer.from('{}[]":,\\ 0123456789.eE+-tfnrlu\u00e9\t');
    let accepted = 0;
    for (let i = 0; i < 6000; i++) {
      const line = Buffer.from(randomLedgerLine(rand));
      const bytes = [...line];
      for (let edits = 1 + Math.floor(rand() * 3); edits > 0; edits--) {
        const at = Math.floor(rand() * bytes.length);
        const kind = rand();
        if (kind < 0.3) bytes.splice(at, 1);
        else if (kind < 0.6) bytes.splice(at, 0, noise[Math.floor(rand() * noise.length)]!);
        else if (kind < 0.8) bytes[at] = noise[Math.floor(rand() * noise.length)]!;
        else if (kind < 0.9) bytes[at] = 0x80 + Math.floor(rand() * 0x80); // invalid UTF-8
        else bytes.length = at; // cut short
      }
      const mutated = Buffer.from(bytes.map((b) => (b === 0x0a ? 0x20 : b)));
      if (assertAgrees(mutated)) accepted++;
    }
    assert.ok(accepted > 500, `only ${accepted} mutated lines were read by the sniffer: the test would prove little`);
  });

  test('reads every JSON number as JSON.parse does, to the last bit', () => {
    const rand = prng(13);
    const digits = (n: number): string => Array.from({ length: n }, () => Math.floor(rand() * 10)).join('');
    const texts = ['0', '-0', '0.1', '0.30000000000000004', '1e22', '1e23', '9007199254740993', '1.7976931348623157e308', '5e-324', '2.2250738585072014e-308', '123456789012345678901234567890', '0.000000000000000000000001', '1E+2', '1e-0'];
    for (let i = 0; i < 20_000; i++) {
      const int = rand() < 0.3 ? '0' : `${1 + Math.floor(rand() * 9)}${digits(Math.floor(rand() * 18))}`;
      const frac = rand() < 0.6 ? `.${digits(1 + Math.floor(rand() * 19))}` : '';
      const exp = rand() < 0.3 ? `${rand() < 0.5 ? 'e' : 'E'}${['', '+', '-'][Math.floor(rand() * 3)]}${digits(1 + Math.floor(rand() * 3))}` : '';
      texts.push(`${rand() < 0.2 ? '-' : ''}${int}${frac}${exp}`);
    }
    for (const text of texts) {
      const line = Buffer.from(`{"time":"2026-03-01T14:05:09.123Z","cost":${text},"total_tokens":${text},"status":${text}}`);
      assert.ok(assertAgrees(line), `the sniffer left ${text} to JSON.parse`);
      const cost = JSON.parse(bySniffer(line, NOTHING, PARIS)!).cost as number | null;
      const expected = JSON.parse(text) as number;
      assert.equal(cost, Number.isFinite(expected) ? (expected === 0 ? 0 : expected) : null, text);
    }
  });

  test('reads each of thousands of distinct values as itself, seen once or again (strings are reused by their bytes)', () => {
    const sniff = createRecordSniffer(EVERYTHING, PARIS);
    const record = createLedgerRecord(EVERYTHING);
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 5000; i++) {
        const user = `user-${(i * 7919) % 5000}`;
        const bytes = Buffer.from(`${ledgerLine({ user, model: `m${i % 3000}`, tags: { team: `t${i}` } })}\n`);
        assert.ok(sniff(bytes, 0, bytes.length - 1, record));
        assert.deepEqual([record.user, record.model, record.tagValues[0]], [user, `m${i % 3000}`, `t${i}`]);
      }
    }
  });

  test('a line is left to JSON.parse unless its newline follows it (the splitter’s promise)', () => {
    const line = Buffer.from(ledgerLine() + 'X');
    const record = createLedgerRecord(EVERYTHING);
    assert.equal(createRecordSniffer(EVERYTHING, PARIS)(line, 0, line.length - 1, record), false);
  });

  test('makes strings only of the fields the report needs', () => {
    const record = createLedgerRecord(NOTHING);
    const line = Buffer.from(ledgerLine({ user: 'alice', tags: { team: 'a' } }) + '\n');
    assert.ok(createRecordSniffer(NOTHING, PARIS)(line, 0, line.length - 1, record));
    assert.deepEqual([record.model, record.path, record.key_id, record.user, record.tagValues], [null, null, null, null, []]);
    assert.equal(record.total_tokens, 120);
  });
});
