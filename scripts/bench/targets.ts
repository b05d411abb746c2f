// The things a scenario measures, behind one interface: direct (no proxy), the bare pipe proxy,
// http-proxy, and lm-proxy with usage tracking on and off, and priced (PRICES_FILE, TAGS). Every proxy runs pinned to the proxy CPU
// and is started fresh where a scenario needs a clean memory high-water mark.

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startChild, waitForPort, type Child } from './processes.ts';
import type { BenchEnv } from './setup.ts';

export type TargetName = 'direct' | 'bare pipe' | 'http-proxy' | 'lm-proxy' | 'lm-proxy, tracking off' | 'lm-proxy, priced';

/** The real LiteLLM table (1,701 entries) the priced row loads: issue 10's "within 3%" is judged on it. */
const BENCH_PRICES_FILE = fileURLToPath(new URL('../../tests/fixtures/prices/litellm-model-prices-2025-09.json', import.meta.url));

export interface Target {
  readonly name: TargetName;
  /** Origin that clients send to (`http://127.0.0.1:PORT`); paths start with /v1. */
  readonly origin: string;
  /** The proxy's process, null for direct. */
  readonly child: Child | null;
  stop(): Promise<void>;
}

/** The targets this machine can run, in the order rounds visit them. */
export function availableTargets(env: BenchEnv, withTrackingOff = false): TargetName[] {
  const names: TargetName[] = ['direct', 'bare pipe'];
  if (env.scripts.httpProxyPeer) names.push('http-proxy');
  if (env.lmProxyBundle) {
    names.push('lm-proxy');
    if (withTrackingOff) names.push('lm-proxy, tracking off', 'lm-proxy, priced');
  }
  return names;
}

export function proxyCommand(env: BenchEnv, name: Exclude<TargetName, 'direct'>, upstreamOrigin: string, listen: string): { cmd: string; args: string[]; env: NodeJS.ProcessEnv } {
  switch (name) {
    case 'bare pipe':
      return { cmd: process.execPath, args: [env.scripts.barePipe, '--upstream', upstreamOrigin, '--listen', listen], env: process.env };
    case 'http-proxy':
      return { cmd: process.execPath, args: [env.scripts.httpProxyPeer ?? '', '--upstream', upstreamOrigin, '--listen', listen], env: process.env };
    case 'lm-proxy':
    case 'lm-proxy, tracking off':
    case 'lm-proxy, priced':
      return {
        cmd: process.execPath,
        args: [...(env.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${env.cpuProfDir}`] : []), env.lmProxyBundle ?? '', '--upstream', `${upstreamOrigin}/v1`, '--listen', listen],
        env: {
          ...process.env,
          // The bench stops proxies with SIGTERM; nothing is in flight by then, so no grace is needed.
          SHUTDOWN_GRACE_MS: '0',
          ...(name === 'lm-proxy, tracking off' ? { TRACK_USAGE: 'false' } : {}),
          ...(name === 'lm-proxy, priced' ? { PRICES_FILE: BENCH_PRICES_FILE, TAGS: 'deploy=bench' } : {}),
        },
      };
  }
}

export async function startTarget(env: BenchEnv, name: TargetName, upstreamOrigin: string): Promise<Target> {
  if (name === 'direct') return { name, origin: upstreamOrigin, child: null, stop: async () => {} };
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const command = proxyCommand(env, name, upstreamOrigin, listen);
  const stdoutFile = join(env.benchDir, `stdout-${name.replaceAll(/[^a-z]+/g, '-')}-${port}.log`);
  const child = startChild(name, command.cmd, command.args, { cpu: env.proxyCpu, env: command.env, stdoutFile, countLines: '[USAGE]' });
  try {
    await waitForPort(port, 10_000, 5, child);
  } catch (error) {
    await child.stop();
    rmSync(stdoutFile, { force: true });
    throw error;
  }
  return {
    name,
    origin: `http://${listen}`,
    child,
    async stop() {
      await child.stop();
      rmSync(stdoutFile, { force: true });
    },
  };
}

/** Starts every named target against one upstream; stops those already started if one fails. */
export async function startTargets(env: BenchEnv, names: readonly TargetName[], upstreamOrigin: string): Promise<Target[]> {
  const started: Target[] = [];
  try {
    for (const name of names) started.push(await startTarget(env, name, upstreamOrigin));
  } catch (error) {
    await stopTargets(started);
    throw error;
  }
  return started;
}

export async function stopTargets(targets: readonly Target[]): Promise<void> {
  await Promise.all(targets.map((target) => target.stop()));
}
