// `lm-proxy report` against jq on one generated ledger (SPEC §11; the issue's targets: at least
// 10× jq's MB/s, peak RSS under 100 MB whatever the ledger's size). Generates a realistic,
// seeded ledger into .bench/ (8 models, 200 keys, tags, users, costs; kept for the next run),
// runs `report --by day,model --format json` as a child process — bundled as the CLI ships,
// or under tsx with --tsx — then jq doing the same grouping, checks that the two agree, and
// prints MB/s (1 MB = 10^6 bytes) for both, the ratio and the report's peak RSS.
//
//   node --import tsx scripts/bench/scenario-report.ts --mb 300 [--seed 1] [--runs 3] [--tsx] [--no-jq]

import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { prng } from '../../tests/helpers/prng.ts';
import { check, type ScenarioReport } from './report.ts';
import type { BenchContext } from './setup.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BENCH_DIR = join(ROOT, '.bench');
const CHILD_ENTRY = join(ROOT, 'scripts', 'bench', 'report-child.ts');
const CHILD_BUNDLE = join(BENCH_DIR, 'report-child.cjs');

const USAGE = `Usage: node --import tsx scripts/bench/scenario-report.ts [--mb N] [--seed N] [--runs N] [--tsx] [--no-jq]
  --mb N     ledger size in MB (10^6 bytes), default 300
  --seed N   the generator's seed, default 1 (the ledger is kept in .bench/ per size and seed)
  --runs N   report runs, the fastest counts (default 1; jq runs once)
  --tsx      run the report under node --import tsx instead of as a bundle
  --no-jq    skip jq (report figures only)`;

interface Options {
  readonly mb: number;
  readonly seed: number;
  readonly runs: number;
  readonly tsx: boolean;
  readonly jq: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  const value = (flag: string, fallback: number): number => {
    const i = argv.indexOf(flag);
    const text = i < 0 ? undefined : argv[i + 1];
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`invalid ${flag} ${JSON.stringify(text)}\n${USAGE}`);
    return n;
  };
  return { mb: value('--mb', 300), seed: value('--seed', 1), runs: Math.floor(value('--runs', 1)), tsx: argv.includes('--tsx'), jq: !argv.includes('--no-jq') };
}

// ---- the ledger -----------------------------------------------------------------------------

const MODELS = ['gpt-4o-2024-08-06', 'gpt-4o-mini', 'o3-mini', 'claude-3-5-sonnet-20241022', 'claude-3-5-haiku-20241022', 'gemini-2.0-flash', 'openrouter/meta-llama/llama-3.1-70b-instruct', 'mistral-large-latest'];
const PATHS = ['/v1/chat/completions', '/v1/chat/completions', '/v1/chat/completions', '/v1/responses', '/v1/messages', '/v1/embeddings'];
const TEAMS = ['search', 'chat', 'batch', 'eval', 'support'];

/** Writes `bytes` of ledger lines, in time order with the jitter of responses ending out of order. */
function generateLedger(path: string, bytes: number, seed: number): number {
  const rand = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  const keys = Array.from({ length: 200 }, () => Math.floor(rand() * 2 ** 48).toString(16).padStart(12, '0'));
  const users = Array.from({ length: 1000 }, (_, i) => `user-${i}`);
  const partial = `${path}.partial`;
  const fd = openSync(partial, 'w');
  let written = 0;
  let lines = 0;
  let time = Date.parse('2026-01-01T00:00:00Z');
  let batch: string[] = [];
  while (written < bytes) {
    time += Math.floor(rand() * 4000); // about 1,300 requests an hour
    const model = pick(MODELS);
    const prompt = Math.floor(rand() * rand() * 30_000);
    const completion = model.includes('embed') ? 0 : Math.floor(rand() * 1500);
    const reasoning = model.startsWith('o3') ? Math.floor(completion * 0.6) : 0;
    const tags: Record<string, string> = { team: pick(TEAMS) };
    if (rand() < 0.5) tags.env = rand() < 0.8 ? 'prod' : 'staging';
    const upstream = model.startsWith('openrouter/');
    const line = JSON.stringify({
      time: new Date(time - Math.floor(rand() * 3000)).toISOString(),
      method: 'POST',
      path: pick(PATHS),
      status: rand() < 0.97 ? 200 : pick([400, 429, 500]),
      model,
      stream: rand() < 0.6,
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      cached_tokens: Math.floor(prompt * rand() * 0.6),
      reasoning_tokens: reasoning,
      cache_creation_tokens: model.startsWith('claude') && rand() < 0.2 ? Math.floor(prompt * 0.3) : 0,
      audio_prompt_tokens: 0,
      audio_completion_tokens: 0,
      complete: rand() < 0.98,
      end: 'done',
      duration_ms: Math.floor(rand() * 20_000),
      ttfb_ms: Math.floor(rand() * 1500),
      key_id: pick(keys),
      cost: rand() < 0.9 ? Math.round(rand() * 2e8) / 1e10 : null,
      cost_source: upstream ? 'upstream' : 'prices',
      tags,
      user: rand() < 0.6 ? pick(users) : null,
    });
    batch.push(line, '\n');
    written += line.length + 1;
    lines++;
    if (batch.length >= 20_000) {
      writeSync(fd, batch.join(''));
      batch = [];
    }
  }
  writeSync(fd, batch.join(''));
  closeSync(fd);
  renameSync(partial, path); // a run cut short leaves no ledger of the wrong size behind
  return lines;
}

// ---- running both ---------------------------------------------------------------------------

interface Measured {
  readonly seconds: number;
  readonly stdout: string;
  readonly stderr: string;
}

function timed(command: string, args: readonly string[]): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - start) / 1000;
      const stderr = Buffer.concat(err).toString();
      if (code !== 0) reject(new Error(`${command} exited ${code}: ${stderr.slice(-2000)}`));
      else resolve({ seconds, stdout: Buffer.concat(out).toString(), stderr });
    });
  });
}

// The same grouping as `report --by day,model` in UTC: a day is the first 10 characters of `time`.
const JQ_PROGRAM = `reduce inputs as $r ({};
  ($r.time[0:10] + " " + ($r.model // "null")) as $k
  | .[$k] |= ((. // {requests: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, cached_tokens: 0, reasoning_tokens: 0, cost: 0, unpriced: 0, incomplete: 0})
    | .requests += 1
    | .prompt_tokens += ($r.prompt_tokens // 0)
    | .completion_tokens += ($r.completion_tokens // 0)
    | .total_tokens += ($r.total_tokens // 0)
    | .cached_tokens += ($r.cached_tokens // 0)
    | .reasoning_tokens += ($r.reasoning_tokens // 0)
    | .cost += ($r.cost // 0)
    | .unpriced += (if $r.cost == null then 1 else 0 end)
    | .incomplete += (if $r.complete == false then 1 else 0 end)))`;

interface Figures {
  requests: number;
  total_tokens: number;
  cost: number;
}

/** Groups as "day model" → figures, from the report's json and from jq's object. */
function reportGroups(stdout: string): Map<string, Figures> {
  const parsed = JSON.parse(stdout) as { groups: { day: string; model: string | null; requests: number; total_tokens: number; cost: number | null }[] };
  return new Map(parsed.groups.map((g) => [`${g.day} ${g.model ?? 'null'}`, { requests: g.requests, total_tokens: g.total_tokens, cost: g.cost ?? 0 }]));
}

function jqGroups(stdout: string): Map<string, Figures> {
  const parsed = JSON.parse(stdout) as Record<string, Figures>;
  return new Map(Object.entries(parsed).map(([k, g]) => [k, { requests: g.requests, total_tokens: g.total_tokens, cost: g.cost }]));
}

function disagreements(a: Map<string, Figures>, b: Map<string, Figures>): string[] {
  const problems: string[] = [];
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(key);
    const y = b.get(key);
    if (x === undefined || y === undefined) problems.push(`${key}: only in ${x === undefined ? 'jq' : 'report'}`);
    else if (x.requests !== y.requests || x.total_tokens !== y.total_tokens || Math.abs(x.cost - y.cost) > 1e-6 * Math.max(1, y.cost)) {
      problems.push(`${key}: report ${JSON.stringify(x)}, jq ${JSON.stringify(y)}`);
    }
  }
  return problems;
}

export interface ReportMeasure {
  readonly mb: number;
  readonly reportMbPerS: number;
  readonly reportSeconds: number;
  readonly reportCpuS: number;
  readonly peakRssMib: number;
  readonly jqMbPerS: number | null;
  readonly jqVersion: string | null;
  /** Groups whose figures differ between the report and jq (none expected). */
  readonly problems: readonly string[];
  readonly ledger: string;
}

/** Generates (or reuses) the ledger, runs the report `runs` times (fastest counts) and jq once. */
export async function measureReport(options: Options, log: (line: string) => void = (line) => void process.stdout.write(`${line}\n`)): Promise<ReportMeasure> {
  mkdirSync(BENCH_DIR, { recursive: true });
  const ledger = join(BENCH_DIR, `report-ledger-${options.mb}mb-seed${options.seed}.jsonl`);
  if (!existsSync(ledger)) {
    log(`generating ${ledger} …`);
    const lines = generateLedger(ledger, options.mb * 1e6, options.seed);
    log(`  ${lines.toLocaleString('en-US')} lines`);
  }
  const mb = statSync(ledger).size / 1e6;

  let prefix: string[];
  if (options.tsx) {
    prefix = ['--import', 'tsx', CHILD_ENTRY];
  } else {
    await esbuild.build({ entryPoints: [CHILD_ENTRY], outfile: CHILD_BUNDLE, bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'error' });
    prefix = [CHILD_BUNDLE];
  }
  const args = [...prefix, '--by', 'day,model', '--format', 'json', ledger];
  let best: { seconds: number; stdout: string; rssKb: number; cpuMs: number } | null = null;
  for (let run = 0; run < options.runs; run++) {
    const measured = await timed(process.execPath, args);
    const usage = JSON.parse(measured.stderr.trim().split('\n').at(-1) ?? '{}') as { bench: { maxRssKb: number; userMs: number; systemMs: number } };
    const figures = { seconds: measured.seconds, stdout: measured.stdout, rssKb: usage.bench.maxRssKb, cpuMs: usage.bench.userMs + usage.bench.systemMs };
    log(`report run ${run + 1}: ${figures.seconds.toFixed(2)} s, ${(mb / figures.seconds).toFixed(0)} MB/s, CPU ${(figures.cpuMs / 1000).toFixed(2)} s, peak RSS ${(figures.rssKb / 1024).toFixed(1)} MiB`);
    if (best === null || figures.seconds < best.seconds) best = figures;
  }
  if (best === null) throw new Error('no run');
  let jqMbPerS: number | null = null;
  let jqVersion: string | null = null;
  let problems: string[] = [];
  if (options.jq) {
    const version = spawnSync('jq', ['--version'], { encoding: 'utf8' });
    if (version.error === undefined) {
      jqVersion = version.stdout.trim();
      const jq = await timed('jq', ['-n', '-c', JQ_PROGRAM, ledger]);
      problems = disagreements(reportGroups(best.stdout), jqGroups(jq.stdout));
      jqMbPerS = mb / jq.seconds;
    }
  }
  return { mb, reportMbPerS: mb / best.seconds, reportSeconds: best.seconds, reportCpuS: best.cpuMs / 1000, peakRssMib: best.rssKb / 1024, jqMbPerS, jqVersion, problems, ledger };
}

/** Scenario 10 of `npm run bench`: the report against jq on one generated ledger. */
export async function runReportScenario(ctx: BenchContext): Promise<ScenarioReport[]> {
  const m = await measureReport({ mb: ctx.quick ? 30 : 300, seed: 1, runs: 3, tsx: false, jq: true }, ctx.log);
  const ratio = m.jqMbPerS === null ? NaN : m.reportMbPerS / m.jqMbPerS;
  return [{
    id: '10',
    title: `lm-proxy report vs jq, --by day,model on a ${m.mb.toFixed(0)} MB ledger (8 models, 200 keys, tags, costs)`,
    notes: [
      `The report bundled as the CLI ships, fastest of 3 runs; jq (${m.jqVersion ?? 'not installed'}) once, doing the same grouping with reduce.`,
      m.problems.length === 0 ? 'The two agree on every group’s requests, total_tokens and cost.' : `${m.problems.length} groups differ: ${m.problems.slice(0, 2).join('; ')}`,
    ],
    columns: ['tool', 'MB/s', 'wall', 'CPU', 'peak RSS'],
    rows: [
      ['lm-proxy report', m.reportMbPerS.toFixed(0), `${m.reportSeconds.toFixed(2)} s`, `${m.reportCpuS.toFixed(2)} s`, `${m.peakRssMib.toFixed(1)} MiB`],
      ['jq', m.jqMbPerS === null ? 'not installed' : m.jqMbPerS.toFixed(1), m.jqMbPerS === null ? '' : `${(m.mb / m.jqMbPerS).toFixed(1)} s`, '', ''],
    ],
    checks: [
      check('report MB/s ≥ 10× jq', ratio, '>=', 10, (v) => `${v.toFixed(1)}×`),
      check('report peak RSS < 100 MB', m.peakRssMib * 1.048576, '<=', 100, (v) => `${v.toFixed(1)} MB`),
      check('report and jq agree', m.problems.length, '<=', 0, (v) => (v === 0 ? 'every group' : `${v} groups differ`)),
    ],
  }];
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const options = parseOptions(argv);
  const m = await measureReport(options);
  const rows: [string, string][] = [
    ['ledger', `${m.mb.toFixed(1)} MB, ${m.ledger}`],
    ['report', `${m.reportMbPerS.toFixed(0)} MB/s (${m.reportSeconds.toFixed(2)} s wall, ${m.reportCpuS.toFixed(2)} s CPU; ${options.tsx ? 'under tsx' : 'bundled'})`],
    ['report peak RSS', `${m.peakRssMib.toFixed(1)} MiB (target < 100 MB: ${m.peakRssMib * 1.048576 < 100 ? 'met' : 'NOT met'})`],
  ];
  if (options.jq) {
    if (m.jqMbPerS === null) throw new Error('jq is not installed (apt-get install -y jq), or pass --no-jq');
    const ratio = m.reportMbPerS / m.jqMbPerS;
    rows.push(
      ['jq', `${m.jqMbPerS.toFixed(1)} MB/s (${(m.mb / m.jqMbPerS).toFixed(1)} s; ${m.jqVersion})`],
      ['ratio', `${ratio.toFixed(1)}× jq (target ≥ 10×: ${ratio >= 10 ? 'met' : 'NOT met'})`],
      ['agreement', m.problems.length === 0 ? `every group's requests, total_tokens and cost equal jq's` : `${m.problems.length} groups differ: ${m.problems.slice(0, 3).join('; ')}`],
    );
    if (m.problems.length > 0) process.exitCode = 1;
  }
  process.stdout.write(`\n${rows.map(([k, v]) => `${k.padEnd(16)} ${v}`).join('\n')}\n`);
}

// Run alone (not when run.ts imports it for scenario 10).
if (process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url) await main();
