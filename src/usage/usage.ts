// Usage normalisation: turns the (path, value) pairs the JSON sniffer captures from one response
// into one usage record in OpenAI's vocabulary, plus the name of the model that answered.
// Pure: no I/O; it never throws on odd input — a value it cannot read counts as absent.
// Follows SPEC §4 "Usage tracking" (shapes and how the numbers combine) and §8 "Usage" (valid counts).

import type { Usage } from '../shared/usage-record.ts';

/**
 * Key paths the sniffer must capture, relative to each JSON document root (a JSON body, an NDJSON
 * line, an SSE event's data, an element of Gemini's JSON-array stream). Values are reported whole,
 * JSON.parse'd, in stream order.
 */
export const USAGE_CAPTURE_PATHS: readonly string[] = Object.freeze([
  'usage', // OpenAI chat/completions/embeddings, Responses (non-stream), Anthropic (non-stream, message_delta)
  'message.usage', // Anthropic message_start
  'response.usage', // Responses stream: response.completed / .incomplete / .failed
  'usageMetadata', // Gemini, every chunk
  'prompt_eval_count', // Ollama native, final NDJSON line
  'eval_count',
  'model', // OpenAI-style, Ollama
  'message.model', // Anthropic message_start
  'response.model', // Responses stream events
  'modelVersion', // Gemini
]);

export interface UsageAccumulator {
  /** One captured value, in stream order. Unknown paths and unreadable values are ignored. */
  add(path: string, value: unknown): void;
  /** The usage seen so far; null unless at least one valid token count was seen. */
  usage(): Usage | null;
  /** The model named by the response (the last non-empty string seen), else null. */
  model(): string | null;
}

// Each API's numbers are kept raw, under the upstream's own field names, and combined only in
// usage(): Anthropic's input_tokens EXCLUDES cache reads while Responses' input_tokens INCLUDES
// them, so one shared "input" slot would have to guess which meaning it holds.
type Family = 'chat' | 'responses' | 'anthropic' | 'gemini' | 'ollama';

const FIELDS: { readonly [F in Family]: readonly string[] } = {
  chat: [
    'prompt_tokens',
    'completion_tokens',
    'total_tokens',
    'prompt_tokens_details.cached_tokens',
    'completion_tokens_details.reasoning_tokens',
  ],
  responses: [
    'input_tokens',
    'output_tokens',
    'total_tokens',
    'input_tokens_details.cached_tokens',
    'output_tokens_details.reasoning_tokens',
  ],
  anthropic: ['input_tokens', 'output_tokens', 'cache_read_input_tokens', 'cache_creation_input_tokens'],
  gemini: [
    'promptTokenCount',
    'toolUsePromptTokenCount',
    'candidatesTokenCount',
    'thoughtsTokenCount',
    'cachedContentTokenCount',
    'totalTokenCount',
  ],
  ollama: ['prompt_eval_count', 'eval_count'],
};

const MODEL_PATHS: ReadonlySet<string> = new Set(['model', 'message.model', 'response.model', 'modelVersion']);

/** SPEC §8: a valid count is a non-negative integer no larger than 2^53−1; anything else is absent. */
function tokenCount(value: unknown): number | undefined {
  // `+ 0` turns JSON's -0 into 0, so it never prints as "-0" anywhere downstream.
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value + 0 : undefined;
}

function isObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// The dotted names cut into keys once, not per usage object.
const FIELD_KEYS = new Map<string, readonly string[]>(Object.values(FIELDS).flat().map((dotted) => [dotted, dotted.split('.')]));

/** Reads a dotted field ("prompt_tokens_details.cached_tokens") from own properties only. */
function field(object: Readonly<Record<string, unknown>>, dotted: string): unknown {
  let current: unknown = object;
  for (const key of FIELD_KEYS.get(dotted) ?? dotted.split('.')) {
    if (!isObject(current) || !Object.hasOwn(current, key)) return undefined;
    current = current[key];
  }
  return current;
}

/**
 * Which API a top-level `usage` object speaks. Chat names (prompt_/completion_tokens) are
 * unambiguous. input_/output_tokens are shared by Responses and Anthropic: Responses always sends
 * total_tokens and the *_details objects, Anthropic never does but names its cache fields
 * (cache_read_/cache_creation_input_tokens). An object with neither mark — an Anthropic
 * message_delta carrying only output_tokens — is Anthropic; with no cache fields both readings
 * give the same numbers anyway.
 */
function familyOfUsage(usage: Readonly<Record<string, unknown>>): Family {
  const has = (key: string): boolean => Object.hasOwn(usage, key);
  if (has('prompt_tokens') || has('completion_tokens')) return 'chat';
  if (has('cache_read_input_tokens') || has('cache_creation_input_tokens')) return 'anthropic';
  if (has('input_tokens') || has('output_tokens')) {
    const responses = has('total_tokens') || has('input_tokens_details') || has('output_tokens_details');
    return responses ? 'responses' : 'anthropic';
  }
  return 'chat';
}

function familyOfPath(path: string, value: Readonly<Record<string, unknown>>): Family | null {
  switch (path) {
    case 'usage':
      return familyOfUsage(value);
    case 'message.usage':
      return 'anthropic';
    case 'response.usage':
      return 'responses';
    case 'usageMetadata':
      return 'gemini';
    default:
      return null;
  }
}

type Raw = ReadonlyMap<string, number>;

/** The upstream's total where it gives one, else the sum (SPEC §4). */
function record(
  raw: Raw,
  prompt: number,
  completion: number,
  totalField: string | null,
  cached: number,
  reasoning: number,
  cacheCreation: number,
): Usage {
  const total = (totalField === null ? undefined : raw.get(totalField)) ?? prompt + completion;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: total,
    cached_tokens: cached,
    reasoning_tokens: reasoning,
    cache_creation_tokens: cacheCreation,
  };
}

/** SPEC §4: prompt counts every input token (cached among them), completion every output token. */
function normalise(family: Family, raw: Raw): Usage {
  const n = (name: string): number => raw.get(name) ?? 0;
  switch (family) {
    case 'chat':
      return record(raw, n('prompt_tokens'), n('completion_tokens'), 'total_tokens',
        n('prompt_tokens_details.cached_tokens'), n('completion_tokens_details.reasoning_tokens'), 0);
    case 'responses':
      // input_tokens already includes input_tokens_details.cached_tokens.
      return record(raw, n('input_tokens'), n('output_tokens'), 'total_tokens',
        n('input_tokens_details.cached_tokens'), n('output_tokens_details.reasoning_tokens'), 0);
    case 'anthropic': {
      // input_tokens excludes both cache fields, which are additive; Anthropic gives no total.
      const read = n('cache_read_input_tokens');
      const creation = n('cache_creation_input_tokens');
      return record(raw, n('input_tokens') + read + creation, n('output_tokens'), null, read, 0, creation);
    }
    case 'gemini': {
      // thoughtsTokenCount is not part of candidatesTokenCount; cachedContentTokenCount is part of
      // promptTokenCount. Tool-use prompt tokens are input the model read, counted in the total.
      const thoughts = n('thoughtsTokenCount');
      return record(raw, n('promptTokenCount') + n('toolUsePromptTokenCount'),
        n('candidatesTokenCount') + thoughts, 'totalTokenCount', n('cachedContentTokenCount'), thoughts, 0);
    }
    case 'ollama':
      return record(raw, n('prompt_eval_count'), n('eval_count'), null, 0, 0, 0);
  }
}

export function createUsageAccumulator(): UsageAccumulator {
  const raw = new Map<Family, Map<string, number>>();
  // The family that last delivered a valid count: one response speaks one API, and if a body
  // ever mixes them, the latest report is the one that describes the finished response.
  let family: Family | null = null;
  let model: string | null = null;

  // SPEC §4: each field's last value wins; fields are overwritten, never added up. A field that is
  // missing or invalid in a later object keeps its earlier value.
  function store(target: Family, name: string, value: unknown): void {
    const count = tokenCount(value);
    if (count === undefined) return;
    let fields = raw.get(target);
    if (fields === undefined) raw.set(target, (fields = new Map()));
    fields.set(name, count);
    family = target;
  }

  return {
    add(path, value) {
      if (MODEL_PATHS.has(path)) {
        if (typeof value === 'string' && value !== '') model = value;
        return;
      }
      if (path === 'prompt_eval_count' || path === 'eval_count') {
        store('ollama', path, value);
        return;
      }
      // SPEC §8: `"usage": null`, `{}` and non-objects carry nothing.
      if (!isObject(value)) return;
      const target = familyOfPath(path, value);
      if (target === null) return;
      for (const name of FIELDS[target]) store(target, name, field(value, name));
    },
    usage() {
      const fields = family === null ? undefined : raw.get(family);
      return family === null || fields === undefined ? null : normalise(family, fields);
    },
    model() {
      return model;
    },
  };
}
