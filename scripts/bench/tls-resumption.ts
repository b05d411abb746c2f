// Does TLS session resumption work for a fresh upstream connection, and what does it save through a
// far link? In this process: a TLS upstream (tls-upstream.ts) behind a delay relay, reached by
// (a) tls.connect, each handshake with or without the previous connection's session, and (b) an
// https.Agent with keep-alive as proxies use it, each request on a new socket (the old one destroyed,
// as an idle timeout does), with Node's session cache (maxCachedSessions 100) or without it (0).
// The upstream's own count of resumed handshakes is the proof. Run alone:
//   node --import tsx scripts/bench/tls-resumption.ts [--delay 10] [--count 10]

import https from 'node:https';
import { connect, type SecureVersion, type TLSSocket } from 'node:tls';
import { pathToFileURL } from 'node:url';
import { startDelayRelay } from './delay-relay.ts';
import { BENCH_AUTH, CHAT_BODY, CHAT_PATH } from './load.ts';
import { fmtMs, renderScenario, type ScenarioReport } from './report.ts';
import { median } from './stats.ts';
import { testCaContext, type TlsRequestOptions } from './timed-request.ts';
import { createUpstreamServer, listenLoopback, TEST_CERT_HOST } from './tls-upstream.ts';

interface Sample {
  readonly ms: number;
  readonly resumed: boolean;
}

interface Lane {
  readonly port: number;
  resumedSoFar(): number;
  close(): Promise<void>;
}

async function startLane(delayMs: number, maxVersion: SecureVersion): Promise<Lane> {
  const upstream = createUpstreamServer({ keepAliveTimeoutMs: 65_000, maxVersion });
  const upstreamPort = await listenLoopback(upstream.server);
  const relay = await startDelayRelay({ targetPort: upstreamPort, delayMs });
  return {
    port: relay.port,
    resumedSoFar: () => upstream.resumed(),
    async close() {
      await relay.close();
      upstream.server.closeAllConnections();
      await new Promise<void>((resolve) => upstream.server.close(() => resolve()));
    },
  };
}

/** One handshake: connect to secureConnect; resolves with the session the server then granted. */
function handshake(port: number, session: Buffer | undefined): Promise<{ sample: Sample; session: Buffer | undefined }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    let ms = Number.NaN;
    let resumed = false;
    let granted: Buffer | undefined;
    const socket: TLSSocket = connect({ host: '127.0.0.1', port, servername: TEST_CERT_HOST, secureContext: testCaContext(), ...(session ? { session } : {}) });
    const done = (): void => {
      socket.destroy();
      resolve({ sample: { ms, resumed }, session: granted ?? session });
    };
    // TLS 1.3 grants its ticket after the handshake; wait for it (or give up after 500 ms).
    const timer = setTimeout(done, 500);
    socket.on('session', (s: Buffer) => {
      granted = s;
      if (Number.isFinite(ms)) {
        clearTimeout(timer);
        done();
      }
    });
    socket.once('secureConnect', () => {
      ms = performance.now() - start;
      resumed = socket.isSessionReused();
      if (granted !== undefined) {
        clearTimeout(timer);
        done();
      }
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** One chat POST through `agent` on a new socket; the socket is destroyed after the response. */
function agentRequest(agent: https.Agent, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = Buffer.from(CHAT_BODY);
    const options: TlsRequestOptions = { host: TEST_CERT_HOST, port, method: 'POST', path: CHAT_PATH, agent, secureContext: testCaContext(), headers: { 'content-type': 'application/json', 'content-length': body.length, authorization: BENCH_AUTH } };
    const start = performance.now();
    const req = https.request(options, (res) => {
        const ttfb = performance.now() - start;
        const socket = res.socket; // no longer set once the response has ended
        res.resume();
        res.on('end', () => {
          socket.once('close', () => resolve(ttfb));
          socket.destroy();
        });
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface Row {
  readonly label: string;
  readonly samples: readonly Sample[];
  /** Round trips the client waits for at best (TCP's included), to show what is left beyond them. */
  readonly roundTrips: number;
}

export interface ResumptionOptions {
  readonly delayMs: number;
  readonly count: number;
}

export async function measureTlsResumption(options: ResumptionOptions): Promise<ScenarioReport> {
  const rows: Row[] = [];
  for (const [version, name] of [['TLSv1.3', 'TLS 1.3'], ['TLSv1.2', 'TLS 1.2']] as const) {
    const lane = await startLane(options.delayMs, version);
    try {
      // (a) Bare handshakes: always a full one, then each with the session of the one before.
      for (const resume of [false, true]) {
        let session = resume ? (await handshake(lane.port, undefined)).session : undefined;
        const samples: Sample[] = [];
        for (let i = 0; i < options.count; i++) {
          const result = await handshake(lane.port, resume ? session : undefined);
          samples.push(result.sample);
          session = result.session;
        }
        const roundTrips = 1 + (version === 'TLSv1.3' || resume ? 1 : 2);
        rows.push({ label: `tls.connect, ${name}, ${resume ? 'with the previous session' : 'no session'} (to secureConnect)`, samples, roundTrips });
      }
      // (b) An https.Agent with keep-alive, each request on a new connection (the first one not counted).
      for (const maxCachedSessions of [100, 0]) {
        const agent = new https.Agent({ keepAlive: true, maxCachedSessions });
        await agentRequest(agent, lane.port);
        const samples: Sample[] = [];
        for (let i = 0; i < options.count; i++) {
          const before = lane.resumedSoFar();
          const ms = await agentRequest(agent, lane.port);
          samples.push({ ms, resumed: lane.resumedSoFar() > before });
        }
        agent.destroy();
        const roundTrips = 1 + (version === 'TLSv1.3' || maxCachedSessions > 0 ? 1 : 2) + 1;
        rows.push({ label: `https.Agent keepAlive, maxCachedSessions ${maxCachedSessions}${maxCachedSessions === 100 ? ' (default)' : ''}, ${name}, new socket each request (to response head)`, samples, roundTrips });
      }
    } finally {
      await lane.close();
    }
  }
  const rtt = 2 * options.delayMs;
  return {
    id: 'tls',
    title: `TLS session resumption on a fresh upstream connection, ${options.delayMs} ms each way (${options.count} connections per row)`,
    notes: [
      `Through the delay relay (round trip ${rtt} ms; a new connection also waits one round trip for TCP's handshake). Server: node:https with the test certificate (RSA 2048).`,
      '"resumed" is the upstream’s own count (TLSSocket.isSessionReused() on its side for the agent rows, on the client’s for tls.connect).',
      '"beyond round trips" = p50 − round trips × RTT: the CPU and scheduling a handshake costs on top of the wire, and the relay’s own lateness (its timers run on a whole-millisecond clock: up to about 1 ms per crossing).',
    ],
    columns: ['connection', 'p50', 'min', 'max', 'round trips', 'beyond round trips', 'resumed'],
    rows: rows.map((row) => {
      const ms = row.samples.map((s) => s.ms);
      const p50 = median(ms);
      return [row.label, fmtMs(p50), fmtMs(Math.min(...ms)), fmtMs(Math.max(...ms)), String(row.roundTrips), fmtMs(p50 - row.roundTrips * rtt), `${row.samples.filter((s) => s.resumed).length} / ${row.samples.length}`];
    }),
    checks: [],
  };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const value = (flag: string, fallback: number): number => (argv.includes(flag) ? Number(argv[argv.indexOf(flag) + 1]) : fallback);
  const report = await measureTlsResumption({ delayMs: value('--delay', 10), count: value('--count', 10) });
  process.stdout.write(`${renderScenario(report)}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`tls-resumption failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
