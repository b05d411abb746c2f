import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { emptyTotals, type Group, type GroupTotals } from '../../src/report/group-table.ts';
import type { ReportResult } from '../../src/report/report-engine.ts';
import { csvText, formatCsv, formatJson, formatReport } from '../../src/report/report-formats.ts';
import { parseReportArgs } from '../../src/report/report-options.ts';
import { formatMarkdown, formatTable, grouped, markdownSafe, terminalSafe } from '../../src/report/text-table.ts';

function totals(fields: Partial<GroupTotals>): GroupTotals {
  return { ...emptyTotals(), ...fields };
}

function result(by: string, groups: Group[], total?: GroupTotals): ReportResult {
  const args = parseReportArgs(['--by', by]);
  if (args.kind !== 'run') throw new Error(JSON.stringify(args));
  const sum = emptyTotals();
  for (const g of groups) for (const k of Object.keys(sum) as (keyof GroupTotals)[]) sum[k] += g.totals[k];
  return { by: args.options.by, groups, total: total ?? sum, records: 0, skipped: 0, truncated: 0 };
}

const SAMPLE = result('day,model', [
  { keys: ['2026-03-01', 'gpt-4o'], totals: totals({ requests: 1200, prompt_tokens: 1_234_567, completion_tokens: 89, total_tokens: 1_234_656, cached_tokens: 5, reasoning_tokens: 2, cost: 12.345678, priced: 1200 }) },
  { keys: ['2026-03-01', null], totals: totals({ requests: 3, prompt_tokens: 30, total_tokens: 30, unpriced: 3, incomplete: 1 }) },
]);

describe('json', () => {
  test('is {"by":[…],"groups":[{…}],"total":{…}} with each group’s keys under their --by names', () => {
    const parsed = JSON.parse(formatJson(SAMPLE)) as unknown;
    assert.deepEqual(parsed, {
      by: ['day', 'model'],
      groups: [
        { day: '2026-03-01', model: 'gpt-4o', requests: 1200, prompt_tokens: 1_234_567, completion_tokens: 89, total_tokens: 1_234_656, cached_tokens: 5, reasoning_tokens: 2, cost: 12.345678, unpriced: 0, incomplete: 0 },
        { day: '2026-03-01', model: null, requests: 3, prompt_tokens: 30, completion_tokens: 0, total_tokens: 30, cached_tokens: 0, reasoning_tokens: 0, cost: null, unpriced: 3, incomplete: 1 },
      ],
      total: { requests: 1203, prompt_tokens: 1_234_597, completion_tokens: 89, total_tokens: 1_234_686, cached_tokens: 5, reasoning_tokens: 2, cost: 12.345678, unpriced: 3, incomplete: 1 },
    });
  });

  test('names tag and status groups as --by does, keeps statuses numbers, and rounds costs to 10 places', () => {
    const r = result('tag:team,status', [{ keys: ['search', 429], totals: totals({ requests: 1, cost: 0.1 + 0.2, priced: 1 }) }]);
    const parsed = JSON.parse(formatJson(r)) as { groups: Record<string, unknown>[] };
    assert.deepEqual([parsed.groups[0]!['tag:team'], parsed.groups[0]!.status, parsed.groups[0]!.cost], ['search', 429, 0.3]);
  });

  test('an empty report is still the same shape', () => {
    assert.deepEqual(JSON.parse(formatJson(result('day,model', []))), { by: ['day', 'model'], groups: [], total: { requests: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, cached_tokens: 0, reasoning_tokens: 0, cost: null, unpriced: 0, incomplete: 0 } });
  });
});

describe('csv', () => {
  test('has a header row, one row per group, no total row, CRLF line ends, null as an empty cell', () => {
    assert.equal(
      formatCsv(SAMPLE),
      'day,model,requests,prompt_tokens,completion_tokens,total_tokens,cached_tokens,reasoning_tokens,cost,unpriced,incomplete\r\n' +
        '2026-03-01,gpt-4o,1200,1234567,89,1234656,5,2,12.345678,0,0\r\n' +
        '2026-03-01,,3,30,0,30,0,0,,3,1\r\n',
    );
  });

  test('quotes fields with commas, quotes, CR or LF as RFC 4180 says, and the empty string apart from null', () => {
    assert.equal(csvText('plain'), 'plain');
    assert.equal(csvText('a,b'), '"a,b"');
    assert.equal(csvText('say "hi"'), '"say ""hi"""');
    assert.equal(csvText('line\nbreak'), '"line\nbreak"');
    assert.equal(csvText('cr\r'), '"cr\r"');
    assert.equal(csvText(''), '""');
    const r = result('user,tag:team', [{ keys: ['o"brien, jr', ''], totals: totals({ requests: 1 }) }]);
    assert.equal(formatCsv(r).split('\r\n')[1], '"o""brien, jr","",1,0,0,0,0,0,,0,0');
  });

  test('the header names tag fields as --by spells them', () => {
    assert.ok(formatCsv(result('tag:team', [])).startsWith('tag:team,requests,'));
  });
});

describe('table and md', () => {
  test('table aligns columns, numbers to the right with thousands grouped, and ends with a total row', () => {
    assert.equal(
      formatTable(SAMPLE),
      [
        'day         model   requests     prompt  completion      total  cached  reasoning  cost_usd  unpriced  incomplete',
        '2026-03-01  gpt-4o     1,200  1,234,567          89  1,234,656       5          2   12.3457         0           0',
        '2026-03-01  (none)         3         30           0         30       0          0         -         3           1',
        'total                  1,203  1,234,597          89  1,234,686       5          2   12.3457         3           1',
        '',
      ].join('\n'),
    );
  });

  test('md is a Markdown table with right-aligned numbers and a bold total row', () => {
    const lines = formatMarkdown(SAMPLE).trimEnd().split('\n');
    assert.equal(lines[0], '| day | model | requests | prompt | completion | total | cached | reasoning | cost_usd | unpriced | incomplete |');
    assert.equal(lines[1], '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    assert.equal(lines[2], '| 2026-03-01 | gpt-4o | 1,200 | 1,234,567 | 89 | 1,234,656 | 5 | 2 | 12.3457 | 0 | 0 |');
    assert.equal(lines[4], '| **total** |  | 1,203 | 1,234,597 | 89 | 1,234,686 | 5 | 2 | 12.3457 | 3 | 1 |');
  });

  test('names from ledgers cannot drive a terminal or break a Markdown table', () => {
    assert.equal(terminalSafe('a\u001b[31mred\u0007\u202ecba'), 'a\\u001b[31mred\\u0007\\u202ecba');
    assert.equal(markdownSafe('a|b <img> *x* \\'), 'a\\|b \\<img\\> \\*x\\* \\\\');
    const hostile = result('user', [{ keys: ['\u001b]0;pwned\u0007|x\n'], totals: totals({ requests: 1 }) }]);
    for (const [text, rows] of [[formatTable(hostile), 3], [formatMarkdown(hostile), 4]] as const) {
      assert.ok(!/[\u0000-\u0009\u000b-\u001f\u007f]/.test(text), JSON.stringify(text));
      assert.equal(text.trimEnd().split('\n').length, rows, 'the newline in the name did not start a row');
    }
  });

  test('groups digits by three on every machine', () => {
    assert.deepEqual([0, 7, 999, 1000, 1234567, 1e15, -1234].map(grouped), ['0', '7', '999', '1,000', '1,234,567', '1,000,000,000,000,000', '-1,234']);
  });
});

describe('format choice', () => {
  test('formatReport dispatches on --format', () => {
    assert.equal(formatReport(SAMPLE, 'json', 'tokens'), formatJson(SAMPLE));
    assert.equal(formatReport(SAMPLE, 'csv', 'tokens'), formatCsv(SAMPLE));
    assert.equal(formatReport(SAMPLE, 'table', 'tokens'), formatTable(SAMPLE));
    assert.equal(formatReport(SAMPLE, 'md', 'tokens'), formatMarkdown(SAMPLE));
    assert.ok(formatReport(SAMPLE, 'svg', 'tokens').startsWith('<svg '));
  });
});
