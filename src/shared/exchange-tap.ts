// The contract between the forwarder and the observers that read an exchange on the
// side (the usage tracker, the metrics): what they are told, and when. It lives below
// both, so an observer never imports the forwarder nor the forwarder an observer.
// Types only: no I/O, no behaviour.

import type { ProxyErrorCode } from './errors.ts';
import type { RawHeaders } from './raw-headers.ts';

/** Why an exchange ended; SPEC §4 names these in `end=`. */
export type EndReason = 'done' | 'client_abort' | 'upstream_error' | 'timeout' | 'shutdown';

export interface ExchangeStart {
  readonly method: string;
  /** The path the client asked for, without the query. */
  readonly clientPath: string;
  readonly query: string;
  /** The client's headers, credentials included: a tap may derive a key id, never log them. */
  readonly requestHeaders: RawHeaders;
}

export interface ExchangeSummary {
  readonly method: string;
  readonly clientPath: string;
  /** The status the client received (or would have: 0 when nothing was sent). */
  readonly status: number;
  readonly end: EndReason;
  readonly durationMs: number;
  /** Until the upstream's response headers; null when none came. */
  readonly ttfbMs: number | null;
  readonly requestBytes: number;
  readonly responseBytes: number;
  /** Set when the proxy answered or cut the exchange itself. */
  readonly errorCode: ProxyErrorCode | null;
  /**
   * A WebSocket session's close code (SPEC §13): the code of the upstream's close frame as the
   * side reader saw it, null when none came (or nothing read frames). Absent for HTTP exchanges.
   * For a session, requestBytes and responseBytes count the tunnelled bytes each way.
   */
  readonly closeCode?: number | null;
}

/** What a tap learns of the upstream's response head. */
export interface TapResponseHead {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly contentEncoding: string | undefined;
}

/**
 * A per-exchange observer. Calls happen synchronously on the forwarding path, after
 * the bytes went to the client: keep them cheap, never keep or change a chunk.
 */
export interface ExchangeTap {
  requestChunk(chunk: Buffer): void;
  /** The client's body has ended (not called when the exchange ends first). */
  requestEnd(): void;
  responseHead(head: TapResponseHead): void;
  responseChunk(chunk: Buffer): void;
  /** Called exactly once, when the exchange is over. */
  finish(summary: ExchangeSummary): void;
}

/** What a session tap learns when the upstream's `101 Switching Protocols` has gone to the client. */
export interface SessionOpen {
  /** The upstream's 101 headers, as relayed (`Sec-WebSocket-Extensions` says whether frames are compressed). */
  readonly responseHeaders: RawHeaders;
  /** From the upgrade request to the upstream's 101. */
  readonly ttfbMs: number;
}

/**
 * An observer of one WebSocket session (SPEC §13), the counterpart of ExchangeTap: it reads the
 * upstream's bytes after they were written to the client, and cannot delay or change them.
 */
export interface SessionTap {
  opened(open: SessionOpen): void;
  /** Bytes from the upstream, in order, after the client write: never keep or change them. */
  upstreamChunk(chunk: Buffer): void;
  /** The upstream's close code read so far (its close frame), else null: for the session's summary. */
  closeCode(): number | null;
  /** Called exactly once, when the session (or an upgrade that never opened one) is over. */
  finish(summary: ExchangeSummary): void;
}
