// Standalone runs of a scenario outside run.ts: the same setup (CPU pinning, lm-proxy built when
// stale or given by path), a short header, the scenario's tables and targets, and every child
// stopped on the way out, whatever happens.

import { execFileSync } from 'node:child_process';
import { dirname } from 'node:path';
import { killAllNow } from './processes.ts';
import { renderScenario, renderSummary, type ScenarioReport } from './report.ts';
import { setup, type BenchContext } from './setup.ts';

/** "abc1234" for the commit of the repository holding `file`, or null. */
export function commitOf(file: string): string | null {
  try {
    return execFileSync('git', ['-C', dirname(file), 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/** Sets up a standalone run (CPUs, bundle) and prints its header. */
export async function standaloneContext(title: string, bundle: string | null, quick: boolean): Promise<BenchContext> {
  const log = (line: string): void => void process.stderr.write(`· ${line}\n`);
  const env = await setup({ lmProxyOverride: bundle, wantSea: false, httpProxy: false, cpuProf: false, log });
  const notes = env.notes.filter((n) => !n.startsWith('http-proxy skipped'));
  const commit = env.lmProxyBundle ? commitOf(env.lmProxyBundle) : null;
  const facts = [`${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; Node ${process.version}`, `lm-proxy: ${env.lmProxyBundle ?? 'not available'}${commit ? ` (commit ${commit})` : ''}`];
  process.stdout.write(`## ${title}\n\n${[...facts, ...notes].map((l) => `- ${l}`).join('\n')}\n`);
  return { env, quick, rounds: 1, log };
}

/** Runs a standalone scenario to its end, prints it, and stops every child whatever happens. */
export function runStandalone(run: () => Promise<ScenarioReport[]>): void {
  const began = performance.now();
  run()
    .then((reports) => {
      for (const r of reports) process.stdout.write(`\n${renderScenario(r)}`);
      process.stdout.write(`\n${renderSummary(reports)}\n`);
      process.stderr.write(`· took ${((performance.now() - began) / 1000).toFixed(0)} s\n`);
    })
    .catch((error: unknown) => {
      process.stderr.write(`failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    })
    .finally(() => {
      killAllNow();
      setTimeout(() => process.exit(), 100).unref();
    });
}
