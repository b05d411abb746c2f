// A far-away upstream, as two child processes of the bench: one serves N lanes of TLS upstream
// (tls-upstream.ts), the other relays to each through its own delay relay (delay-relay.ts), so that
// each target under test gets a lane and its handshakes are counted apart. Two processes, not one: a
// burst of TLS handshakes (an RSA signature each) would otherwise stall the relay's timers, and the
// "network" would slow down with the server. Each answers its counters as JSON on a plain HTTP port.
//   node --import tsx scripts/bench/far-upstream.ts upstreams --lanes 3 --keep-alive-ms 65000 [--no-hint] [--plain] [--tls-max 1.2] [--tls-dir DIR]
//   node --import tsx scripts/bench/far-upstream.ts relays --to 4431,4432,4433 --delay-ms 10
// Each prints one line, `FAR_UPSTREAM {"ports":[…],"statsPort":…}`, and serves `GET /` on statsPort:
// [{"handshakes":…,"resumed":…}, …] for upstreams, [{"accepted":…}, …] for relays.

import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { startDelayRelay, type DelayRelay } from './delay-relay.ts';
import { createUpstreamServer, listenLoopback, type UpstreamServer } from './tls-upstream.ts';

export const READY_PREFIX = 'FAR_UPSTREAM ';

export interface UpstreamsArgs {
  readonly lanes: number;
  readonly keepAliveTimeoutMs: number;
  readonly keepAliveHint: boolean;
  readonly tls: boolean;
  readonly tlsMax: '1.2' | '1.3';
  /** The test certificate's folder; null for tls-upstream.ts's own default. */
  readonly tlsDir: string | null;
}

export interface RelaysArgs {
  readonly to: readonly number[];
  readonly delayMs: number;
}

export interface ReadyLine {
  readonly ports: readonly number[];
  readonly statsPort: number;
}

export interface UpstreamStats {
  /** TLS handshakes the lane's upstream completed, and how many resumed a session. */
  readonly handshakes: number;
  readonly resumed: number;
}

export interface RelayStats {
  /** Connections the lane's relay accepted: new upstream connections. */
  readonly accepted: number;
}

/** The child's command line for each role (the inverse of the parsing in main). */
export function upstreamsFlags(args: UpstreamsArgs): string[] {
  return [
    'upstreams', '--lanes', String(args.lanes), '--keep-alive-ms', String(args.keepAliveTimeoutMs),
    ...(args.keepAliveHint ? [] : ['--no-hint']), ...(args.tls ? [] : ['--plain']), '--tls-max', args.tlsMax,
    ...(args.tlsDir === null ? [] : ['--tls-dir', args.tlsDir]),
  ];
}

export function relaysFlags(args: RelaysArgs): string[] {
  return ['relays', '--to', args.to.join(','), '--delay-ms', String(args.delayMs)];
}

function flagValue(argv: readonly string[], flag: string, fallback: string): string {
  const i = argv.indexOf(flag);
  return i === -1 ? fallback : (argv[i + 1] ?? fallback);
}

async function serveStats(read: () => unknown, ports: readonly number[]): Promise<void> {
  const stats = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(read()));
  });
  const ready: ReadyLine = { ports, statsPort: await listenLoopback(stats) };
  process.stdout.write(`${READY_PREFIX}${JSON.stringify(ready)}\n`);
}

async function upstreams(argv: readonly string[]): Promise<void> {
  const tlsDir = argv.includes('--tls-dir') ? flagValue(argv, '--tls-dir', '') : null;
  const servers: UpstreamServer[] = [];
  const ports: number[] = [];
  for (let i = 0; i < Number(flagValue(argv, '--lanes', '1')); i++) {
    const server = createUpstreamServer({
      keepAliveTimeoutMs: Number(flagValue(argv, '--keep-alive-ms', '5000')),
      keepAliveHint: !argv.includes('--no-hint'),
      tls: !argv.includes('--plain'),
      maxVersion: flagValue(argv, '--tls-max', '1.3') === '1.2' ? 'TLSv1.2' : 'TLSv1.3',
      ...(tlsDir === null ? {} : { tlsDir }),
    });
    servers.push(server);
    ports.push(await listenLoopback(server.server));
  }
  await serveStats((): UpstreamStats[] => servers.map((s) => ({ handshakes: s.handshakes(), resumed: s.resumed() })), ports);
}

async function relays(argv: readonly string[]): Promise<void> {
  const delayMs = Number(flagValue(argv, '--delay-ms', '10'));
  const list: DelayRelay[] = [];
  for (const targetPort of flagValue(argv, '--to', '').split(',').map(Number)) list.push(await startDelayRelay({ targetPort, delayMs }));
  await serveStats((): RelayStats[] => list.map((r) => ({ accepted: r.accepted() })), list.map((r) => r.port));
}

function main(): void {
  const [role, ...argv] = process.argv.slice(2);
  const run = role === 'upstreams' ? upstreams : role === 'relays' ? relays : null;
  if (!run) {
    process.stderr.write('usage: far-upstream.ts upstreams|relays [flags]\n');
    process.exitCode = 2;
    return;
  }
  run(argv).catch((error: unknown) => {
    process.stderr.write(`far-upstream ${role}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
