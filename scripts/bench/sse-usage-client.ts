// Concurrent SSE readers that ask for usage themselves (`stream_options.include_usage`, so a proxy
// passes the upstream's usage chunk on instead of injecting the option), each on a fresh connection
// (http or https by the origin), started a fixed number per millisecond. Records time to first event,
// each event's delay from the upstream's send stamp, and which streams got their usage chunk.
// sse-client.ts does the same for scenario 3 with its fixed body and whole-millisecond spacing.

import type { ClientRequest } from 'node:http';
import { BENCH_AUTH, CHAT_PATH } from './load.ts';
import { freshConnectionOptions } from './timed-request.ts';

export const USAGE_STREAM_BODY =
  '{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Count to two hundred."}]}';
const MARK = Buffer.from('"bench_sent_ns":');
const USAGE_MARK = Buffer.from('"usage":{');
const EVENT_END = Buffer.from('\n\n');

export interface UsageStreamsOptions {
  readonly origin: string;
  readonly streams: number;
  readonly events: number;
  readonly intervalMs: number;
  /** Streams started per millisecond (2: 500 streams start over 250 ms). */
  readonly startsPerMs: number;
}

export interface UsageStreamsResult {
  /** One per stream that received an event: request start to its first complete event, in ms. */
  readonly ttfeMs: number[];
  /** One per event received: upstream send to client receipt, in ms. */
  readonly delaysMs: Float64Array;
  readonly eventsReceived: number;
  readonly eventsExpected: number;
  readonly failedStreams: number;
  /** Streams whose usage chunk arrived. */
  readonly usageStreams: number;
}

const nowNs = (): number => Number(process.hrtime.bigint());

interface Handlers {
  onEvent(sentNs: number, atNs: number): void;
  onUsage(): void;
  onEnd(ok: boolean): void;
}

function openStream(url: URL, handlers: Handlers): ClientRequest {
  const { send, options } = freshConnectionOptions(url.origin);
  const body = Buffer.from(USAGE_STREAM_BODY);
  let carry: Buffer | null = null;
  let ended = false;
  const end = (ok: boolean): void => {
    if (ended) return;
    ended = true;
    handlers.onEnd(ok);
  };
  const req = send(
    { ...options, method: 'POST', path: url.pathname + url.search, headers: { 'content-type': 'application/json', 'content-length': body.length, authorization: BENCH_AUTH, accept: 'text/event-stream' } },
    (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        end(false);
        return;
      }
      res.on('data', (chunk: Buffer) => {
        const at = nowNs();
        // Complete events only, stamped when their last byte arrived; bytes, never strings, so the
        // reader's own garbage does not show up as delay.
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
        const usage = data.indexOf(USAGE_MARK);
        if (usage !== -1 && usage < cut) handlers.onUsage();
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

/** Runs every stream to its end; bounded by the ramp and the streams' length plus 30 s. */
export function runUsageStreams(options: UsageStreamsOptions): Promise<UsageStreamsResult> {
  const url = new URL(`${options.origin}${CHAT_PATH}?events=${options.events}&interval=${options.intervalMs}`);
  const rampMs = Math.ceil(options.streams / options.startsPerMs);
  const ttfeMs: number[] = [];
  const delays = new Float64Array(options.streams * options.events);
  const requests: ClientRequest[] = [];
  let received = 0;
  let failed = 0;
  let usageStreams = 0;
  let open = options.streams;
  return new Promise((resolve) => {
    const finish = (): void => {
      clearTimeout(timer);
      resolve({ ttfeMs, delaysMs: delays.slice(0, received), eventsReceived: received, eventsExpected: options.streams * options.events, failedStreams: failed, usageStreams });
    };
    const timer = setTimeout(() => {
      for (const req of requests) req.destroy();
      failed += open;
      open = 0;
      finish();
    }, rampMs + options.events * options.intervalMs + 30_000);
    const startStream = (): void => {
      const start = nowNs();
      let first = true;
      let usage = false;
      requests.push(
        openStream(url, {
          onEvent(sentNs, atNs) {
            if (first) {
              first = false;
              ttfeMs.push((atNs - start) / 1e6);
            }
            if (received < delays.length) delays[received++] = (atNs - sentNs) / 1e6;
          },
          onUsage() {
            if (!usage) usageStreams++;
            usage = true;
          },
          onEnd(ok) {
            if (!ok) failed++;
            if (--open === 0) finish();
          },
        }),
      );
    };
    for (let s = 0; s < options.streams; s++) setTimeout(startStream, Math.floor(s / options.startsPerMs));
  });
}
