/**
 * Runs a target's fuzz loop in a worker and watches it: a case that has not returned after HANG_MS is a
 * hang — the worker is stopped, the case's input saved to .fuzz/crashes/ like any finding, and fuzzing
 * goes on from the next seed for the time left.
 */
import { Buffer } from 'node:buffer';
import { Worker } from 'node:worker_threads';
import { Failure, replayCommand, save, type Finding, type TargetRun } from './engine.ts';
import type { WorkerData } from './worker.ts';

const HANG_MS = 20_000;
const SHARED_BYTES = 16 + 1024 * 1024;

interface Message {
  readonly type: 'finding' | 'done';
  readonly finding?: Finding;
  readonly run?: TargetRun;
}

function once(target: string, seed: number, seconds: number, maxCases: number | undefined, onFinding: (f: Finding) => void): Promise<TargetRun & { hung: boolean }> {
  const shared = new SharedArrayBuffer(SHARED_BYTES);
  const header = new Int32Array(shared, 0, 4);
  const data: WorkerData = { target, seed, seconds, maxCases, shared };
  // A worker does not inherit tsx's loader on Node 20: it registers it, then imports the worker module.
  const url = new URL('./worker.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(url)}); })`;
  const worker = new Worker(boot, { eval: true, workerData: data });
  const started = Date.now();
  return new Promise((resolve, reject) => {
    let lastCount = -1;
    let lastMove = Date.now();
    const timer = setInterval(() => {
      const count = Atomics.load(header, 0);
      if (count !== lastCount) {
        lastCount = count;
        lastMove = Date.now();
        return;
      }
      if (Date.now() - lastMove < HANG_MS) return;
      clearInterval(timer);
      const caseSeed = (header[1] as number) >>> 0;
      const input = Buffer.from(new Uint8Array(shared, 16, header[2] as number));
      const failure = new Failure('hang', `a case ran over ${HANG_MS / 1000} s on ${input.length} bytes`);
      const file = save(target, input, caseSeed, failure);
      onFinding({ kind: failure.kind, message: failure.message, file, replay: replayCommand(target, file) });
      void worker.terminate().then(() => {
        resolve({ target, seed, seconds: (Date.now() - started) / 1000, cases: count, findings: [], counts: { hang: 1 }, hung: true });
      });
    }, 1000);
    worker.on('message', (message: Message) => {
      if (message.type === 'finding' && message.finding !== undefined) onFinding(message.finding);
      if (message.type === 'done' && message.run !== undefined) {
        clearInterval(timer);
        resolve({ ...message.run, hung: false });
      }
    });
    worker.on('error', (error) => {
      clearInterval(timer);
      reject(error);
    });
  });
}

/** Fuzzes `target` for `seconds` in workers, restarting after a hang with the next seed. */
export async function watchedRun(target: string, seed: number, seconds: number, maxCases: number | undefined, onFinding: (f: Finding) => void): Promise<TargetRun> {
  const counts: Record<string, number> = {};
  let cases = 0;
  let spent = 0;
  for (let attempt = 0; spent < seconds - 1 && attempt < 10; attempt++) {
    const run = await once(target, seed + attempt, seconds - spent, maxCases, onFinding);
    cases += run.cases;
    spent += run.seconds;
    for (const [kind, count] of Object.entries(run.counts)) counts[kind] = (counts[kind] ?? 0) + count;
    if (!run.hung) break;
  }
  return { target, seed, seconds: spent, cases, findings: [], counts };
}
