/**
 * The fuzz loop shared by every target: builds each case from a seed (a fresh input from the target's
 * generator, or a corpus entry mutated), runs the target's oracle on it, and saves what fails to
 * .fuzz/crashes/ with the one-line command that replays it. Also the checks every target gets for free:
 * a case must not take seconds, and the work must stay linear when the input doubles.
 */
import { Buffer } from 'node:buffer';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fork, hashHex, int, mutate, pick, prng, type Rand } from './mutate.ts';

/** A broken invariant: `kind` is a short stable name, used to group and deduplicate findings. */
export class Failure extends Error {
  readonly kind: string;
  constructor(kind: string, message: string) {
    super(`${kind}: ${message}`);
    this.kind = kind;
  }
}

export function expect(condition: boolean, kind: string, message: () => string): asserts condition {
  if (!condition) throw new Failure(kind, message());
}

export interface FuzzTarget {
  readonly name: string;
  /** What it checks, one line, for --list and the README. */
  readonly description: string;
  /** Real shapes to mutate: fixtures, generator output, the SPEC's examples. */
  seeds(rand: Rand): Buffer[];
  /** A fresh input, not a mutation (structured generators reach deeper than byte edits alone). */
  generate?(rand: Rand): Buffer;
  /** Runs the oracle on one input; `rand` picks chunk cuts and options. Throws Failure, or anything else for a crash. */
  check(input: Buffer, rand: Rand): void | Promise<void>;
  /** For the linearity check: the work to time, on an input made about `factor` times larger by `grow`. */
  grow?(input: Buffer, factor: number): Buffer;
  work?(input: Buffer): void;
  /** Largest input built by mutation. */
  readonly maxBytes?: number;
  /**
   * Kinds of finding already reported in a module this harness may not change: still counted and saved,
   * but they do not fail the run (so CI stays green until their owner fixes them).
   */
  readonly knownKinds?: readonly string[];
}

export interface Finding {
  readonly kind: string;
  readonly message: string;
  readonly file: string | null;
  readonly replay: string;
}

export interface TargetRun {
  readonly target: string;
  readonly seed: number;
  readonly seconds: number;
  readonly cases: number;
  readonly findings: Finding[];
  /** Findings per kind, all of them (only the first few of a kind are saved). */
  readonly counts: Record<string, number>;
}

export const CRASH_DIR = '.fuzz/crashes';
const SAVED_PER_KIND = 3;
const SLOW_CASE_MS = 5000;
const LINEAR_BYTES = 512 * 1024;
const LINEAR_MAX_RATIO = 3.2; // doubling the input doubles linear work; quadratic work quadruples it

export function replayCommand(target: string, file: string): string {
  return `node --import tsx scripts/fuzz/run.ts --target ${target} --replay ${file}`;
}

/** The case seed a crash file carries in its name: <target>-s<caseSeed>-<hash>.bin. */
export function caseSeedOf(file: string): number {
  const match = /-s(\d+)-[0-9a-f]{8}\.bin$/.exec(file);
  return match === null ? 1 : Number(match[1]);
}

/** Runs one case; a Failure or any other exception becomes a finding (an exception is a crash). */
export async function runCase(target: FuzzTarget, input: Buffer, caseSeed: number): Promise<Failure | null> {
  const started = Date.now();
  try {
    await target.check(input, prng(caseSeed ^ 0x5bd1e995));
  } catch (error) {
    if (error instanceof Failure) return error;
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    return new Failure('crash', text.split('\n').slice(0, 6).join(' | '));
  }
  const ms = Date.now() - started;
  return ms > SLOW_CASE_MS ? new Failure('slow-case', `one case took ${ms} ms on ${input.length} bytes`) : null;
}

export function save(target: string, input: Buffer, caseSeed: number, failure: Failure): string {
  mkdirSync(CRASH_DIR, { recursive: true });
  const file = join(CRASH_DIR, `${target}-s${caseSeed}-${hashHex(input)}.bin`);
  writeFileSync(file, input);
  writeFileSync(file.replace(/\.bin$/, '.txt'), `${failure.message}\n${replayCommand(target, file)}\n`);
  return file;
}

export interface RunOptions {
  readonly seed: number;
  readonly seconds: number;
  readonly maxCases?: number;
  /** Called with each new finding as it is saved. */
  readonly onFinding?: (finding: Finding) => void;
  /** Called before each case runs: the watchdog keeps the input of a case that never returns. */
  readonly onCase?: (input: Buffer, caseSeed: number) => void;
  /** Leave out the timing check (a test must not assert on time). */
  readonly skipLinearCheck?: boolean;
}

/** Fuzzes one target for `seconds` (or `maxCases` cases) from one master seed. */
export async function fuzzTarget(target: FuzzTarget, options: RunOptions): Promise<TargetRun> {
  const master = prng(options.seed);
  const corpus = target.seeds(fork(master));
  if (corpus.length === 0) corpus.push(Buffer.alloc(0));
  const recent: Buffer[] = []; // mutants of mutants reach further than one round of edits
  const findings: Finding[] = [];
  const counts: Record<string, number> = {};
  const record = (failure: Failure, input: Buffer, caseSeed: number): void => {
    counts[failure.kind] = (counts[failure.kind] ?? 0) + 1;
    if ((counts[failure.kind] as number) > SAVED_PER_KIND) return;
    const file = save(target.name, input, caseSeed, failure);
    const finding: Finding = { kind: failure.kind, message: failure.message, file, replay: replayCommand(target.name, file) };
    findings.push(finding);
    options.onFinding?.(finding);
  };

  const started = Date.now();
  const deadline = started + options.seconds * 1000;
  let cases = 0;
  for (const entry of options.skipLinearCheck === true ? [] : corpus.slice(0, 3)) {
    const failure = checkLinear(target, entry);
    if (failure !== null) record(failure, entry, 0);
  }
  while (Date.now() < deadline && (options.maxCases === undefined || cases < options.maxCases)) {
    const caseSeed = Math.floor(master() * 0x1_0000_0000);
    const input = buildInput(target, prng(caseSeed), corpus, recent);
    cases++;
    options.onCase?.(input, caseSeed);
    const failure = await runCase(target, input, caseSeed);
    if (failure !== null) record(failure, input, caseSeed);
    else if (recent.length < 64) recent.push(input);
    else recent[int(master, recent.length)] = input;
  }
  return { target: target.name, seed: options.seed, seconds: (Date.now() - started) / 1000, cases, findings, counts };
}

function buildInput(target: FuzzTarget, rand: Rand, corpus: readonly Buffer[], recent: readonly Buffer[]): Buffer {
  const roll = rand();
  if (target.generate !== undefined && roll < 0.3) return target.generate(rand);
  const base = recent.length > 0 && roll > 0.8 ? pick(rand, recent) : pick(rand, corpus);
  if (roll > 0.95) return base; // the unmutated entry, re-cut differently
  return mutate(rand, base, pick(rand, corpus), 6, target.maxBytes ?? 64 * 1024);
}

/**
 * Time linear in the input: the work on the input grown to LINEAR_BYTES and to twice that, best of three
 * each. A fuzz check, never a test assertion: the machine is shared and noisy, so only a ratio well past
 * 2 (quadratic work gives 4) counts.
 */
export function checkLinear(target: FuzzTarget, input: Buffer): Failure | null {
  if (target.grow === undefined || input.length === 0) return null;
  const work = target.work ?? ((bytes: Buffer) => void target.check(bytes, prng(1)));
  const factor = Math.max(1, Math.round(LINEAR_BYTES / input.length));
  const small = target.grow(input, factor);
  const large = target.grow(input, 2 * factor);
  const time = (bytes: Buffer): number => {
    let best = Infinity;
    for (let run = 0; run < 4; run++) {
      const started = process.hrtime.bigint();
      try {
        work(bytes);
      } catch {
        return NaN; // a crash on a grown input shows up as a crash case elsewhere
      }
      best = Math.min(best, Number(process.hrtime.bigint() - started));
    }
    return best;
  };
  time(small); // warm-up: the first runs of a module are compiled as they go
  // Measured twice: one slow run on a shared machine is not a finding, two in a row may be.
  let ratio = 0;
  for (let attempt = 0; attempt < 2; attempt++) {
    ratio = time(large) / Math.max(time(small), 1);
    if (!(ratio > LINEAR_MAX_RATIO) || large.length < small.length * 1.5) return null;
  }
  return new Failure('time-not-linear', `${small.length} → ${large.length} bytes took ${ratio.toFixed(1)}× as long`);
}

