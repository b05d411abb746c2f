// Samples the proxy process over the soak: resident memory and threads from /proc/PID/status, open
// file descriptors from /proc/PID/fd, and event-loop resources and heap from the preloaded probe.
// A series "levels off" when the median of its last third of the load stays within a stated bound
// of the median of its first third: growth that keeps going across the run shows there, JIT warm-up
// and pool filling in the first seconds do not. Linux only (/proc); it reads, never signals.

import { readdirSync, readFileSync } from 'node:fs';
import type { ProbeSample } from './proxy-process.ts';

/** Idle before the load; warm-up (the load's first requests, not judged); the judged load; after it. */
export type Phase = 'idle' | 'warmup' | 'load' | 'after';

export interface Sample {
  /** ms since the sampler started. */
  readonly t: number;
  readonly phase: Phase;
  readonly rssBytes: number;
  readonly threads: number;
  readonly fds: number;
  /** From the probe; null until its first line. */
  readonly handles: number | null;
  readonly heapBytes: number | null;
}

export interface Sampler {
  readonly samples: readonly Sample[];
  /** Reads one sample now (also recorded); null once the process is gone. */
  sampleNow(): Sample | null;
  stop(): void;
}

export function startSampler(pid: number, everyMs: number, probe: () => ProbeSample | null, phaseNow: () => Phase): Sampler {
  const samples: Sample[] = [];
  const started = performance.now();
  const sampleNow = (): Sample | null => {
    let status: string;
    let fds: number;
    try {
      status = readFileSync(`/proc/${pid}/status`, 'utf8');
      fds = readdirSync(`/proc/${pid}/fd`).length;
    } catch {
      return null;
    }
    const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
    const latest = probe();
    const sample: Sample = {
      t: performance.now() - started,
      phase: phaseNow(),
      rssBytes: field('VmRSS') * 1024,
      threads: field('Threads'),
      fds,
      handles: latest?.handles ?? null,
      heapBytes: latest?.heapUsed ?? null,
    };
    samples.push(sample);
    return sample;
  };
  const timer = setInterval(sampleNow, everyMs);
  return { samples, sampleNow, stop: () => clearInterval(timer) };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export interface LevelVerdict {
  readonly name: string;
  readonly unit: 'MiB' | 'count';
  readonly firstThird: number;
  readonly lastThird: number;
  readonly max: number;
  /** The largest last-third median that still counts as levelled off. */
  readonly limit: number;
  readonly criterion: string;
  readonly ok: boolean;
}

export interface Bound {
  /** What the last third's median is held against: the first third's median, or its peak. */
  readonly of: 'median' | 'max';
  /** Allowed growth as a share of that, … */
  readonly ratio: number;
  /** … plus this much (bytes for memory, a count for handles and fds). */
  readonly plus: number;
}

/** First and last third medians of one series over the load phase, judged against a bound. */
export function levelsOff(
  name: string,
  load: readonly Sample[],
  pick: (s: Sample) => number | null,
  bound: Bound,
  unit: LevelVerdict['unit'],
): LevelVerdict {
  const values = load.map(pick).filter((v): v is number => v !== null && Number.isFinite(v));
  const third = Math.max(1, Math.floor(values.length / 3));
  const scale = unit === 'MiB' ? 1024 * 1024 : 1;
  const firstValues = values.slice(0, third);
  const first = median(firstValues) / scale;
  const last = median(values.slice(-third)) / scale;
  const base = bound.of === 'median' ? first : Math.max(...firstValues) / scale;
  const limit = base * (1 + bound.ratio) + bound.plus / scale;
  const plus = bound.plus === 0 ? '' : unit === 'MiB' ? ` + ${bound.plus / scale} MiB` : ` + ${bound.plus}`;
  return {
    name,
    unit,
    firstThird: first,
    lastThird: last,
    max: Math.max(...values) / scale,
    limit,
    criterion: `last-third median ≤ first-third ${bound.of} × ${1 + bound.ratio}${plus}`,
    ok: values.length >= 3 && last <= limit,
  };
}
