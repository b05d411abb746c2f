// The soak's request mix (issue 8): the kinds of exchange it sends, in what proportion, the exact
// bytes the upstream answers for each, and what the proxy must log for it (SPEC §4, §5). The soak
// upstream and the soak client both read this one table, so an expectation cannot drift from what
// is served. Every usage number is derived from the request's id (prompt_tokens = id + 1), so each
// `[USAGE]` line and ledger line names the one request it belongs to. Pure: no sockets, no files.

import { prng } from '../../tests/helpers/prng.ts';

export const KINDS = [
  'json',
  'json-gzip',
  'json-br',
  'sse',
  'sse-injected',
  'sse-gzip',
  'models',
  'abort-after-usage',
  'abort-before-usage',
] as const;
export type Kind = (typeof KINDS)[number];

/** What the proxy must log for one exchange: no line, a `complete=true end=done` line, or a cut one. */
export type ExpectedUsage = 'none' | 'done' | 'client_abort';

export interface KindSpec {
  /** Requests of this kind in every 100. */
  readonly weight: number;
  readonly method: 'GET' | 'POST';
  readonly path: string;
  /** The request asks for a stream; with includeUsage false the proxy injects include_usage (SPEC §5). */
  readonly stream: boolean;
  readonly includeUsage: boolean;
  readonly acceptEncoding: 'gzip' | 'br' | null;
  /** The client goes away after the first event; the upstream holds the stream open until then. */
  readonly abort: boolean;
  readonly expected: ExpectedUsage;
}

export const SPECS: Readonly<Record<Kind, KindSpec>> = {
  json: { weight: 24, method: 'POST', path: '/v1/chat/completions', stream: false, includeUsage: false, acceptEncoding: null, abort: false, expected: 'done' },
  'json-gzip': { weight: 10, method: 'POST', path: '/v1/chat/completions', stream: false, includeUsage: false, acceptEncoding: 'gzip', abort: false, expected: 'done' },
  'json-br': { weight: 10, method: 'POST', path: '/v1/chat/completions', stream: false, includeUsage: false, acceptEncoding: 'br', abort: false, expected: 'done' },
  sse: { weight: 15, method: 'POST', path: '/v1/chat/completions', stream: true, includeUsage: true, acceptEncoding: null, abort: false, expected: 'done' },
  'sse-injected': { weight: 15, method: 'POST', path: '/v1/chat/completions', stream: true, includeUsage: false, acceptEncoding: null, abort: false, expected: 'done' },
  'sse-gzip': { weight: 6, method: 'POST', path: '/v1/chat/completions', stream: true, includeUsage: true, acceptEncoding: 'gzip', abort: false, expected: 'done' },
  models: { weight: 10, method: 'GET', path: '/v1/models', stream: false, includeUsage: false, acceptEncoding: null, abort: false, expected: 'none' },
  // Usage rides on the first chunk (vLLM and llama.cpp put it on ordinary chunks), so the proxy has
  // seen it when the client goes: SPEC §4 wants the line, marked complete=false end=client_abort.
  'abort-after-usage': { weight: 5, method: 'POST', path: '/v1/chat/completions', stream: true, includeUsage: true, acceptEncoding: null, abort: true, expected: 'client_abort' },
  // Usage would come at the end (injected, as OpenAI sends it), which the client never waits for: no line.
  'abort-before-usage': { weight: 5, method: 'POST', path: '/v1/chat/completions', stream: true, includeUsage: false, acceptEncoding: null, abort: true, expected: 'none' },
};

export const MODEL = 'soak-model';
export const COMPLETION_TOKENS = 7;
const CONTENT_CHUNKS = ['The', ' soak', ' keeps', ' the', ' proxy', ' busy', '.'];

/** The kind of every request id: a fixed, seeded shuffle of the weights, repeated every 100 ids. */
export function kindTable(seed = 8): readonly Kind[] {
  const table: Kind[] = [];
  for (const kind of KINDS) for (let i = 0; i < SPECS[kind].weight; i++) table.push(kind);
  if (table.length !== 100) throw new Error(`the soak weights add up to ${table.length}, not 100`);
  const random = prng(seed);
  for (let i = table.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [table[i], table[j]] = [table[j] as Kind, table[i] as Kind];
  }
  return table;
}

export function usageOf(id: number): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
  return { prompt_tokens: id + 1, completion_tokens: COMPLETION_TOKENS, total_tokens: id + 1 + COMPLETION_TOKENS };
}

/** The request id a usage line names, or -1 when its numbers are not the soak's. */
export function idOfUsage(prompt: number, completion: number, total: number): number {
  return completion === COMPLETION_TOKENS && total === prompt + completion && prompt >= 1 ? prompt - 1 : -1;
}

export function requestBody(kind: Kind, id: number): string | null {
  const spec = SPECS[kind];
  if (spec.method === 'GET') return null;
  const messages = `[{"role":"user","content":"soak request ${id}: say something short"}]`;
  if (!spec.stream) return `{"model":"${MODEL}","messages":${messages}}`;
  const options = spec.includeUsage ? ',"stream_options":{"include_usage":true}' : '';
  return `{"model":"${MODEL}","messages":${messages},"stream":true${options}}`;
}

function usageJson(id: number): string {
  const u = usageOf(id);
  return `{"prompt_tokens":${u.prompt_tokens},"completion_tokens":${u.completion_tokens},"total_tokens":${u.total_tokens}}`;
}

/** The chat completion the upstream answers (before compression). */
export function chatJson(id: number): string {
  return (
    `{"id":"chatcmpl-soak-${id}","object":"chat.completion","created":1700000000,"model":"${MODEL}",` +
    `"choices":[{"index":0,"message":{"role":"assistant","content":"${CONTENT_CHUNKS.join('').repeat(4)}"},"finish_reason":"stop"}],` +
    `"usage":${usageJson(id)}}`
  );
}

export const MODELS_JSON =
  '{"object":"list","data":[' +
  ['soak-model', 'soak-model-mini', 'soak-embedding'].map((m) => `{"id":"${m}","object":"model","created":1700000000,"owned_by":"soak"}`).join(',') +
  ']}';

function chunkEvent(id: number, delta: string, finish: string | null, usage: string | null): string {
  return (
    `data: {"id":"chatcmpl-soak-${id}","object":"chat.completion.chunk","created":1700000000,"model":"${MODEL}",` +
    `"choices":[{"index":0,"delta":{"content":${JSON.stringify(delta)}},"finish_reason":${finish === null ? 'null' : `"${finish}"`}}]` +
    `${usage === null ? '' : `,"usage":${usage}`}}\n\n`
  );
}

/** The usage-only chunk that `stream_options.include_usage` adds (the one the proxy filters when it injected). */
export function usageOnlyEvent(id: number): string {
  return `data: {"id":"chatcmpl-soak-${id}","object":"chat.completion.chunk","created":1700000000,"model":"${MODEL}","choices":[],"usage":${usageJson(id)}}\n\n`;
}

/**
 * The events of a stream, in order, as the upstream sends them: content chunks, the finish chunk,
 * the usage-only chunk when the upstream request asked for it, then `[DONE]`.
 */
export function streamEvents(id: number, withUsageChunk: boolean): string[] {
  const events = CONTENT_CHUNKS.map((text) => chunkEvent(id, text, null, null));
  events.push(chunkEvent(id, '', 'stop', null));
  if (withUsageChunk) events.push(usageOnlyEvent(id));
  events.push('data: [DONE]\n\n');
  return events;
}

/** The first event of a stream the client will abort: with usage on it, or without. */
export function firstAbortEvent(id: number, withUsage: boolean): string {
  return chunkEvent(id, CONTENT_CHUNKS[0] ?? '', null, withUsage ? usageJson(id) : null);
}

/** The decoded body the client must receive, whole (for aborted streams: what arrives before it goes). */
export function expectedClientText(kind: Kind, id: number): string {
  switch (kind) {
    case 'json':
    case 'json-gzip':
    case 'json-br':
      return chatJson(id);
    case 'models':
      return MODELS_JSON;
    case 'sse':
    case 'sse-gzip':
      return streamEvents(id, true).join('');
    case 'sse-injected':
      // SPEC §5: the client sees the stream it asked for, without the usage-only chunk.
      return streamEvents(id, false).join('');
    case 'abort-after-usage':
      return firstAbortEvent(id, true);
    case 'abort-before-usage':
      return firstAbortEvent(id, false);
  }
}
