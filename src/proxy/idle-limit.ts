// How long an idle upstream connection may be kept (SPEC §8): at most UPSTREAM_IDLE_MS,
// and less once the upstream has been seen to close idle connections itself after T —
// then they are retired a margin before T, so a request never meets a socket the
// upstream is closing. One close is not enough to learn from: an upstream that restarts
// closes every idle connection at once, whatever their idle time, and that must not
// shorten the pool for good. Two closes after about the same idle time are a rule.
// Pure: no I/O, no timers; the pool (upstream-pool.ts) reports what it saw.

/** Two idle times within this ratio of each other are the same rule (clocks, RTT and timers jitter). */
const AGREEMENT = 0.25;
const MAX_MARGIN_MS = 1_000; // as Node's agent does below a `Keep-Alive: timeout=` hint
const MIN_MARGIN_MS = 50;

/** How much before an upstream's observed idle timeout its connections are retired. */
export function marginBefore(idleMs: number): number {
  return Math.min(MAX_MARGIN_MS, Math.max(MIN_MARGIN_MS, idleMs / 4));
}

export class IdleLimit {
  private limit: number;
  // An upstream close not yet confirmed by a second one.
  private pending: number | null = null;

  constructor(maxIdleMs: number) {
    this.limit = maxIdleMs;
  }

  /** The longest time an idle connection may be kept now, in ms. */
  get ms(): number {
    return this.limit;
  }

  /**
   * The upstream closed a connection that had been idle for `idleMs`.
   * @returns true when this shortened the limit (connections idle longer should go now).
   */
  upstreamClosedAfter(idleMs: number): boolean {
    if (!(idleMs >= 0) || idleMs >= this.limit) return false;
    const earlier = this.pending;
    this.pending = idleMs;
    if (earlier === null || Math.abs(earlier - idleMs) > AGREEMENT * Math.max(earlier, idleMs)) return false;
    const shortest = Math.min(earlier, idleMs);
    const next = Math.max(0, Math.floor(shortest - marginBefore(shortest)));
    this.pending = null;
    if (next >= this.limit) return false;
    this.limit = next;
    return true;
  }
}
