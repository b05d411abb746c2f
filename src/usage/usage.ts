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
  'x_groq.usage', // Groq, on stream chunks (SPEC §8)
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
  /** The cost the upstream reported in its usage object (OpenRouter's `usage.cost`, USD), else null (SPEC §9). */
  cost(): number | null;
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
    'prompt_tokens_details.audio_tokens',
    'completion_tokens_details.audio_tokens',
  ],
  responses: [
    'input_tokens',
    'output_tokens',
    'total_tokens',
    'input_tokens_details.cached_tokens',
    'output_tokens_details.reasoning_tokens',
    // The Realtime API's `response.done` says input_token_details (singular), with audio counts.
    'input_token_details.cached_tokens',
    'input_token_details.audio_tokens',
    'output_token_details.audio_tokens',
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
    const responses =
      has('total_tokens') || has('input_tokens_details') || has('output_tokens_details') || has('input_token_details') || has('output_token_details');
    return responses ? 'responses' : 'anthropic';
  }
  return 'chat';
}

function familyOfPath(path: string, value: Readonly<Record<string, unknown>>): Family | null {
  switch (path) {
    case 'usage':
    case 'x_groq.usage':
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

interface Counts {
  readonly prompt: number;
  readonly completion: number;
  readonly cached: number;
  readonly reasoning: number;
  readonly cacheCreation: number;
  readonly audioPrompt: number;
  readonly audioCompletion: number;
}

/**
 * The upstream's total where it gives one, else the sum (SPEC §4). Reasoning tokens are among the
 * completion tokens; an upstream that counts them outside (its total is prompt + completion +
 * reasoning) has them added, so that completion holds every output token (SPEC §8).
 */
function record(raw: Raw, totalField: string | null, counts: Counts): Usage {
  const upstreamTotal = totalField === null ? undefined : raw.get(totalField);
  let completion = counts.completion;
  if (upstreamTotal !== undefined && counts.reasoning > 0 && upstreamTotal === counts.prompt + completion + counts.reasoning) {
    completion += counts.reasoning;
  }
  return {
    prompt_tokens: counts.prompt,
    completion_tokens: completion,
    total_tokens: upstreamTotal ?? counts.prompt + completion,
    cached_tokens: counts.cached,
    reasoning_tokens: counts.reasoning,
    cache_creation_tokens: counts.cacheCreation,
    audio_prompt_tokens: counts.audioPrompt,
    audio_completion_tokens: counts.audioCompletion,
  };
}

const NO_EXTRAS = { cached: 0, reasoning: 0, cacheCreation: 0, audioPrompt: 0, audioCompletion: 0 } as const;

/** SPEC §4: prompt counts every input token (cached among them), completion every output token. */
function normalise(family: Family, raw: Raw): Usage {
  const n = (name: string): number => raw.get(name) ?? 0;
  switch (family) {
    case 'chat':
      return record(raw, 'total_tokens', {
        prompt: n('prompt_tokens'),
        completion: n('completion_tokens'),
        cached: n('prompt_tokens_details.cached_tokens'),
        reasoning: n('completion_tokens_details.reasoning_tokens'),
        cacheCreation: 0,
        audioPrompt: n('prompt_tokens_details.audio_tokens'),
        audioCompletion: n('completion_tokens_details.audio_tokens'),
      });
    case 'responses':
      // input_tokens already includes the cached tokens (Responses: input_tokens_details; Realtime: input_token_details).
      return record(raw, 'total_tokens', {
        prompt: n('input_tokens'),
        completion: n('output_tokens'),
        cached: raw.get('input_tokens_details.cached_tokens') ?? n('input_token_details.cached_tokens'),
        reasoning: n('output_tokens_details.reasoning_tokens'),
        cacheCreation: 0,
        audioPrompt: n('input_token_details.audio_tokens'),
        audioCompletion: n('output_token_details.audio_tokens'),
      });
    case 'anthropic': {
      // input_tokens excludes both cache fields, which are additive; Anthropic gives no total.
      const read = n('cache_read_input_tokens');
      const creation = n('cache_creation_input_tokens');
      return record(raw, null, { ...NO_EXTRAS, prompt: n('input_tokens') + read + creation, completion: n('output_tokens'), cached: read, cacheCreation: creation });
    }
    case 'gemini': {
      // thoughtsTokenCount is not part of candidatesTokenCount; cachedContentTokenCount is part of
      // promptTokenCount. Tool-use prompt tokens are input the model read, counted in the total.
      const thoughts = n('thoughtsTokenCount');
      return record(raw, 'totalTokenCount', {
        ...NO_EXTRAS,
        prompt: n('promptTokenCount') + n('toolUsePromptTokenCount'),
        completion: n('candidatesTokenCount') + thoughts,
        cached: n('cachedContentTokenCount'),
        reasoning: thoughts,
      });
    }
    case 'ollama':
      return record(raw, null, { ...NO_EXTRAS, prompt: n('prompt_eval_count'), completion: n('eval_count') });
  }
}

/** SPEC §9: an upstream-reported cost is a finite, non-negative number of USD. */
function upstreamCost(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value + 0 : undefined;
}

export function createUsageAccumulator(): UsageAccumulator {
  const raw = new Map<Family, Map<string, number>>();
  // The family that last delivered a valid count: one response speaks one API, and if a body
  // ever mixes them, the latest report is the one that describes the finished response.
  let family: Family | null = null;
  let model: string | null = null;
  let cost: number | null = null;

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
      if (target === 'chat' && Object.hasOwn(value, 'cost')) cost = upstreamCost(value['cost']) ?? cost;
    },
    usage() {
      const fields = family === null ? undefined : raw.get(family);
      return family === null || fields === undefined ? null : normalise(family, fields);
    },
    model() {
      return model;
    },
    cost() {
      return cost;
    },
  };
}
