// Interim 1xx responses on their way to the client (SPEC §3: status codes pass
// through; RFC 9110 §15.2). 100 Continue is the proxy's own business (it answers
// Expect itself); 102 Processing and 103 Early Hints go on, never to an HTTP/1.0
// client, which cannot read them, and each at most once per exchange, so an
// upstream repeating them cannot fill a client's socket while the final response
// is awaited. A 103 carries only its Link headers (RFC 8297).

import type http from 'node:http';

/** Which interim responses an exchange has forwarded, as bits; start with NONE_SENT. */
export type InterimSent = number;
export const NONE_SENT: InterimSent = 0;
const SENT_102 = 1;
const SENT_103 = 2;

// Node validates a Link value with a regular expression that backtracks exponentially in
// the number of `;` parameters of a value it rejects (measured: 16 took 38 ms, 24 took
// 1.2 s, and 25 froze the proxy for 14 s): values are bounded before Node sees them.
const MAX_EARLY_HINT_LINKS = 16;
const MAX_LINK_VALUE_BYTES = 1024;
const MAX_LINK_PARAMETERS = 6;

/**
 * Forwards one interim response to the client if it should go; returns what has been
 * sent so far. The caller checks that the final response has not begun.
 */
export function forwardInterim(res: http.ServerResponse, info: http.InformationEvent, sent: InterimSent): InterimSent {
  if (res.req.httpVersionMinor === 0 && res.req.httpVersionMajor === 1) return sent;
  const kind = info.statusCode === 102 ? SENT_102 : info.statusCode === 103 ? SENT_103 : 0;
  if (kind === 0 || (sent & kind) !== 0) return sent;
  if (kind === SENT_102) {
    res.writeProcessing();
  } else {
    const links = earlyHintLinks(info.rawHeaders);
    if (links.length === 0) return sent;
    try {
      res.writeEarlyHints({ link: links });
    } catch {
      // Node refused a link-value: an early hint is an optimisation, dropped.
      return sent;
    }
  }
  return sent | kind;
}

/** The link-values of a 103's Link headers that are small enough to hand to Node. */
export function earlyHintLinks(rawHeaders: readonly string[]): string[] {
  const links: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] as string).toLowerCase() !== 'link') continue;
    // One header may hold several link-values: `<a>; rel=x, <b>; rel=y`.
    for (const link of (rawHeaders[i + 1] as string).split(/,\s*(?=<)/)) {
      if (links.length === MAX_EARLY_HINT_LINKS) return links;
      if (link.length <= MAX_LINK_VALUE_BYTES && link.split(';').length - 1 <= MAX_LINK_PARAMETERS) links.push(link);
    }
  }
  return links;
}
