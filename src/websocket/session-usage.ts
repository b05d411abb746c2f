/**
 * Usage of WebSocket sessions (SPEC §13 "Usage"): a session tap that reads the upstream's
 * messages on the side (message-reader.ts) and turns each usage event into one record as it
 * passes — the Realtime API's `response.done`, the Responses API WebSocket mode's
 * `response.completed`, `response.incomplete` and `response.failed` — with the ledger's fields
 * (SPEC §4, §8). Values come from the JSON sniffer and the usage normaliser, as for SSE. It
 * never writes to either side and never throws into the tunnel: whatever it cannot read only
 * yields no record. No sockets, no files.
 */
import type { Buffer } from 'node:buffer';
import type { ExchangeStart, ExchangeSummary, SessionOpen, SessionTap } from '../shared/exchange-tap.ts';
import type { RawHeaders } from '../shared/raw-headers.ts';
import { mergeTags, NO_TAGS, parseTagsInto, TAGS_HEADER, type TagMap, type Tags } from '../shared/tags.ts';
import type { PriceUsage, UsageRecord } from '../shared/usage-record.ts';
import { isoTimeNow } from '../shared/iso-time.ts';
import { keyIdFrom } from '../usage/key-id.ts';
import { createJsonSniffer, type JsonSniffer } from '../usage/json-sniffer.ts';
import { createUsageAccumulator, type UsageAccumulator } from '../usage/usage.ts';
import { parsePerMessageDeflate } from './extensions.ts';
import { createMessageReader, type MessageCallbacks, type MessageReader, type ReaderProblem } from './message-reader.ts';
import { createPlainMessageReader } from './plain-message-reader.ts';
import { eventTypeOf, mayBeSniffed, mayMatter, RECORD_EVENTS, SESSION_EVENTS } from './session-events.ts';

export interface SessionUsageOptions {
  readonly onRecord: (record: UsageRecord) => void;
  /** Prices a record the upstream did not price itself (SPEC §9); absent: nothing is priced. */
  readonly price?: PriceUsage;
  /** The deployment's tags (`TAGS`), on every record (SPEC §10). */
  readonly tags?: Tags;
  /** Usage reading stopped for a session (a malformed frame, a decoder cap); its bytes still pass. */
  readonly onProblem?: (problem: ReaderProblem, detail: string) => void;
}

export interface SessionUsageStats {
  /** Sessions whose usage reading stopped early (onProblem). */
  readonly readingStopped: number;
  /** Text messages skipped for being longer than 8 MiB decoded. */
  readonly skippedMessages: number;
}

export interface SessionUsage {
  openSessionTap(start: ExchangeStart): SessionTap;
  /** Resolves once every finished session's reader has delivered its last message. */
  drain(): Promise<void>;
  stats(): SessionUsageStats;
}

// What an event is sniffed for: its type, the usage and model of a response, a session's model,
// and a response's id (to time it from its response.created).
const CAPTURE_PATHS: readonly string[] = ['type', 'response.usage', 'response.model', 'response.id', 'session.model'];
// Responses waiting for their usage event, by id: bounded, the oldest forgotten first.
const MAX_TIMED_RESPONSES = 64;

export function createSessionUsage(options: SessionUsageOptions): SessionUsage {
  const { onRecord, price } = options;
  const deploymentTags = options.tags ?? NO_TAGS;
  let pending = 0;
  let drained: (() => void) | null = null;
  let readingStopped = 0;
  let skippedMessages = 0;

  // One sniffer serves every message of every session in turn: each message is its own JSON
  // document, fed whole, so an open session holds none of its own.
  let current: Captured | null = null;
  const sniffer: JsonSniffer = createJsonSniffer({
    capture: CAPTURE_PATHS,
    onValue(path, value) {
      const into = current;
      if (into === null) return;
      if (path === 'type') into.type = typeof value === 'string' ? value : null;
      else if (path === 'response.id') into.responseId = typeof value === 'string' ? value : null;
      else if (path === 'session.model') into.sessionModel = typeof value === 'string' && value !== '' ? value : null;
      else into.accumulator.add(path, value); // response.usage, response.model
    },
  });

  function sniff(message: Buffer): Captured | null {
    const captured: Captured = { type: null, responseId: null, sessionModel: null, accumulator: createUsageAccumulator() };
    current = captured;
    sniffer.reset();
    sniffer.feed(message);
    const end = sniffer.end();
    current = null;
    // SPEC §8: usage counts only in a whole, valid JSON value.
    return end === 'ok' ? captured : null;
  }

  function settle(): void {
    pending--;
    if (pending === 0 && drained !== null) {
      drained();
      drained = null;
    }
  }

  function openSessionTap(start: ExchangeStart): SessionTap {
    const opened = Date.now();
    let reader: MessageReader | null = null;
    let ended = false;
    let closeCode: number | null = null;
    let ttfbMs: number | null = null;
    let sessionModel: string | null = null;
    let sinceLast = opened;
    const startedAt = new Map<string, number>();
    // Worked out at the first record, not per message.
    let fixed: { readonly keyId: string | null; readonly tags: Tags; readonly queryModel: string | null } | null = null;

    function onText(message: Buffer): void {
      // A type written first decides alone; otherwise the byte searches do.
      if (!mayBeSniffed(message) || (eventTypeOf(message) === undefined && !mayMatter(message))) return;
      const event = sniff(message);
      if (event === null || event.type === null) return;
      const now = Date.now();
      if (SESSION_EVENTS.has(event.type)) {
        // SPEC §13: the latest session.created / session.updated names the session's model.
        if (event.sessionModel !== null) sessionModel = event.sessionModel;
        return;
      }
      if (event.type === 'response.created') {
        if (event.responseId === null) return;
        if (startedAt.size >= MAX_TIMED_RESPONSES) startedAt.delete(startedAt.keys().next().value as string);
        startedAt.set(event.responseId, now);
        return;
      }
      if (!RECORD_EVENTS.has(event.type)) return;
      const usage = event.accumulator.usage();
      if (usage === null) return;
      // A response is timed from its response.created, else from the previous record (or the 101).
      let from = sinceLast;
      if (event.responseId !== null) {
        from = startedAt.get(event.responseId) ?? from;
        startedAt.delete(event.responseId);
      }
      sinceLast = now;
      fixed ??= { keyId: keyIdFrom(start.requestHeaders, start.query), tags: mergeTags(deploymentTags, tagsOf(start.requestHeaders)), queryModel: queryParameter(start.query, 'model') };
      const responseModel = event.accumulator.model();
      const requestModel = sessionModel ?? fixed.queryModel;
      let cost = event.accumulator.cost();
      let costSource: UsageRecord['cost_source'] = cost === null ? null : 'upstream';
      if (cost === null && price !== undefined) {
        cost = price(usage, responseModel, requestModel);
        if (cost !== null) costSource = 'prices';
      }
      onRecord({
        time: isoTimeNow(),
        method: 'GET',
        path: start.clientPath,
        status: 101,
        model: responseModel ?? requestModel,
        stream: true,
        ...usage,
        // The event came whole: its response is over, whatever its own status says.
        complete: true,
        end: 'done',
        duration_ms: now - from,
        ttfb_ms: ttfbMs,
        key_id: fixed.keyId,
        cost,
        cost_source: costSource,
        tags: fixed.tags,
        user: null,
      });
    }

    return {
      opened(open: SessionOpen) {
        if (ended || reader !== null) return;
        ttfbMs = Math.round(open.ttfbMs * 10) / 10;
        sinceLast = Date.now();
        pending++;
        // SPEC §13: permessage-deflate is decoded on the side when the two ends agreed on it.
        const extensions = headerValues(open.responseHeaders, 'sec-websocket-extensions');
        const callbacks: MessageCallbacks = {
          onText(message) {
            try {
              onText(message);
            } catch {
              // A record that cannot be made is no reason to break anything else.
            }
          },
          onClose(code) {
            closeCode ??= code ?? null;
          },
          onProblem(problem, detail) {
            readingStopped++;
            options.onProblem?.(problem, detail);
          },
          onEnd() {
            skippedMessages += reader?.skippedMessages ?? 0;
            settle();
          },
        };
        const deflate = parsePerMessageDeflate(extensions);
        // Uncompressed messages are judged by their first bytes and most are never joined; compressed
        // ones must all be inflated, in order, for the window to stay in step.
        reader = deflate === null ? createPlainMessageReader(callbacks, { wanted: mayBeSniffed }) : createMessageReader(callbacks, { deflate });
      },
      upstreamChunk(chunk) {
        reader?.feed(chunk);
      },
      closeCode() {
        return closeCode;
      },
      finish(_summary: ExchangeSummary) {
        if (ended) return;
        ended = true;
        // Messages still being inflated come out after this, then onEnd settles the session.
        reader?.end();
      },
    };
  }

  return {
    openSessionTap,
    drain: () =>
      pending === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            drained = resolve;
          }),
    stats: () => ({ readingStopped, skippedMessages }),
  };
}

interface Captured {
  type: string | null;
  responseId: string | null;
  sessionModel: string | null;
  readonly accumulator: UsageAccumulator;
}

/** The request's `LM-Proxy-Tags` headers, all of them, whatever their case (SPEC §10, §13); null when none. */
function tagsOf(headers: readonly string[]): TagMap | null {
  let tags: TagMap | null = null;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    if (name.length === TAGS_HEADER.length && name.toLowerCase() === TAGS_HEADER) parseTagsInto(headers[i + 1] as string, (tags ??= new Map()));
  }
  return tags;
}

/** Every value of a header, by lower-case name (Sec-WebSocket-Extensions may come in several lines). */
function headerValues(raw: RawHeaders, lowerName: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if ((raw[i] as string).toLowerCase() === lowerName) values.push(raw[i + 1] as string);
  return values;
}

/** The first non-empty value of a query parameter, percent-decoded, or null. */
function queryParameter(query: string, name: string): string | null {
  if (query === '') return null;
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(0, eq) !== name) continue;
    let value = pair.slice(eq + 1);
    try {
      value = decodeURIComponent(value);
    } catch {
      // Invalid percent-encoding: the text as sent.
    }
    if (value !== '') return value;
  }
  return null;
}
