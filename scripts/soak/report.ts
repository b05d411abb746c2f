// Prints the soak's figures as one plain-text table (the load, the usage records on stdout and in
// the ledger, the upstream's view, the proxy's resources first third → last third, and after the
// clients closed), then each check as ok/FAIL. The same text goes into the closing note and
// docs/PERFORMANCE.md, so it names every bound it judges by.

import type { LoadResult } from './client.ts';
import { KINDS } from './mix.ts';
import type { LevelVerdict, Sample } from './samples.ts';
import type { UpstreamCounts } from './upstream.ts';
import type { TallyVerdict } from './usage-tally.ts';

export interface Check {
  readonly name: string;
  readonly ok: boolean;
}

export interface SoakFigures {
  readonly opts: { requests: number; concurrency: number; timeLimitS: number; sampleMs: number; ci: boolean };
  readonly result: LoadResult;
  readonly stdout: TallyVerdict;
  readonly ledger: TallyVerdict;
  readonly ends: ReadonlyMap<string, number>;
  readonly upstream: UpstreamCounts;
  readonly openAfterLoad: number;
  readonly upstreamClosedMs: number | null;
  readonly upstreamConnections: number;
  readonly idle: Sample;
  readonly settled: Sample;
  readonly settledMs: number | null;
  readonly levels: readonly LevelVerdict[];
  readonly samples: number;
  readonly warmup: { readonly requests: number; readonly samples: readonly Sample[] };
  readonly exitCode: number | null;
  readonly stderr: string;
  readonly otherLines: ReadonlyMap<string, number>;
  readonly oddLines: readonly string[];
  readonly probeTypes: Readonly<Record<string, number>>;
}

const row = (label: string, value: string): string => `  ${label.padEnd(44)} ${value}`;
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const num = (v: number, unit: LevelVerdict['unit']): string => (unit === 'MiB' ? `${v.toFixed(1)} MiB` : v.toFixed(1).replace(/\.0$/, ''));

function tallyRows(label: string, v: TallyVerdict): string[] {
  return [
    row(`${label}`, `${v.records} (expected ${v.expected})`),
    row('  missing / repeated / unexpected / wrong end', `${v.missing} / ${v.repeated} / ${v.unexpected} / ${v.wrongEnd}`),
    row('  foreign / malformed', `${v.foreign} / ${v.malformed}`),
    ...v.examples.map((e) => `      ${e}`),
  ];
}

/** Prints everything; true when every check passed. */
export function printReport(f: SoakFigures, checks: readonly Check[]): boolean {
  const r = f.result;
  const seconds = r.elapsedMs / 1000;
  const lines: string[] = ['', 'load'];
  lines.push(row('requests completed', `${r.ok} of ${r.sent} sent (${f.opts.requests} asked) in ${seconds.toFixed(1)} s, ${(r.sent / seconds).toFixed(0)} req/s`));
  if (r.hitTimeLimit) lines.push(row('', `stopped by the time limit (${f.opts.timeLimitS} s)`));
  lines.push(row('failed', String(r.failed)), ...r.errorSamples.map((e) => `      ${e}`));
  lines.push(row('per kind (completed)', KINDS.map((k) => `${k} ${r.perKind[k].ok}`).join(', ')));

  lines.push('', 'usage records (one per usage-bearing exchange; prompt_tokens names the request)');
  lines.push(...tallyRows('[USAGE] lines on stdout', f.stdout), ...tallyRows('ledger lines', f.ledger));
  lines.push(row('[USAGE] lines by end', [...f.ends].map(([k, n]) => `${k}: ${n}`).join(', ')));

  const u = f.upstream;
  const abortKinds = ['abort-after-usage', 'abort-before-usage'] as const;
  lines.push('', 'upstream');
  lines.push(row('aborted streams closed early upstream', `${abortKinds.map((k) => u.closedEarly[k]).reduce((a, b) => a + b, 0)} (client aborts: ${abortKinds.map((k) => r.perKind[k].ok).reduce((a, b) => a + b, 0)})`));
  lines.push(row('other responses closed early', String(KINDS.filter((k) => !abortKinds.includes(k as never)).reduce((n, k) => n + u.closedEarly[k], 0))));
  lines.push(row('responses still open after the load', `${f.openAfterLoad}${f.upstreamClosedMs === null ? '' : ` (all closed ${f.upstreamClosedMs.toFixed(0)} ms after the last response)`}`));
  lines.push(row('include_usage injected / not', `${u.injected} / ${u.notInjected}`));
  lines.push(row('requests not from the soak', String(u.unknown)));

  const warm = f.warmup.samples.at(-1);
  lines.push('', `proxy process during the load after warm-up (${f.samples} samples every ${f.opts.sampleMs} ms; medians)`);
  lines.push(row(`warm-up (not judged): ~${f.warmup.requests} requests`, warm === undefined ? '(no sample)' : `${f.warmup.samples.length} samples; at its end RSS ${mib(warm.rssBytes)}, ${warm.fds} fds, ${warm.handles ?? '?'} handles`));
  lines.push(`  ${'series'.padEnd(22)} ${'first third'.padStart(12)} ${'last third'.padStart(12)} ${'max'.padStart(12)} ${'limit'.padStart(12)}`);
  for (const l of f.levels) {
    lines.push(`  ${l.name.padEnd(22)} ${num(l.firstThird, l.unit).padStart(12)} ${num(l.lastThird, l.unit).padStart(12)} ${num(l.max, l.unit).padStart(12)} ${num(l.limit, l.unit).padStart(12)}  ${l.ok ? 'ok' : 'FAIL'}`);
  }
  lines.push(row('event-loop resources at the end', Object.entries(f.probeTypes).map(([k, n]) => `${k} ${n}`).join(', ') || '(none)'));

  lines.push('', `after the clients closed (idle before the load → settled${f.settledMs === null ? ', did not settle' : ` ${(f.settledMs / 1000).toFixed(1)} s after`})`);
  lines.push(row('open fds', `${f.idle.fds} → ${f.settled.fds}`));
  lines.push(row('event-loop handles', `${f.idle.handles ?? '?'} → ${f.settled.handles ?? '?'}`));
  lines.push(row('RSS', `${mib(f.idle.rssBytes)} → ${mib(f.settled.rssBytes)}`));
  lines.push(row('upstream connections open', String(f.upstreamConnections)));

  lines.push('', 'proxy output');
  lines.push(row('other stdout lines', [...f.otherLines].map(([k, n]) => `${k} ${n}`).join(', ')));
  lines.push(...f.oddLines.map((l) => `      ${l}`));
  lines.push(row('stderr', f.stderr.trim() === '' ? '(empty)' : f.stderr.trim().split('\n').slice(-5).join('\n      ')));
  lines.push(row('exit code after SIGTERM', String(f.exitCode)));

  lines.push('', 'checks');
  for (const c of checks) lines.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}`);
  const failed = checks.filter((c) => !c.ok).length;
  lines.push('', failed === 0 ? `SOAK PASSED (${checks.length} checks)` : `SOAK FAILED: ${failed} of ${checks.length} checks`);
  console.log(lines.join('\n'));
  return failed === 0;
}
