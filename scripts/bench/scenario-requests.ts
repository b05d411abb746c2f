// Scenarios 1 and 2: the small non-streaming chat POST through each target, with 64 connections
// (throughput, p50, p99) and with 1 connection (added latency). Targets alternate round by round;
// every figure is the median of the rounds. The upstream is nginx where installed.

import { CHAT_PATH, runNodeLoad, runWrk, type LoadOptions, type LoadResult } from './load.ts';
import { check, fmt, fmtMs, fmtRatio, type ScenarioReport } from './report.ts';
import type { BenchContext } from './setup.ts';
import { median, roundOrder } from './stats.ts';
import { availableTargets, startTargets, stopTargets, type Target, type TargetName } from './targets.ts';
import { startSmallJsonUpstream } from './upstream-servers.ts';

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  requests: number;
  usageLines: number | null;
}

function load(ctx: BenchContext, target: Target, connections: number, seconds: number): Promise<LoadResult> {
  const options: LoadOptions = { url: `${target.origin}${CHAT_PATH}`, connections, seconds, cpu: ctx.env.loadCpu, benchDir: ctx.env.benchDir };
  return ctx.env.wrk ? runWrk(options) : runNodeLoad(options, ctx.env.scripts.loadNode);
}

async function measure(ctx: BenchContext, targets: readonly Target[], connections: number, seconds: number, rounds: number): Promise<Map<TargetName, Figures>> {
  const samples = new Map<TargetName, LoadResult[]>(targets.map((t) => [t.name, []]));
  const usageBefore = new Map(targets.map((t) => [t.name, t.child?.countedLines() ?? 0]));
  for (let round = 0; round < rounds; round++) {
    for (const target of roundOrder(targets, round)) {
      ctx.log(`  ${connections} conn, round ${round + 1}/${rounds}: ${target.name}`);
      samples.get(target.name)?.push(await load(ctx, target, connections, seconds));
    }
  }
  const figures = new Map<TargetName, Figures>();
  for (const target of targets) {
    const results = samples.get(target.name) ?? [];
    const requests = results.reduce((sum, r) => sum + r.requests, 0);
    figures.set(target.name, {
      rps: median(results.map((r) => r.rps)),
      p50: median(results.map((r) => r.p50Ms)),
      p99: median(results.map((r) => r.p99Ms)),
      errors: results.reduce((sum, r) => sum + r.errors, 0),
      requests,
      usageLines: target.child && target.name.startsWith('lm-proxy') ? target.child.countedLines() - (usageBefore.get(target.name) ?? 0) : null,
    });
  }
  return figures;
}

function get(figures: Map<TargetName, Figures>, name: TargetName): Figures | undefined {
  return figures.get(name);
}

function throughputReport(figures: Map<TargetName, Figures>, notes: string[], connections: number, seconds: number, rounds: number): ScenarioReport {
  const direct = get(figures, 'direct');
  const bare = get(figures, 'bare pipe');
  const lm = get(figures, 'lm-proxy');
  const priced = get(figures, 'lm-proxy, priced');
  const rows = [...figures].map(([name, f]) => [
    name,
    fmt(f.rps),
    fmtRatio(f.rps, direct?.rps ?? NaN),
    fmtRatio(f.rps, bare?.rps ?? NaN),
    fmtMs(f.p50),
    fmtMs(f.p99),
    fmt(f.errors),
    f.usageLines === null ? '' : `${fmt(f.usageLines)} / ${fmt(f.requests)}`,
  ]);
  return {
    id: '1',
    title: `Small chat POST, ${connections} connections (${rounds} × ${seconds} s per target)`,
    notes,
    columns: ['target', 'req/s', '÷ direct', '÷ bare pipe', 'p50', 'p99', 'errors', '[USAGE] lines / responses'],
    rows,
    checks: [
      check('req/s ≥ 1.0× bare pipe', (lm?.rps ?? NaN) / (bare?.rps ?? NaN), '>=', 1.0, (v) => `${fmt(v, 2)}× (${fmt(lm?.rps ?? NaN)} vs ${fmt(bare?.rps ?? NaN)} req/s)`),
      // Issue 10: pricing (the 1,701-entry table) and attribution (tags on every request) within 3%.
      ...(priced === undefined
        ? []
        : [check('priced req/s ≥ 0.97× unpriced', priced.rps / (lm?.rps ?? NaN), '>=', 0.97, (v) => `${fmt(v, 2)}× (${fmt(priced.rps)} vs ${fmt(lm?.rps ?? NaN)} req/s)`)]),
    ],
  };
}

function latencyReport(figures: Map<TargetName, Figures>, notes: string[], seconds: number, rounds: number): ScenarioReport {
  const direct = get(figures, 'direct');
  const bare = get(figures, 'bare pipe');
  const lm = get(figures, 'lm-proxy');
  const added = (f: Figures | undefined, key: 'p50' | 'p99'): number => (f?.[key] ?? NaN) - (direct?.[key] ?? NaN);
  const rows = [...figures].map(([name, f]) => [
    name,
    fmtMs(f.p50),
    fmtMs(f.p99),
    fmtRatio(f.p50, direct?.p50 ?? NaN),
    name === 'direct' ? '' : fmtMs(added(f, 'p50')),
    name === 'direct' ? '' : fmtMs(added(f, 'p99')),
    name === 'direct' || name === 'bare pipe' ? '' : fmtRatio(added(f, 'p50'), added(bare, 'p50')),
    fmt(f.rps),
  ]);
  return {
    id: '2',
    title: `Small chat POST, 1 connection (${rounds} × ${seconds} s per target)`,
    notes,
    columns: ['target', 'p50', 'p99', 'p50 ÷ direct', 'added p50', 'added p99', 'added p50 ÷ bare pipe', 'req/s'],
    rows,
    // A bare pipe figure below direct's is noise around zero: "no worse" then means "adds nothing".
    checks: [check('added p50 ≤ bare pipe’s', added(lm, 'p50'), '<=', Math.max(0, added(bare, 'p50')), (v) => `${fmtMs(v)} vs ${fmtMs(added(bare, 'p50'))}`)],
  };
}

export async function runRequestScenarios(ctx: BenchContext, which: { readonly many: boolean; readonly one: boolean }): Promise<ScenarioReport[]> {
  const upstream = await startSmallJsonUpstream(ctx.env);
  const notes = [
    `Upstream: ${upstream.kind === 'nginx' ? 'nginx-light (one process, `return 200` of the JSON)' : 'the Node upstream (nginx not installed)'} on the load CPU; load: ${ctx.env.wrk ? 'wrk -t1 with a Lua POST script' : 'the Node load generator'}.`,
  ];
  // Scenario 1 also runs lm-proxy with tracking off (what tracking costs) and priced with tags (what
  // pricing and attribution cost), from the same run.
  const targets = await startTargets(ctx.env, availableTargets(ctx.env, which.many), upstream.origin).catch(async (error: unknown) => {
    await upstream.child.stop();
    throw error;
  });
  const reports: ScenarioReport[] = [];
  try {
    ctx.log('scenarios 1-2: warming up every target');
    for (const target of targets) await load(ctx, target, 64, 1);
    if (which.many) {
      const seconds = ctx.quick ? 2 : 8;
      const rounds = ctx.quick ? 2 : ctx.rounds;
      reports.push(throughputReport(await measure(ctx, targets, 64, seconds, rounds), notes, 64, seconds, rounds));
    }
    if (which.one) {
      const seconds = ctx.quick ? 2 : 4;
      const latencyTargets = targets.filter((t) => t.name !== 'lm-proxy, tracking off' && t.name !== 'lm-proxy, priced');
      reports.push(latencyReport(await measure(ctx, latencyTargets, 1, seconds, ctx.rounds), notes, seconds, ctx.rounds));
    }
  } finally {
    await stopTargets(targets);
    await upstream.child.stop();
  }
  return reports;
}
