// First events under load, after the proxy sat idle: N concurrent SSE streams, each on a fresh client
// connection, started 2 per ms, the client asking for usage itself; before each of its rounds every
// target sits idle for several seconds (longer than lm-proxy kept idle upstream sockets before
// issue 15, shorter than the upstream keeps them). Upstream: TLS, far away (far-upstream.ts), unless --plain. Targets: direct, the
// bare pipe on an https.Agent, lm-proxy. Time to first event and per-event delay p50/p99, and the
// proxy's CPU time per event (/proc/PID/stat utime+stime). Run alone:
//   node --import tsx scripts/bench/scenario-sse-cold.ts [--shapes 50x5,500x20] [--quick] [--proxy-bundle PATH]

import { pathToFileURL } from 'node:url';
import { bundleFarScripts, busyShare, cpuTicks, procCpuSeconds, startFarTarget, startFarUpstream, type FarTarget, type FarTargetName } from './far-targets.ts';
import { sleep } from './processes.ts';
import { check, fmt, fmtMs, type Check, type ScenarioReport } from './report.ts';
import type { BenchContext } from './setup.ts';
import { runUsageStreams } from './sse-usage-client.ts';
import { runStandalone, standaloneContext } from './standalone.ts';
import { median, percentile, roundOrder } from './stats.ts';

/** N concurrent streams, their events `intervalMs` apart. */
export interface Shape {
  readonly streams: number;
  readonly intervalMs: number;
}

/** Events per stream of the warm-up pass: enough for every stream of a shape to be open at once. */
const WARM_UP_EVENTS = 20;

export interface SseColdOptions {
  readonly shapes: readonly Shape[];
  readonly events: number;
  readonly startsPerMs: number;
  readonly rounds: number;
  /** Seconds every target sits idle before each of its rounds. */
  readonly idleS: number;
  readonly delayMs: number;
  readonly keepAliveS: number;
  readonly tls: boolean;
}

interface RoundFigures {
  readonly ttfeP50: number;
  readonly ttfeP99: number;
  readonly delayP50: number;
  readonly delayP99: number;
  readonly received: number;
  readonly expected: number;
  readonly failed: number;
  readonly usageStreams: number;
  /** The proxy's CPU time over the round ÷ events received, in µs; NaN for direct. */
  readonly cpuUsPerEvent: number;
  readonly newConnections: number;
  readonly resumed: number;
  readonly usageLines: number;
  /** Busy share (0-1) of the proxy's CPU and of the load CPU (clients, upstream, relays) over the round. */
  readonly proxyCpuBusy: number;
  readonly loadCpuBusy: number;
}

type Figures = RoundFigures & { readonly rounds: number };

function summarise(list: readonly RoundFigures[]): Figures {
  const med = (key: keyof RoundFigures): number => median(list.map((f) => f[key]));
  const sum = (key: keyof RoundFigures): number => list.reduce((s, f) => s + f[key], 0);
  return {
    ttfeP50: med('ttfeP50'), ttfeP99: med('ttfeP99'), delayP50: med('delayP50'), delayP99: med('delayP99'), cpuUsPerEvent: med('cpuUsPerEvent'),
    proxyCpuBusy: med('proxyCpuBusy'), loadCpuBusy: med('loadCpuBusy'),
    received: sum('received'), expected: sum('expected'), failed: sum('failed'), usageStreams: sum('usageStreams'), newConnections: sum('newConnections'), resumed: sum('resumed'), usageLines: sum('usageLines'),
    rounds: list.length,
  };
}

async function measureRound(ctx: BenchContext, options: SseColdOptions, shape: Shape, target: FarTarget, laneStats: () => Promise<{ accepted: number; resumed: number }>): Promise<RoundFigures> {
  const pid = target.child?.pid;
  const before = await laneStats();
  const usageBefore = target.child?.countedLines() ?? 0;
  const cpuBefore = pid === undefined ? Number.NaN : procCpuSeconds(pid);
  const ticksBefore = cpuTicks();
  const result = await runUsageStreams({ origin: target.origin, streams: shape.streams, events: options.events, intervalMs: shape.intervalMs, startsPerMs: options.startsPerMs });
  const ticksAfter = cpuTicks();
  const cpuAfter = pid === undefined ? Number.NaN : procCpuSeconds(pid);
  const after = await laneStats();
  return {
    ttfeP50: percentile(result.ttfeMs, 50),
    ttfeP99: percentile(result.ttfeMs, 99),
    delayP50: percentile(result.delaysMs, 50),
    delayP99: percentile(result.delaysMs, 99),
    received: result.eventsReceived,
    expected: result.eventsExpected,
    failed: result.failedStreams,
    usageStreams: result.usageStreams,
    cpuUsPerEvent: ((cpuAfter - cpuBefore) * 1e6) / result.eventsReceived,
    newConnections: after.accepted - before.accepted,
    resumed: after.resumed - before.resumed,
    usageLines: (target.child?.countedLines() ?? 0) - usageBefore,
    proxyCpuBusy: busyShare(ticksBefore, ticksAfter, ctx.env.proxyCpu),
    loadCpuBusy: busyShare(ticksBefore, ticksAfter, ctx.env.loadCpu),
  };
}

const fmtShare = (share: number): string => (Number.isFinite(share) ? `${Math.round(share * 100)}%` : '—');

function report(options: SseColdOptions, shape: Shape, figures: ReadonlyMap<FarTargetName, Figures>): ScenarioReport {
  const { streams } = shape;
  const direct = figures.get('direct');
  const bare = figures.get('bare pipe');
  const lm = figures.get('lm-proxy');
  type Key = 'ttfeP50' | 'ttfeP99' | 'delayP50' | 'delayP99';
  const added = (f: Figures | undefined, key: Key): number => (f?.[key] ?? Number.NaN) - (direct?.[key] ?? Number.NaN);
  const rows = [...figures].map(([name, f]) => {
    const proxied = name !== 'direct';
    return [
      name,
      fmtMs(f.ttfeP50),
      fmtMs(f.ttfeP99),
      proxied ? fmtMs(added(f, 'ttfeP50')) : '',
      fmtMs(f.delayP50),
      fmtMs(f.delayP99),
      proxied ? fmtMs(added(f, 'delayP50')) : '',
      proxied ? fmtMs(added(f, 'delayP99')) : '',
      proxied ? `${fmt(f.cpuUsPerEvent, 1)} µs` : '',
      `${fmtShare(f.proxyCpuBusy)} / ${fmtShare(f.loadCpuBusy)}`,
      `${fmt(f.newConnections / f.rounds)}${f.resumed > 0 ? ` (${fmt(f.resumed / f.rounds)} resumed)` : ''}`,
      `${fmt(f.usageStreams)} / ${fmt(f.rounds * streams)}`,
      `${fmt(f.received)} / ${fmt(f.expected)}${f.failed > 0 ? ` (${f.failed} streams failed)` : ''}`,
    ];
  });
  const over = (key: Key): number => (lm?.[key] ?? Number.NaN) - (bare?.[key] ?? Number.NaN);
  const vsBare = (v: number): string => `${v >= 0 ? '+' : ''}${fmtMs(v)} over the bare pipe`;
  const checks: Check[] = [
    check(`${streams} cold streams: TTFE p50 ≤ bare pipe + 3 ms`, over('ttfeP50'), '<=', 3, vsBare),
    check(`${streams} cold streams: TTFE p99 ≤ bare pipe + 3 ms`, over('ttfeP99'), '<=', 3, vsBare),
    check(`${streams} cold streams: per-event p99 ≤ bare pipe + 0.5 ms`, over('delayP99'), '<=', 0.5, vsBare),
  ];
  const upstream = options.tls ? `node:https (test certificate) behind a relay holding each direction ${options.delayMs} ms` : `plain HTTP behind a relay holding each direction ${options.delayMs} ms`;
  return {
    id: `sse cold ${streams}`,
    title: `First events after ${options.idleS} s idle: ${streams} concurrent streams of ${options.events} events ${shape.intervalMs} ms apart, started ${options.startsPerMs} per ms, each on a fresh client connection (${options.rounds} rounds)`,
    notes: [
      `Upstream: ${upstream}, keep-alive ${options.keepAliveS} s; one lane (upstream and relay) per target; upstreams and relays in two child processes on the load CPU. The client asks for usage itself (stream_options.include_usage).`,
      `Before each of its rounds every target sat idle ≥ ${options.idleS} s (while the others ran, or waiting). A warm-up pass of the same shape, ${WARM_UP_EVENTS} events per stream, ran first: its upstream sockets are what an idle proxy may keep. Targets rotate within rounds; figures are medians of the rounds.`,
      'Event delay = upstream send stamp to client receipt (relay delay included, the same for all). Added = target − direct; direct opens a new upstream connection per stream, always.',
      `CPU per event = the proxy process's utime+stime over the round (in clock ticks of 1/CLK_TCK s, usually 10 ms) ÷ events received. CPUs busy: the share of the proxy's CPU and of the load CPU (clients, upstream, relays) busy over the round, everything on the machine counted; near 100% the figures measure a queue. New upstream connections are per round.${lm ? ` lm-proxy [USAGE] lines: ${fmt(lm.usageLines)} of ${fmt(lm.rounds * streams)}.` : ''}`,
    ],
    columns: ['target', 'TTFE p50', 'TTFE p99', 'added TTFE p50', 'event delay p50', 'event delay p99', 'added p50', 'added p99', 'proxy CPU per event', 'CPUs busy (proxy / load)', 'new upstream connections', 'usage chunks', 'events received'],
    rows,
    checks,
  };
}

export async function runSseColdScenario(ctx: BenchContext, options: SseColdOptions): Promise<ScenarioReport[]> {
  const names: FarTargetName[] = ctx.env.lmProxyBundle ? ['direct', 'bare pipe', 'lm-proxy'] : ['direct', 'bare pipe'];
  const scripts = await bundleFarScripts(ctx.env.benchDir);
  const far = await startFarUpstream(ctx.env, scripts, { lanes: names.length, delayMs: options.delayMs, keepAliveTimeoutMs: options.keepAliveS * 1000, keepAliveHint: true, tls: options.tls, tlsMax: '1.3' });
  const targets: FarTarget[] = [];
  const reports: ScenarioReport[] = [];
  try {
    for (const [lane, name] of names.entries()) targets.push(await startFarTarget(ctx.env, scripts, name, far, lane));
    const laneOf = new Map(targets.map((t, lane) => [t.name, lane]));
    const laneStats = (name: FarTargetName) => async () => (await far.stats())[laneOf.get(name) ?? -1] ?? { accepted: Number.NaN, resumed: Number.NaN };
    // When each target last served a stream: its next round waits until it has been idle long enough.
    const lastActive = new Map<FarTargetName, number>();
    for (const shape of options.shapes) {
      ctx.log(`sse cold, ${shape.streams} streams ${shape.intervalMs} ms apart: warm-up pass`);
      for (const target of targets) {
        await runUsageStreams({ origin: target.origin, streams: shape.streams, events: WARM_UP_EVENTS, intervalMs: shape.intervalMs, startsPerMs: options.startsPerMs });
        lastActive.set(target.name, performance.now());
      }
      const perRound = new Map<FarTargetName, RoundFigures[]>(targets.map((t) => [t.name, []]));
      for (let round = 0; round < options.rounds; round++) {
        for (const target of roundOrder(targets, round)) {
          const wait = (lastActive.get(target.name) ?? 0) + options.idleS * 1000 - performance.now();
          ctx.log(`sse cold, ${shape.streams} streams, round ${round + 1}/${options.rounds}: ${target.name}${wait > 0 ? ` after ${(wait / 1000).toFixed(1)} s more idle` : ''}`);
          await sleep(Math.max(0, wait));
          perRound.get(target.name)?.push(await measureRound(ctx, options, shape, target, laneStats(target.name)));
          lastActive.set(target.name, performance.now());
        }
      }
      reports.push(report(options, shape, new Map([...perRound].map(([name, list]) => [name, summarise(list)]))));
    }
  } finally {
    await Promise.all(targets.map((t) => t.stop()));
    await far.stop();
  }
  return reports;
}

const USAGE = `Usage: node --import tsx scripts/bench/scenario-sse-cold.ts [options]

  --shapes 50x5,500x20 concurrent streams x ms between a stream's events, per shape (default;
                       about 90 s in all; 500x5, 100,000 events a second, saturates a 2-CPU machine)
  --events N           events per stream (default 200)
  --rounds N           measured rounds per shape (default 3)
  --idle S             seconds every target sits idle before a round (default 6)
  --delay MS           one-way delay of the relay in front of the upstream (default 10)
  --keep-alive S       the upstream's idle keep-alive timeout (default 65)
  --plain              a plain HTTP upstream instead of TLS
  --quick              50x5 only, 2 rounds, 5 s idle (about 25 s)
  --proxy-bundle PATH  run this lm-proxy bundle instead of dist/lm-proxy.cjs (built when stale)
  --help               this text`;

export function parseSseColdArgs(argv: readonly string[]): { options: SseColdOptions; quick: boolean; bundle: string | null } {
  const value = (flag: string): string | undefined => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const known = new Set(['--shapes', '--events', '--rounds', '--idle', '--delay', '--keep-alive', '--plain', '--quick', '--proxy-bundle', '--help']);
  for (const arg of argv) if (arg.startsWith('--') && !known.has(arg)) throw new Error(`unknown option ${arg}\n\n${USAGE}`);
  const quick = argv.includes('--quick');
  const num = (flag: string, fallback: number, min: number, max: number): number => {
    const n = Number(value(flag) ?? fallback);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`${flag} takes a number from ${min} to ${max}`);
    return n;
  };
  const shapes = (value('--shapes') ?? (quick ? '50x5' : '50x5,500x20')).split(',').map((entry): Shape => {
    const match = /^(\d+)x(\d+)$/.exec(entry.trim());
    const streams = Number(match?.[1]);
    const intervalMs = Number(match?.[2]);
    if (!match || streams < 1 || streams > 5000 || intervalMs < 1 || intervalMs > 1000) throw new Error(`--shapes takes STREAMSxMS entries (1-5000 streams, 1-1000 ms), got ${entry}`);
    return { streams, intervalMs };
  });
  return {
    options: {
      shapes,
      events: num('--events', 200, 1, 10_000),
      startsPerMs: 2,
      rounds: num('--rounds', quick ? 2 : 3, 1, 20),
      idleS: num('--idle', quick ? 5 : 6, 0, 120),
      delayMs: num('--delay', 10, 0, 1000),
      keepAliveS: num('--keep-alive', 65, 1, 600),
      tls: !argv.includes('--plain'),
    },
    quick,
    bundle: value('--proxy-bundle') ?? null,
  };
}

function main(): void {
  const argv = process.argv.slice(2);
  if (argv.includes('--help')) {
    console.log(USAGE);
    return;
  }
  const { options, quick, bundle } = parseSseColdArgs(argv);
  runStandalone(async () => runSseColdScenario(await standaloneContext(`lm-proxy bench: first events after idle${quick ? ' (--quick)' : ''}`, bundle, quick), options));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
