// Turns measured figures into the bench's markdown: one table per scenario (absolute figures, ratios
// to direct and to the bare pipe) and a target list with ✓/✗. Pure; no I/O, no measuring.

export interface Check {
  readonly label: string;
  readonly measured: string;
  /** null when the figure could not be measured (the target is then not judged). */
  readonly pass: boolean | null;
}

export interface ScenarioReport {
  readonly id: string;
  readonly title: string;
  readonly notes: readonly string[];
  readonly columns: readonly string[];
  readonly rows: readonly (readonly string[])[];
  readonly checks: readonly Check[];
}

export interface RunHeader {
  readonly title: string;
  readonly facts: readonly string[];
  readonly notes: readonly string[];
}

const DASH = '—';

export function fmt(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return DASH;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Milliseconds with a precision that suits sub-millisecond proxy overheads. */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return DASH;
  const digits = Math.abs(ms) < 10 ? 2 : Math.abs(ms) < 100 ? 1 : 0;
  return `${fmt(ms, digits)} ms`;
}

/**
 * `value / reference` as `0.87×`; a dash when either side is missing or not positive — an "added"
 * latency at or below zero is direct's noise, and a ratio to it would mean nothing.
 */
export function fmtRatio(value: number, reference: number): string {
  if (!Number.isFinite(value) || !Number.isFinite(reference) || reference <= 0 || value < 0) return DASH;
  return `${fmt(value / reference, 2)}×`;
}

export function fmtMB(bytes: number): string {
  return Number.isFinite(bytes) ? `${fmt(bytes / 1e6, 1)} MB` : DASH;
}

/** A target "value OP limit"; not judged when the value is missing. */
export function check(label: string, value: number, op: '<=' | '>=', limit: number, show: (v: number) => string): Check {
  if (!Number.isFinite(value) || !Number.isFinite(limit)) return { label, measured: Number.isFinite(value) ? show(value) : 'not measured', pass: null };
  return { label, measured: show(value), pass: op === '<=' ? value <= limit : value >= limit };
}

function escapeCell(cell: string): string {
  return cell.replaceAll('|', '\\|');
}

export function markdownTable(columns: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.map(escapeCell).join(' | ')} |`;
  const align = columns.map((_, i) => (i === 0 ? '---' : '---:'));
  return [line(columns), line(align), ...rows.map(line)].join('\n');
}

const mark = (pass: boolean | null): string => (pass === null ? '–' : pass ? '✓' : '✗');

export function renderScenario(report: ScenarioReport): string {
  const parts = [`### ${report.id}. ${report.title}`, ''];
  for (const note of report.notes) parts.push(`- ${note}`);
  if (report.notes.length > 0) parts.push('');
  parts.push(markdownTable(report.columns, report.rows), '');
  if (report.checks.length > 0) {
    parts.push(markdownTable(['target (lm-proxy)', 'measured', ''], report.checks.map((c) => [c.label, c.measured, mark(c.pass)])), '');
  }
  return parts.join('\n');
}

export function renderSummary(reports: readonly ScenarioReport[]): string {
  const rows = reports.flatMap((r) => r.checks.map((c) => [`${r.id}`, c.label, c.measured, mark(c.pass)]));
  if (rows.length === 0) return '';
  const passed = reports.flatMap((r) => r.checks).filter((c) => c.pass === true).length;
  const judged = reports.flatMap((r) => r.checks).filter((c) => c.pass !== null).length;
  return [`### Targets: ${passed} of ${judged} met`, '', markdownTable(['scenario', 'target (lm-proxy)', 'measured', ''], rows), ''].join('\n');
}

export function renderRun(header: RunHeader, reports: readonly ScenarioReport[]): string {
  const parts = [`## ${header.title}`, ''];
  for (const fact of header.facts) parts.push(`- ${fact}`);
  for (const note of header.notes) parts.push(`- ${note}`);
  parts.push('');
  parts.push(renderSummary(reports));
  for (const report of reports) parts.push(renderScenario(report));
  return parts.join('\n');
}
