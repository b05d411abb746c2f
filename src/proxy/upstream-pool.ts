// The pool of upstream connections: Node's keep-alive Agent, with idle connections
// kept as long as the upstream keeps them (SPEC §8) — up to UPSTREAM_IDLE_MS, less where
// its `Keep-Alive: timeout=N` hint says so (Node's agent retires those a second early),
// and less once it has been seen to close idle connections itself (idle-limit.ts). A
// request after a pause then finds its connection still open instead of paying a new
// TCP and TLS handshake, and never finds one the upstream is closing. TLS sessions are
// cached by the https Agent, so a connection that must be new resumes its session.

import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { IdleLimit } from './idle-limit.ts';

export interface UpstreamPool {
  readonly agent: http.Agent;
  /** The longest an idle connection is kept now, in ms (for tests and logs). */
  readonly idleLimitMs: number;
  /** Closes every idle connection: after one turned out stale, the others likely are too. */
  retireIdle(): void;
  /** Closes every connection (shutdown). */
  close(): void;
}

const kIdleSince = Symbol('lm-proxy idle since');
const kRetired = Symbol('lm-proxy retired');
const kPool = Symbol('lm-proxy pool');

interface PoolState {
  readonly agent: http.Agent;
  readonly limit: IdleLimit;
}

type PooledSocket = Socket & { [kIdleSince]?: number | undefined; [kRetired]?: true; [kPool]?: PoolState };

/** The two Agent methods the pool wraps: public in Node's code, absent from its type declarations. */
interface AgentHooks {
  keepSocketAlive(socket: Socket): boolean;
  reuseSocket(socket: Socket, req: http.ClientRequest): void;
}

export function createUpstreamPool(isHttps: boolean, maxIdleMs: number): UpstreamPool {
  const options = {
    keepAlive: true,
    // LIFO reuses the most recently used socket: the least likely to have gone stale.
    scheduling: 'lifo' as const,
    // The idle limit; Node's agent shortens it per socket to a `Keep-Alive: timeout=` hint.
    timeout: maxIdleMs,
  };
  const agent = isHttps ? new https.Agent(options) : new http.Agent(options);
  const state: PoolState = { agent, limit: new IdleLimit(maxIdleMs) };
  const hooks = agent as unknown as AgentHooks;
  const keepSocketAlive = hooks.keepSocketAlive;
  const reuseSocket = hooks.reuseSocket;

  hooks.keepSocketAlive = function keepIdle(this: http.Agent, socket: PooledSocket): boolean {
    // A limit of 0 (UPSTREAM_IDLE_MS=0, or an upstream that closes at once) keeps nothing:
    // setTimeout(0) would mean "no timeout", the opposite.
    if (!keepSocketAlive.call(this, socket) || state.limit.ms === 0) return false;
    const hinted = socket.timeout ?? 0;
    if (hinted === 0 || hinted > state.limit.ms) socket.setTimeout(state.limit.ms);
    socket[kIdleSince] = performance.now();
    if (socket[kPool] === undefined) {
      socket[kPool] = state;
      socket.on('timeout', onIdleTimeout);
      socket.on('close', onSocketClose);
    }
    return true;
  };
  hooks.reuseSocket = function takeIdle(this: http.Agent, socket: PooledSocket, req: http.ClientRequest): void {
    socket[kIdleSince] = undefined;
    reuseSocket.call(this, socket, req);
  };

  return {
    agent,
    get idleLimitMs() {
      return state.limit.ms;
    },
    retireIdle: () => retireIdle(state, 0),
    close: () => agent.destroy(),
  };
}

// The agent's own 'timeout' listener, installed first, destroys an idle socket; this one
// notes that the proxy, not the upstream, closed it, so its close teaches nothing.
function onIdleTimeout(this: PooledSocket): void {
  if (this[kIdleSince] !== undefined) this[kRetired] = true;
}

function onSocketClose(this: PooledSocket): void {
  const idleSince = this[kIdleSince];
  const state = this[kPool];
  if (idleSince === undefined || this[kRetired] === true || state === undefined) return;
  // Closed while idle, and not by the proxy: the upstream's idle timeout (or a restart).
  if (state.limit.upstreamClosedAfter(performance.now() - idleSince)) retireIdle(state, state.limit.ms);
}

/** Closes the idle connections idle for `atLeastMs` or more; the others get the rest of the limit. */
function retireIdle(state: PoolState, atLeastMs: number): void {
  const now = performance.now();
  for (const sockets of Object.values(state.agent.freeSockets)) {
    for (const socket of (sockets ?? []) as PooledSocket[]) {
      const idleFor = now - (socket[kIdleSince] ?? now);
      if (idleFor >= atLeastMs) {
        socket[kRetired] = true;
        socket.destroy();
      } else {
        socket.setTimeout(Math.max(1, Math.floor(state.limit.ms - idleFor)));
      }
    }
  }
}
