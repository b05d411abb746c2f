// Scenario 3: concurrent SSE streams of 200 events through each target — time to first event and
// per-event delay from the upstream's send stamp. "Added" figures subtract direct's from the same
// run. Targets alternate round by round; figures are medians of the rounds' percentiles.

import { check, fmt, fmtMs, fmtRatio, type Check, type ScenarioReport } from './report.ts';
import type { BenchContext } from './setup.ts';
import { runSseStreams } from './sse-client.ts';
import { median, percentile, roundOrder } from './stats.ts';
import { availableTargets, startTargets, stopTargets, type Target, type TargetName } from './targets.ts';
import { startNodeUpstream } from './upstream-servers.ts';

const EVENTS = 200;

interface Figures {
  ttfeP50: number;
  delayP50: number;
  delayP99: number;
  received: number;
  expected: number;
  failed: number;
}

interface Shape {
  readonly streams: number;
  readonly intervalMs: number;
}

/** Starts spread over about a tenth of a stream's length: 2 ms apart for 50 streams, 1 ms for 500. */
function staggerMs(shape: Shape): number {
  return Math.max(1, Math.round((EVENTS * shape.intervalMs * 0.1) / shape.streams));
}

async function measure(ctx: BenchContext, targets: readonly Target[], shape: Shape, rounds: number): Promise<Map<TargetName, Figures>> {
  const perRound = new Map<TargetName, Figures[]>(targets.map((t) => [t.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const target of roundOrder(targets, round)) {
      ctx.log(`  ${shape.streams} streams, round ${round + 1}/${rounds}: ${target.name}`);
      const result = await runSseStreams({ origin: target.origin, streams: shape.streams, events: EVENTS, intervalMs: shape.intervalMs, staggerMs: staggerMs(shape) });
      perRound.get(target.name)?.push({
        ttfeP50: percentile(result.ttfeMs, 50),
        delayP50: percentile(result.delaysMs, 50),
        delayP99: percentile(result.delaysMs, 99),
        received: result.eventsReceived,
        expected: result.eventsExpected,
        failed: result.failedStreams,
      });
    }
  }
  const figures = new Map<TargetName, Figures>();
  for (const [name, list] of perRound) {
    figures.set(name, {
      ttfeP50: median(list.map((f) => f.ttfeP50)),
      delayP50: median(list.map((f) => f.delayP50)),
      delayP99: median(list.map((f) => f.delayP99)),
      received: list.reduce((s, f) => s + f.received, 0),
      expected: list.reduce((s, f) => s + f.expected, 0),
      failed: list.reduce((s, f) => s + f.failed, 0),
    });
  }
  return figures;
}

function report(id: string, shape: Shape, figures: Map<TargetName, Figures>, rounds: number, notes: string[]): ScenarioReport {
  const direct = figures.get('direct');
  const bare = figures.get('bare pipe');
  const lm = figures.get('lm-proxy');
  const added = (f: Figures | undefined, key: 'ttfeP50' | 'delayP50' | 'delayP99'): number => (f?.[key] ?? NaN) - (direct?.[key] ?? NaN);
  const rows = [...figures].map(([name, f]) => {
    const proxied = name !== 'direct';
    return [
      name,
      fmtMs(f.ttfeP50),
      proxied ? fmtMs(added(f, 'ttfeP50')) : '',
      fmtMs(f.delayP50),
      fmtMs(f.delayP99),
      fmtRatio(f.delayP99, direct?.delayP99 ?? NaN),
      proxied ? fmtMs(added(f, 'delayP50')) : '',
      proxied ? fmtMs(added(f, 'delayP99')) : '',
      proxied && name !== 'bare pipe' ? fmtRatio(added(f, 'delayP99'), added(bare, 'delayP99')) : '',
      `${fmt(f.received)} / ${fmt(f.expected)}${f.failed > 0 ? ` (${f.failed} streams failed)` : ''}`,
    ];
  });
  const showAgainst = (ref: number) => (v: number) => `${fmtMs(v)} (bare pipe ${fmtMs(ref)})`;
  // A bare pipe figure below direct's is noise around zero: "no worse" then means "adds nothing".
  const bareLimit = (key: 'ttfeP50' | 'delayP99'): number => Math.max(0, added(bare, key));
  const checks: Check[] =
    shape.streams <= 50
      ? [
          check('added TTFE p50 ≤ 1 ms', added(lm, 'ttfeP50'), '<=', 1, showAgainst(added(bare, 'ttfeP50'))),
          check('added per-event p99 ≤ 0.5 ms', added(lm, 'delayP99'), '<=', 0.5, showAgainst(added(bare, 'delayP99'))),
        ]
      : [
          check('added TTFE p50 ≤ bare pipe’s', added(lm, 'ttfeP50'), '<=', bareLimit('ttfeP50'), showAgainst(added(bare, 'ttfeP50'))),
          check('added per-event p99 ≤ bare pipe’s', added(lm, 'delayP99'), '<=', bareLimit('delayP99'), showAgainst(added(bare, 'delayP99'))),
        ];
  return {
    id,
    title: `SSE, ${shape.streams} concurrent streams of ${EVENTS} events ${shape.intervalMs} ms apart, started ${staggerMs(shape)} ms apart (${rounds} rounds)`,
    notes,
    columns: ['target', 'TTFE p50', 'added TTFE p50', 'event delay p50', 'event delay p99', 'p99 ÷ direct', 'added p50', 'added p99', 'added p99 ÷ bare pipe', 'events received'],
    rows,
    checks,
  };
}

export async function runSseScenario(ctx: BenchContext): Promise<ScenarioReport[]> {
  const upstream = await startNodeUpstream(ctx.env);
  const notes = [
    'Upstream: the Node upstream on the load CPU, stamping each event with its send time (CLOCK_MONOTONIC); clients in the bench process on the load CPU; a new connection per stream.',
    'Streams start a few ms apart over the first tenth of a stream, then all run at once: time to first event is measured without a burst of simultaneous connects, and events of different streams are not phase-locked.',
    'Added = this target’s figure − direct’s, from the same run.',
  ];
  const targets = await startTargets(ctx.env, availableTargets(ctx.env), upstream.origin).catch(async (error: unknown) => {
    await upstream.child.stop();
    throw error;
  });
  const shapes: Shape[] = ctx.quick ? [{ streams: 50, intervalMs: 5 }] : [{ streams: 50, intervalMs: 5 }, { streams: 500, intervalMs: 20 }];
  const rounds = ctx.quick ? 2 : ctx.rounds;
  const reports: ScenarioReport[] = [];
  try {
    ctx.log('scenario 3: warming up every target');
    // Twice per target: the first run also warms this process's client and the upstream.
    for (let i = 0; i < 2; i++) for (const target of targets) await runSseStreams({ origin: target.origin, streams: 50, events: 100, intervalMs: 1, staggerMs: 0 });
    for (const [i, shape] of shapes.entries()) {
      reports.push(report(shapes.length > 1 ? `3${'ab'[i]}` : '3', shape, await measure(ctx, targets, shape, rounds), rounds, notes));
    }
  } finally {
    await stopTargets(targets);
    await upstream.child.stop();
  }
  return reports;
}
