// Start-up time of a built artifact: from spawning it to its `Listening on` line (SPEC §7), over
// N runs, printed as median / mean / min / max in ms. Used to choose the SEA's useCodeCache.
//   node --import tsx scripts/bench/startup.ts [--runs 20] 'dist/lm-proxy' 'node dist/lm-proxy.cjs' ...
// Each argument is one command line (split on spaces); with several, runs alternate between them so
// a busy machine slows all of them alike. The proxy gets --upstream and --listen on loopback;
// nothing is sent to it. Each run is stopped by its own PID.

import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { freePort } from '../proxy-harness.ts';

const TIMEOUT_MS = 10_000;

async function timeToListening(command: string, args: string[]): Promise<number> {
  const listen = `127.0.0.1:${await freePort()}`;
  const started = performance.now();
  const child = spawn(command, [...args, '--upstream', 'http://127.0.0.1:9/v1', '--listen', listen], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    return await new Promise<number>((resolve, reject) => {
      let seen = '';
      const timer = setTimeout(() => reject(new Error(`no "Listening on" within ${TIMEOUT_MS} ms: ${seen}`)), TIMEOUT_MS);
      child.stdout.setEncoding('utf8').on('data', (text: string) => {
        seen += text;
        if (seen.includes('Listening on ')) {
          clearTimeout(timer);
          resolve(performance.now() - started);
        }
      });
      child.once('exit', (code) => reject(new Error(`exited with ${String(code)} before listening: ${seen}`)));
    });
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

const { values, positionals } = parseArgs({
  options: { runs: { type: 'string', default: '20' } },
  allowPositionals: true,
});
const commands = positionals.map((line) => line.split(' ').filter((word) => word !== ''));
const runs = Number(values.runs);
if (commands.length === 0 || commands.some((c) => c.length === 0) || !Number.isInteger(runs) || runs < 1) {
  console.error("usage: startup.ts [--runs N] 'command [args...]' ...");
  process.exit(2);
}
const times = commands.map((): number[] => []);
// One warm-up run each: page cache, not what a user's second start sees.
for (const [command = '', ...args] of commands) await timeToListening(command, args);
for (let i = 0; i < runs; i += 1) {
  for (const [k, [command = '', ...args]] of commands.entries()) times[k]!.push(await timeToListening(command, args));
}
const f = (ms: number): string => ms.toFixed(1);
for (const [k, line] of positionals.entries()) {
  const sorted = [...times[k]!].sort((a, b) => a - b);
  const median = runs % 2 === 1 ? sorted[(runs - 1) / 2]! : (sorted[runs / 2 - 1]! + sorted[runs / 2]!) / 2;
  const mean = sorted.reduce((sum, t) => sum + t, 0) / runs;
  console.log(
    `${line}: launch -> "Listening on", ${runs} runs: ` +
      `median ${f(median)} ms, mean ${f(mean)} ms, min ${f(sorted[0]!)} ms, max ${f(sorted[runs - 1]!)} ms`,
  );
}
