// When a request that failed on a reused upstream socket may be sent again
// (SPEC §8): its method is idempotent (GET, HEAD, OPTIONS, PUT, DELETE; never
// POST, whose generation the upstream may already be running and billing), no
// byte of a response to it arrived, and its body, if any, is small enough to
// have been kept. It never holds more than MAX_REPLAY_BODY_BYTES per request.

import type http from 'node:http';

const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

// A retry sends the body again, so it is kept — as references to the chunks already
// forwarded — until the response begins. A larger body is not retried: holding it
// would be buffering it (SPEC §3).
export const MAX_REPLAY_BODY_BYTES = 64 * 1024;

/** The body of a request forwarded so far, kept while a retry is still possible. */
export class ReplayBody {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private open: boolean;

  constructor(method: string) {
    this.open = IDEMPOTENT_METHODS.has(method);
  }

  /** Whether the request could still be sent again. */
  get possible(): boolean {
    return this.open;
  }

  /** A chunk forwarded upstream. */
  add(chunk: Buffer): void {
    if (!this.open) return;
    this.bytes += chunk.length;
    if (this.bytes > MAX_REPLAY_BODY_BYTES) this.close();
    else this.chunks.push(chunk);
  }

  /** No retry any more (a response began, or one retry was made): the chunks are let go. */
  close(): void {
    this.open = false;
    this.chunks = [];
  }

  /** The body so far, for the retry (null when there is none); closes. */
  take(): Buffer | null {
    const { chunks } = this;
    this.close();
    return chunks.length === 0 ? null : chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
  }
}

// On a pooled upstream socket: its bytesRead when the last response on it ended.
const kBytesReadAtRelease = Symbol('lm-proxy bytes read at release');
type PooledSocket = NonNullable<http.ClientRequest['socket']> & { [kBytesReadAtRelease]?: number };

/** To call when a response has been read whole, before Node returns its socket to the pool. */
export function noteResponseEnded(request: http.ClientRequest): void {
  const socket: PooledSocket | null = request.socket;
  if (socket !== null) socket[kBytesReadAtRelease] = socket.bytesRead;
}

/** Whether any byte of a response to this request arrived on its reused socket. */
export function gotResponseBytes(request: http.ClientRequest): boolean {
  const socket: PooledSocket | null = request.socket;
  const atRelease = socket?.[kBytesReadAtRelease];
  // Unknown counts as arrived: a retry must never repeat a request the upstream answered.
  return socket === null || atRelease === undefined || socket.bytesRead !== atRelease;
}
