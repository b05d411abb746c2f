// The proxy's own answers (SPEC §3: the OpenAI error shape, so SDKs show the message),
// written on a response that has not started. Used by the forwarder for requests it
// refuses and by an exchange that fails before the upstream's response began.

import http from 'node:http';
import { errorBody, type ProxyError } from '../shared/errors.ts';

/**
 * @param closeConnection  shutdown has begun, or the client is still sending a body the
 *   proxy will not read: the connection closes after the answer, as Node itself does for its 408.
 */
export function writeProxyError(res: http.ServerResponse, error: ProxyError, closeConnection: boolean): void {
  const body = errorBody(error);
  const headers: string[] = ['Content-Type', 'application/json', 'Content-Length', String(body.length)];
  if (closeConnection) headers.push('Connection', 'close');
  // The reason phrase is given, not left to Node: after a writeHead that threw on an
  // upstream's reason phrase with control bytes, res.statusMessage still holds it, and
  // a second writeHead without one would throw again, uncaught (a crash).
  res.writeHead(error.status, http.STATUS_CODES[error.status] ?? '', headers);
  res.end(body);
}
