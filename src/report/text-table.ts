// `--format table` (aligned columns for a terminal) and `--format md` (a GitHub-flavoured
// Markdown table), both ending with a total row (SPEC §11). Group values come from ledgers
// (a `user` is any string a client sent), so control and bidirectional-override characters
// are shown escaped: printed raw they could move the cursor or recolour a terminal.

import type { GroupKey, GroupTotals } from './group-table.ts';
import type { ReportResult } from './report-engine.ts';

/** How a null group (records without the field) reads in table and md; no key, tag or period can be spelt so. */
export const NULL_TEXT = '(none)';
const NO_COST = '-';
const COST_PLACES = 4;

interface Column {
  readonly header: string;
  readonly numeric: boolean;
}

const METRIC_HEADERS = ['requests', 'prompt', 'completion', 'total', 'cached', 'reasoning', 'cost_usd', 'unpriced', 'incomplete'];

function columnsOf(result: ReportResult): Column[] {
  return [...result.by.map((field) => ({ header: field.name, numeric: false })), ...METRIC_HEADERS.map((header) => ({ header, numeric: true }))];
}

function metricCells(totals: GroupTotals): string[] {
  return [
    grouped(totals.requests),
    grouped(totals.prompt_tokens),
    grouped(totals.completion_tokens),
    grouped(totals.total_tokens),
    grouped(totals.cached_tokens),
    grouped(totals.reasoning_tokens),
    totals.priced === 0 ? NO_COST : costText(totals.cost),
    grouped(totals.unpriced),
    grouped(totals.incomplete),
  ];
}

/** The rows, groups then the total, made as they are asked for (twice for table: widths, then text). */
function* rowsOf(result: ReportResult, keyText: (key: GroupKey) => string): Generator<string[]> {
  for (const group of result.groups) yield [...group.keys.map(keyText), ...metricCells(group.totals)];
  yield ['total', ...result.by.slice(1).map(() => ''), ...metricCells(result.total)];
}

export function* tableLines(result: ReportResult): Generator<string> {
  const columns = columnsOf(result);
  const keyText = (key: GroupKey): string => (key === null ? NULL_TEXT : terminalSafe(String(key)));
  const widths = columns.map((column) => column.header.length);
  for (const row of rowsOf(result, keyText)) row.forEach((cell, i) => (widths[i] = Math.max(widths[i]!, cell.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (columns[i]!.numeric ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd() + '\n';
  yield line(columns.map((c) => c.header));
  for (const row of rowsOf(result, keyText)) yield line(row);
}

export function* markdownLines(result: ReportResult): Generator<string> {
  const columns = columnsOf(result);
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |\n`;
  yield line(columns.map((c) => c.header));
  yield `|${columns.map((c) => (c.numeric ? ' ---: ' : ' --- ')).join('|')}|\n`;
  const rows = rowsOf(result, (key) => (key === null ? NULL_TEXT : markdownSafe(String(key))));
  let index = 0;
  for (const row of rows) {
    // The total row's label in bold, so it reads as a summary and not as a group named "total".
    if (index++ === result.groups.length) row[0] = '**total**';
    yield line(row);
  }
}

export function formatTable(result: ReportResult): string {
  return [...tableLines(result)].join('');
}

export function formatMarkdown(result: ReportResult): string {
  return [...markdownLines(result)].join('');
}

/** 1234567 → "1,234,567": digits grouped by three, the same on every machine (no locale). */
export function grouped(n: number): string {
  const digits = String(Math.trunc(Math.abs(n)));
  let out = '';
  for (let i = 0; i < digits.length; i++) {
    if (i > 0 && (digits.length - i) % 3 === 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? `-${out}` : out;
}

function costText(usd: number): string {
  const fixed = Math.abs(usd).toFixed(COST_PLACES);
  const dot = fixed.indexOf('.');
  if (dot < 0) return String(usd); // 1e21 and more: toFixed gives up on places too
  const text = grouped(Number(fixed.slice(0, dot))) + fixed.slice(dot);
  return usd < 0 && Number(fixed) !== 0 ? `-${text}` : text;
}

// C0 and C1 controls, DEL, line and paragraph separators, and the bidirectional embeddings,
// overrides and isolates (the "Trojan Source" characters, CVE-2021-42574).
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Backslash-escapes what Markdown would read as a cell break, emphasis, a link or HTML (CommonMark §2.4). */
export function markdownSafe(text: string): string {
  return terminalSafe(text).replace(/[\\`*_[\]<>|&~!#]/g, (c) => `\\${c}`);
}
