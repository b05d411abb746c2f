// Concurrent SSE readers: time to first event, and each event's delay from the upstream's send time
// ("bench_sent_ns", CLOCK_MONOTONIC like process.hrtime here, so comparable across processes).
// Also holds idle streams open for the memory scenario. Measures only; never judges.

import http from 'node:http';
import { CHAT_PATH, BENCH_AUTH } from './load.ts';

export const STREAM_BODY = '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Count to two hundred."}]}';
const MARK = '"bench_sent_ns":';

export interface SseRunOptions {
  readonly origin: string;
  readonly streams: number;
  readonly events: number;
  readonly intervalMs: number;
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
  onEvents(sentNs: number[], atNs: number): void;
  onEnd(ok: boolean): void;
}

/** Opens one stream; calls back with the send stamps of each batch of complete events as it arrives. */
function openStream(agent: http.Agent, url: URL, handlers: StreamHandlers): http.ClientRequest {
  let carry = '';
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
        const text = carry + chunk.toString('latin1');
        const cut = text.lastIndexOf('\n\n');
        if (cut === -1) {
          carry = text;
          return;
        }
        carry = text.slice(cut + 2);
        const sent: number[] = [];
        let i = text.indexOf(MARK);
        while (i !== -1 && i < cut) {
          sent.push(Number.parseInt(text.slice(i + MARK.length, i + MARK.length + 24), 10));
          i = text.indexOf(MARK, i + MARK.length);
        }
        if (sent.length > 0) handlers.onEvents(sent, at);
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

/** Runs `streams` streams at once to the end; bounded by the stream's length plus 20 s. */
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
    }, options.events * options.intervalMs + 20_000);
    for (let s = 0; s < options.streams; s++) {
      const start = nowNs();
      let first = true;
      requests.push(
        openStream(agent, url, {
          onEvents(sentNs, atNs) {
            if (first) {
              first = false;
              ttfeMs.push((atNs - start) / 1e6);
            }
            for (const sent of sentNs) if (received < delays.length) delays[received++] = (atNs - sent) / 1e6;
          },
          onEnd(ok) {
            if (!ok) failed++;
            if (--open === 0) finish();
          },
        }),
      );
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
          onEvents() {
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
