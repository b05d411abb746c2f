// `npm run bench [-- options]`: lm-proxy against direct, the bare pipe proxy and http-proxy, on
// loopback, in the seven scenarios of docs/PERFORMANCE.md. Prints one markdown table per scenario
// and writes the run to .bench/last-run.md; a full run also refreshes the table in the docs.
// Every process it starts is stopped on exit, on error and on Ctrl-C.

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { killAllNow } from './processes.ts';
import { summariseProfileFile } from './profile-summary.ts';
import { renderRun, renderScenario, renderSummary, type ScenarioReport } from './report.ts';
import { runIdleStreamsScenario } from './scenario-idle-streams.ts';
import { runLargeBodyScenario } from './scenario-large-body.ts';
import { runParsersScenario } from './scenario-parsers.ts';
import { parseGapsArgs, runGapsScenario } from './scenario-gaps.ts';
import { runReportScenario } from './scenario-report.ts';
import { parseSseColdArgs, runSseColdScenario } from './scenario-sse-cold.ts';
import { runWebSocketScenario } from './scenario-websocket-run.ts';
import { runRequestScenarios } from './scenario-requests.ts';
import { runSseScenario } from './scenario-sse.ts';
import { runStartupScenario } from './scenario-startup.ts';
import { ROOT, setup, type BenchContext } from './setup.ts';

const USAGE = `Usage: npm run bench -- [options]

  --quick             short versions of scenarios 1, 3 (50 streams), 4 and 6 (under a minute)
  --scenarios 1,3,7   run only these scenarios
  --rounds N          rounds per scenario, targets alternating within each (default 3)
  --lm-proxy FILE     run FILE (a CommonJS bundle taking --upstream/--listen) in lm-proxy's place
  --no-http-proxy     do not install or run http-proxy
  --cpu-prof          run lm-proxy under node --cpu-prof; profiles go to .bench/cpu-prof/
  --help              this text

Scenarios: 1 small chat POST, 64 connections; 2 the same, 1 connection; 3 SSE streams;
4 one 200 MB embeddings body; 5 1,000 idle streams; 6 the parsers alone; 7 start-up;
10 lm-proxy report against jq on a 300 MB ledger; 11 requests after pauses of 1-45 s on fresh
client connections, TLS upstream 20 ms away; 12 first events of 50 and 500 streams after idle;
13 100 WebSocket sessions of Realtime-shaped audio deltas.
A full run (no --quick, --scenarios, --lm-proxy or --cpu-prof) rewrites the table in docs/PERFORMANCE.md.`;

const DOCS = join(ROOT, 'docs', 'PERFORMANCE.md');
const SCENARIOS: readonly number[] = [1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13];
const BEGIN = '<!-- bench:begin -->';
const END = '<!-- bench:end -->';

interface Options {
  readonly quick: boolean;
  readonly scenarios: ReadonlySet<number>;
  readonly rounds: number;
  readonly lmProxy: string | null;
  readonly httpProxy: boolean;
  readonly cpuProf: boolean;
  readonly full: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  const value = (flag: string): string | undefined => {
    const eq = argv.find((a) => a.startsWith(`${flag}=`));
    if (eq) return eq.slice(flag.length + 1);
    const i = argv.indexOf(flag);
    return i === -1 ? undefined : argv[i + 1];
  };
  const known = new Set(['--quick', '--scenarios', '--rounds', '--lm-proxy', '--no-http-proxy', '--cpu-prof', '--help']);
  for (const arg of argv) {
    if (arg.startsWith('--') && !known.has(arg.split('=')[0] ?? '')) throw new Error(`unknown option ${arg}\n\n${USAGE}`);
  }
  const quick = argv.includes('--quick');
  const listed = value('--scenarios');
  const scenarios = new Set(listed ? listed.split(',').map(Number) : quick ? [1, 3, 4, 6] : [...SCENARIOS]);
  for (const s of scenarios) if (!SCENARIOS.includes(s)) throw new Error(`--scenarios takes numbers of ${SCENARIOS.join(', ')}, got ${listed}`);
  const rounds = Number(value('--rounds') ?? 3);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new Error('--rounds takes a whole number from 1 to 20');
  const lmProxy = value('--lm-proxy') ?? null;
  if (lmProxy && !existsSync(lmProxy)) throw new Error(`--lm-proxy ${lmProxy}: no such file`);
  return { quick, scenarios, rounds, lmProxy, httpProxy: !argv.includes('--no-http-proxy'), cpuProf: argv.includes('--cpu-prof'), full: !quick && !listed && !lmProxy && !argv.includes('--cpu-prof') };
}

function quiet(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return `${e.stdout ?? ''}${e.stderr ?? ''}`.trim();
  }
}

function machineFacts(): string[] {
  const commit = quiet('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']);
  const dirty = quiet('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src']) !== '';
  const wrk = quiet('wrk', ['-v']).split('\n')[0]?.split(' [')[0] ?? '';
  const nginx = quiet('nginx', ['-v']).replace('nginx version: ', '');
  return [
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, commit ${commit}${dirty ? ' + uncommitted src/ changes' : ''}`,
    `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} CPUs, ${Math.round(totalmem() / 2 ** 30)} GiB; Node ${process.version}${wrk ? `; ${wrk}` : ''}${nginx.startsWith('nginx') ? `; ${nginx}` : ''}`,
  ];
}

function updateDocs(markdown: string): string {
  if (!existsSync(DOCS)) return 'docs/PERFORMANCE.md not found: not updated.';
  const doc = readFileSync(DOCS, 'utf8');
  const begin = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (begin === -1 || end < begin) return `docs/PERFORMANCE.md has no ${BEGIN} … ${END} markers: not updated.`;
  // The page's own "Latest full run" heading replaces the run's title line.
  const body = markdown.trim().replace(/^## .*\n+/, '');
  writeFileSync(DOCS, `${doc.slice(0, begin + BEGIN.length)}\n\n${body}\n\n${doc.slice(end)}`);
  return 'docs/PERFORMANCE.md: latest table updated.';
}

async function runScenario(id: number, title: string, ctx: BenchContext, run: () => Promise<ScenarioReport | ScenarioReport[]>): Promise<ScenarioReport[]> {
  ctx.log(`scenario ${id}: ${title}`);
  try {
    const result = await run();
    const reports = Array.isArray(result) ? result : [result];
    for (const report of reports) process.stdout.write(`\n${renderScenario(report)}\n`);
    return reports;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.exitCode = 1;
    const failed: ScenarioReport = { id: String(id), title: `${title}: FAILED`, notes: [message.split('\n').slice(0, 6).join(' / ')], columns: ['target'], rows: [], checks: [] };
    process.stdout.write(`\n${renderScenario(failed)}\n`);
    return [failed];
  }
}

/** Summaries of the CPU profiles this run wrote (lm-proxy writes one per process, on exit). */
function profileSummaries(dir: string, since: number): string {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).mtimeMs >= since);
  return files.map((f) => `#### CPU profile ${f.replace(ROOT, '')}\n\n${summariseProfileFile(f, 12)}\n`).join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help')) {
    console.log(USAGE);
    return;
  }
  const options = parseArgs(argv);
  const began = performance.now();
  const beganWall = Date.now();
  const log = (line: string): void => void process.stderr.write(`· ${line}\n`);
  const env = await setup({ lmProxyOverride: options.lmProxy, wantSea: options.scenarios.has(7), httpProxy: options.httpProxy, cpuProf: options.cpuProf, log });
  const ctx: BenchContext = { env, quick: options.quick, rounds: options.rounds, log };
  const title = `lm-proxy bench${options.quick ? ' (--quick)' : ''}`;
  const facts = machineFacts();
  process.stdout.write(`## ${title}\n\n${[...facts, ...env.notes].map((l) => `- ${l}`).join('\n')}\n`);

  const reports: ScenarioReport[] = [];
  const has = (n: number): boolean => options.scenarios.has(n);
  if (has(1) || has(2)) reports.push(...(await runScenario(has(1) ? 1 : 2, 'small chat POST', ctx, () => runRequestScenarios(ctx, { many: has(1), one: has(2) }))));
  if (has(3)) reports.push(...(await runScenario(3, 'SSE streams', ctx, () => runSseScenario(ctx))));
  if (has(4)) reports.push(...(await runScenario(4, 'large body', ctx, () => runLargeBodyScenario(ctx))));
  if (has(5)) reports.push(...(await runScenario(5, 'idle streams', ctx, () => runIdleStreamsScenario(ctx))));
  if (has(6)) reports.push(...(await runScenario(6, 'parsers', ctx, () => runParsersScenario(ctx))));
  if (has(7)) reports.push(...(await runScenario(7, 'start-up', ctx, () => runStartupScenario(ctx))));
  if (has(10)) reports.push(...(await runScenario(10, 'lm-proxy report vs jq', ctx, () => runReportScenario(ctx))));
  if (has(11)) reports.push(...(await runScenario(11, 'requests after a pause', ctx, () => runGapsScenario(ctx, parseGapsArgs(ctx.quick ? ['--quick'] : ['--repeat', String(Math.min(ctx.rounds, 10))]).options))));
  if (has(12)) reports.push(...(await runScenario(12, 'first events after idle', ctx, () => runSseColdScenario(ctx, parseSseColdArgs(ctx.quick ? ['--quick'] : []).options))));
  if (has(13)) reports.push(...(await runScenario(13, 'WebSocket sessions', ctx, () => runWebSocketScenario(ctx))));

  const seconds = (performance.now() - began) / 1000;
  const header = { title, facts: [...facts, `wall time of the run: ${seconds.toFixed(0)} s`], notes: env.notes };
  const markdown = renderRun(header, reports);
  writeFileSync(join(env.benchDir, 'last-run.md'), `${markdown}\n`);
  process.stdout.write(`\n${renderSummary(reports)}\n`);
  if (env.cpuProfDir) process.stdout.write(`\n${profileSummaries(env.cpuProfDir, beganWall)}`);
  log(`run took ${seconds.toFixed(0)} s; written to .bench/last-run.md`);
  if (options.full && env.lmProxyBundle) log(updateDocs(markdown));
}

main()
  .catch((error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    killAllNow();
    // Keep-alive sockets of the clients must not hold the process open once the report is out.
    setTimeout(() => process.exit(), 100).unref();
  });
