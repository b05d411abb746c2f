// Concurrent SSE readers: time to first event, and each event's delay from the upstream's send time
// ("bench_sent_ns", CLOCK_MONOTONIC like process.hrtime here, so comparable across processes).
// Also holds idle streams open for the memory scenario. Measures only; never judges.

import http from 'node:http';
import { CHAT_PATH, BENCH_AUTH } from './load.ts';

export const STREAM_BODY = '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Count to two hundred."}]}';
const MARK = Buffer.from('"bench_sent_ns":');
const EVENT_END = Buffer.from('\n\n');

export interface SseRunOptions {
  readonly origin: string;
  readonly streams: number;
  readonly events: number;
  readonly intervalMs: number;
  /** Milliseconds between two streams' starts (whole, as timers are); 0 starts them all at once. */
  readonly staggerMs: number;
}

export interface SseRunResult {
  /** One per stream that received an event: request start to first complete event, in ms. */
  readonly ttfeMs: number[];
  /** One per event received: upstream send to client receipt, in ms. */
  readonly delaysMs: Float64Array;
  readonly eventsReceived: number;
  readonly eventsExpected: number;
  readonly failedStreams: number;
}

const nowNs = (): number => Number(process.hrtime.bigint());

interface StreamHandlers {
  onEvent(sentNs: number, atNs: number): void;
  onEnd(ok: boolean): void;
}

/** Opens one stream; calls back with each complete event's send stamp and arrival time. */
function openStream(agent: http.Agent, url: URL, handlers: StreamHandlers): http.ClientRequest {
  let carry: Buffer | null = null;
  let ended = false;
  const end = (ok: boolean): void => {
    if (ended) return;
    ended = true;
    handlers.onEnd(ok);
  };
  const body = Buffer.from(STREAM_BODY);
  const req = http.request(
    { host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length, authorization: BENCH_AUTH, accept: 'text/event-stream' } },
    (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        end(false);
        return;
      }
      res.on('data', (chunk: Buffer) => {
        const at = nowNs();
        // Only complete events count, stamped when their last byte arrived; the rest waits in carry.
        // Scanned as bytes, without strings: the reader's own garbage collection would show up as
        // event delay.
        const data = carry === null ? chunk : Buffer.concat([carry, chunk]);
        const cut = data.lastIndexOf(EVENT_END);
        if (cut === -1) {
          carry = data;
          return;
        }
        carry = cut + 2 < data.length ? data.subarray(cut + 2) : null;
        for (let i = data.indexOf(MARK); i !== -1 && i < cut; i = data.indexOf(MARK, i)) {
          i += MARK.length;
          let sent = 0;
          for (let c = data[i]; c !== undefined && c >= 0x30 && c <= 0x39; c = data[++i]) sent = sent * 10 + (c - 0x30);
          handlers.onEvent(sent, at);
        }
      });
      res.on('end', () => end(true));
      res.on('error', () => end(false));
      res.on('close', () => end(false));
    },
  );
  req.on('error', () => end(false));
  req.end(body);
  return req;
}

function streamUrl(origin: string, events: number, intervalMs: number, hold: boolean): URL {
  return new URL(`${origin}${CHAT_PATH}?events=${events}&interval=${intervalMs}${hold ? '&hold=1' : ''}`);
}

/**
 * Runs `streams` concurrent streams to the end; bounded by their length plus 20 s. Starts are
 * staggered, as independent clients' are: a burst of simultaneous connects would measure the queue
 * behind them, and phase-locked streams would make every event wait behind all the others.
 */
export function runSseStreams(options: SseRunOptions): Promise<SseRunResult> {
  const agent = new http.Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  const url = streamUrl(options.origin, options.events, options.intervalMs, false);
  const ttfeMs: number[] = [];
  const delays = new Float64Array(options.streams * options.events);
  let received = 0;
  let failed = 0;
  let open = options.streams;
  const requests: http.ClientRequest[] = [];
  return new Promise((resolve) => {
    const finish = (): void => {
      clearTimeout(timer);
      agent.destroy();
      resolve({ ttfeMs, delaysMs: delays.slice(0, received), eventsReceived: received, eventsExpected: options.streams * options.events, failedStreams: failed });
    };
    const timer = setTimeout(() => {
      for (const req of requests) req.destroy();
      failed += open;
      open = 0;
      finish();
    }, options.streams * options.staggerMs + options.events * options.intervalMs + 20_000);
    const startStream = (): void => {
      const start = nowNs();
      let first = true;
      requests.push(
        openStream(agent, url, {
          onEvent(sentNs, atNs) {
            if (first) {
              first = false;
              ttfeMs.push((atNs - start) / 1e6);
            }
            if (received < delays.length) delays[received++] = (atNs - sentNs) / 1e6;
          },
          onEnd(ok) {
            if (!ok) failed++;
            if (--open === 0) finish();
          },
        }),
      );
    };
    for (let s = 0; s < options.streams; s++) {
      if (options.staggerMs === 0) startStream();
      else setTimeout(startStream, s * options.staggerMs);
    }
  });
}

export interface IdleStreams {
  readonly opened: number;
  /** Drops every client connection at once, as clients that go away do. */
  closeAll(): void;
}

/** Opens `streams` streams that receive one event and then stay idle; resolves once all got it. */
export function openIdleStreams(origin: string, streams: number, timeoutMs: number): Promise<IdleStreams> {
  const agent = new http.Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  const url = streamUrl(origin, 1, 1, true);
  const requests: http.ClientRequest[] = [];
  let ready = 0;
  const closeAll = (): void => {
    for (const req of requests) req.destroy();
    agent.destroy();
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      closeAll();
      reject(new Error(`only ${ready} of ${streams} idle streams got their first event within ${timeoutMs} ms`));
    }, timeoutMs);
    for (let s = 0; s < streams; s++) {
      let counted = false;
      requests.push(
        openStream(agent, url, {
          onEvent() {
            if (counted) return;
            counted = true;
            if (++ready === streams) {
              clearTimeout(timer);
              resolve({ opened: streams, closeAll });
            }
          },
          onEnd() {},
        }),
      );
    }
  });
}
