// A loopback TCP relay that makes an upstream look far away: every chunk is held for a fixed one-way
// delay in each direction, in order, as on a long link. A slow reader pauses the sender
// (backpressure), and an end (half-close) or a reset reaches the other side only after the same
// delay. A real far connection also costs a round trip (SYN, SYN-ACK) before its first byte can
// leave, which loopback's instant connect hides: by default the client's first bytes wait for it.

import net from 'node:net';

/** Bytes held per direction before the sending side is paused (a long link's window, roughly). */
const HIGH_WATER_BYTES = 1 << 20; // 1 MiB
/** setTimeout runs on the event loop's whole-millisecond clock, so a timer may fire up to 1 ms early. */
const TIMER_SLACK_MS = 1;

export interface DelayRelayOptions {
  readonly targetPort: number;
  /** Default 127.0.0.1. */
  readonly targetHost?: string;
  /** One-way delay, each direction (a round trip costs twice this). 0 forwards at once. */
  readonly delayMs: number;
  /** Hold the client's first bytes for the TCP handshake's round trip too (default true). */
  readonly connectRoundTrip?: boolean;
}

export interface DelayRelay {
  readonly port: number;
  /** Connections accepted so far: each is one new upstream connection (TCP and TLS handshake). */
  accepted(): number;
  /** Stops listening and drops every connection still open. */
  close(): Promise<void>;
}

type Item = { readonly at: number; readonly chunk: Buffer } | { readonly at: number; readonly chunk: 'end' | 'reset' };

/**
 * Forwards `from` to `to`, each chunk, end or reset `delayMs` after it arrived (and no earlier than
 * `opensAt`). One timer per direction, always for the oldest item, keeps the order.
 */
function delayedPipe(from: net.Socket, to: net.Socket, delayMs: number, opensAt: number): void {
  const queue: Item[] = [];
  let queuedBytes = 0;
  let timer: NodeJS.Timeout | null = null;
  let ended = false;

  const flow = (): void => {
    const full = queuedBytes >= HIGH_WATER_BYTES || to.writableNeedDrain;
    if (full && !from.isPaused()) from.pause();
    else if (!full && from.isPaused() && !from.destroyed) from.resume();
  };
  const deliver = (item: Item): void => {
    if (item.chunk === 'end') {
      if (!to.destroyed) to.end();
    } else if (item.chunk === 'reset') {
      if (!to.destroyed) to.resetAndDestroy();
    } else {
      queuedBytes -= item.chunk.length;
      if (!to.destroyed) to.write(item.chunk);
    }
  };
  const flush = (): void => {
    timer = null;
    const now = performance.now();
    while (queue.length > 0 && (queue[0]?.at ?? 0) - now < TIMER_SLACK_MS) deliver(queue.shift() as Item);
    const next = queue[0];
    if (next) timer = setTimeout(flush, Math.max(0, next.at - now));
    flow();
  };
  const push = (chunk: Item['chunk']): void => {
    const now = performance.now();
    const item: Item = { at: Math.max(now, opensAt) + delayMs, chunk };
    if (typeof chunk !== 'string') queuedBytes += chunk.length;
    if (queue.length === 0 && item.at <= now) deliver(item); // no delay, and nothing ahead of it
    else {
      queue.push(item);
      timer ??= setTimeout(flush, item.at - now);
    }
    flow();
  };

  from.on('data', (chunk: Buffer) => push(chunk));
  from.on('end', () => {
    ended = true;
    push('end');
  });
  // A close without a clean end (a reset, an error) is passed on as a reset, after the data before it.
  from.on('close', () => {
    if (!ended) push('reset');
  });
  to.on('drain', flow);
}

export function startDelayRelay(options: DelayRelayOptions): Promise<DelayRelay> {
  const host = options.targetHost ?? '127.0.0.1';
  const roundTrip = options.connectRoundTrip === false ? 0 : 2 * options.delayMs;
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {}); // passed on as a reset by delayedPipe's close handler
    socket.setNoDelay(true);
  };
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    accepted++;
    const upstream = net.connect({ port: options.targetPort, host, allowHalfOpen: true });
    track(client);
    track(upstream);
    const opensAt = performance.now() + roundTrip;
    delayedPipe(client, upstream, options.delayMs, opensAt);
    // The server's bytes can only follow the client's, which already paid the handshake's wait.
    delayedPipe(upstream, client, options.delayMs, 0);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolve({
        port,
        accepted: () => accepted,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            for (const socket of sockets) socket.destroy();
          }),
      });
    });
  });
}
