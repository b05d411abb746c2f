// SPEC §5, the request half: a streaming chat/completions request whose body
// does not mention include_usage is sent upstream asking for it. This module
// turns the client's headers and whole body into the ones sent upstream, or
// says the request goes as it came. Pure; the body text edit is include-usage.ts.

import { mediaTypeOf, withoutHeaders } from '../shared/raw-headers.ts';
import { injectIncludeUsage } from './include-usage.ts';

export interface InjectedRequest {
  readonly headers: string[];
  readonly body: Buffer;
}

// The edited stream must be plain text the proxy can cut events out of, so the
// upstream is asked not to compress it (RFC 9110 §12.5.3: identity only).
const EDITABLE_ENCODING = 'identity';
// The edited body is whole, so it is sent with its length, not chunked.
const REPLACED_HEADERS: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding', 'accept-encoding']);

/** The upstream request for an injected body, or null when the body goes untouched. */
export function injectStreamUsage(headers: readonly string[], body: Buffer): InjectedRequest | null {
  const result = injectIncludeUsage(body);
  if (!result.injected) return null;
  const out = withoutHeaders(headers, REPLACED_HEADERS);
  out.push('Content-Length', String(result.body.length), 'Accept-Encoding', EDITABLE_ENCODING);
  return { headers: out, body: result.body };
}

/** Whether a response to an injected request is the event stream to filter. */
export function isFilterableStream(status: number, contentType: string | undefined, contentEncoding: string | undefined): boolean {
  if (status !== 200 || contentType === undefined) return false;
  if (contentEncoding !== undefined && contentEncoding.trim().toLowerCase() !== 'identity') return false;
  return mediaTypeOf(contentType) === 'text/event-stream';
}
