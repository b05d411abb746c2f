/**
 * End-to-end fuzz (issue 17): random requests over raw sockets (methods, raw header bytes, bodies, chunked
 * framing, cut short) through the real proxy (`node --import tsx src/cli/main.ts`, its port read from its
 * `Listening on …` line) to a raw upstream that answers each with a random response (heads, JSON, SSE,
 * compressed, 1xx, cut short, garbage). For --seconds it checks that the proxy never exits or logs a stack,
 * that every client gets an answer or a cut connection, and that no file descriptor leaks (/proc/<pid>/fd
 * before and after, after a settle). Bounded in time and count; stops by itself.
 *
 *   node --import tsx scripts/fuzz/e2e.ts [--seconds 60] [--seed N] [--replay .fuzz/crashes/e2e-….json]
 */
import { Buffer } from 'node:buffer';
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomRequest, randomResponse, type ResponsePlan } from './e2e-traffic.ts';
import { prng } from './mutate.ts';

const CLIENT_TIMEOUT_MS = 20_000; // UPSTREAM_TIMEOUT_MS (3 s) and the 10 s head timeout fit well inside
const CONCURRENCY = 6;
const MAX_CASES = 500_000;
const FD_SLACK = 2;

const { values } = parseArgs({ options: { seconds: { type: 'string' }, seed: { type: 'string' }, replay: { type: 'string' }, 'settle-ms': { type: 'string' } } });
// Long enough for every timer that closes a connection: idle upstream sockets go after UPSTREAM_IDLE_MS (1 s)
// and the upstream's 2 s, but Node's HTTP server reaps connections whose peer is gone only at its
// connectionsCheckingInterval (30 s): with 8 s, up to ten such descriptors were still open (none at 30 s).
const SETTLE_MS = Number(values['settle-ms'] ?? 40_000);
const seconds = Number(values.seconds ?? 60);
const seed = Number(values.seed ?? Math.floor(Math.random() * 0x7fff_ffff));

interface Case {
  readonly caseSeed: number;
  readonly request: Buffer;
  readonly pieces: number[]; // where the client pauses while writing
}

const plans = new Map<string, ResponsePlan>(); // case seed → what the upstream answers

/** The upstream: reads request heads (and bodies, to keep the connection usable), answers by plan. */
function startUpstream(): Promise<{ port: number; close: () => void }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.setTimeout(2000, () => socket.destroy()); // an idle keep-alive connection: closed like a server does
    let pending = Buffer.alloc(0);
    let busy = false;
    socket.on('data', (data: Buffer) => {
      pending = Buffer.concat([pending, data]);
      if (busy) return;
      const headEnd = pending.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const head = pending.subarray(0, headEnd).toString('latin1');
      const caseSeed = /\r\nx-fuzz-case: *(\d+)/i.exec(head)?.[1] ?? 'none';
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      const chunked = /\r\ntransfer-encoding: *chunked/i.test(head);
      // The body: by its length, or up to the chunked terminator (enough for the proxy's well-formed framing).
      const bodyEnd = chunked ? pending.indexOf('\r\n0\r\n\r\n', headEnd) : headEnd + 4 + length;
      if (chunked && bodyEnd < 0 && pending.indexOf('0\r\n\r\n', headEnd + 4) !== headEnd + 4) return;
      if (!chunked && pending.length < bodyEnd) return;
      pending = Buffer.alloc(0);
      busy = true;
      const plan = plans.get(caseSeed) ?? randomResponse(prng(7));
      void answer(socket, plan, /^HEAD /.test(head)).then(() => void (busy = false));
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({ port: typeof address === 'object' && address !== null ? address.port : 0, close: () => { for (const s of sockets) s.destroy(); server.close(); } });
    });
  });
}

async function answer(socket: Socket, plan: ResponsePlan, _head: boolean): Promise<void> {
  for (const part of plan.parts) {
    if (socket.destroyed) return;
    socket.write(part);
    if (plan.pauseMs > 0) await sleep(plan.pauseMs);
  }
  if (plan.end === 'destroy') socket.destroy();
  else if (plan.end === 'end') socket.end();
}

interface Proxy {
  readonly pid: number;
  readonly port: number;
  readonly stderr: () => string;
  readonly exited: () => string | null;
  stop(): Promise<void>;
}

function startProxy(upstreamPort: number): Promise<Proxy> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', '--upstream', `http://127.0.0.1:${upstreamPort}/v1`, '--listen', '127.0.0.1:0'], {
    env: { ...process.env, UPSTREAM_TIMEOUT_MS: '3000', SHUTDOWN_GRACE_MS: '1000', UPSTREAM_IDLE_MS: '1000', ACCESS_LOG: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let exited: string | null = null;
  child.stderr.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-20_000)));
  child.stdout.resume();
  child.on('exit', (code, signal) => void (exited = `exit code ${code} signal ${signal}`));
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /Listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m === null) return;
      child.stdout.off('data', onData);
      resolve({
        pid: child.pid as number,
        port: Number(m[1]),
        stderr: () => stderr,
        exited: () => exited,
        stop: () => new Promise((done) => {
          if (exited !== null) return done();
          child.once('exit', () => done());
          child.kill('SIGTERM');
        }),
      });
    };
    child.stdout.on('data', onData);
    child.on('exit', () => reject(new Error(`the proxy exited before listening: ${stderr.slice(-500)}`)));
  });
}

const fdCount = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

const TCP_STATES: Record<string, string> = { '01': 'ESTABLISHED', '06': 'TIME_WAIT', '07': 'CLOSE', '08': 'CLOSE_WAIT', '0A': 'LISTEN', '04': 'FIN_WAIT1', '05': 'FIN_WAIT2', '09': 'LAST_ACK' };

/** Each descriptor of the process: what it points to, a TCP socket as its ports and state (/proc/net/tcp). */
function describeFds(pid: number): Map<string, string> {
  const sockets = new Map<string, string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const port = (addr: string | undefined): number => parseInt(addr?.split(':')[1] ?? '0', 16);
      sockets.set(f[9] as string, `tcp ${port(f[1])} → ${port(f[2])} ${TCP_STATES[f[3] as string] ?? f[3]}`);
    }
  }
  const out = new Map<string, string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let link = '?';
    try {
      link = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
    out.set(fd, inode !== undefined ? (sockets.get(inode) ?? link) : link);
  }
  return out;
}
const rssMb = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

/** One client: writes the request (in pieces), then waits for any answer or the connection's end. */
function runClient(port: number, c: Case): Promise<'answered' | 'cut' | 'hung'> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answered = false;
    let settled = false;
    const done = (how: 'answered' | 'cut' | 'hung'): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(how);
    };
    const timer = setTimeout(() => done('hung'), CLIENT_TIMEOUT_MS);
    socket.on('data', (d: Buffer) => {
      if (!answered && d.subarray(0, 5).toString('latin1') === 'HTTP/') answered = true;
    });
    socket.on('error', () => done(answered ? 'answered' : 'cut'));
    socket.on('close', () => done(answered ? 'answered' : 'cut'));
    socket.on('connect', () => {
      void (async () => {
        let from = 0;
        for (const at of [...c.pieces, c.request.length]) {
          if (socket.destroyed) return;
          socket.write(c.request.subarray(from, at));
          from = at;
          await sleep(5);
        }
        socket.end(); // a half-close: the proxy must still answer or close
      })();
    });
  });
}

function saveFinding(kind: string, message: string, c: Case | null): void {
  mkdirSync('.fuzz/crashes', { recursive: true });
  const file = `.fuzz/crashes/e2e-${kind}-s${c?.caseSeed ?? seed}.json`;
  const plan = c === null ? null : plans.get(String(c.caseSeed));
  writeFileSync(file, JSON.stringify({ kind, message, seed, caseSeed: c?.caseSeed, request: c?.request.toString('base64'), pieces: c?.pieces, plan: plan && { ...plan, parts: plan.parts.map((p) => p.toString('base64')) } }, null, 1));
  console.log(`  FOUND ${kind}: ${message.slice(0, 400)}\n  replay: node --import tsx scripts/fuzz/e2e.ts --replay ${file}`);
}

async function main(): Promise<number> {
  const upstream = await startUpstream();
  const proxy = await startProxy(upstream.port);
  const findings: Record<string, number> = {};
  const found = (kind: string, message: string, c: Case | null): void => {
    findings[kind] = (findings[kind] ?? 0) + 1;
    if ((findings[kind] as number) <= 3) saveFinding(kind, message, c);
  };
  let cases: Case[];
  if (values.replay !== undefined) {
    const saved = JSON.parse(readFileSync(values.replay, 'utf8')) as { caseSeed: number; request: string; pieces: number[]; plan: { parts: string[]; pauseMs: number; end: ResponsePlan['end'] } | null };
    if (saved.plan !== null) plans.set(String(saved.caseSeed), { ...saved.plan, parts: saved.plan.parts.map((p) => Buffer.from(p, 'base64')) });
    cases = [{ caseSeed: saved.caseSeed, request: Buffer.from(saved.request, 'base64'), pieces: saved.pieces }];
  } else cases = [];
  // Warm up (one plain request), then count the proxy's descriptors: listening socket, pipes, the loader's.
  await runClient(proxy.port, { caseSeed: 0, request: Buffer.from('GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n'), pieces: [] });
  await sleep(SETTLE_MS);
  const fdsBefore = fdCount(proxy.pid);
  const described = describeFds(proxy.pid);
  const rssBefore = rssMb(proxy.pid);
  const master = prng(seed);
  const startedAt = Date.now();
  const deadline = startedAt + seconds * 1000;
  let ran = 0;
  const outcomes = { answered: 0, cut: 0, hung: 0 };
  const next = (): Case | null => {
    if (values.replay !== undefined) return cases.shift() ?? null;
    if (Date.now() >= deadline || ran >= MAX_CASES) return null;
    const caseSeed = Math.floor(master() * 0x7fff_ffff);
    const rand = prng(caseSeed);
    plans.set(String(caseSeed), randomResponse(rand));
    return { caseSeed, ...randomRequest(rand, caseSeed) };
  };
  const worker = async (): Promise<void> => {
    for (let c = next(); c !== null && proxy.exited() === null; c = next()) {
      ran++;
      const how = await runClient(proxy.port, c);
      outcomes[how]++;
      if (how === 'hung') found('no-answer', `no answer and no close in ${CLIENT_TIMEOUT_MS} ms`, c);
      plans.delete(String(c.caseSeed));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsed = (Date.now() - startedAt) / 1000;
  const exitedEarly = proxy.exited();
  if (exitedEarly !== null) found('proxy-exited', `${exitedEarly}: ${proxy.stderr().slice(-1500)}`, null);
  else {
    await sleep(SETTLE_MS);
    const fdsAfter = fdCount(proxy.pid);
    if (fdsAfter > fdsBefore + FD_SLACK) {
      const extra = [...describeFds(proxy.pid)].filter(([fd, what]) => described.get(fd) !== what).map(([fd, what]) => `${fd}: ${what}`);
      let lsof = '';
      try {
        lsof = execFileSync('lsof', ['-nP', '-p', String(proxy.pid)], { encoding: 'utf8' }).split('\n').filter((l) => /sock|TCP|IPv4/.test(l)).join(' | ');
      } catch {
        lsof = '(no lsof)';
      }
      found('fd-leak', `lsof: ${lsof}; ${fdsBefore} descriptors before, ${fdsAfter} after ${ran} cases and a ${SETTLE_MS} ms settle (upstream port ${upstream.port}, proxy port ${proxy.port}); new: ${extra.join('; ')}`, null);
    }
    const rssAfter = rssMb(proxy.pid);
    console.log(`e2e: proxy fds ${fdsBefore} → ${fdsAfter}, RSS ${rssBefore.toFixed(0)} → ${rssAfter.toFixed(0)} MB`);
  }
  if (/\n\s+at |Uncaught|TypeError|RangeError|ReferenceError/.test(proxy.stderr())) found('stack-on-stderr', proxy.stderr().slice(-1500), null);
  await proxy.stop();
  upstream.close();
  const summary = Object.entries(findings).map(([k, v]) => `${k}×${v}`).join(' ') || 'nothing found';
  console.log(`e2e: ${ran} cases in ${elapsed.toFixed(1)} s, seed ${seed}: ${outcomes.answered} answered, ${outcomes.cut} cut, ${outcomes.hung} hung: ${summary}`);
  mkdirSync('.fuzz', { recursive: true });
  appendFileSync('.fuzz/log.jsonl', `${JSON.stringify({ time: new Date().toISOString(), target: 'e2e', seed, seconds: elapsed, cases: ran, counts: findings, outcomes })}\n`);
  return Object.keys(findings).length > 0 ? 1 : 0;
}

process.exitCode = await main();
