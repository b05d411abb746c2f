// Scenario 7: start-up, from launch to the first accepted TCP connection, for lm-proxy's single
// executable and its bundle (and the bundled bare pipe for reference). Launches alternate; each one
// is a fresh process on the proxy CPU, polled from the load CPU every millisecond.

import { relative } from 'node:path';
import { freePort, startChild, waitForPort } from './processes.ts';
import { check, fmtMs, fmtRatio, type ScenarioReport } from './report.ts';
import { ROOT, type BenchContext } from './setup.ts';
import { median, percentile, roundOrder } from './stats.ts';
import { proxyCommand } from './targets.ts';

interface Launcher {
  readonly name: string;
  command(listen: string): { cmd: string; args: string[]; env: NodeJS.ProcessEnv };
}

// Never contacted: start-up ends at the first accepted connection, before any request.
const UNUSED_UPSTREAM = 'http://127.0.0.1:9';

async function launchOnce(ctx: BenchContext, launcher: Launcher): Promise<number> {
  const port = await freePort();
  const { cmd, args, env } = launcher.command(`127.0.0.1:${port}`);
  const started = performance.now();
  const child = startChild(launcher.name, cmd, args, { cpu: ctx.env.proxyCpu, env });
  try {
    await waitForPort(port, 10_000, 1, child);
    return performance.now() - started;
  } finally {
    await child.stop();
  }
}

export async function runStartupScenario(ctx: BenchContext): Promise<ScenarioReport> {
  const launchers: Launcher[] = [];
  const sea = ctx.env.lmProxySea;
  if (sea) launchers.push({ name: 'lm-proxy executable (dist/lm-proxy)', command: (listen) => ({ cmd: sea, args: ['--upstream', `${UNUSED_UPSTREAM}/v1`, '--listen', listen], env: { ...process.env, SHUTDOWN_GRACE_MS: '0' } }) });
  if (ctx.env.lmProxyBundle) launchers.push({ name: `lm-proxy bundle (node ${relative(ROOT, ctx.env.lmProxyBundle)})`, command: (listen) => proxyCommand(ctx.env, 'lm-proxy', UNUSED_UPSTREAM, listen) });
  launchers.push({ name: 'bare pipe bundle (reference)', command: (listen) => proxyCommand(ctx.env, 'bare pipe', UNUSED_UPSTREAM, listen) });
  const launches = ctx.quick ? 3 : 10;
  const times = new Map<string, number[]>(launchers.map((l) => [l.name, []]));
  for (let i = 0; i < launches; i++) {
    for (const launcher of roundOrder(launchers, i)) times.get(launcher.name)?.push(await launchOnce(ctx, launcher));
  }
  const bareP50 = median(times.get('bare pipe bundle (reference)') ?? []);
  const rows = launchers.map((l) => {
    const samples = times.get(l.name) ?? [];
    return [l.name, fmtMs(median(samples)), fmtMs(percentile(samples, 90)), fmtMs(Math.max(...samples)), fmtRatio(median(samples), bareP50)];
  });
  const seaSamples = sea ? (times.get(launchers[0]?.name ?? '') ?? []) : [];
  return {
    id: '7',
    title: `Start-up, launch to accepting connections (${launches} launches each)`,
    notes: [
      'Timed from spawn (taskset included) to the first successful TCP connect; the proxy is stopped after each launch.',
      ...(sea ? [] : ['dist/lm-proxy (npm run sea) was not available: the executable row is missing.']),
    ],
    columns: ['artefact', 'median', 'p90', 'max', 'median ÷ bare pipe'],
    rows,
    checks: [check('executable accepts connections within 100 ms (median)', median(seaSamples), '<=', 100, (v) => `${fmtMs(v)} (max ${fmtMs(Math.max(...seaSamples))})`)],
  };
}
