// What an open stream keeps alive in a proxy's heap: starts the Node upstream and one proxy, takes a
// V8 heap snapshot with no stream open and another with 1,000 idle streams open, and prints the
// growth per stream by object kind (constructor name, or V8's kind for arrays, strings and closures).
// It is how scenario 5's per-stream memory was taken apart (docs/PERFORMANCE.md). Loopback only;
// every process it starts is stopped by its PID; snapshots go to .bench/idle-heap/.
//   node --import tsx scripts/bench/idle-heap.ts [--proxy dist/lm-proxy.cjs|bare] [--streams 1000] [--top 30]

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, sleep, waitForPort } from './processes.ts';
import { BENCH_DIR, ROOT } from './setup.ts';
import { openIdleStreams, runSseStreams } from './sse-client.ts';

interface HeapSnapshot {
  readonly snapshot: { readonly meta: { readonly node_fields: string[]; readonly node_types: [string[]] } };
  readonly nodes: number[];
  readonly strings: string[];
}

/** Self size and count of each kind of object in one snapshot file. */
function tally(file: string): Map<string, { count: number; bytes: number }> {
  const heap = JSON.parse(readFileSync(file, 'utf8')) as HeapSnapshot;
  const fields = heap.snapshot.meta.node_fields;
  const types = heap.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const out = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < heap.nodes.length; i += fields.length) {
    const type = types[heap.nodes[i + typeAt]!] ?? '?';
    // Strings, numbers and code are named by their content: one row per kind is what helps.
    const named = type === 'object' || type === 'closure' || type === 'native' || type === 'synthetic' || type === 'hidden';
    const key = named ? `${type} ${(heap.strings[heap.nodes[i + nameAt]!] ?? '').slice(0, 60)}` : type;
    const entry = out.get(key) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += heap.nodes[i + sizeAt]!;
    out.set(key, entry);
  }
  return out;
}

async function snapshot(proxy: ChildProcess, dir: string, count: number): Promise<string> {
  proxy.kill('SIGUSR2');
  // Writing a snapshot of a ~30 MB heap takes a second or two; wait for the file to be whole.
  for (let i = 0; i < 200; i++) {
    await sleep(100);
    const files = readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot')).sort();
    if (files.length === count) {
      const file = join(dir, files[count - 1]!);
      try {
        JSON.parse(readFileSync(file, 'utf8'));
        return file;
      } catch {
        // Still being written.
      }
    }
  }
  throw new Error('no heap snapshot within 20 s');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { proxy: { type: 'string', default: join(ROOT, 'dist', 'lm-proxy.cjs') }, streams: { type: 'string', default: '1000' }, top: { type: 'string', default: '30' } } });
  const streams = Number(values.streams);
  const bare = values.proxy === 'bare';
  const dir = join(BENCH_DIR, 'idle-heap');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });

  const upstreamPort = await freePort();
  const proxyPort = await freePort();
  const children: ChildProcess[] = [];
  try {
    const upstream = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'bench', 'upstream.ts'), '--listen', `127.0.0.1:${upstreamPort}`], { stdio: 'ignore', cwd: ROOT });
    children.push(upstream);
    await waitForPort(upstreamPort, 10_000);
    const script = bare ? join(ROOT, 'scripts', 'bench', 'bare-pipe-proxy.ts') : values.proxy;
    const proxy = spawn(
      process.execPath,
      ['--heapsnapshot-signal=SIGUSR2', ...(bare ? ['--import', 'tsx'] : []), script, '--upstream', `http://127.0.0.1:${upstreamPort}${bare ? '' : '/v1'}`, '--listen', `127.0.0.1:${proxyPort}`],
      { stdio: 'ignore', cwd: dir, env: { ...process.env, SHUTDOWN_GRACE_MS: '0' } },
    );
    children.push(proxy);
    await waitForPort(proxyPort, 10_000);
    const origin = `http://127.0.0.1:${proxyPort}`;
    // Warm the code paths, as scenario 5 does, so compiled code is in both snapshots.
    await runSseStreams({ origin, streams: 20, events: 5, intervalMs: 1, staggerMs: 0 });
    await sleep(300);
    const before = await snapshot(proxy, dir, 1);
    const idle = await openIdleStreams(origin, streams, 20_000);
    await sleep(500);
    const after = await snapshot(proxy, dir, 2);
    idle.closeAll();

    const a = tally(before);
    const b = tally(after);
    const rows = [...new Set([...a.keys(), ...b.keys()])].map((key) => {
      const x = a.get(key) ?? { count: 0, bytes: 0 };
      const y = b.get(key) ?? { count: 0, bytes: 0 };
      return { key, count: y.count - x.count, bytes: y.bytes - x.bytes };
    });
    const total = rows.reduce((sum, r) => sum + r.bytes, 0);
    console.log(`${bare ? 'bare pipe' : values.proxy}: heap growth with ${streams} idle streams: ${(total / streams).toFixed(0)} bytes per stream`);
    console.log('\nbytes/stream  objects/stream  kind');
    for (const r of rows.sort((p, q) => q.bytes - p.bytes).slice(0, Number(values.top))) {
      console.log(`${(r.bytes / streams).toFixed(0).padStart(12)}  ${(r.count / streams).toFixed(2).padStart(14)}  ${r.key}`);
    }
  } finally {
    for (const child of children) child.kill();
  }
}

await main();
