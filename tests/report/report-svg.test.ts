import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { emptyTotals, type Group, type GroupTotals } from '../../src/report/group-table.ts';
import type { ReportResult } from '../../src/report/report-engine.ts';
import { parseReportArgs } from '../../src/report/report-options.ts';
import { elementsOf, parseXml, textOf } from '../helpers/xml.ts';

import * as svg from '../../src/report/report-svg.ts';

function totals(fields: Partial<GroupTotals>): GroupTotals {
  return { ...emptyTotals(), ...fields };
}

function result(by: string, groups: Group[]): ReportResult {
  const args = parseReportArgs(['--by', by]);
  if (args.kind !== 'run') throw new Error(JSON.stringify(args));
  return { by: args.options.by, groups, total: emptyTotals(), records: 0, skipped: 0, truncated: 0 };
}

const g = (keys: Group['keys'], tokens: number, cost: number | null = null): Group => ({
  keys,
  totals: totals({ requests: 1, total_tokens: tokens, cost: cost ?? 0, priced: cost === null ? 0 : 1, unpriced: cost === null ? 1 : 0 }),
});

describe('svg report', () => {
  test('one bar per value of the first --by field, in the report’s order, stacked by the second', () => {
    const chart = svg.chartOf(
      result('day,model', [g(['2026-03-01', 'a'], 10), g(['2026-03-01', 'b'], 5), g(['2026-03-02', 'b'], 7), g(['2026-03-02', null], 1)]),
      'tokens',
    );
    assert.deepEqual(chart.categories, ['2026-03-01', '2026-03-02']);
    assert.deepEqual(chart.series, [
      { name: 'b', values: [5, 7] },
      { name: 'a', values: [10, 0] },
      { name: '(none)', values: [0, 1] },
    ]);
    assert.equal(chart.unit, 'tokens');
    assert.match(chart.title, /day and model/);
  });

  test('--metric cost draws the known costs in dollars; a group with none adds nothing', () => {
    const chart = svg.chartOf(result('model,key', [g(['m', 'k1'], 10, 0.5), g(['m', 'k2'], 10, null), g(['n', 'k1'], 1, 0.25)]), 'cost');
    assert.equal(chart.unit, 'usd');
    assert.deepEqual(chart.series, [
      { name: 'k1', values: [0.5, 0.25] },
      { name: 'k2', values: [0, 0] },
    ]);
  });

  test('with one --by field each bar is one series; fields after the second are added up', () => {
    assert.deepEqual(svg.chartOf(result('model', [g(['a'], 3), g(['b'], 2)]), 'tokens').series, [{ name: 'total_tokens', values: [3, 2] }]);
    const three = svg.chartOf(result('day,model,key', [g(['d', 'a', 'k1'], 3), g(['d', 'a', 'k2'], 4)]), 'tokens');
    assert.deepEqual(three.series, [{ name: 'a', values: [7] }]);
  });

  test('past the series a legend can hold, the smallest are drawn as one "other" series', () => {
    const groups = Array.from({ length: 30 }, (_, i) => g(['d', `m${String(i).padStart(2, '0')}`], 100 - i));
    const chart = svg.chartOf(result('day,model', groups), 'tokens');
    assert.equal(chart.series.length, svg.MAX_SERIES);
    assert.equal(chart.series.at(-1)!.name, svg.OTHER_SERIES);
    const kept = svg.MAX_SERIES - 1;
    assert.deepEqual(chart.series.at(-1)!.values, [groups.slice(kept).reduce((sum, group) => sum + group.totals.total_tokens, 0)]);
  });

  test('is an SVG document naming its bars and series', () => {
    const text = svg.formatSvg(result('day,model', [g(['2026-03-01', 'gpt-4o'], 10), g(['2026-03-02', 'claude'], 5)]), 'tokens');
    const parsed = parseXml(text);
    assert.ok(parsed.ok, 'well-formed XML');
    assert.equal(parsed.root.name, 'svg');
    const texts = elementsOf(parsed.root).filter((e) => e.name === 'text').map(textOf);
    for (const name of ['2026-03-01', '2026-03-02', 'gpt-4o', 'claude']) assert.ok(texts.some((t) => t.includes(name)), `${name} in ${texts.join(' | ')}`);
  });
});
