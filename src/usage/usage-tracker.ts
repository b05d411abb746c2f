// Reads the token usage of each exchange as its bytes pass (SPEC §4): a tap on
// the forwarder that sends a copy of the response body through the side decoder
// (compression) into the SSE parser or the JSON sniffer, and folds the values
// they find into one usage record. It never holds a body, never writes to the
// client, and never throws into the forwarding path: a body it cannot read just
// yields no record. The request body is sniffed for its top-level `model` (the
// fallback when the response names none) and its end user (SPEC §10); its
// `LM-Proxy-Tags` headers tag the record.

import { createBodyDecoder, type BodyDecoder } from './body-decoder.ts';
import type { ExchangeStart, ExchangeSummary, ExchangeTap, TapResponseHead } from '../shared/exchange-tap.ts';
import { mergeTags, NO_TAGS, parseTagsInto, TAGS_HEADER, type TagMap, type Tags } from '../shared/tags.ts';
import type { CostSource, PriceUsage, UsageEnd, UsageRecord } from '../shared/usage-record.ts';
import { createJsonSniffer, type JsonSniffer, type SniffEnd } from './json-sniffer.ts';
import { isJsonWhitespace } from './json-skip.ts';
import { mediaTypeOf } from '../shared/raw-headers.ts';
import { isoTimeNow } from '../shared/iso-time.ts';
import { keyIdFrom } from './key-id.ts';
import { createSseParser, type SseParser } from './sse.ts';
import { createUsageAccumulator, USAGE_CAPTURE_PATHS, type UsageAccumulator } from './usage.ts';

export interface UsageTrackerOptions {
  readonly onRecord: (record: UsageRecord) => void;
  /** A response coding this Node cannot decode (zstd on Node 20); called once per coding per process. */
  readonly onUndecodable?: (coding: string) => void;
  /** Prices a response the upstream did not price itself (SPEC §9); absent: nothing is priced. */
  readonly price?: PriceUsage;
  /** The deployment's tags (`TAGS`), on every record (SPEC §10). */
  readonly tags?: Tags;
}

export interface UsageTracker {
  openTap(start: ExchangeStart): ExchangeTap;
  /** Resolves once every finished exchange's record has been handed to onRecord. */
  drain(): Promise<void>;
}

type BodyKind = 'json' | 'ndjson' | 'sse' | 'none';

// SPEC §4: usage is read from JSON, NDJSON and SSE bodies, whatever the path.
function bodyKindOf(contentType: string | undefined): BodyKind {
  if (contentType === undefined) return 'none';
  const media = mediaTypeOf(contentType);
  if (media === 'text/event-stream') return 'sse';
  if (media === 'application/json' || media.endsWith('+json')) return 'json';
  // NDJSON (Ollama's streams) is a sequence of JSON values, which the sniffer reads as such.
  if (media === 'application/x-ndjson' || media === 'application/ndjson' || media === 'application/jsonl') return 'ndjson';
  return 'none';
}

// SPEC §10: the end user is the first present of these; a present one that is not a short string is null.
const USER_PATHS: readonly string[] = ['user', 'safety_identifier', 'metadata.user_id'];
const MAX_USER_CHARS = 256;
// The request's model and user are short strings: a longer value is not held to be judged.
const MAX_REQUEST_VALUE_BYTES = 4 * 1024;
const OVERSIZED = Symbol('oversized');
const REQUEST_PATHS: readonly string[] = ['model', ...USER_PATHS];
// Ollama's counts sit at the top level of its last NDJSON line, so that line is their usage object:
// they count only once it is complete (SPEC §8), not as each number ends.
const DOCUMENT_LEVEL_PATHS: ReadonlySet<string> = new Set(['prompt_eval_count', 'eval_count']);
// Gemini streams without `alt=sse` as one JSON array that grows as it goes (SPEC §4).
const GEMINI_STREAM_METHOD = ':streamGenerateContent';
const MAX_WARNED_CODINGS = 16;

// The usage of a Responses API stream rides on `response.completed`, which repeats the
// whole output (base64 images included): 1 MiB would drop it. Memory stays bounded:
// a longer line is dropped as it streams, never held.
const MAX_SSE_EVENT_BYTES = 8 * 1024 * 1024; // 8 MiB

export function createUsageTracker(options: UsageTrackerOptions): UsageTracker {
  const { onRecord, onUndecodable, price } = options;
  const deploymentTags = options.tags ?? NO_TAGS;
  const warnedCodings = new Set<string>();
  let pending = 0;
  let drained: (() => void) | null = null;

  // Each event's data is its own JSON document, fed whole: one sniffer serves the
  // events of every stream in turn, so an open stream holds none of its own.
  let eventAccumulator: UsageAccumulator | null = null;
  const eventSniffer = createJsonSniffer({ capture: USAGE_CAPTURE_PATHS, onValue: (path, value) => eventAccumulator?.add(path, value) });

  function sniffEvent(data: Buffer, into: UsageAccumulator): SniffEnd {
    eventAccumulator = into;
    eventSniffer.reset();
    eventSniffer.feed(data);
    const result = eventSniffer.end();
    eventAccumulator = null;
    return result;
  }

  function settle(): void {
    pending--;
    if (pending === 0 && drained !== null) {
      drained();
      drained = null;
    }
  }

  function openTap(start: ExchangeStart): ExchangeTap {
    let requestModel: string | null = null;
    // The request's user fields, by USER_PATHS index; undefined: not present (yet).
    const userFields: unknown[] = [];
    let requestSniffer: JsonSniffer | null = null;
    let requestSniffed = false;
    const requestTags = tagsOf(start.requestHeaders);
    let accumulator: UsageAccumulator | null = null;
    let decoder: BodyDecoder | null = null;
    let sniffer: JsonSniffer | null = null;
    let sse: SseParser | null = null;
    let kind: BodyKind = 'none';
    // Set when the body cannot be read whole, so no record is made: an undecodable
    // coding, or a decoder that gave up (expansion or backlog cap) part way.
    let undecodable = false;
    // Set when the exchange is over; called once the decoder has delivered its last byte.
    let onDecoded: (() => void) | null = null;
    let decoded = false;
    // An event stream held an event that is not JSON: usage stops counting there, as it
    // does in a JSON body (SPEC §8).
    let sseMalformed = false;

    // Values of a document-level usage object, held until its document ends.
    let documentValues: (string | unknown)[] | null = null;
    function onValue(path: string, value: unknown): void {
      if (DOCUMENT_LEVEL_PATHS.has(path)) (documentValues ??= []).push(path, value);
      else accumulator?.add(path, value);
    }
    function onDocumentEnd(): void {
      if (documentValues === null) return;
      for (let i = 0; i < documentValues.length; i += 2) accumulator?.add(documentValues[i] as string, documentValues[i + 1]);
      documentValues = null;
    }
    function releaseRequestSniffer(): void {
      requestSniffed = true;
      requestSniffer = null;
    }

    function feedDecoded(chunk: Buffer): void {
      if (sse !== null) sse.feed(chunk);
      else sniffer?.feed(chunk);
    }

    return {
      requestChunk(chunk) {
        if (requestSniffed) return;
        requestSniffer ??= createJsonSniffer({
          capture: REQUEST_PATHS,
          maxValueBytes: MAX_REQUEST_VALUE_BYTES,
          onValue: (path, value) => {
            if (path === 'model') {
              if (typeof value === 'string' && value !== '') requestModel = value;
            } else userFields[USER_PATHS.indexOf(path)] = value;
          },
          // A user field too long to hold is present all the same: it decides, as null (SPEC §10).
          onOversized: (path) => {
            if (path !== 'model') userFields[USER_PATHS.indexOf(path)] = OVERSIZED;
          },
        });
        requestSniffer.feed(chunk);
        // A key may come twice and the last one is what the upstream reads (as JSON.parse
        // does), so the whole body is sniffed; the sniffer is let go at its end (or as soon
        // as the body is not JSON): a long stream should not keep it for its whole life.
        if (requestSniffer.failed) releaseRequestSniffer();
      },
      requestEnd() {
        releaseRequestSniffer();
      },

      responseHead(head: TapResponseHead) {
        kind = bodyKindOf(head.contentType);
        if (kind === 'none') return;
        accumulator = createUsageAccumulator();
        if (kind === 'sse') {
          const acc = accumulator;
          sse = createSseParser(
            {
              onEvent(event) {
                if (sseMalformed) return;
                const data = event.data;
                if (!mayCarryUsage(data, acc.model() === null)) {
                  if (isBrokenJsonEventData(data)) sseMalformed = true;
                  return;
                }
                const result = sniffEvent(data, acc);
                // As above: only data that set out to be JSON can be broken JSON.
                if ((result === 'malformed' || result === 'truncated') && opensLikeJson(data)) sseMalformed = true;
              },
            },
            { maxLineBytes: MAX_SSE_EVENT_BYTES },
          );
        } else {
          sniffer = createJsonSniffer({ capture: USAGE_CAPTURE_PATHS, onValue, onDocumentEnd });
        }
        decoder = createBodyDecoder(head.contentEncoding, {
          onData: feedDecoded,
          onEnd: () => {
            decoded = true;
            onDecoded?.();
          },
          onProblem(problem, detail) {
            if (problem === 'unsupported_coding') {
              undecodable = true;
              // Bounded: an upstream inventing codings cannot grow the set without end.
              if (!warnedCodings.has(detail) && warnedCodings.size < MAX_WARNED_CODINGS) {
                warnedCodings.add(detail);
                onUndecodable?.(detail);
              }
            } else if (problem === 'expansion_limit' || problem === 'backlog_limit') {
              // SPEC §8: a compression bomb gives no usage line. Usage seen before the
              // cap would otherwise be printed as `end=malformed`, which the body was not.
              undecodable = true;
            }
          },
        });
      },

      responseChunk(chunk) {
        decoder?.write(chunk);
      },

      finish(summary: ExchangeSummary) {
        if (decoder === null || accumulator === null || undecodable) return;
        const acc = accumulator;
        pending++;
        // The decoder may still be inflating: the record waits for its real end.
        const finalize = (): void => {
          try {
            let bodyEnd: SniffEnd = 'ok';
            if (sse !== null) {
              // Bytes still held at the end are an event cut off before its blank line.
              if (sseMalformed) bodyEnd = 'malformed';
              else if (sse.bufferedBytes > 0) bodyEnd = 'truncated';
              sse.end();
            } else if (sniffer !== null) {
              bodyEnd = sniffer.end();
            }
            const usage = acc.usage();
            // `undecodable` is checked again: the decoder may hit its cap after finish().
            if (usage === null || undecodable) return;
            // A body that ended cleanly but was not whole, valid JSON (SPEC §8).
            const end: UsageEnd = summary.end === 'done' && (bodyEnd === 'malformed' || bodyEnd === 'truncated') ? 'malformed' : summary.end;
            const responseModel = acc.model();
            let cost = acc.cost();
            let costSource: CostSource | null = cost === null ? null : 'upstream';
            if (cost === null && price !== undefined) {
              cost = price(usage, responseModel, requestModel);
              if (cost !== null) costSource = 'prices';
            }
            onRecord({
              time: isoTimeNow(),
              method: start.method,
              path: start.clientPath,
              status: summary.status,
              model: responseModel ?? requestModel,
              stream: kind !== 'json' || start.clientPath.endsWith(GEMINI_STREAM_METHOD),
              prompt_tokens: usage.prompt_tokens,
              completion_tokens: usage.completion_tokens,
              total_tokens: usage.total_tokens,
              cached_tokens: usage.cached_tokens,
              reasoning_tokens: usage.reasoning_tokens,
              cache_creation_tokens: usage.cache_creation_tokens,
              audio_prompt_tokens: usage.audio_prompt_tokens,
              audio_completion_tokens: usage.audio_completion_tokens,
              complete: end === 'done',
              end,
              duration_ms: round(summary.durationMs),
              ttfb_ms: summary.ttfbMs === null ? null : round(summary.ttfbMs),
              key_id: keyIdFrom(start.requestHeaders, start.query),
              cost,
              cost_source: costSource,
              tags: mergeTags(deploymentTags, requestTags),
              user: userOf(userFields),
            });
          } finally {
            settle();
          }
        };
        if (decoded) {
          finalize();
        } else {
          onDecoded = finalize;
          decoder.end();
        }
      },
    };
  }

  return {
    openTap,
    drain: () =>
      pending === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            drained = resolve;
          }),
  };
}

// Most events of a stream are content deltas with no usage in them — and once the
// proxy has asked for usage (SPEC §5), each of them says `"usage":null`. A few native
// byte searches (memchr speed) rule such an event out before the JSON sniffer walks
// it: it is sniffed only when a usage field has a value other than null, when it
// names a model while none is known yet, or when it writes a key with an escape
// (`"us\u0061ge"`), which the searches cannot see.
const USAGE_NEEDLE = Buffer.from('usage'); // usage, usageMetadata
const OTHER_NEEDLES: readonly Buffer[] = [Buffer.from('eval_count'), Buffer.from('\\u')];
const MODEL_NEEDLE = Buffer.from('odel'); // model, modelVersion
const NULL_BYTES = Buffer.from('null');

function mayCarryUsage(data: Buffer, needModel: boolean): boolean {
  for (let at = data.indexOf(USAGE_NEEDLE); at >= 0; at = data.indexOf(USAGE_NEEDLE, at + 1)) {
    if (!isNullMember(data, at + USAGE_NEEDLE.length)) return true;
  }
  for (const needle of OTHER_NEEDLES) if (data.indexOf(needle) >= 0) return true;
  return needModel && data.indexOf(MODEL_NEEDLE) >= 0;
}

// After `usage`: `"`, whitespace, `:`, whitespace, then `null`? Anything else (an
// object, `usageMetadata`, the word in a string) is left to the sniffer to judge.
function isNullMember(data: Buffer, i: number): boolean {
  if (data[i] !== 0x22) return false;
  i++;
  while (isJsonWhitespace(data[i])) i++;
  if (data[i] !== 0x3a) return false;
  i++;
  while (isJsonWhitespace(data[i])) i++;
  return i + 4 <= data.length && data.compare(NULL_BYTES, 0, 4, i, i + 4) === 0;
}

// The cheap check for an event the sniffer skips: data that opens like a JSON object
// or array but does not close like one was cut or garbled. Data that is not JSON at
// all (an empty `data:`, a `ping` heartbeat) is an event like any other, just not one
// with usage: it marks nothing. (OpenAI's closing `[DONE]` opens and closes like an
// array.) What this lets pass is never read for usage, so a fault it misses costs no
// number, only the `end=malformed` mark.
function isBrokenJsonEventData(data: Buffer): boolean {
  const first = firstNonSpace(data);
  const open = data[first];
  if (open !== 0x7b && open !== 0x5b) return false;
  let last = data.length - 1;
  while (last > first && isJsonWhitespace(data[last])) last--;
  return data[last] !== (open as number) + 2; // '{' + 2 is '}', '[' + 2 is ']'
}

function opensLikeJson(data: Buffer): boolean {
  const open = data[firstNonSpace(data)];
  return open === 0x7b || open === 0x5b;
}

function firstNonSpace(data: Buffer): number {
  let i = 0;
  while (i < data.length && isJsonWhitespace(data[i])) i++;
  return i;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** The request's `LM-Proxy-Tags` headers, all of them, whatever their case (SPEC §10); null when none. */
function tagsOf(headers: readonly string[]): TagMap | null {
  let tags: TagMap | null = null;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    if (name.length === TAGS_HEADER.length && name.toLowerCase() === TAGS_HEADER) parseTagsInto(headers[i + 1] as string, (tags ??= new Map()));
  }
  return tags;
}

/** SPEC §10: the first present user field decides; a longer or non-string value is null. */
function userOf(fields: readonly unknown[]): string | null {
  for (let i = 0; i < USER_PATHS.length; i++) {
    const value = fields[i];
    if (value === undefined) continue;
    return typeof value === 'string' && value.length <= MAX_USER_CHARS ? value : null;
  }
  return null;
}
