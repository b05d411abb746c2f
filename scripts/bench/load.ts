// Closed-loop HTTP load for scenarios 1 and 2: wrk with a Lua script that POSTs the small chat body
// and prints its latency distribution as one JSON line; the Node generator (load-node.ts) where wrk
// is not installed. It measures only; it never judges.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runToEnd } from './processes.ts';

export const CHAT_BODY = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello."}]}';
export const CHAT_PATH = '/v1/chat/completions';
/** Sent on every request, as clients do; it is not a key of any service. */
export const BENCH_AUTH = 'Bearer sk-bench-0000';
/** SPEC §10: every load request carries tags, so the priced row pays for attribution too. */
export const BENCH_TAGS = 'team=bench, env=load';

export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Socket errors, timeouts and non-2xx answers together. */
  readonly errors: number;
}

export interface LoadOptions {
  readonly url: string;
  readonly connections: number;
  readonly seconds: number;
  readonly cpu: string | null;
  readonly benchDir: string;
}

function wrkScript(benchDir: string): string {
  const path = join(benchDir, 'post-chat.lua');
  // done() reads wrk's own latency histogram (microseconds), so no text output is parsed.
  writeFileSync(
    path,
    `wrk.method = "POST"
wrk.body = '${CHAT_BODY}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "${BENCH_AUTH}"
wrk.headers["LM-Proxy-Tags"] = "${BENCH_TAGS}"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
`,
  );
  return path;
}

function parseResult(stdout: string, tool: string): LoadResult {
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_JSON '));
  if (!line) throw new Error(`${tool} printed no result:\n${stdout.slice(-2000)}`);
  const raw = JSON.parse(line.slice('BENCH_JSON '.length)) as { requests: number; duration_us: number; p50_us: number; p99_us: number; errors: number };
  const seconds = raw.duration_us / 1e6;
  return { requests: raw.requests, seconds, rps: raw.requests / seconds, p50Ms: raw.p50_us / 1000, p99Ms: raw.p99_us / 1000, errors: raw.errors };
}

export async function runWrk(options: LoadOptions): Promise<LoadResult> {
  const args = ['-t1', `-c${options.connections}`, `-d${options.seconds}s`, '--latency', '--timeout', '5s', '-s', wrkScript(options.benchDir), options.url];
  const result = await runToEnd('wrk', args, (options.seconds + 30) * 1000, options.cpu);
  if (result.code !== 0) throw new Error(`wrk exited ${result.code}: ${result.stderr}`);
  return parseResult(result.stdout, 'wrk');
}

export async function runNodeLoad(options: LoadOptions, script: string): Promise<LoadResult> {
  const args = [script, '--url', options.url, '--connections', String(options.connections), '--seconds', String(options.seconds), '--body', CHAT_BODY, '--auth', BENCH_AUTH, '--tags', BENCH_TAGS];
  const result = await runToEnd(process.execPath, args, (options.seconds + 30) * 1000, options.cpu);
  if (result.code !== 0) throw new Error(`load-node exited ${result.code}: ${result.stderr}`);
  return parseResult(result.stdout, 'load-node');
}
