// The soak's load: a fixed pool of workers over one keep-alive node:http Agent (maxSockets =
// concurrency) sending request ids 0, 1, 2, … through the proxy until the count or the time limit
// is reached. Each response is checked byte for byte against mix.ts (decoded where compressed,
// SPEC §3); an aborting request goes away as soon as its first event has arrived. It records per
// id whether the exchange completed as expected, which is what the usage lines are judged against.

import http from 'node:http';
import zlib from 'node:zlib';
import { expectedClientText, KINDS, requestBody, SPECS, type Kind } from './mix.ts';

// No exchange of the mix takes more than milliseconds; a stuck one is a failure, not a wait.
const REQUEST_TIMEOUT_MS = 30_000;
const MAX_ERROR_SAMPLES = 10;

/** Per id: never sent, completed as expected (aborts included), or failed. */
export const OUTCOME = { notSent: 0, ok: 1, failed: 2 } as const;

export interface LoadOptions {
  /** The proxy's origin, e.g. http://127.0.0.1:3000. */
  readonly origin: string;
  readonly requests: number;
  readonly concurrency: number;
  /** performance.now() after which no new request starts. */
  readonly deadline: number;
  readonly kindOf: (id: number) => Kind;
}

export interface LoadResult {
  readonly outcome: Uint8Array;
  readonly sent: number;
  readonly ok: number;
  readonly failed: number;
  readonly perKind: Record<Kind, { sent: number; ok: number }>;
  readonly errorSamples: string[];
  readonly elapsedMs: number;
  readonly hitTimeLimit: boolean;
}

export interface Load {
  /** Requests finished so far (ok or failed). */
  done(): number;
  readonly result: Promise<LoadResult>;
  /** Closes the client's idle keep-alive sockets (after the result). */
  close(): void;
}

export function startLoad(options: LoadOptions): Load {
  const { origin, requests, concurrency, deadline, kindOf } = options;
  const target = new URL(origin);
  if (target.hostname !== '127.0.0.1') throw new Error(`the soak sends to loopback only, not ${origin}`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, scheduling: 'lifo' });
  const outcome = new Uint8Array(requests);
  const perKind = Object.fromEntries(KINDS.map((k) => [k, { sent: 0, ok: 0 }])) as Record<Kind, { sent: number; ok: number }>;
  const errorSamples: string[] = [];
  let next = 0;
  let finished = 0;
  let ok = 0;
  let hitTimeLimit = false;
  const started = performance.now();

  async function worker(): Promise<void> {
    while (next < requests) {
      if (performance.now() >= deadline) {
        hitTimeLimit = true;
        return;
      }
      const id = next++;
      const kind = kindOf(id);
      perKind[kind].sent++;
      const problem = await exchange(agent, target, kind, id);
      finished++;
      if (problem === null) {
        outcome[id] = OUTCOME.ok;
        perKind[kind].ok++;
        ok++;
      } else {
        outcome[id] = OUTCOME.failed;
        if (errorSamples.length < MAX_ERROR_SAMPLES) errorSamples.push(`#${id} ${kind}: ${problem}`);
      }
    }
  }

  const result = Promise.all(Array.from({ length: concurrency }, worker)).then(
    (): LoadResult => ({
      outcome,
      sent: next,
      ok,
      failed: finished - ok,
      perKind,
      errorSamples,
      elapsedMs: performance.now() - started,
      hitTimeLimit,
    }),
  );
  return { done: () => finished, result, close: () => agent.destroy() };
}

/** One exchange; null when it went as mix.ts says, else what went wrong. */
function exchange(agent: http.Agent, target: URL, kind: Kind, id: number): Promise<string | null> {
  const spec = SPECS[kind];
  const body = requestBody(kind, id);
  const expected = expectedClientText(kind, id);
  const headers: Record<string, string> = {
    'x-soak-kind': kind,
    'x-soak-id': String(id),
    authorization: `Bearer sk-soak-${id % 7}`,
  };
  if (body !== null) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  if (spec.acceptEncoding !== null) headers['accept-encoding'] = spec.acceptEncoding;

  return new Promise((resolve) => {
    let settled = false;
    const settle = (problem: string | null): void => {
      if (settled) return;
      settled = true;
      resolve(problem);
    };
    const req = http.request({ host: target.hostname, port: target.port, method: spec.method, path: spec.path, agent, headers }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        settle(`status ${res.statusCode}`);
        return;
      }
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => {
        parts.push(part);
        if (!spec.abort) return;
        // The first event is whole once its blank line has arrived: go away then (SPEC §3's abort).
        const text = Buffer.concat(parts).toString('utf8');
        if (text.includes('\n\n')) {
          req.destroy();
          settle(text === expected ? null : `before aborting, got ${JSON.stringify(text.slice(0, 200))}`);
        }
      });
      res.on('error', (error) => settle(`response: ${error.message}`));
      res.on('end', () => {
        if (spec.abort) {
          settle('the held stream ended before the client aborted it');
          return;
        }
        const coding = res.headers['content-encoding'];
        if ((coding ?? null) !== spec.acceptEncoding) {
          settle(`content-encoding ${String(coding)}, expected ${String(spec.acceptEncoding)}`);
          return;
        }
        let text: string;
        try {
          text = decode(Buffer.concat(parts), coding).toString('utf8');
        } catch (error) {
          settle(`cannot decode the ${String(coding)} body: ${(error as Error).message}`);
          return;
        }
        settle(text === expected ? null : `body differs: ${JSON.stringify(text.slice(0, 200))}`);
      });
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no end within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', (error) => settle(`request: ${error.message}`));
    req.end(body ?? undefined);
  });
}

function decode(bytes: Buffer, coding: string | undefined): Buffer {
  if (coding === 'gzip') return zlib.gunzipSync(bytes);
  if (coding === 'br') return zlib.brotliDecompressSync(bytes);
  return bytes;
}
