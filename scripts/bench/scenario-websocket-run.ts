// Scenario 13 of `npm run bench`: scripts/bench/scenario-websocket.ts (which spawns its own
// upstream, bare tunnel and lm-proxy, and must run as a program of its own) in a child process,
// its summary lines read back into the bench's table and checks.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { check, type ScenarioReport } from './report.ts';
import type { BenchContext } from './setup.ts';

const SCRIPT = fileURLToPath(new URL('./scenario-websocket.ts', import.meta.url));

function run(args: readonly string[], log: (line: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      out += text;
      for (const line of text.split('\n')) if (line.trim() !== '') log(`  ${line.trim()}`);
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`scenario-websocket.ts exited ${code}: ${out.slice(-1000)}`))));
  });
}

const number = (text: string, pattern: RegExp): number => Number(pattern.exec(text)?.[1] ?? NaN);

export async function runWebSocketScenario(ctx: BenchContext): Promise<ScenarioReport[]> {
  const rounds = ctx.quick ? 1 : Math.max(2, ctx.rounds - 1);
  const out = await run(['--seconds', ctx.quick ? '4' : '8', '--rounds', String(rounds)], ctx.log);
  const medians = out.split('\n').find((line) => line.startsWith('medians:')) ?? '';
  const direct = { p50: number(medians, /direct p50 ([\d.]+)/), p99: number(medians, /direct p50 [\d.]+ p99 ([\d.]+)/) };
  const bare = { p50: number(medians, /bare tunnel p50 ([\d.]+)/), p99: number(medians, /bare tunnel p50 [\d.]+ p99 ([\d.]+)/), cpu: number(medians, /bare tunnel .*?CPU ([\d.]+) ms\/MB/) };
  const lm = { p50: number(medians, /lm-proxy p50 ([\d.]+)/), p99: number(medians, /lm-proxy p50 [\d.]+ p99 ([\d.]+)/), cpu: number(medians, /lm-proxy .*?CPU ([\d.]+) ms\/MB/) };
  const records = number(out, /; (\d+) usage records in the ledger/);
  const ms = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(3)} ms` : '—');
  return [{
    id: '13',
    title: `WebSocket: 100 sessions of Realtime-shaped audio deltas, 50 msg/s each, a response.done every 2 s (${rounds} round${rounds === 1 ? '' : 's'})`,
    notes: [`lm-proxy wrote ${Number.isFinite(records) ? records : '?'} usage records; the bare tunnel pipes the upgraded sockets and reads nothing.`],
    columns: ['target', 'delay p50', 'delay p99', 'added p99 vs direct', 'CPU per MB'],
    rows: [
      ['direct', ms(direct.p50), ms(direct.p99), '', ''],
      ['bare tunnel', ms(bare.p50), ms(bare.p99), ms(bare.p99 - direct.p99), ms(bare.cpu)],
      ['lm-proxy', ms(lm.p50), ms(lm.p99), ms(lm.p99 - direct.p99), ms(lm.cpu)],
    ],
    checks: [
      check('CPU per MB ≤ 1.2× the bare tunnel’s', lm.cpu / bare.cpu, '<=', 1.2, (v) => `${v.toFixed(2)}×`),
      check('per-message p99 ≤ the bare tunnel’s + 1 ms', lm.p99 - bare.p99, '<=', 1, (v) => `${v >= 0 ? '+' : ''}${v.toFixed(2)} ms`),
    ],
  }];
}
