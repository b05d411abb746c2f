/**
 * One target's fuzz run in a worker thread, so that the main thread can tell a case that never returns (an
 * infinite loop is a finding too) and save its input: before each case, the input and its seed are copied
 * into shared memory, and a counter moves. Started by watchdog.ts; reports findings and the summary back.
 */
import { Buffer } from 'node:buffer';
import { parentPort, workerData } from 'node:worker_threads';
import { fuzzTarget } from './engine.ts';
import { TARGETS } from './targets/index.ts';

export interface WorkerData {
  readonly target: string;
  readonly seed: number;
  readonly seconds: number;
  readonly maxCases: number | undefined;
  /** [0] cases started, [1] case seed, [2] input length, then the input's bytes from byte 16. */
  readonly shared: SharedArrayBuffer;
}

const data = workerData as WorkerData;
const target = TARGETS.find((t) => t.name === data.target);
if (target === undefined || parentPort === null) throw new Error(`no target ${data.target}`);
const header = new Int32Array(data.shared, 0, 4);
const bytes = new Uint8Array(data.shared, 16);
const port = parentPort;

const run = await fuzzTarget(target, {
  seed: data.seed,
  seconds: data.seconds,
  maxCases: data.maxCases,
  onFinding: (finding) => port.postMessage({ type: 'finding', finding }),
  onCase: (input: Buffer, caseSeed: number) => {
    const length = Math.min(input.length, bytes.length);
    bytes.set(input.subarray(0, length));
    header[1] = caseSeed | 0;
    header[2] = length;
    Atomics.add(header, 0, 1);
  },
});
port.postMessage({ type: 'done', run });
