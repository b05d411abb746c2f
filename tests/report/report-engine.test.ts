import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parsePriceTable } from '../../src/pricing/price-table.ts';
import type { GroupKey, GroupTotals } from '../../src/report/group-table.ts';
import { LineSplitter } from '../../src/report/line-splitter.ts';
import { createReportEngine, type ReportResult } from '../../src/report/report-engine.ts';
import { parseReportArgs } from '../../src/report/report-options.ts';
import { LEDGER_PRICING, tablePricer, type ModelPricer, type Pricing } from '../../src/report/report-pricing.ts';
import { createZoneClock } from '../../src/report/zone-clock.ts';
import { ledgerLine, oldLedgerLine } from './ledger-lines.ts';

/** Runs the engine over `text` as report-command.ts does, with the options of `argv`. */
function report(text: string, argv: readonly string[] = [], pricing: Pricing = LEDGER_PRICING): ReportResult {
  const args = parseReportArgs(argv);
  assert.equal(args.kind, 'run', JSON.stringify(args));
  if (args.kind !== 'run') throw new Error('unreachable');
  const { by, since, until, tz } = args.options;
  const engine = createReportEngine({ by, since, until, clock: createZoneClock(tz)!, pricing });
  const splitter = new LineSplitter(engine);
  splitter.push(Buffer.from(text));
  splitter.end();
  return engine.result();
}

function lines(...items: string[]): string {
  return items.map((line) => `${line}\n`).join('');
}

/** Each group as [keys..., requests, total_tokens]. */
function summary(result: ReportResult): (GroupKey | number)[][] {
  return result.groups.map((group) => [...group.keys, group.totals.requests, group.totals.total_tokens]);
}

const t = (iso: string): string => `2026-03-${iso}Z`;

describe('report engine: groups and totals', () => {
  test('groups by day and model by default, and the total adds up every group', () => {
    const result = report(
      lines(
        ledgerLine({ time: t('01T10:00:00.000'), model: 'a', prompt_tokens: 10, completion_tokens: 5 }),
        ledgerLine({ time: t('01T23:59:59.999'), model: 'a', prompt_tokens: 20, completion_tokens: 5 }),
        ledgerLine({ time: t('01T12:00:00.000'), model: 'b', prompt_tokens: 1, completion_tokens: 1 }),
        ledgerLine({ time: t('02T00:00:00.000'), model: 'a', prompt_tokens: 7, completion_tokens: 0 }),
      ),
    );
    assert.deepEqual(result.by.map((f) => f.name), ['day', 'model']);
    assert.deepEqual(summary(result), [
      ['2026-03-01', 'a', 2, 40],
      ['2026-03-01', 'b', 1, 2],
      ['2026-03-02', 'a', 1, 7],
    ]);
    assert.equal(result.total.requests, 4);
    assert.equal(result.total.total_tokens, 49);
    assert.equal(result.total.prompt_tokens, 38);
  });

  test('each group sums its counts and known costs, and counts unpriced and incomplete records', () => {
    const result = report(
      lines(
        ledgerLine({ model: 'a', prompt_tokens: 100, completion_tokens: 50, cached_tokens: 30, reasoning_tokens: 20, cost: 0.25 }),
        ledgerLine({ model: 'a', prompt_tokens: 10, completion_tokens: 5, cached_tokens: 1, reasoning_tokens: 2, cost: null, complete: false }),
        oldLedgerLine({ model: 'a', prompt_tokens: 1, completion_tokens: 1, complete: false }),
        ledgerLine({ model: 'a', cost: 0.5 }),
      ),
      ['--by', 'model'],
    );
    const totals: GroupTotals = result.groups[0]!.totals;
    assert.deepEqual(totals, {
      requests: 4,
      prompt_tokens: 211,
      completion_tokens: 76,
      total_tokens: 287,
      cached_tokens: 31,
      reasoning_tokens: 22,
      cost: 0.75,
      priced: 2,
      unpriced: 2,
      incomplete: 2,
    });
    assert.deepEqual(result.total, totals);
  });

  test('a record without the field grouped by is grouped under null, old ledgers included', () => {
    const result = report(
      lines(
        ledgerLine({ model: null, user: 'alice' }),
        ledgerLine({ model: undefined, user: 5 }),
        oldLedgerLine({ model: 'm' }),
        ledgerLine({ model: 'm', user: 'alice', key_id: null }),
      ),
      ['--by', 'model,user,key'],
    );
    // Level by level: model m and null tie on tokens, so m (a name) comes first; users likewise.
    assert.deepEqual(summary(result), [
      ['m', 'alice', null, 1, 120],
      ['m', null, '3f2a9c41d07e', 1, 120],
      [null, 'alice', '3f2a9c41d07e', 1, 120],
      [null, null, '3f2a9c41d07e', 1, 120], // user 5 is not a user: null
    ]);
  });

  test('tag:NAME groups by that tag’s value; records without the tag are null', () => {
    const result = report(
      lines(
        ledgerLine({ tags: { team: 'search', env: 'prod' }, prompt_tokens: 50 }),
        ledgerLine({ tags: { team: 'chat' }, prompt_tokens: 10 }),
        ledgerLine({ tags: {} }),
        oldLedgerLine({}),
        ledgerLine({ tags: { team: 'search' }, prompt_tokens: 1 }),
      ),
      ['--by', 'tag:Team,tag:env'],
    );
    assert.deepEqual(result.by.map((f) => f.name), ['tag:team', 'tag:env']);
    assert.deepEqual(summary(result), [
      [null, null, 2, 240],
      ['search', 'prod', 1, 70],
      ['search', null, 1, 21],
      ['chat', null, 1, 30],
    ]);
  });

  test('groups by key_id, path and status (numbers in numeric order)', () => {
    const result = report(
      lines(
        ledgerLine({ status: 500, path: '/v1/embeddings', key_id: 'k1' }),
        ledgerLine({ status: 99, path: '/v1/embeddings', key_id: 'k1' }),
        ledgerLine({ status: 200, path: '/v1/chat/completions', key_id: 'k2' }),
      ),
      ['--by', 'status,path,key'],
    );
    assert.deepEqual(summary(result), [
      [99, '/v1/embeddings', 'k1', 1, 120],
      [200, '/v1/chat/completions', 'k2', 1, 120],
      [500, '/v1/embeddings', 'k1', 1, 120],
    ]);
  });
});

describe('report engine: order', () => {
  test('time groups run oldest first, whatever order the lines come in', () => {
    const result = report(lines(...['03', '01', '02'].map((day) => ledgerLine({ time: t(`${day}T10:00:00.000`) }))), ['--by', 'day']);
    assert.deepEqual(result.groups.map((g) => g.keys[0]), ['2026-03-01', '2026-03-02', '2026-03-03']);
  });

  test('within a period, groups by total_tokens, largest first; ties by name, null after names', () => {
    const result = report(
      lines(
        ledgerLine({ model: 'small', prompt_tokens: 1, completion_tokens: 0 }),
        ledgerLine({ model: 'big', prompt_tokens: 1000, completion_tokens: 0 }),
        ledgerLine({ model: 'tie-b', prompt_tokens: 50, completion_tokens: 0 }),
        ledgerLine({ model: null, prompt_tokens: 50, completion_tokens: 0 }),
        ledgerLine({ model: 'tie-a', prompt_tokens: 50, completion_tokens: 0 }),
        ledgerLine({ model: 'Tie-c', prompt_tokens: 50, completion_tokens: 0 }),
      ),
    );
    assert.deepEqual(
      result.groups.map((g) => g.keys[1]),
      ['big', 'Tie-c', 'tie-a', 'tie-b', null, 'small'], // code-unit order: upper case first
    );
  });

  test('levels are ordered in --by order: under model,day each model’s days follow it, oldest first', () => {
    const result = report(
      lines(
        ledgerLine({ time: t('02T10:00:00.000'), model: 'a', prompt_tokens: 10, completion_tokens: 0 }),
        ledgerLine({ time: t('01T10:00:00.000'), model: 'a', prompt_tokens: 10, completion_tokens: 0 }),
        ledgerLine({ time: t('01T10:00:00.000'), model: 'b', prompt_tokens: 15, completion_tokens: 0 }),
      ),
      ['--by', 'model,day'],
    );
    assert.deepEqual(summary(result), [
      ['a', '2026-03-01', 1, 10],
      ['a', '2026-03-02', 1, 10],
      ['b', '2026-03-01', 1, 15],
    ]);
  });
});

describe('report engine: time range', () => {
  // Total tokens 1, 2, 3 and 4, so a sum tells which records were counted.
  const day = lines(
    ledgerLine({ time: '2026-03-01T04:59:59.999Z', prompt_tokens: 1, completion_tokens: 0 }),
    ledgerLine({ time: '2026-03-01T05:00:00.000Z', prompt_tokens: 2, completion_tokens: 0 }),
    ledgerLine({ time: '2026-03-02T04:59:59.999Z', prompt_tokens: 3, completion_tokens: 0 }),
    ledgerLine({ time: '2026-03-02T05:00:00.000Z', prompt_tokens: 4, completion_tokens: 0 }),
  );

  test('--since is inclusive and --until exclusive', () => {
    const result = report(day, ['--by', 'model', '--since', '2026-03-01T05:00:00Z', '--until', '2026-03-02T05:00:00Z']);
    assert.equal(result.total.total_tokens, 2 + 3);
    assert.equal(result.records, 4, 'records outside the range are read, not grouped');
  });

  test('a bound without an offset is read in --tz', () => {
    const result = report(day, ['--by', 'day', '--tz', 'America/New_York', '--since', '2026-03-01', '--until', '2026-03-02']);
    assert.deepEqual(summary(result), [['2026-03-01', 2, 2 + 3]]);
    const utc = report(day, ['--by', 'day', '--since', '2026-03-01', '--until', '2026-03-02']);
    assert.deepEqual(summary(utc), [['2026-03-01', 2, 1 + 2]]);
  });

  test('a bound with an offset means that instant in any --tz', () => {
    const result = report(day, ['--by', 'model', '--tz', 'Asia/Tokyo', '--since', '2026-03-01T00:00:00-05:00']);
    assert.equal(result.total.total_tokens, 2 + 3 + 4);
  });
});

describe('report engine: lines that are not records', () => {
  test('are skipped and counted; blank lines are not counted', () => {
    const result = report(lines(ledgerLine(), 'not json', '[1,2]', '{"model":"no time"}', '', '  \r', ledgerLine({ time: 'yesterday' }), ledgerLine()));
    assert.equal(result.skipped, 4);
    assert.equal(result.total.requests, 2);
  });

  test('an unfinished last line is counted apart, as truncated, and a whole one without its newline is read', () => {
    const cut = report(lines(ledgerLine()) + ledgerLine().slice(0, 40));
    assert.deepEqual([cut.total.requests, cut.skipped, cut.truncated], [1, 0, 1]);
    const whole = report(lines(ledgerLine()) + ledgerLine());
    assert.deepEqual([whole.total.requests, whole.skipped, whole.truncated], [2, 0, 0]);
  });
});

describe('report engine: pricing', () => {
  const fake: ModelPricer = (model, counts) => (model === 'known' ? counts.prompt_tokens * 0.001 : null);

  test('--prices prices only the records without a cost; a model the table lacks stays unpriced', () => {
    const result = report(
      lines(
        ledgerLine({ model: 'known', prompt_tokens: 1000, cost: null }),
        ledgerLine({ model: 'known', prompt_tokens: 1000, cost: 5 }),
        ledgerLine({ model: 'unknown', cost: null }),
        oldLedgerLine({ model: 'known', prompt_tokens: 2000 }),
      ),
      ['--by', 'model'],
      { mode: 'fill', price: fake },
    );
    const known = result.groups.find((g) => g.keys[0] === 'known')!.totals;
    assert.deepEqual([known.cost, known.priced, known.unpriced], [1 + 5 + 2, 3, 0]);
    const unknown = result.groups.find((g) => g.keys[0] === 'unknown')!.totals;
    assert.deepEqual([unknown.priced, unknown.unpriced], [0, 1]);
  });

  test('--reprice replaces every cost but an upstream-reported one, and unprices models the table lacks', () => {
    const result = report(
      lines(
        ledgerLine({ model: 'known', prompt_tokens: 1000, cost: 5, cost_source: 'prices' }),
        ledgerLine({ model: 'known', prompt_tokens: 1000, cost: 7, cost_source: 'upstream' }),
        ledgerLine({ model: 'known', prompt_tokens: 1000, cost: null, cost_source: 'upstream' }),
        ledgerLine({ model: 'unknown', cost: 3, cost_source: 'prices' }),
      ),
      ['--by', 'model'],
      { mode: 'reprice', price: fake },
    );
    const known = result.groups.find((g) => g.keys[0] === 'known')!.totals;
    assert.deepEqual([known.cost, known.priced], [1 + 7 + 1, 3]);
    const unknown = result.groups.find((g) => g.keys[0] === 'unknown')!.totals;
    assert.deepEqual([unknown.priced, unknown.unpriced], [0, 1]);
  });

  test('a price table prices by SPEC §9’s matching: provider prefixes and dates stripped, case ignored', () => {
    const text = readFileSync(new URL('../fixtures/prices/litellm-model-prices-2025-09.json', import.meta.url), 'utf8');
    const parsed = parsePriceTable(text);
    assert.ok(parsed.ok);
    const price = tablePricer(parsed.table);
    const counts = { prompt_tokens: 1000, completion_tokens: 100, cached_tokens: 200, cache_creation_tokens: 0, reasoning_tokens: 0, audio_prompt_tokens: 0, audio_completion_tokens: 0 };
    // gpt-4o: 2.5e-6 input, 1e-5 output, 1.25e-6 cache read (per token).
    const expected = 800 * 2.5e-6 + 200 * 1.25e-6 + 100 * 1e-5;
    for (const model of ['gpt-4o', 'GPT-4o', 'acme/gpt-4o-2099-01-01']) assert.ok(Math.abs(price(model, counts)! - expected) < 1e-15, model);
    assert.equal(price('no-such-model-anywhere', counts), null);
    assert.equal(price(null, counts), null);
  });
});
