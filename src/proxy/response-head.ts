// The head the client receives for an upstream response: the upstream's headers minus
// the hop-by-hop ones (SPEC §3), and, when the proxy asked for stream usage itself
// (SPEC §5), a usage-chunk filter with the Content-Length it invalidates removed.
// Headers the proxy adds (`Connection: close` while draining) come after this, so no
// upstream `Connection` option can remove them (SPEC §8).

import { isFilterableStream } from '../injection/stream-usage-injection.ts';
import { createUsageChunkFilter, type UsageChunkFilter } from '../injection/usage-chunk-filter.ts';
import { withoutHeaders, type RawHeaders } from '../shared/raw-headers.ts';
import { clientResponseHead } from './hop-by-hop.ts';

const CONTENT_LENGTH: ReadonlySet<string> = new Set(['content-length']);

export interface ClientHead {
  readonly headers: string[];
  readonly contentType: string | undefined;
  readonly contentEncoding: string | undefined;
  /** Removes the usage-only event the proxy's edit caused; null when the body passes as it came. */
  readonly filter: UsageChunkFilter | null;
  /** The client's body has a Content-Length (else it streams: chunked, or close-delimited). */
  readonly sized: boolean;
}

/** @param injected  the request body was edited to ask for stream usage (SPEC §5). */
export function clientHeadFor(upstreamHeaders: RawHeaders, status: number, injected: boolean): ClientHead {
  const head = clientResponseHead(upstreamHeaders);
  const { contentType, contentEncoding } = head;
  if (injected && isFilterableStream(status, contentType, contentEncoding)) {
    // The client gets fewer bytes than the upstream sent: its length no longer holds.
    const headers = withoutHeaders(head.headers, CONTENT_LENGTH);
    return { headers, contentType, contentEncoding, filter: createUsageChunkFilter(), sized: false };
  }
  return { headers: head.headers, contentType, contentEncoding, filter: null, sized: head.contentLength !== undefined };
}
