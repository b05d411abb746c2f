// Scenario 6: the parsers alone on 100 MB inputs, MB/s. Runs each parser's own bench module
// (scripts/bench/sse-parser.ts → benchSseParser, scripts/bench/json-sniffer.ts → benchJsonSniffer,
// written with the parsers) in a child pinned to the proxy's CPU; this file only calls and reports.
// Child mode: node --import tsx scripts/bench/scenario-parsers.ts --child <module> <export> <MB>

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runToEnd } from './processes.ts';
import { check, fmt, type Check, type ScenarioReport } from './report.ts';
import type { BenchContext } from './setup.ts';


const PARSERS = [
  { name: 'SSE parser', module: 'sse-parser.ts', exported: 'benchSseParser', input: 'OpenAI chat chunk events' },
  { name: 'JSON sniffer', module: 'json-sniffer.ts', exported: 'benchJsonSniffer', input: 'JSON bodies' },
] as const;

interface ParserResult {
  readonly mbPerSec: number;
  readonly shape?: string;
  readonly [key: string]: unknown;
}

async function runChild(ctx: BenchContext, module: string, exported: string, inputMB: number): Promise<ParserResult[] | string> {
  const here = import.meta.dirname;
  const result = await runToEnd(process.execPath, ['--import', 'tsx', join(here, 'scenario-parsers.ts'), '--child', module, exported, String(inputMB)], 300_000, ctx.env.proxyCpu);
  const line = result.stdout.split('\n').find((l) => l.startsWith('BENCH_JSON '));
  if (result.code !== 0 || !line) return `failed (exit ${result.code}): ${result.stderr.trim().split('\n').slice(-2).join(' ')}`;
  const parsed = JSON.parse(line.slice('BENCH_JSON '.length)) as ParserResult | ParserResult[];
  return Array.isArray(parsed) ? parsed : [parsed];
}

/** The target is judged on embeddings-shaped input where a module measures several shapes. */
function judged(result: ParserResult, results: readonly ParserResult[]): boolean {
  return results.length === 1 || (result.shape ?? '').includes('embeddings');
}

function details(result: ParserResult): string {
  return Object.entries(result)
    .filter(([key]) => key !== 'mbPerSec' && key !== 'shape')
    .map(([key, value]) => `${key}=${typeof value === 'number' ? fmt(value) : String(value)}`)
    .join(', ');
}

export async function runParsersScenario(ctx: BenchContext): Promise<ScenarioReport> {
  const inputMB = ctx.quick ? 50 : 100;
  const rows: string[][] = [];
  const checks: Check[] = [];
  for (const parser of PARSERS) {
    const missing = !existsSync(join(import.meta.dirname, parser.module));
    if (!missing) ctx.log(`  ${parser.name}`);
    const results = missing ? `scripts/bench/${parser.module} not written yet` : await runChild(ctx, parser.module, parser.exported, inputMB);
    if (typeof results === 'string') {
      rows.push([parser.name, '', '—', results]);
      checks.push(check(`${parser.name} ≥ 1,000 MB/s`, NaN, '>=', 1000, String));
      continue;
    }
    for (const result of results) {
      const shape = result.shape ?? parser.input;
      rows.push([parser.name, shape, fmt(result.mbPerSec), details(result)]);
      if (judged(result, results)) checks.push(check(`${parser.name}, ${shape}: ≥ 1,000 MB/s`, result.mbPerSec, '>=', 1000, (v) => `${fmt(v)} MB/s`));
    }
  }
  return {
    id: '6',
    title: `The parsers alone, ${inputMB} MB inputs`,
    notes: [
      'Each parser runs in its own process pinned to the proxy CPU, fed 64 KiB chunks by its own bench module (scripts/bench/sse-parser.ts → benchSseParser, scripts/bench/json-sniffer.ts → benchJsonSniffer); best of that module’s runs; 1 MB = 10^6 bytes.',
    ],
    columns: ['parser', 'input', 'MB/s', 'details'],
    rows,
    checks,
  };
}

async function childMain(): Promise<void> {
  const at = process.argv.indexOf('--child');
  const [module, exported, mb] = process.argv.slice(at + 1);
  const imported = (await import(pathToFileURL(join(import.meta.dirname, module ?? '')).href)) as Record<string, unknown>;
  const fn = imported[exported ?? ''];
  if (typeof fn !== 'function') throw new Error(`${module} does not export ${exported}()`);
  const result = await (fn as (sizeMB: number) => unknown)(Number(mb));
  console.log(`BENCH_JSON ${JSON.stringify(result)}`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv.includes('--child')) await childMain();
