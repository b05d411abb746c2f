// Requests after a pause, as users feel them: a TLS upstream far away (a delay relay, far-upstream.ts),
// after a warm-up one request at once and then one after each pause, every one on a fresh client
// connection, timed to its first byte. Targets: direct (client → relay → upstream), the bare pipe on an
// https.Agent with keep-alive, and lm-proxy. Every target's sequence runs at the same time, offset a
// little and never two requests at once, so the run lasts about one sequence. Run alone:
//   node --import tsx scripts/bench/scenario-gaps.ts [--pauses 1,3,8,20,45] [--delay 10] [--quick]
//     [--keep-alive 65,5] [--repeat N] [--proxy-bundle PATH] [--no-resumption]

import { pathToFileURL } from 'node:url';
import { bundleFarScripts, startFarTarget, startFarUpstream, type FarTarget, type FarTargetName, type FarUpstream, type LaneStats } from './far-targets.ts';
import { sleep } from './processes.ts';
import { check, fmtMs, type Check, type ScenarioReport } from './report.ts';
import { median } from './stats.ts';
import type { BenchContext } from './setup.ts';
import { runStandalone, standaloneContext } from './standalone.ts';
import { timedChat, warmUp, type TimedResponse } from './timed-request.ts';
import { measureTlsResumption } from './tls-resumption.ts';

const TARGETS: readonly FarTargetName[] = ['direct', 'bare pipe', 'lm-proxy'];
/** lm-proxy may add this much over the bare pipe after any pause (the issue's target). */
const TOLERANCE_MS = 3;
/** Between the starts of two targets' sequences: more than a fresh request takes, so they rarely queue. */
const OFFSET_MS = 150;
/**
 * Requests each target serves before its sequence (4 at a time, not timed), so that the figures are
 * not those of code still being compiled: a proxy in use has run its request path many times.
 */
const WARM_UP_REQUESTS = 24;

export interface UpstreamMode {
  readonly keepAliveS: number;
  /** Whether the upstream announces its timeout (`Keep-Alive: timeout=N`). */
  readonly hint: boolean;
}

export interface GapsOptions {
  /** Pauses in seconds, each before one request. */
  readonly pauses: readonly number[];
  readonly delayMs: number;
  readonly modes: readonly UpstreamMode[];
  /** Connections per row of the resumption table; 0 leaves it out. */
  readonly resumptionCount: number;
  /** Times the whole sequence runs; figures are medians over them. */
  readonly repeats: number;
}

export const DEFAULT_PAUSES = [1, 3, 8, 20, 45];
export const QUICK_PAUSES = [1, 3, 6];

interface Step {
  /** Nominal pause in s (0 for the warm-up); `pausedS` is the pause as it happened. */
  readonly pauseS: number;
  readonly pausedS: number;
  readonly response: TimedResponse;
  /** New upstream connections during this request (relay accepts), and resumed TLS sessions. */
  readonly handshakes: number;
  readonly resumed: number;
}

interface Sequence {
  readonly mode: UpstreamMode;
  readonly target: FarTarget;
  readonly far: FarUpstream;
  readonly lane: number;
  /** When its warm-up (or its previous repeat) ended, performance.now(). */
  warmedAt: number;
}

/** Runs one async job at a time, in the order asked. */
function serialiser(): <T>(job: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(job: () => Promise<T>): Promise<T> => {
    const run = tail.then(job, job);
    tail = run.catch(() => {});
    return run;
  };
}

/** The first request goes after `offsetMs`, the others each `pauses[i]` s after the one before ended. */
async function runSequence(ctx: BenchContext, seq: Sequence, pauses: readonly number[], offsetMs: number, exclusive: ReturnType<typeof serialiser>): Promise<Step[]> {
  const laneStats = async (): Promise<LaneStats> => (await seq.far.stats())[seq.lane] ?? { accepted: Number.NaN, handshakes: Number.NaN, resumed: Number.NaN };
  let before = await laneStats();
  let lastEnd = seq.warmedAt;
  const steps: Step[] = [];
  for (const [i, pauseS] of [0, ...pauses].entries()) {
    await sleep(i === 0 ? offsetMs : Math.max(0, lastEnd + pauseS * 1000 - performance.now()));
    steps.push(
      await exclusive(async () => {
        const startedAt = performance.now();
        const response = await timedChat(seq.target.origin);
        // Read after the request, inside the turn: nothing else uses this lane meanwhile.
        const after = await laneStats();
        const step: Step = { pauseS, pausedS: (startedAt - lastEnd) / 1000, response, handshakes: after.accepted - before.accepted, resumed: after.resumed - before.resumed };
        before = after;
        lastEnd = response.endedAt;
        ctx.log(`  ${seq.target.name}, ${seq.mode.keepAliveS} s upstream, after ${step.pausedS.toFixed(2)} s: ${response.error ?? fmtMs(response.ttfbMs)}${step.handshakes > 0 ? `, new upstream connection${step.resumed > 0 ? ' (resumed)' : ''}` : ''}`);
        return step;
      }),
    );
  }
  return steps;
}

function modeLabel(mode: UpstreamMode): string {
  return `keep-alive ${mode.keepAliveS} s${mode.hint ? ` (announced: Keep-Alive: timeout=${mode.keepAliveS})` : ' (unannounced)'}`;
}

/** What one pause gave a target over every repeat. */
interface Cell {
  /** Median time to first byte over the repeats, in ms. */
  readonly ttfbMs: number;
  readonly repeats: number;
  /** Repeats in which the request opened a new upstream connection, and resumed a TLS session. */
  readonly fresh: number;
  readonly resumed: number;
}

function cellOf(steps: readonly Step[]): Cell {
  return {
    ttfbMs: median(steps.map((s) => s.response.ttfbMs)),
    repeats: steps.length,
    fresh: steps.filter((s) => s.handshakes > 0).length,
    resumed: steps.filter((s) => s.resumed > 0).length,
  };
}

function connectionCell(cell: Cell | undefined): string {
  if (!cell || cell.repeats === 0) return '—';
  if (cell.fresh === 0) return 'reused';
  const resumed = cell.resumed === cell.fresh ? ' (resumed)' : cell.resumed > 0 ? ` (${cell.resumed} resumed)` : '';
  return cell.fresh === cell.repeats ? `new${resumed}` : `new in ${cell.fresh} of ${cell.repeats}${resumed}`;
}

/** `results`: per target, per repeat, the steps of its sequence. */
function report(mode: UpstreamMode, options: GapsOptions, results: ReadonlyMap<FarTargetName, readonly Step[][]>, usageLines: number): ScenarioReport {
  const stepsOf = (name: FarTargetName, i: number): Step[] => (results.get(name) ?? []).flatMap((rep) => (rep[i] ? [rep[i]] : []));
  const at = (name: FarTargetName, i: number): Cell => cellOf(stepsOf(name, i));
  const repeats = results.get('direct')?.length ?? 0;
  const steps = results.get('direct')?.[0]?.length ?? 0;
  const rows: string[][] = [];
  const checks: Check[] = [];
  let overshoot = 0;
  const failures: string[] = [];
  for (let i = 0; i < steps; i++) {
    const direct = at('direct', i);
    const bare = at('bare pipe', i);
    const lm = at('lm-proxy', i);
    const bareAdded = bare.ttfbMs - direct.ttfbMs;
    const lmAdded = lm.ttfbMs - direct.ttfbMs;
    const pauseS = stepsOf('direct', i)[0]?.pauseS ?? 0;
    const firstPause = Math.max(...TARGETS.flatMap((name) => stepsOf(name, 0).map((s) => s.pausedS)));
    for (const name of TARGETS) {
      for (const step of stepsOf(name, i)) {
        if (i > 0) overshoot = Math.max(overshoot, step.pausedS - step.pauseS);
        if (step.response.error) failures.push(`${name} after ${pauseS} s: ${step.response.error}`);
      }
    }
    rows.push([
      i === 0 ? `≤ ${firstPause.toFixed(1)} s` : `${pauseS} s`,
      fmtMs(direct.ttfbMs),
      fmtMs(bare.ttfbMs),
      fmtMs(lm.ttfbMs),
      fmtMs(bareAdded),
      fmtMs(lmAdded),
      fmtMs(lmAdded - bareAdded),
      connectionCell(bare),
      connectionCell(lm),
    ]);
    if (i > 0) checks.push(check(`${mode.keepAliveS} s upstream${mode.hint ? '' : ' (unannounced)'}, after ${pauseS} s: ≤ bare pipe + ${TOLERANCE_MS} ms`, lmAdded - bareAdded, '<=', TOLERANCE_MS, (v) => `${v >= 0 ? '+' : ''}${fmtMs(v)} over the bare pipe`));
  }
  const total = (name: FarTargetName): string => {
    const all = (results.get(name) ?? []).flat();
    const handshakes = all.reduce((s, step) => s + step.handshakes, 0);
    const resumed = all.reduce((s, step) => s + step.resumed, 0);
    return `${name} ${handshakes}${resumed > 0 ? ` (${resumed} resumed)` : ''}`;
  };
  return {
    id: `gaps, ${mode.keepAliveS} s${mode.hint ? '' : ' unannounced'}`,
    title: `Requests after a pause, each on a fresh client connection: TLS upstream ${options.delayMs} ms away each way, ${modeLabel(mode)}${repeats > 1 ? ` (median of ${repeats} repeats)` : ''}`,
    notes: [
      `Time to first byte (request start to response head) of a small chat POST; the client opens a new connection every time. Upstream: node:https with the test certificate, behind a relay holding each direction ${options.delayMs} ms (round trip ${2 * options.delayMs} ms; a new connection waits one more for TCP's handshake).`,
      `Each target first served ${WARM_UP_REQUESTS} untimed requests (4 at a time). The first row is the next request${repeats > 1 ? ' (in later repeats: right after the previous repeat’s last)' : ''}; then one request after each pause, from the previous response's last byte. Sequences take turns, never two requests at once; the longest pause ran ${(overshoot * 1000).toFixed(0)} ms over.`,
      'Direct has no pool: it pays TCP and TLS every time, so a proxy whose upstream socket is still open "adds" less than nothing. Added = target − direct, same pause; lm-proxy − bare pipe does not depend on direct.',
      `Upstream handshakes in all (relay accepts; resumed = TLS session resumed, the upstream's count): ${TARGETS.map(total).join(', ')}. lm-proxy [USAGE] lines: ${usageLines} of ${steps * repeats}.`,
      ...(failures.length > 0 ? [`Failed: ${failures.join('; ')}`] : []),
    ],
    columns: ['pause', 'direct', 'bare pipe', 'lm-proxy', 'bare pipe added', 'lm-proxy added', 'lm-proxy − bare pipe', 'bare pipe upstream', 'lm-proxy upstream'],
    rows,
    checks,
  };
}

export async function runGapsScenario(ctx: BenchContext, options: GapsOptions): Promise<ScenarioReport[]> {
  const reports: ScenarioReport[] = [];
  if (options.resumptionCount > 0) {
    ctx.log(`gaps: TLS session resumption, ${options.resumptionCount} connections per row`);
    reports.push(await measureTlsResumption({ delayMs: options.delayMs, count: options.resumptionCount }));
  }
  const scripts = await bundleFarScripts(ctx.env.benchDir);
  const fars: FarUpstream[] = [];
  const targets: FarTarget[] = [];
  try {
    const sequences: Sequence[] = [];
    for (const mode of options.modes) {
      const far = await startFarUpstream(ctx.env, scripts, { lanes: TARGETS.length, delayMs: options.delayMs, keepAliveTimeoutMs: mode.keepAliveS * 1000, keepAliveHint: mode.hint, tls: true, tlsMax: '1.3' });
      fars.push(far);
      for (const [lane, name] of TARGETS.entries()) {
        if (name === 'lm-proxy' && !ctx.env.lmProxyBundle) continue;
        const target = await startFarTarget(ctx.env, scripts, name, far, lane);
        targets.push(target);
        sequences.push({ mode, target, far, lane, warmedAt: Number.NaN });
      }
    }
    ctx.log(`gaps: warming up ${targets.length} targets (${WARM_UP_REQUESTS} requests each)`);
    for (const seq of sequences) {
      const failed = await warmUp(seq.target.origin, WARM_UP_REQUESTS, 4);
      if (failed > 0) throw new Error(`${seq.target.name}: ${failed} of ${WARM_UP_REQUESTS} warm-up requests failed`);
      seq.warmedAt = performance.now();
    }
    const seconds = options.pauses.reduce((s, p) => s + p, 0);
    const exclusive = serialiser();
    const results: Step[][][] = sequences.map(() => []); // sequence, repeat, step
    for (let repeat = 0; repeat < options.repeats; repeat++) {
      ctx.log(`gaps: ${sequences.length} sequences at once, pauses ${options.pauses.join(', ')} s (about ${Math.round(seconds + 2)} s), repeat ${repeat + 1} of ${options.repeats}`);
      const reps = await Promise.all(sequences.map((seq, i) => runSequence(ctx, seq, options.pauses, i * OFFSET_MS, exclusive)));
      for (const [i, steps] of reps.entries()) {
        results[i]?.push(steps);
        const seq = sequences[i];
        if (seq) seq.warmedAt = steps.at(-1)?.response.endedAt ?? seq.warmedAt;
      }
    }
    for (const mode of options.modes) {
      const byTarget = new Map<FarTargetName, Step[][]>();
      let usageLines = 0;
      for (const [i, seq] of sequences.entries()) {
        if (seq.mode !== mode) continue;
        byTarget.set(seq.target.name, results[i] ?? []);
        // Every warm-up request gave one too (counted from the total: the last of them may be written
        // just after its response reached the client).
        if (seq.target.name === 'lm-proxy') usageLines = (seq.target.child?.countedLines() ?? 0) - WARM_UP_REQUESTS;
      }
      reports.push(report(mode, options, byTarget, usageLines));
    }
  } finally {
    await Promise.all(targets.map((t) => t.stop()));
    await Promise.all(fars.map((f) => f.stop()));
  }
  return reports;
}

const USAGE = `Usage: node --import tsx scripts/bench/scenario-gaps.ts [options]

  --pauses 1,3,8,20,45   seconds before each request (default; about 80 s in all)
  --quick                pauses 1,3,6 (about 12 s)
  --delay MS             one-way delay of the relay in front of the TLS upstream (default 10)
  --keep-alive 65,5      upstream idle keep-alive timeouts in s, one upstream each (default 65,5);
                         NNu: the same without the Keep-Alive hint (unannounced), e.g. 65u
  --proxy-bundle PATH    run this lm-proxy bundle instead of dist/lm-proxy.cjs (built when stale)
  --repeat N             run the sequences N times, medians per pause (default 1; N × the time)
  --no-resumption        leave out the TLS session resumption table (about 5 s)
  --help                 this text`;

export function parseGapsArgs(argv: readonly string[]): { options: GapsOptions; quick: boolean; bundle: string | null } {
  const value = (flag: string): string | undefined => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const known = new Set(['--pauses', '--quick', '--delay', '--keep-alive', '--proxy-bundle', '--repeat', '--no-resumption', '--help']);
  for (const arg of argv) if (arg.startsWith('--') && !known.has(arg)) throw new Error(`unknown option ${arg}\n\n${USAGE}`);
  const quick = argv.includes('--quick');
  const listed = value('--pauses');
  const pauses = listed ? listed.split(',').map(Number) : quick ? QUICK_PAUSES : DEFAULT_PAUSES;
  if (pauses.some((p) => !Number.isFinite(p) || p < 0 || p > 600)) throw new Error(`--pauses takes seconds from 0 to 600, got ${listed}`);
  const delayMs = Number(value('--delay') ?? 10);
  if (!Number.isFinite(delayMs) || delayMs < 0 || delayMs > 1000) throw new Error('--delay takes milliseconds from 0 to 1000');
  const modes = (value('--keep-alive') ?? '65,5').split(',').map((entry): UpstreamMode => {
    const match = /^(\d+(?:\.\d+)?)(u?)$/.exec(entry.trim());
    if (!match) throw new Error(`--keep-alive takes seconds, optionally followed by u (unannounced), got ${entry}`);
    return { keepAliveS: Number(match[1]), hint: match[2] !== 'u' };
  });
  const repeats = Number(value('--repeat') ?? 1);
  if (!Number.isInteger(repeats) || repeats < 1 || repeats > 10) throw new Error('--repeat takes a whole number from 1 to 10');
  return { options: { pauses, delayMs, modes, resumptionCount: argv.includes('--no-resumption') ? 0 : quick ? 5 : 10, repeats }, quick, bundle: value('--proxy-bundle') ?? null };
}

function main(): void {
  const argv = process.argv.slice(2);
  if (argv.includes('--help')) {
    console.log(USAGE);
    return;
  }
  const { options, quick, bundle } = parseGapsArgs(argv);
  runStandalone(async () => runGapsScenario(await standaloneContext(`lm-proxy bench: requests after a pause${quick ? ' (--quick)' : ''}`, bundle, quick), options));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
