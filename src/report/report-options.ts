// `lm-proxy report [options] [FILE ...]`: the command line of SPEC §11 read into options.
// Pure: files are named here, opened by report-command.ts. A bad option is a result with one
// line naming the option and its value (exit 2), never a throw. Flags take `--flag value` or
// `--flag=value` (SPEC §8); `--` ends the options; `-` is standard input.

import { parseIsoBound } from './iso-date-time.ts';
import type { PeriodKind } from './period-keys.ts';
import { createZoneClock, instantOfFields } from './zone-clock.ts';

/** One `--by` field: a period of `time`, a record field, or one tag. `name` is its `--by` spelling. */
export type GroupField =
  | { readonly kind: 'period'; readonly name: PeriodKind; readonly period: PeriodKind }
  | { readonly kind: 'field'; readonly name: 'model' | 'key' | 'path' | 'status' | 'user' }
  | { readonly kind: 'tag'; readonly name: `tag:${string}`; readonly tag: string };

export type ReportFormat = 'table' | 'csv' | 'json' | 'md' | 'svg';
export type ReportMetric = 'tokens' | 'cost';

export interface ReportOptions {
  readonly by: readonly GroupField[];
  /** Epoch ms; since inclusive, until exclusive; null when not given. */
  readonly since: number | null;
  readonly until: number | null;
  readonly tz: string;
  readonly pricesFile: string | null;
  readonly reprice: boolean;
  readonly format: ReportFormat;
  readonly metric: ReportMetric;
  /** `-` is standard input; no files means standard input too. */
  readonly files: readonly string[];
}

export type ReportArgs = { readonly kind: 'help' } | { readonly kind: 'run'; readonly options: ReportOptions } | { readonly kind: 'bad'; readonly message: string };

const PREFIX = 'lm-proxy report';
const VALUE_FLAGS = new Set(['--by', '--since', '--until', '--tz', '--prices', '--format', '--metric']);
const FORMATS: readonly ReportFormat[] = ['table', 'csv', 'json', 'md', 'svg'];
const METRICS: readonly ReportMetric[] = ['tokens', 'cost'];
const PERIODS: readonly PeriodKind[] = ['hour', 'day', 'week', 'month'];
const FIELDS = ['model', 'key', 'path', 'status', 'user'] as const;
// SPEC §10: tag names are `[a-z0-9_.-]{1,32}` after lower-casing.
const TAG_NAME = /^[a-z0-9_.-]{1,32}$/;
// SPEC §8's boolean spellings, for `--reprice=VALUE`.
const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);
export const DEFAULT_BY = 'day,model';

export function parseReportArgs(argv: readonly string[]): ReportArgs {
  const values = new Map<string, string>();
  let reprice = false;
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      files.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '--help' || arg === '-h') return { kind: 'help' };
    if (!arg.startsWith('-') || arg === '-') {
      files.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    if (flag === '--reprice') {
      if (inline === undefined || TRUE_WORDS.has(inline.toLowerCase())) reprice = true;
      else if (FALSE_WORDS.has(inline.toLowerCase())) reprice = false;
      else return bad(`invalid --reprice ${quote(inline)}: expected no value, or a boolean (true, false, 1, 0, yes, no, on, off)`);
      continue;
    }
    if (!VALUE_FLAGS.has(flag)) return bad(`unknown option ${quote(flag)}: expected one of the options that --help lists`);
    const value = inline ?? argv[++i];
    if (value === undefined) return bad(`missing value for ${flag}: expected ${flag} value or ${flag}=value`);
    values.set(flag, value);
  }

  const tz = values.get('--tz') ?? 'UTC';
  const clock = createZoneClock(tz);
  if (clock === null) return bad(`invalid --tz ${quote(tz)}: expected an IANA time zone such as UTC, Europe/Paris or America/New_York`);

  const by = parseBy(values.get('--by') ?? DEFAULT_BY);
  if (typeof by === 'string') return bad(by);

  const bounds: (number | null)[] = [];
  for (const flag of ['--since', '--until']) {
    const text = values.get(flag);
    if (text === undefined) {
      bounds.push(null);
      continue;
    }
    const fields = parseIsoBound(text);
    if (fields === null) return bad(`invalid ${flag} ${quote(text)}: expected an ISO 8601 date or date-time such as 2026-03-01 or 2026-03-01T14:00:00Z`);
    bounds.push(instantOfFields(fields, clock));
  }
  const [since = null, until = null] = bounds;
  if (since !== null && until !== null && until <= since) return bad(`invalid --until ${quote(values.get('--until')!)}: expected a time after --since ${quote(values.get('--since')!)}`);

  const format = values.get('--format') ?? 'table';
  if (!isOneOf(format, FORMATS)) return bad(`invalid --format ${quote(format)}: expected table, csv, json, md or svg`);
  const metric = values.get('--metric') ?? 'tokens';
  if (!isOneOf(metric, METRICS)) return bad(`invalid --metric ${quote(metric)}: expected tokens or cost`);
  const pricesFile = values.get('--prices') ?? null;
  if (pricesFile === '') return bad('invalid --prices "": expected the path of a LiteLLM price file');
  if (reprice && pricesFile === null) return bad('invalid --reprice: it reprices with --prices FILE, which is missing');

  return { kind: 'run', options: { by, since, until, tz, pricesFile, reprice, format, metric, files } };
}

function parseBy(list: string): GroupField[] | string {
  const fields: GroupField[] = [];
  const problem = `invalid --by ${quote(list)}: expected a comma-separated list of hour, day, week, month, model, key, path, status, user, tag:NAME`;
  for (const raw of list.split(',')) {
    const item = raw.trim();
    let field: GroupField;
    if (isOneOf(item, PERIODS)) field = { kind: 'period', name: item, period: item };
    else if (isOneOf(item, FIELDS)) field = { kind: 'field', name: item };
    else if (item.toLowerCase().startsWith('tag:')) {
      const tag = item.slice(4).toLowerCase();
      if (!TAG_NAME.test(tag)) return `invalid --by ${quote(list)}: ${quote(item)} is not a tag name (a-z, 0-9, _ . -, at most 32)`;
      field = { kind: 'tag', name: `tag:${tag}`, tag };
    } else return problem;
    if (fields.some((f) => f.name === field.name)) return `invalid --by ${quote(list)}: ${quote(field.name)} is named twice`;
    fields.push(field);
  }
  return fields;
}

function isOneOf<T extends string>(value: string, allowed: readonly T[]): value is T {
  return (allowed as readonly string[]).includes(value);
}

function bad(line: string): ReportArgs {
  return { kind: 'bad', message: `${PREFIX}: ${line}` };
}

function quote(value: string): string {
  return JSON.stringify(value);
}
