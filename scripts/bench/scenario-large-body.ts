// Scenario 4: one 200 MB embeddings response through each target — MB/s (1 MB = 10^6 bytes), and
// the proxy's peak RSS (VmHWM), for lm-proxy with usage tracking on and off. Each measurement uses
// a freshly started proxy, so the high-water mark belongs to that one response.

import net from 'node:net';
import { BENCH_AUTH } from './load.ts';
import { check, fmt, fmtMB, fmtRatio, type ScenarioReport } from './report.ts';
import { procStatusBytes } from './processes.ts';
import type { BenchContext } from './setup.ts';
import { median, roundOrder } from './stats.ts';
import { availableTargets, startTarget, type TargetName } from './targets.ts';
import { startNodeUpstream } from './upstream-servers.ts';

export const BODY_BYTES = 200_000_000;

interface Download {
  readonly bytes: number;
  readonly seconds: number;
}

/**
 * POSTs to `url` over a raw TCP socket and counts the response's bytes into one reused buffer.
 * Node's HTTP client tops out near 600 MB/s on a CPU it shares with the upstream, below what a proxy
 * moves, so it would hide the differences; this reader does about 1.5 GB/s there. The body ends at
 * its content-length, or at the close of the connection (`Connection: close`) when it has none.
 */
export function download(url: string, timeoutMs: number): Promise<Download> {
  const target = new URL(url);
  const body = '{"model":"text-embedding-3-small","input":"bench"}';
  return new Promise((resolve, reject) => {
    const start = performance.now();
    let head = '';
    let length = -1;
    let received = -1; // body bytes, once the head is complete
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ bytes: received, seconds: (performance.now() - start) / 1000 });
    };
    const socket = net.connect({
      host: target.hostname,
      port: Number(target.port),
      onread: {
        buffer: Buffer.allocUnsafe(256 * 1024),
        callback: (n: number, buf: Uint8Array): boolean => {
          if (received < 0) {
            head += Buffer.from(buf.buffer, buf.byteOffset, n).toString('latin1');
            const end = head.indexOf('\r\n\r\n');
            if (end === -1) return true;
            length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head.slice(0, end))?.[1] ?? -1);
            received = head.length - end - 4;
            head = head.slice(0, end);
          } else {
            received += n;
          }
          if (length >= 0 && received >= length) done();
          return true;
        },
      },
    });
    const timer = setTimeout(() => socket.destroy(new Error(`download of ${url} took over ${timeoutMs} ms`)), timeoutMs);
    socket.on('end', () => (received >= 0 ? done() : socket.destroy(new Error(`no response head from ${url}`))));
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.write(
      `POST ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nContent-Type: application/json\r\n` +
        `Authorization: ${BENCH_AUTH}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}

interface Figures {
  mbps: number;
  peakRss: number;
  bytesOk: boolean;
  usageLines: number | null;
}

export async function runLargeBodyScenario(ctx: BenchContext): Promise<ScenarioReport> {
  const upstream = await startNodeUpstream(ctx.env);
  const names = availableTargets(ctx.env, true);
  const rounds = ctx.quick ? 1 : ctx.rounds;
  const perRound = new Map<TargetName, Figures[]>(names.map((n) => [n, []]));
  let expected = 0;
  try {
    // One direct download first: the upstream builds and caches its body, and tells its exact size.
    expected = (await download(`${upstream.origin}/v1/embeddings?bytes=${BODY_BYTES}`, 60_000)).bytes;
    for (let round = 0; round < rounds; round++) {
      for (const name of roundOrder(names, round)) {
        ctx.log(`  200 MB body, round ${round + 1}/${rounds}: ${name}`);
        const target = await startTarget(ctx.env, name, upstream.origin);
        try {
          await download(`${target.origin}/v1/embeddings?bytes=1000000`, 10_000); // warm the path, as a server that has been up a while
          const result = await download(`${target.origin}/v1/embeddings?bytes=${BODY_BYTES}`, 120_000);
          // Give the [USAGE] line a moment to cross the pipe before counting it.
          await new Promise((resolve) => setTimeout(resolve, 50));
          perRound.get(name)?.push({
            mbps: result.bytes / 1e6 / result.seconds,
            peakRss: target.child ? (procStatusBytes(target.child.pid, 'VmHWM') ?? NaN) : NaN,
            bytesOk: result.bytes === expected,
            usageLines: target.child && name.startsWith('lm-proxy') ? target.child.countedLines() : null,
          });
        } finally {
          await target.stop();
        }
      }
    }
  } finally {
    await upstream.child.stop();
  }
  const figures = new Map<TargetName, Figures>();
  for (const [name, list] of perRound) {
    const lines = list.map((f) => f.usageLines);
    figures.set(name, {
      mbps: median(list.map((f) => f.mbps)),
      peakRss: median(list.map((f) => f.peakRss)),
      bytesOk: list.every((f) => f.bytesOk),
      usageLines: lines.every((l) => l === null) ? null : lines.reduce<number>((s, l) => s + (l ?? 0), 0),
    });
  }
  const direct = figures.get('direct');
  const bare = figures.get('bare pipe');
  const lm = figures.get('lm-proxy');
  const rows = [...figures].map(([name, f]) => [
    name,
    fmt(f.mbps),
    fmtRatio(f.mbps, direct?.mbps ?? NaN),
    fmtRatio(f.mbps, bare?.mbps ?? NaN),
    name === 'direct' ? '' : fmtMB(f.peakRss),
    f.bytesOk ? `all ${fmt(expected)} bytes` : 'WRONG LENGTH',
    // Two requests per round (the 1 MB warm-up and the 200 MB body), each should give a line when tracking is on.
    f.usageLines === null ? '' : `${fmt(f.usageLines)} / ${fmt(rounds * 2)}`,
  ]);
  return {
    id: '4',
    title: `One ${fmt(expected / 1e6)} MB embeddings response (${rounds} round${rounds > 1 ? 's' : ''}, fresh proxy each)`,
    notes: [
      'Upstream: the Node upstream (content-length, 300 KB writes) on the load CPU; the client, in the bench process on the same CPU, counts bytes off a raw socket (Node’s HTTP client would cap every target near 600 MB/s).',
      'Each proxy first serves one 1 MB body (warm-up), then the big one; peak RSS is VmHWM of the proxy process after both.',
      '“tracking off” runs lm-proxy with TRACK_USAGE=false.',
    ],
    columns: ['target', 'MB/s', '÷ direct', '÷ bare pipe', 'peak RSS (VmHWM)', 'body', '[USAGE] lines / responses'],
    rows,
    checks: [
      check('MB/s ≥ 0.8× bare pipe (tracking on)', (lm?.mbps ?? NaN) / (bare?.mbps ?? NaN), '>=', 0.8, (v) => `${fmt(v, 2)}× (${fmt(lm?.mbps ?? NaN)} vs ${fmt(bare?.mbps ?? NaN)} MB/s)`),
      check('peak RSS ≤ 80 MB (tracking on)', (lm?.peakRss ?? NaN) / 1e6, '<=', 80, (v) => `${fmt(v, 1)} MB (bare pipe ${fmtMB(bare?.peakRss ?? NaN)})`),
    ],
  };
}
