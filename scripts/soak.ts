// `npm run soak` (issue 8): a bounded, loopback-only soak of the built proxy. 100,000 requests of a
// mix (JSON, SSE, gzip and br bodies, injected stream usage, the model list, streams the client
// aborts before and after their usage) at 100 concurrent connections, while the proxy's RSS, open
// fds, event-loop resources and heap are sampled. It passes when those level off, every exchange
// got its usage record exactly once on stdout and in the ledger (SPEC §4), the proxy aborted every
// upstream stream its client left (SPEC §3), and fds fall back once the clients close.
//   npm run soak [-- --requests N --concurrency C --time-limit S --sample-ms MS]
//   npm run soak -- --ci          (the short CI mode: 5,000 requests)
//   --samples-csv FILE writes every sample (seconds, phase, RSS, heap, fds, handles, threads).
// It stops only the processes it started, by PID, whatever way it ends.

import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { BUNDLE_PATH, ROOT } from './build.ts';
import { startLoad, type LoadResult } from './soak/client.ts';
import { KINDS, kindTable, SPECS, type Kind } from './soak/mix.ts';
import { ensureBundle, startSoakProxy, type SoakProxy } from './soak/proxy-process.ts';
import { printReport, type Check, type SoakFigures } from './soak/report.ts';
import { levelsOff, startSampler, type Bound, type Phase, type Sample, type Sampler } from './soak/samples.ts';
import { startSoakUpstream } from './soak/upstream.ts';
import { createTally, judgeTally, tallyIsExact, tallyLedgerLine, type UsageTally } from './soak/usage-tally.ts';

const MIB = 2 ** 20;
// Memory must level off within a quarter plus 10 MiB over a full run. The CI run lasts seconds,
// most of them while the heap and the allocator are still growing to their working size, so it
// holds memory only to a bound that a real leak (say, a body kept per request) still breaks.
// fds and handles swing with connections closing and opening (aborts close theirs): over a full
// run the last third must stay within the first third's peak. The CI run's first third is a
// second of ramp-up, before the proxy saturates and connections queue, so it allows half as much
// again plus 50 — still far below what a leak of one fd per request (thousands) would reach. The
// exact leak check is the return to the idle baseline after the load (SETTLE_SLACK).
const FULL = {
  requests: 100_000, concurrency: 100, timeLimitS: 600, sampleMs: 500,
  memory: { of: 'median', ratio: 0.25, plus: 10 * MIB }, counts: { of: 'max', ratio: 0.1, plus: 0 },
} as const;
const CI = {
  requests: 5_000, concurrency: 100, timeLimitS: 60, sampleMs: 100,
  memory: { of: 'median', ratio: 0.5, plus: 20 * MIB }, counts: { of: 'max', ratio: 0.5, plus: 50 },
} as const;
const THREAD_BOUND = { of: 'max', ratio: 0, plus: 0 } as const;
// The load's first tenth (of its requests, or of the time limit if that comes first) warms the JIT,
// the heap and both connection pools: sampled and reported, not judged; the thirds are of the rest.
const WARMUP_SHARE = 0.1;
const IDLE_MS = 1_000; // samples of the idle proxy before the load: the baseline
const PROGRESS_EVERY_MS = 10_000;
// After the load: aborted upstream streams must close at once; idle upstream sockets within the
// proxy's 4 s idle timeout (SPEC §8). The waits end early once the condition holds.
const UPSTREAM_CLOSE_WAIT_MS = 2_000;
const SETTLE_WAIT_MS = 15_000;
// A few fds and handles may differ from the idle baseline (a timer armed, a socket being closed).
const SETTLE_SLACK = 2;
// Beyond the time limit: in-flight requests (30 s timeout), settling and stopping. Then everything is killed.
const HARD_STOP_EXTRA_MS = 120_000;

interface Options {
  readonly requests: number;
  readonly concurrency: number;
  readonly timeLimitS: number;
  readonly sampleMs: number;
  readonly ci: boolean;
  readonly samplesCsv: string | null;
  readonly memory: Bound;
  readonly counts: Bound;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string' },
      concurrency: { type: 'string' },
      'time-limit': { type: 'string' },
      'sample-ms': { type: 'string' },
      ci: { type: 'boolean', default: false },
      'samples-csv': { type: 'string' },
    },
  });
  const base = values.ci ? CI : FULL;
  const number = (name: string, text: string | undefined, fallback: number): number => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive whole number, not ${JSON.stringify(text)}`);
    return n;
  };
  return {
    requests: number('requests', values.requests, base.requests),
    concurrency: number('concurrency', values.concurrency, base.concurrency),
    timeLimitS: number('time-limit', values['time-limit'], base.timeLimitS),
    sampleMs: number('sample-ms', values['sample-ms'], base.sampleMs),
    ci: values.ci ?? false,
    samplesCsv: values['samples-csv'] ?? null,
    memory: base.memory,
    counts: base.counts,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `done` every 100 ms until it holds or `ms` have passed; how long it took, or null. */
async function waitFor(done: () => boolean | Promise<boolean>, ms: number): Promise<number | null> {
  const start = performance.now();
  while (performance.now() - start < ms) {
    if (await done()) return performance.now() - start;
    await sleep(100);
  }
  return (await done()) ? performance.now() - start : null;
}

function samplesCsv(samples: readonly Sample[]): string {
  const rows = samples.map((s) => [(s.t / 1000).toFixed(2), s.phase, s.rssBytes, s.heapBytes ?? '', s.fds, s.handles ?? '', s.threads].join(','));
  return ['seconds,phase,rss_bytes,heap_used_bytes,fds,handles,threads', ...rows, ''].join('\n');
}

async function tallyLedger(path: string, requests: number): Promise<UsageTally> {
  const tally = createTally(requests);
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  for await (const line of lines) if (line !== '') tallyLedgerLine(tally, line);
  return tally;
}

/** A sample of the idle proxy that has the probe's figures (the probe's first line may still be due). */
async function idleSample(sampler: Sampler, sampleMs: number): Promise<Sample> {
  await sleep(IDLE_MS);
  for (let i = 0; i < 20; i++) {
    const sample = sampler.sampleNow();
    if (sample === null) throw new Error('the proxy exited while idle');
    if (sample.handles !== null) return sample;
    await sleep(sampleMs);
  }
  throw new Error('the probe sent no figures: was probe.cjs preloaded?');
}

async function main(): Promise<number> {
  const opts = options();
  const table = kindTable();
  const kindOf = (id: number): Kind => table[id % table.length] as Kind;
  const bundleState = await ensureBundle();
  const dir = await mkdtemp(join(tmpdir(), 'lm-proxy-soak-'));
  const ledger = join(dir, 'usage.jsonl');
  const upstream = await startSoakUpstream();
  let proxy: SoakProxy | null = null;
  let sampler: Sampler | null = null;
  const cleanUp = (): void => {
    sampler?.stop();
    proxy?.kill();
  };
  process.on('exit', cleanUp);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping the proxy (pid ${proxy?.pid ?? '-'}) and the upstream`);
      cleanUp();
      void rm(dir, { recursive: true, force: true }).finally(() => process.exit(130));
    });
  }
  const hardStop = setTimeout(() => {
    console.error('the soak overran its time limit by far: killing the proxy');
    cleanUp();
    process.exit(1);
  }, opts.timeLimitS * 1000 + HARD_STOP_EXTRA_MS);
  hardStop.unref();

  try {
    proxy = await startSoakProxy({ upstream: upstream.origin, ledger, requests: opts.requests, probeMs: opts.sampleMs });
    const running = proxy;
    console.log(
      `lm-proxy soak: ${opts.requests} requests, ${opts.concurrency} concurrent, time limit ${opts.timeLimitS} s${opts.ci ? ' (CI mode)' : ''}, loopback only\n` +
        `  proxy: node ${relative(ROOT, BUNDLE_PATH)} (${bundleState}), pid ${running.pid}, ${process.version}; sampled every ${opts.sampleMs} ms\n` +
        `  mix per 100 requests: ${KINDS.map((k) => `${k} ${SPECS[k].weight}`).join(', ')}`,
    );
    let phase: Phase = 'idle';
    let loadDone = (): number => 0;
    let loadStart = 0;
    let warmedAfter = 0;
    const warmupRequests = Math.floor(opts.requests * WARMUP_SHARE);
    const warmupMs = opts.timeLimitS * 1000 * WARMUP_SHARE;
    const phaseNow = (): Phase => {
      if (phase !== 'load' || loadDone() >= warmupRequests || performance.now() - loadStart >= warmupMs) return phase;
      warmedAfter = loadDone();
      return 'warmup';
    };
    sampler = startSampler(running.pid, opts.sampleMs, () => running.latestProbe(), phaseNow);
    const idle = await idleSample(sampler, opts.sampleMs);

    phase = 'load';
    loadStart = performance.now();
    const load = startLoad({
      origin: running.origin,
      requests: opts.requests,
      concurrency: opts.concurrency,
      deadline: performance.now() + opts.timeLimitS * 1000,
      kindOf,
    });
    loadDone = load.done;
    const activeSampler = sampler;
    const progress = setInterval(() => {
      const s = activeSampler.samples.at(-1);
      console.log(`  … ${load.done()}/${opts.requests} done${s ? `; proxy RSS ${(s.rssBytes / 2 ** 20).toFixed(1)} MiB, ${s.fds} fds, ${s.handles ?? '?'} handles` : ''}`);
    }, PROGRESS_EVERY_MS);
    let result: LoadResult;
    try {
      result = await load.result;
    } finally {
      clearInterval(progress);
    }
    phase = 'after';
    const crashedDuringLoad = running.exited();
    load.close();

    const upstreamClosedMs = await waitFor(() => upstream.openResponses() === 0, UPSTREAM_CLOSE_WAIT_MS);
    const openAfterLoad = upstream.openResponses();
    const settledMs = await waitFor(async () => {
      const s = activeSampler.sampleNow();
      return s !== null && s.fds <= idle.fds + SETTLE_SLACK && (await upstream.connections()) === 0;
    }, SETTLE_WAIT_MS);
    // One more probe line, so the settled handle count is read after the sockets closed.
    await sleep(opts.sampleMs * 2);
    const settled = sampler.sampleNow() ?? idle;
    const upstreamConnections = await upstream.connections();
    sampler.stop();

    if (opts.samplesCsv !== null) await writeFile(opts.samplesCsv, samplesCsv(sampler.samples));
    const exitCode = await running.stop();
    const ledgerTally = await tallyLedger(ledger, opts.requests);
    const load_ = sampler.samples.filter((s) => s.phase === 'load');
    const figures: SoakFigures = {
      opts,
      result,
      stdout: judgeTally(running.usage, result.outcome, kindOf),
      ledger: judgeTally(ledgerTally, result.outcome, kindOf),
      ends: running.usage.ends,
      upstream: upstream.counts,
      openAfterLoad,
      upstreamClosedMs,
      upstreamConnections,
      idle,
      settled,
      settledMs,
      levels: [
        levelsOff('RSS', load_, (s) => s.rssBytes, opts.memory, 'MiB'),
        levelsOff('V8 heap used', load_, (s) => s.heapBytes, opts.memory, 'MiB'),
        levelsOff('open fds', load_, (s) => s.fds, opts.counts, 'count'),
        levelsOff('event-loop handles', load_, (s) => s.handles, opts.counts, 'count'),
        levelsOff('threads', load_, (s) => s.threads, THREAD_BOUND, 'count'),
      ],
      samples: load_.length,
      warmup: { requests: warmedAfter, samples: sampler.samples.filter((s) => s.phase === 'warmup') },
      exitCode,
      stderr: running.stderr(),
      otherLines: running.otherLines,
      oddLines: running.oddLines,
      probeTypes: running.latestProbe()?.byType ?? {},
    };

    const aborts = (['abort-after-usage', 'abort-before-usage'] as const).reduce((n, k) => n + result.perKind[k].ok, 0);
    const closedEarly = upstream.counts.closedEarly['abort-after-usage'] + upstream.counts.closedEarly['abort-before-usage'];
    const othersClosedEarly = KINDS.reduce((n, k) => n + upstream.counts.closedEarly[k], 0) - closedEarly;
    const injectedSent = result.perKind['sse-injected'].sent + result.perKind['abort-before-usage'].sent;
    const checks: Check[] = [
      { name: 'every request sent completed as expected', ok: result.failed === 0 && result.sent === result.ok },
      { name: 'the proxy ran the whole load (no crash)', ok: !crashedDuringLoad },
      { name: '[USAGE] lines = usage-bearing responses, one per exchange, ended as expected', ok: tallyIsExact(figures.stdout) },
      { name: 'ledger lines = [USAGE] lines, each valid JSON with every SPEC §4 field', ok: tallyIsExact(figures.ledger) && figures.ledger.records === figures.stdout.records },
      { name: 'every stream the client aborted was aborted upstream at once', ok: closedEarly === aborts && othersClosedEarly === 0 && openAfterLoad === 0 },
      { name: 'include_usage injected into every stream request without it', ok: upstream.counts.injected === injectedSent && upstream.counts.notInjected === 0 },
      ...figures.levels.map((l) => ({ name: `${l.name} levels off (${l.criterion})`, ok: l.ok })),
      { name: `fds and handles back within ${SETTLE_SLACK} of idle once clients close; upstream pool empty`, ok: settled.fds <= idle.fds + SETTLE_SLACK && (settled.handles ?? Infinity) <= (idle.handles ?? 0) + SETTLE_SLACK && upstreamConnections === 0 },
      { name: 'nothing on stderr, no warning or error lines', ok: figures.stderr.trim() === '' && figures.oddLines.length === 0 },
      { name: 'exit 0 on SIGTERM', ok: exitCode === 0 },
    ];
    return printReport(figures, checks) ? 0 : 1;
  } finally {
    cleanUp();
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
