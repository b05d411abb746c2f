// The machine-readable formats of SPEC §11 and the choice among all five. `json` is
// `{"by":[…],"groups":[{…}],"total":{…}}` with each group's keys under their `--by` names;
// `csv` (RFC 4180) has a header row and no total row, a null group an empty cell. Costs are
// written as src/pricing writes them for the [USAGE] line: plain decimals, at most 10 places.
// Formats yield their text a line at a time, for the command to write in batches: a report of
// a hundred thousand groups built as one string doubled the report's peak memory (measured).

import { formatCost } from '../pricing/cost.ts';
import type { GroupTotals } from './group-table.ts';
import type { ReportResult } from './report-engine.ts';
import type { ReportFormat, ReportMetric } from './report-options.ts';
import { formatSvg } from './report-svg.ts';
import { markdownLines, tableLines } from './text-table.ts';

/** The metric columns of every format but table and md, in order, under the ledger's names. */
export const METRIC_NAMES = ['requests', 'prompt_tokens', 'completion_tokens', 'total_tokens', 'cached_tokens', 'reasoning_tokens', 'cost', 'unpriced', 'incomplete'] as const;

/** The report's text in pieces, in order. */
export function reportText(result: ReportResult, format: ReportFormat, metric: ReportMetric): Iterable<string> {
  switch (format) {
    case 'table':
      return tableLines(result);
    case 'md':
      return markdownLines(result);
    case 'csv':
      return csvLines(result);
    case 'json':
      return jsonLines(result);
    case 'svg':
      return [formatSvg(result, metric)];
  }
}

/** The report's text as one string. */
export function formatReport(result: ReportResult, format: ReportFormat, metric: ReportMetric): string {
  return [...reportText(result, format, metric)].join('');
}

export function formatJson(result: ReportResult): string {
  return [...jsonLines(result)].join('');
}

export function formatCsv(result: ReportResult): string {
  return [...csvLines(result)].join('');
}

/** A group's cost: the sum of its known costs, null when none of its records had one. */
export function costOfTotals(totals: GroupTotals): number | null {
  return totals.priced === 0 ? null : Number(formatCost(totals.cost));
}

/** The metric members of a group's object, in METRIC_NAMES order, without the braces. */
function metricsJson(totals: GroupTotals): string {
  const cost = costOfTotals(totals);
  return (
    `"requests":${totals.requests},"prompt_tokens":${totals.prompt_tokens},"completion_tokens":${totals.completion_tokens},` +
    `"total_tokens":${totals.total_tokens},"cached_tokens":${totals.cached_tokens},"reasoning_tokens":${totals.reasoning_tokens},` +
    `"cost":${cost === null ? 'null' : JSON.stringify(cost)},"unpriced":${totals.unpriced},"incomplete":${totals.incomplete}`
  );
}

/**
 * One group per line, so that a large report can be read (and grepped) as it is, and is still
 * one JSON document. A group's own keys come first; a metric's name never collides with a
 * `--by` name (they are periods, fields and `tag:NAME`). Written as text, not through an object
 * per group: a report of a hundred thousand groups made twice the garbage that way.
 */
export function* jsonLines(result: ReportResult): Generator<string> {
  const names = result.by.map((field) => `${JSON.stringify(field.name)}:`);
  yield `{"by":${JSON.stringify(result.by.map((field) => field.name))},"groups":[`;
  let separator = '\n';
  for (const group of result.groups) {
    let line = `${separator}{`;
    for (let i = 0; i < names.length; i++) line += `${names[i]}${JSON.stringify(group.keys[i] ?? null)},`;
    yield `${line}${metricsJson(group.totals)}}`;
    separator = ',\n';
  }
  yield `${result.groups.length === 0 ? '' : '\n'}],"total":{${metricsJson(result.total)}}}\n`;
}

// RFC 4180 §2.1: records end with CRLF, the last one included.
export function* csvLines(result: ReportResult): Generator<string> {
  const header = [...result.by.map((field) => field.name), ...METRIC_NAMES];
  yield `${header.map(csvText).join(',')}\r\n`;
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
    yield `${cells.join(',')}\r\n`;
  }
}

/**
 * RFC 4180 §2.5–2.7: a field with a comma, a double quote, CR or LF is quoted, its quotes
 * doubled. The empty string is quoted too (`""`), so it stays apart from null's empty cell.
 */
export function csvText(text: string): string {
  if (text === '' || /[",\r\n]/.test(text)) return `"${text.replaceAll('"', '""')}"`;
  return text;
}
