// Bench scenario: WebSocket sessions (SPEC §13). 100 concurrent sessions, each receiving 50
// messages a second of Realtime-shaped audio deltas (base64, 4–8 KB) and a `response.done` with
// usage every 2 s, through lm-proxy (the bundle, dist/lm-proxy.cjs), through a bare Node
// 'upgrade'-event tunnel (socket piping, nothing read), and direct. Reports per-message delay
// p50/p99 (the upstream stamps each message with the monotonic clock, which every process on the
// machine shares) and the added delay against direct, and the proxy's CPU per MB received
// (utime + stime from /proc/<pid>/stat over the measured window). Targets (issue 16): CPU per MB
// within 1.2× the bare tunnel's, p99 within +1 ms of it. Runs alone:
//
//   npm run build && node --import tsx scripts/bench/scenario-websocket.ts [--seconds 8] [--rounds 2] [--sessions 100] [--pin true]
//
// It spawns its own upstream and tunnel (this file, with --role) and stops only what it spawned.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUNDLE = join(ROOT, 'dist', 'lm-proxy.cjs');
const SELF = fileURLToPath(import.meta.url);
const MESSAGES_PER_SECOND = 50;
const DONE_EVERY_MS = 2_000;
const WARMUP_MS = 2_000;

function arg(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? (process.argv[at + 1] ?? fallback) : fallback;
}

const now = (): number => Number(process.hrtime.bigint());

// ---- the upstream (a child process): a Realtime-shaped session per connection ----

function runUpstream(): void {
  const server = http.createServer((_req, res) => res.writeHead(426).end());
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  // Base64 audio of 4–8 KB; the stamp goes in front, at a fixed place, so clients need not parse JSON.
  const audio = Buffer.alloc(6 * 1024, 7).toString('base64');
  wss.on('connection', (ws) => {
    ws.send(JSON.stringify({ type: 'session.created', event_id: 'e0', session: { model: 'gpt-realtime' } }));
    let n = 0;
    let lastDone = Date.now();
    const tick = setInterval(() => {
      n++;
      const size = 4096 + ((n * 997) % 4096);
      ws.send(`{"type":"response.output_audio.delta","t":${now()},"event_id":"d${n}","response_id":"r","item_id":"i","output_index":0,"content_index":0,"delta":"${audio.slice(0, size)}"}`);
      if (Date.now() - lastDone >= DONE_EVERY_MS) {
        lastDone = Date.now();
        ws.send(`{"type":"response.done","t":${now()},"event_id":"f${n}","response":{"object":"realtime.response","id":"r${n}","status":"completed","output":[],"usage":{"total_tokens":900,"input_tokens":600,"output_tokens":300,"input_token_details":{"cached_tokens":100,"audio_tokens":500},"output_token_details":{"audio_tokens":280}}}}`);
      }
    }, 1000 / MESSAGES_PER_SECOND);
    ws.on('close', () => clearInterval(tick));
    ws.on('error', () => clearInterval(tick));
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as net.AddressInfo).port}\n`));
}

// ---- the bare tunnel (a child process): the floor for an 'upgrade'-event tunnel in Node ----

function runTunnel(upstreamPort: number): void {
  const server = http.createServer((_req, res) => res.writeHead(501).end());
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    let text = `${req.method} ${req.url} HTTP/1.1\r\n`;
    for (let i = 0; i < req.rawHeaders.length; i += 2) text += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
    upstream.write(text + '\r\n');
    if (head.length > 0) upstream.write(head);
    socket.setNoDelay(true);
    upstream.setNoDelay(true);
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
    socket.on('close', () => upstream.destroy());
    upstream.on('close', () => socket.destroy());
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as net.AddressInfo).port}\n`));
}

// ---- the bench ----

interface Spawned {
  readonly child: ChildProcess;
  readonly port: number;
}

/**
 * Spawns a process and resolves with the port it says it listens on. Its stdout goes to a file, never a
 * pipe: on Linux a process's writes to a pipe are synchronous, so a reader slowed by the load (this
 * process, busy with 100 sessions) would stall the proxy on its own [USAGE] lines.
 */
async function spawnListening(args: readonly string[], cpu: string | null, pattern = /listening (\d+)|Listening on [^:\s]+:(\d+)/): Promise<Spawned> {
  const out = join(mkdtempSync(join(tmpdir(), 'lm-proxy-bench-ws-out-')), 'stdout');
  const fd = openSync(out, 'w');
  // taskset execs the command, so the child's PID is the measured process's own.
  const [command, ...rest] = cpu === null ? [process.execPath, ...args] : ['taskset', '-c', cpu, process.execPath, ...args];
  const child = spawn(command as string, rest, { cwd: ROOT, stdio: ['ignore', fd, 'pipe'] });
  closeSync(fd);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  for (let i = 0; i < 300; i++) {
    const match = pattern.exec(readFileSync(out, 'utf8'));
    if (match !== null) return { child, port: Number(match[1] ?? match[2]) };
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${args.join(' ')} did not start listening: ${stderr}`);
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    // SIGTERM first, so a profiled proxy (--node-args --cpu-prof) writes its profile; then SIGKILL.
    const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** utime + stime of a process so far, in ms (/proc/<pid>/stat fields 14 and 15, in clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

interface Figures {
  readonly p50: number;
  readonly p99: number;
  readonly messages: number;
  readonly mb: number;
  readonly cpuMsPerMb: number | null;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function measure(port: number, sessions: number, seconds: number, pid: number | null): Promise<Figures> {
  const delays = new Float64Array(Math.ceil(sessions * (MESSAGES_PER_SECOND + 1) * seconds * 1.2));
  let count = 0;
  let bytes = 0;
  let measuring = false;
  const clients: WebSocket[] = [];
  for (let i = 0; i < sessions; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/realtime?model=gpt-realtime`, { headers: { authorization: `Bearer sk-bench-${i % 10}` }, perMessageDeflate: false });
    ws.on('message', (data: Buffer) => {
      if (!measuring) return;
      const at = data.indexOf('"t":');
      if (at < 0) return;
      const stamp = Number(data.toString('latin1', at + 4, data.indexOf(',', at)));
      if (count < delays.length) delays[count++] = (now() - stamp) / 1e6;
      bytes += data.length;
    });
    ws.on('error', () => undefined);
    clients.push(ws);
  }
  await Promise.all(clients.map((ws) => new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  })));
  await new Promise((resolve) => setTimeout(resolve, WARMUP_MS));
  const cpuBefore = pid === null ? 0 : cpuMs(pid);
  measuring = true;
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  measuring = false;
  const cpuAfter = pid === null ? 0 : cpuMs(pid);
  for (const ws of clients) ws.close();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const sorted = delays.slice(0, count).sort();
  const mb = bytes / 1e6;
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), messages: count, mb, cpuMsPerMb: pid === null ? null : (cpuAfter - cpuBefore) / mb };
}

async function main(): Promise<void> {
  const role = arg('role', '');
  if (role === 'upstream') return runUpstream();
  if (role === 'tunnel') return runTunnel(Number(arg('upstream-port', '0')));

  const sessions = Number(arg('sessions', '100'));
  const seconds = Number(arg('seconds', '8'));
  const rounds = Number(arg('rounds', '2'));
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run npm run build first`);
  // With two CPUs or more, the measured process (a proxy) gets CPU 1 to itself as far as this bench
  // goes; the upstream and the clients (this process) share CPU 0.
  const pin = arg('pin', 'false') === 'true' && spawnSync('taskset', ['-cp', '0', String(process.pid)], { stdio: 'ignore' }).status === 0;
  const tsx = ['--import', 'tsx', SELF];
  const upstream = await spawnListening([...tsx, '--role', 'upstream'], pin ? '0' : null);
  const children: ChildProcess[] = [upstream.child];
  try {
    const ledger = join(mkdtempSync(join(tmpdir(), 'lm-proxy-bench-ws-')), 'ledger.jsonl');
    const results = new Map<Mode, Figures[]>([['direct', []], ['bare tunnel', []], ['lm-proxy', []]]);
    console.log(`${sessions} sessions × ${MESSAGES_PER_SECOND} msg/s of 4–8 KB audio deltas, a response.done every ${DONE_EVERY_MS / 1000} s; ${seconds} s measured after ${WARMUP_MS / 1000} s of warm-up; ${rounds} rounds of each proxy, alternating${pin ? '; proxies pinned to CPU 1' : ''}`);
    const order: Mode[] = ['direct'];
    for (let round = 0; round < rounds; round++) order.push(...(round % 2 === 0 ? (['bare tunnel', 'lm-proxy'] as const) : (['lm-proxy', 'bare tunnel'] as const)));
    for (const mode of order) {
      let port = upstream.port;
      let child: ChildProcess | null = null;
      if (mode === 'bare tunnel') {
        ({ child, port } = await spawnListening([...tsx, '--role', 'tunnel', '--upstream-port', String(upstream.port)], pin ? '1' : null));
      } else if (mode === 'lm-proxy') {
        // --extra-args passes more flags to lm-proxy, for diagnosis (e.g. "--track-usage false").
        const extra = arg('extra-args', '').split(' ').filter(Boolean);
        const nodeArgs = arg('node-args', '').split(' ').filter(Boolean);
        ({ child, port } = await spawnListening([...nodeArgs, BUNDLE, '--upstream', `http://127.0.0.1:${upstream.port}/v1`, '--listen', '127.0.0.1:0', ...(arg('ledger', 'true') === 'true' ? ['--usage-log', ledger] : []), ...extra], pin ? '1' : null));
      }
      if (child !== null) children.push(child);
      const figures = await measure(port, sessions, seconds, child?.pid ?? null);
      results.get(mode)?.push(figures);
      console.log(`  ${mode.padEnd(12)} p50 ${figures.p50.toFixed(3)} ms  p99 ${figures.p99.toFixed(3)} ms  ${figures.messages} messages, ${figures.mb.toFixed(1)} MB` + (figures.cpuMsPerMb === null ? '' : `  CPU ${figures.cpuMsPerMb.toFixed(2)} ms/MB`));
      if (child !== null) await stop(child);
    }
    const med = (mode: Mode, key: 'p50' | 'p99' | 'cpuMsPerMb'): number => median((results.get(mode) ?? []).map((f) => f[key] ?? NaN));
    const records = !existsSync(ledger) ? 0 : readFileSync(ledger, 'utf8').split('\n').filter(Boolean).length;
    console.log(`medians: direct p50 ${med('direct', 'p50').toFixed(3)} p99 ${med('direct', 'p99').toFixed(3)} ms; bare tunnel p50 ${med('bare tunnel', 'p50').toFixed(3)} p99 ${med('bare tunnel', 'p99').toFixed(3)} ms, CPU ${med('bare tunnel', 'cpuMsPerMb').toFixed(2)} ms/MB; lm-proxy p50 ${med('lm-proxy', 'p50').toFixed(3)} p99 ${med('lm-proxy', 'p99').toFixed(3)} ms, CPU ${med('lm-proxy', 'cpuMsPerMb').toFixed(2)} ms/MB`);
    const added = (mode: Mode, key: 'p50' | 'p99'): string => `${key} +${(med(mode, key) - med('direct', key)).toFixed(3)} ms`;
    console.log(`added delay vs direct: bare tunnel ${added('bare tunnel', 'p50')} ${added('bare tunnel', 'p99')}; lm-proxy ${added('lm-proxy', 'p50')} ${added('lm-proxy', 'p99')}`);
    const ratio = med('lm-proxy', 'cpuMsPerMb') / med('bare tunnel', 'cpuMsPerMb');
    const p99 = med('lm-proxy', 'p99') - med('bare tunnel', 'p99');
    console.log(`lm-proxy vs bare tunnel: CPU per MB ×${ratio.toFixed(2)} (target ≤ 1.2), p99 ${p99 >= 0 ? '+' : ''}${p99.toFixed(3)} ms (target ≤ +1 ms); ${records} usage records in the ledger`);
  } finally {
    for (const child of children) await stop(child);
  }
}

type Mode = 'direct' | 'bare tunnel' | 'lm-proxy';

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

await main();
