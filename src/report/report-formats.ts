// The machine-readable formats of SPEC §11 and the choice among all five. `json` is
// `{"by":[…],"groups":[{…}],"total":{…}}` with each group's keys under their `--by` names;
// `csv` (RFC 4180) has a header row and no total row, a null group an empty cell. Costs are
// written as src/pricing writes them for the [USAGE] line: plain decimals, at most 10 places.

import { formatCost } from '../pricing/cost.ts';
import type { GroupKey, GroupTotals } from './group-table.ts';
import type { ReportResult } from './report-engine.ts';
import type { ReportFormat, ReportMetric } from './report-options.ts';
import { formatSvg } from './report-svg.ts';
import { formatMarkdown, formatTable } from './text-table.ts';

/** The metric columns of every format but table and md, in order, under the ledger's names. */
export const METRIC_NAMES = ['requests', 'prompt_tokens', 'completion_tokens', 'total_tokens', 'cached_tokens', 'reasoning_tokens', 'cost', 'unpriced', 'incomplete'] as const;

export function formatReport(result: ReportResult, format: ReportFormat, metric: ReportMetric): string {
  switch (format) {
    case 'table':
      return formatTable(result);
    case 'md':
      return formatMarkdown(result);
    case 'csv':
      return formatCsv(result);
    case 'json':
      return formatJson(result);
    case 'svg':
      return formatSvg(result, metric);
  }
}

/** A group's cost: the sum of its known costs, null when none of its records had one. */
export function costOfTotals(totals: GroupTotals): number | null {
  return totals.priced === 0 ? null : Number(formatCost(totals.cost));
}

function metricsJson(totals: GroupTotals): Record<(typeof METRIC_NAMES)[number], number | null> {
  return {
    requests: totals.requests,
    prompt_tokens: totals.prompt_tokens,
    completion_tokens: totals.completion_tokens,
    total_tokens: totals.total_tokens,
    cached_tokens: totals.cached_tokens,
    reasoning_tokens: totals.reasoning_tokens,
    cost: costOfTotals(totals),
    unpriced: totals.unpriced,
    incomplete: totals.incomplete,
  };
}

/**
 * One group per line, so that a large report can be read (and grepped) as it is, and is still
 * one JSON document. A group's own keys come first; a metric's name never collides with a
 * `--by` name (they are periods, fields and `tag:NAME`).
 */
export function formatJson(result: ReportResult): string {
  const groups = result.groups.map((group) => {
    const object: Record<string, GroupKey> = {};
    result.by.forEach((field, i) => {
      object[field.name] = group.keys[i] ?? null;
    });
    return JSON.stringify({ ...object, ...metricsJson(group.totals) });
  });
  const by = JSON.stringify(result.by.map((field) => field.name));
  const total = JSON.stringify(metricsJson(result.total));
  const body = groups.length === 0 ? '[]' : `[\n${groups.join(',\n')}\n]`;
  return `{"by":${by},"groups":${body},"total":${total}}\n`;
}

export function formatCsv(result: ReportResult): string {
  const header = [...result.by.map((field) => field.name), ...METRIC_NAMES];
  const lines = [header.map(csvText).join(',')];
  for (const group of result.groups) {
    const totals = group.totals;
    const cost = totals.priced === 0 ? '' : formatCost(totals.cost);
    const cells = [
      ...group.keys.map((key) => (key === null ? '' : csvText(String(key)))),
      String(totals.requests),
      String(totals.prompt_tokens),
      String(totals.completion_tokens),
      String(totals.total_tokens),
      String(totals.cached_tokens),
      String(totals.reasoning_tokens),
      cost,
      String(totals.unpriced),
      String(totals.incomplete),
    ];
    lines.push(cells.join(','));
  }
  // RFC 4180 §2.1: records end with CRLF, the last one included.
  return lines.map((line) => `${line}\r\n`).join('');
}

/**
 * RFC 4180 §2.5–2.7: a field with a comma, a double quote, CR or LF is quoted, its quotes
 * doubled. The empty string is quoted too (`""`), so it stays apart from null's empty cell.
 */
export function csvText(text: string): string {
  if (text === '' || /[",\r\n]/.test(text)) return `"${text.replaceAll('"', '""')}"`;
  return text;
}
