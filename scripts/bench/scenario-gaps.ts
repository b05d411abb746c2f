// Requests after a pause, as users feel them: a TLS upstream far away (a delay relay, far-upstream.ts),
// after a warm-up one request at once and then one after each pause, every one on a fresh client
// connection, timed to its first byte. Targets: direct (client → relay → upstream), the bare pipe on an
// https.Agent with keep-alive, and lm-proxy. Every target's sequence runs at the same time, offset a
// little and never two requests at once, so the run lasts about one sequence. Run alone:
//   node --import tsx scripts/bench/scenario-gaps.ts [--pauses 1,3,8,20,45] [--delay 10] [--quick]
//     [--keep-alive 65,5] [--proxy-bundle PATH] [--no-resumption]

import { pathToFileURL } from 'node:url';
import { bundleFarScripts, startFarTarget, startFarUpstream, type FarTarget, type FarTargetName, type FarUpstream, type LaneStats } from './far-targets.ts';
import { sleep } from './processes.ts';
import { check, fmtMs, type Check, type ScenarioReport } from './report.ts';
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
  /** When its warm-up ended (performance.now()), and the proxy's [USAGE] lines by then. */
  warmedAt: number;
  usageAtStart: number;
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
async function runSequence(seq: Sequence, pauses: readonly number[], offsetMs: number, exclusive: ReturnType<typeof serialiser>): Promise<Step[]> {
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
        return step;
      }),
    );
  }
  return steps;
}

function modeLabel(mode: UpstreamMode): string {
  return `keep-alive ${mode.keepAliveS} s${mode.hint ? ` (announced: Keep-Alive: timeout=${mode.keepAliveS})` : ' (unannounced)'}`;
}

function connectionCell(step: Step | undefined): string {
  if (!step) return '—';
  if (step.handshakes === 0) return 'reused';
  return step.resumed > 0 ? `new (resumed)` : step.handshakes === 1 ? 'new' : `${step.handshakes} new`;
}

function report(mode: UpstreamMode, options: GapsOptions, results: ReadonlyMap<FarTargetName, Step[]>, usageLines: number): ScenarioReport {
  const at = (name: FarTargetName, i: number): Step | undefined => results.get(name)?.[i];
  const ttfb = (name: FarTargetName, i: number): number => at(name, i)?.response.ttfbMs ?? Number.NaN;
  const rows: string[][] = [];
  const checks: Check[] = [];
  const steps = results.get('direct')?.length ?? 0;
  let overshoot = 0;
  const failures: string[] = [];
  for (let i = 0; i < steps; i++) {
    const bareAdded = ttfb('bare pipe', i) - ttfb('direct', i);
    const lmAdded = ttfb('lm-proxy', i) - ttfb('direct', i);
    const pauseS = at('direct', i)?.pauseS ?? 0;
    const sinceWarmUp = Math.max(...TARGETS.map((name) => at(name, 0)?.pausedS ?? 0));
    for (const name of TARGETS) {
      const step = at(name, i);
      if (step && i > 0) overshoot = Math.max(overshoot, step.pausedS - step.pauseS);
      if (step?.response.error) failures.push(`${name} after ${pauseS} s: ${step.response.error}`);
    }
    rows.push([
      i === 0 ? `≤ ${sinceWarmUp.toFixed(1)} s after the warm-up` : `${pauseS} s`,
      fmtMs(ttfb('direct', i)),
      fmtMs(ttfb('bare pipe', i)),
      fmtMs(ttfb('lm-proxy', i)),
      fmtMs(bareAdded),
      fmtMs(lmAdded),
      fmtMs(lmAdded - bareAdded),
      connectionCell(at('bare pipe', i)),
      connectionCell(at('lm-proxy', i)),
    ]);
    if (i > 0) checks.push(check(`${mode.keepAliveS} s upstream${mode.hint ? '' : ' (unannounced)'}, after ${pauseS} s: ≤ bare pipe + ${TOLERANCE_MS} ms`, lmAdded - bareAdded, '<=', TOLERANCE_MS, (v) => `${v >= 0 ? '+' : ''}${fmtMs(v)} over the bare pipe`));
  }
  const total = (name: FarTargetName): string => {
    const list = results.get(name) ?? [];
    const handshakes = list.reduce((s, step) => s + step.handshakes, 0);
    const resumed = list.reduce((s, step) => s + step.resumed, 0);
    return `${name} ${handshakes}${resumed > 0 ? ` (${resumed} resumed)` : ''}`;
  };
  return {
    id: `gaps, ${mode.keepAliveS} s${mode.hint ? '' : ' unannounced'}`,
    title: `Requests after a pause, each on a fresh client connection: TLS upstream ${options.delayMs} ms away each way, ${modeLabel(mode)}`,
    notes: [
      `Time to first byte (request start to response head) of a small chat POST; the client opens a new connection every time. Each target first served ${WARM_UP_REQUESTS} untimed requests (4 at a time); the first row is the next request. Upstream: node:https with the test certificate, behind a relay holding each direction ${options.delayMs} ms (round trip ${2 * options.delayMs} ms; a new connection waits one more for TCP's handshake).`,
      'Direct has no pool: it pays TCP and TLS every time, so a proxy whose upstream socket is still open "adds" less than nothing. Added = target − direct, same pause; lm-proxy − bare pipe does not depend on direct.',
      `Upstream handshakes over the whole sequence (relay accepts; resumed = TLS session resumed, the upstream's count): ${TARGETS.map(total).join(', ')}. lm-proxy [USAGE] lines: ${usageLines} of ${steps}.`,
      `Pauses are from the previous response's last byte to the next request; the latest ran ${(overshoot * 1000).toFixed(0)} ms long (sequences take turns, never two requests at once).`,
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
        sequences.push({ mode, target, far, lane, warmedAt: Number.NaN, usageAtStart: 0 });
      }
    }
    ctx.log(`gaps: warming up ${targets.length} targets (${WARM_UP_REQUESTS} requests each)`);
    for (const seq of sequences) {
      const failed = await warmUp(seq.target.origin, WARM_UP_REQUESTS, 4);
      if (failed > 0) throw new Error(`${seq.target.name}: ${failed} of ${WARM_UP_REQUESTS} warm-up requests failed`);
      seq.warmedAt = performance.now();
      seq.usageAtStart = seq.target.child?.countedLines() ?? 0;
    }
    const seconds = options.pauses.reduce((s, p) => s + p, 0);
    ctx.log(`gaps: ${sequences.length} sequences at once, pauses ${options.pauses.join(', ')} s (about ${Math.round(seconds + 2)} s)`);
    const exclusive = serialiser();
    const results = await Promise.all(sequences.map((seq, i) => runSequence(seq, options.pauses, i * OFFSET_MS, exclusive)));
    for (const mode of options.modes) {
      const byTarget = new Map<FarTargetName, Step[]>();
      let usageLines = 0;
      for (const [i, seq] of sequences.entries()) {
        if (seq.mode !== mode) continue;
        byTarget.set(seq.target.name, results[i] ?? []);
        if (seq.target.name === 'lm-proxy') usageLines = (seq.target.child?.countedLines() ?? 0) - seq.usageAtStart;
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
  --no-resumption        leave out the TLS session resumption table (about 5 s)
  --help                 this text`;

export function parseGapsArgs(argv: readonly string[]): { options: GapsOptions; quick: boolean; bundle: string | null } {
  const value = (flag: string): string | undefined => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const known = new Set(['--pauses', '--quick', '--delay', '--keep-alive', '--proxy-bundle', '--no-resumption', '--help']);
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
  return { options: { pauses, delayMs, modes, resumptionCount: argv.includes('--no-resumption') ? 0 : quick ? 5 : 10 }, quick, bundle: value('--proxy-bundle') ?? null };
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
