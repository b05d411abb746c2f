// Answers written straight onto a client's socket, where Node has handed the connection over
// and no http.ServerResponse exists: a CONNECT or a request Node's parser refused (server.ts),
// and a WebSocket upgrade the upstream did not switch (websocket-tunnel.ts). Each such answer
// ends the connection (`Connection: close`), since the socket no longer has an HTTP parser.

import http from 'node:http';
import type { Socket } from 'node:net';
import { errorBody, type ProxyError } from '../shared/errors.ts';
import { clientResponseHead } from './hop-by-hop.ts';

/**
 * A response head as bytes, header names and values as Node's parser gave them (latin1, one
 * byte per character, so obs-text bytes 0x80-0xff go back as they came).
 */
export function responseHeadBytes(status: number, reason: string, headers: readonly string[]): Buffer {
  let head = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return Buffer.from(head + '\r\n', 'latin1');
}

/** The proxy's own answer in the OpenAI error shape (SPEC §3), then the connection's end. */
export function answerOnSocket(socket: Socket, error: ProxyError, reason = http.STATUS_CODES[error.status] ?? ''): void {
  const body = errorBody(error);
  const head = responseHeadBytes(error.status, reason, ['Content-Type', 'application/json', 'Content-Length', String(body.length), 'Connection', 'close']);
  socket.end(Buffer.concat([head, body]));
}

/** How a relayed answer ended: whole, cut by the upstream, or cut because the client went away. */
export type RelayEnd = 'done' | 'upstream_error' | 'client_abort';

/**
 * Relays an upstream response onto the client's socket as an ordinary response (SPEC §13: "any
 * other answer goes back as an ordinary response"): its status and headers (hop-by-hop ones
 * removed), its body with backpressure, then the connection's end. A body without
 * Content-Length is sent chunked to an HTTP/1.1 client, so that an upstream cutting it short
 * shows as a cut, never as a clean, truncated success (SPEC §3); an HTTP/1.0 client gets it
 * close-delimited, and a reset when it was cut.
 *
 * @param onBodyBytes  called with each body chunk's length, for the access log
 * @returns false when the upstream's headers cannot be sent (the caller answers 502 instead)
 */
export function relayResponse(
  socket: Socket,
  res: http.IncomingMessage,
  http10: boolean,
  onBodyBytes: (bytes: number) => void,
  onEnd: (end: RelayEnd) => void,
): boolean {
  const status = res.statusCode ?? 0;
  const { headers, contentLength } = clientResponseHead(res.rawHeaders);
  // RFC 9110 §6.4.1: 1xx, 204 and 304 responses have no body.
  const bodyless = status < 200 || status === 204 || status === 304;
  const chunked = !bodyless && contentLength === undefined && !http10;
  if (chunked) headers.push('Transfer-Encoding', 'chunked');
  headers.push('Connection', 'close');
  const reason = res.statusMessage ?? '';
  // Node's parser lets no CR or LF into a reason or a header, but other control bytes may come.
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(reason) || headers.some((text) => /[\x00-\x08\x0a-\x1f\x7f]/.test(text))) return false;
  socket.write(responseHeadBytes(status, reason, headers));

  let ended = false;
  const finish = (end: RelayEnd): void => {
    if (ended) return;
    ended = true;
    onEnd(end);
  };
  res.on('data', (chunk: Buffer) => {
    onBodyBytes(chunk.length);
    let flowing: boolean;
    if (chunked) {
      socket.cork();
      socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      socket.write(chunk);
      flowing = socket.write('\r\n', 'latin1');
      socket.uncork();
    } else {
      flowing = socket.write(chunk);
    }
    if (!flowing) {
      res.pause();
      socket.once('drain', () => res.resume());
    }
  });
  res.on('end', () => {
    if (chunked) socket.end('0\r\n\r\n', 'latin1');
    else socket.end();
    finish('done');
  });
  res.on('error', () => undefined);
  res.on('close', () => {
    if (res.complete) return;
    // Cut short by the upstream: the client must see a cut, never a clean end (SPEC §3).
    if (!chunked && contentLength === undefined) socket.resetAndDestroy();
    else socket.destroy();
    finish('upstream_error');
  });
  socket.once('close', () => {
    if (!res.complete) res.destroy();
    finish('client_abort');
  });
  return true;
}
