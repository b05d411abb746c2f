// Scenario 5: 1,000 idle concurrent SSE streams through each proxy — resident memory per stream
// (VmRSS growth ÷ streams, 1 KB = 1024 bytes as /proc counts), and how many upstream streams are
// still open 1 s after every client went away (SPEC §3: the upstream request is aborted at once).

import { check, fmt, fmtMB, fmtRatio, type ScenarioReport } from './report.ts';
import { procStatusBytes, sleep } from './processes.ts';
import type { BenchContext } from './setup.ts';
import { openIdleStreams, runSseStreams } from './sse-client.ts';
import { median, roundOrder } from './stats.ts';
import { availableTargets, startTarget, type TargetName } from './targets.ts';
import { openUpstreamStreams, startNodeUpstream, type Upstream } from './upstream-servers.ts';

const STREAMS = 1000;

interface Figures {
  rssBefore: number;
  rssAfter: number;
  kbPerStream: number;
  leftOpen: number;
}

async function waitUntilUpstreamIdle(upstream: Upstream, baseline: number): Promise<void> {
  for (let i = 0; i < 100 && (await openUpstreamStreams(upstream)) > baseline; i++) await sleep(50);
}

async function measureOne(ctx: BenchContext, upstream: Upstream, name: TargetName): Promise<Figures> {
  const target = await startTarget(ctx.env, name, upstream.origin);
  try {
    // Warm the proxy's code paths with short streams that end by themselves, then let it settle.
    await runSseStreams({ origin: target.origin, streams: 20, events: 5, intervalMs: 1, staggerMs: 0 });
    await sleep(300);
    const baseline = await openUpstreamStreams(upstream);
    const pid = target.child?.pid;
    const rssBefore = pid === undefined ? NaN : (procStatusBytes(pid, 'VmRSS') ?? NaN);
    const idle = await openIdleStreams(target.origin, STREAMS, 20_000);
    await sleep(500);
    const rssAfter = pid === undefined ? NaN : (procStatusBytes(pid, 'VmRSS') ?? NaN);
    idle.closeAll();
    await sleep(1000);
    const leftOpen = (await openUpstreamStreams(upstream)) - baseline;
    return { rssBefore, rssAfter, kbPerStream: (rssAfter - rssBefore) / 1024 / STREAMS, leftOpen };
  } finally {
    await target.stop();
    // Streams a proxy left open upstream end when its process does; wait for that before the next.
    await waitUntilUpstreamIdle(upstream, 0);
  }
}

export async function runIdleStreamsScenario(ctx: BenchContext): Promise<ScenarioReport> {
  const upstream = await startNodeUpstream(ctx.env);
  const names = availableTargets(ctx.env);
  const rounds = ctx.quick ? 1 : Math.min(ctx.rounds, 2);
  const perRound = new Map<TargetName, Figures[]>(names.map((n) => [n, []]));
  try {
    for (let round = 0; round < rounds; round++) {
      for (const name of roundOrder(names, round)) {
        ctx.log(`  ${STREAMS} idle streams, round ${round + 1}/${rounds}: ${name}`);
        perRound.get(name)?.push(await measureOne(ctx, upstream, name));
      }
    }
  } finally {
    await upstream.child.stop();
  }
  const figures = new Map<TargetName, Figures>();
  for (const [name, list] of perRound) {
    figures.set(name, {
      rssBefore: median(list.map((f) => f.rssBefore)),
      rssAfter: median(list.map((f) => f.rssAfter)),
      kbPerStream: median(list.map((f) => f.kbPerStream)),
      leftOpen: Math.max(...list.map((f) => f.leftOpen)),
    });
  }
  const bare = figures.get('bare pipe');
  const lm = figures.get('lm-proxy');
  const rows = [...figures].map(([name, f]) => [
    name,
    name === 'direct' ? '' : fmtMB(f.rssBefore),
    name === 'direct' ? '' : fmtMB(f.rssAfter),
    name === 'direct' ? '' : fmt(f.kbPerStream, 1),
    name === 'direct' || name === 'bare pipe' ? '' : fmtRatio(f.kbPerStream, bare?.kbPerStream ?? NaN),
    fmt(f.leftOpen),
  ]);
  return {
    id: '5',
    title: `${fmt(STREAMS)} idle concurrent streams (${rounds} round${rounds > 1 ? 's' : ''}, fresh proxy each)`,
    notes: [
      'Each stream gets one event and then stays open; RSS is read 0.5 s after the last stream got its event.',
      'Clients then drop their connections; “left open” counts upstream streams still open 1 s later (worst round).',
    ],
    columns: ['target', 'RSS before', `RSS with ${fmt(STREAMS)} streams`, 'KB per stream', 'KB per stream ÷ bare pipe', 'upstream streams left open after 1 s'],
    rows,
    checks: [
      check('≤ 40 KB per stream', lm?.kbPerStream ?? NaN, '<=', 40, (v) => `${fmt(v, 1)} KB (bare pipe ${fmt(bare?.kbPerStream ?? NaN, 1)} KB)`),
      check('0 upstream streams left open', lm?.leftOpen ?? NaN, '<=', 0, (v) => `${fmt(v)} (bare pipe ${fmt(bare?.leftOpen ?? NaN)})`),
    ],
  };
}
