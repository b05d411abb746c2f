// One small chat POST on a fresh client connection (no agent, so no socket is reused), timed to its
// response head (time to first byte) and to its last byte. http or https by the origin; https trusts
// the test CA through one secure context made once (building one per request would cost more than
// the handshake being measured). Measures only; never judges.

import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContext } from 'node:tls';
import { BENCH_AUTH, CHAT_BODY, CHAT_PATH } from './load.ts';
import { TEST_CA_PATH, TEST_CERT_HOST } from './tls-upstream.ts';

export interface TimedResponse {
  readonly status: number;
  /** Request start (before the connection opens) to the response head, in ms. */
  readonly ttfbMs: number;
  /** Request start to the response's last byte, in ms. */
  readonly totalMs: number;
  /** performance.now() when the last byte arrived: where the next pause starts. */
  readonly endedAt: number;
  /** Why it failed, or null. */
  readonly error: string | null;
}

/** https.request passes every option on to tls.connect, which takes a ready secure context. */
export type TlsRequestOptions = https.RequestOptions & { readonly secureContext?: SecureContext };

let trusted: SecureContext | null = null;

/** A secure context that trusts tests/fixtures/tls/ca.pem (made once). */
export function testCaContext(): SecureContext {
  trusted ??= createSecureContext({ ca: readFileSync(TEST_CA_PATH) });
  return trusted;
}

/** Request options for `origin`, on a fresh connection; https ones trust the test CA. */
export function freshConnectionOptions(origin: string): { readonly send: typeof https.request; readonly options: TlsRequestOptions } {
  const url = new URL(origin);
  const isHttps = url.protocol === 'https:';
  // The test certificate names localhost (and 127.0.0.1): that name is checked whatever the address.
  const options: TlsRequestOptions = { host: url.hostname, port: url.port, agent: false, ...(isHttps ? { secureContext: testCaContext(), servername: TEST_CERT_HOST } : {}) };
  return { send: isHttps ? https.request : (http.request as typeof https.request), options };
}

export function timedChat(origin: string, timeoutMs = 10_000): Promise<TimedResponse> {
  const { send, options } = freshConnectionOptions(origin);
  const body = Buffer.from(CHAT_BODY);
  const start = performance.now();
  let ttfbMs = Number.NaN;
  return new Promise((resolve) => {
    let done = false;
    const finish = (status: number, error: string | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const endedAt = performance.now();
      resolve({ status, ttfbMs, totalMs: endedAt - start, endedAt, error });
    };
    const req = send(
      { ...options, method: 'POST', path: CHAT_PATH, headers: { 'content-type': 'application/json', 'content-length': body.length, authorization: BENCH_AUTH } },
      (res) => {
        ttfbMs = performance.now() - start;
        res.resume();
        res.on('end', () => finish(res.statusCode ?? 0, res.statusCode === 200 ? null : `status ${res.statusCode}`));
        res.on('error', (error) => finish(res.statusCode ?? 0, error.message));
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      finish(0, `no answer within ${timeoutMs} ms`);
    }, timeoutMs);
    req.on('error', (error) => finish(0, error.message));
    req.end(body);
  });
}

/** `count` requests, `concurrency` at a time, each on a fresh connection; resolves with the failures. */
export async function warmUp(origin: string, count: number, concurrency: number): Promise<number> {
  let left = count;
  let failed = 0;
  const worker = async (): Promise<void> => {
    while (left-- > 0) if ((await timedChat(origin)).error !== null) failed++;
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return failed;
}
