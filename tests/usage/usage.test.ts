import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { Usage } from '../../src/shared/usage-record.ts';
import { USAGE_CAPTURE_PATHS, createUsageAccumulator } from '../../src/usage/usage.ts';
import { USAGE_FIXTURES, type UsageFixture } from '../fixtures/usage/index.ts';

// ---- Test-only stand-in for the JSON sniffer: whole documents, parsed, walked in document order.

/** The JSON documents of a body: the body, each NDJSON line, each SSE event's data, each array element. */
function documentsOf(contentType: string, body: string): unknown[] {
  const texts: string[] = [];
  if (contentType.startsWith('text/event-stream')) {
    let data: string[] = [];
    for (const line of body.split(/\r\n|\r|\n/)) {
      if (line === '') {
        if (data.length > 0) texts.push(data.join('\n'));
        data = [];
      } else if (line.startsWith('data:')) {
        data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
      }
    }
  } else if (contentType.includes('ndjson')) {
    texts.push(...body.split('\n').filter((line) => line.trim() !== ''));
  } else {
    texts.push(body);
  }
  const documents: unknown[] = [];
  for (const text of texts) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      continue; // `[DONE]`, keep-alives
    }
    if (Array.isArray(parsed)) documents.push(...parsed);
    else documents.push(parsed);
  }
  return documents;
}

const CAPTURED = new Set(USAGE_CAPTURE_PATHS);
/** "message" for "message.usage": objects the walk must enter to reach a captured path. */
const PREFIXES = new Set(
  USAGE_CAPTURE_PATHS.flatMap((path) => {
    const keys = path.split('.');
    return keys.slice(1).map((_, i) => keys.slice(0, i + 1).join('.'));
  }),
);

function* capturesOf(value: unknown, prefix = ''): Generator<[string, unknown]> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
  for (const [key, child] of Object.entries(value)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (CAPTURED.has(path)) yield [path, child];
    else if (PREFIXES.has(path)) yield* capturesOf(child, path);
  }
}

function pairsOf(fixture: UsageFixture): [string, unknown][] {
  return documentsOf(fixture.contentType, fixture.body).flatMap((doc) => [...capturesOf(doc)]);
}

function replay(pairs: readonly (readonly [string, unknown])[]): { usage: Usage | null; model: string | null } {
  const acc = createUsageAccumulator();
  for (const [path, value] of pairs) acc.add(path, value);
  return { usage: acc.usage(), model: acc.model() };
}

/** Usage from the given objects at the given path, in order. */
function usageOf(path: string, ...values: unknown[]): Usage | null {
  return replay(values.map((v) => [path, v])).usage;
}

function full(fields: Partial<Usage>): Usage {
  return {
    prompt_tokens: 0,
    completion_tokens: 0,
    total_tokens: 0,
    cached_tokens: 0,
    reasoning_tokens: 0,
    cache_creation_tokens: 0,
    audio_prompt_tokens: 0,
    audio_completion_tokens: 0,
    ...fields,
  };
}

// ---- Fixtures

describe('fixtures', () => {
  for (const fixture of USAGE_FIXTURES) {
    test(`${fixture.name} yields its expected usage and model`, () => {
      const pairs = pairsOf(fixture);
      const { usage, model } = replay(pairs);
      if (fixture.expected === null) {
        assert.equal(usage, null);
        return;
      }
      const { model: expectedModel, ...expectedUsage } = fixture.expected;
      assert.deepEqual(usage, expectedUsage);
      assert.equal(model, expectedModel);
    });
  }

  test('fixture bodies keep their wire framing: CRLF for Gemini SSE, pings for Anthropic, [DONE] for OpenAI', () => {
    const body = (name: string): string => USAGE_FIXTURES.find((f) => f.name === name)?.body ?? '';
    assert.match(body('gemini-stream.sse'), /^data: \{.*\}\r\n\r\n/);
    assert.doesNotMatch(body('gemini-stream.sse'), /[^\r]\n/);
    assert.match(body('gemini-stream-array.json'), /^\[\{\n[\s\S]*\n,\r\n\{/);
    assert.match(body('anthropic-messages-stream.sse'), /event: ping\ndata: \{"type": "ping"\}\n\n/);
    assert.match(body('openai-chat-stream.sse'), /data: \[DONE\]\n\n$/);
    assert.equal(body('ollama-chat-stream.ndjson').trimEnd().split('\n').length, 6);
  });

  test('replaying every captured value twice changes nothing, because fields are overwritten, never added', () => {
    for (const fixture of USAGE_FIXTURES) {
      const pairs = pairsOf(fixture);
      assert.deepEqual(replay(pairs.flatMap((p) => [p, p])), replay(pairs), fixture.name);
    }
  });
});

// ---- Combination rules (SPEC §4)

describe('OpenAI chat, completions and embeddings', () => {
  test('reads prompt, completion and total tokens and the cached and reasoning details as subsets', () => {
    const usage = usageOf('usage', {
      prompt_tokens: 100,
      completion_tokens: 50,
      total_tokens: 150,
      prompt_tokens_details: { cached_tokens: 60 },
      completion_tokens_details: { reasoning_tokens: 20 },
    });
    assert.deepEqual(usage, full({ prompt_tokens: 100, completion_tokens: 50, total_tokens: 150, cached_tokens: 60, reasoning_tokens: 20 }));
  });

  test('an embeddings usage without completion_tokens counts 0 completion tokens', () => {
    assert.deepEqual(usageOf('usage', { prompt_tokens: 7, total_tokens: 7 }), full({ prompt_tokens: 7, total_tokens: 7 }));
  });

  test('total_tokens is the upstream figure even when it differs from the sum', () => {
    assert.equal(usageOf('usage', { prompt_tokens: 10, completion_tokens: 5, total_tokens: 99 })?.total_tokens, 99);
  });

  test('a missing total_tokens is the sum of prompt and completion tokens', () => {
    assert.equal(usageOf('usage', { prompt_tokens: 10, completion_tokens: 5 })?.total_tokens, 15);
  });

  test('details objects that are null or not objects are ignored', () => {
    const usage = usageOf('usage', { prompt_tokens: 3, prompt_tokens_details: null, completion_tokens_details: 5 });
    assert.deepEqual(usage, full({ prompt_tokens: 3, total_tokens: 3 }));
  });

  test('duplicate usage objects: the last wins field by field, and a field the later one lacks keeps its value', () => {
    const usage = usageOf(
      'usage',
      { prompt_tokens: 10, completion_tokens: 1, total_tokens: 11, prompt_tokens_details: { cached_tokens: 4 } },
      { prompt_tokens: 10, completion_tokens: 9 },
    );
    assert.deepEqual(usage, full({ prompt_tokens: 10, completion_tokens: 9, total_tokens: 11, cached_tokens: 4 }));
  });

  test('running totals on every chunk (vLLM) are not summed', () => {
    const chunks = [1, 2, 3, 4].map((n) => ({ prompt_tokens: 10, completion_tokens: n, total_tokens: 10 + n }));
    assert.deepEqual(usageOf('usage', ...chunks), full({ prompt_tokens: 10, completion_tokens: 4, total_tokens: 14 }));
  });
});

describe('OpenAI Responses', () => {
  test('input_tokens already includes cached tokens, so they are not added again', () => {
    const usage = usageOf('usage', {
      input_tokens: 12033,
      input_tokens_details: { cached_tokens: 11904 },
      output_tokens: 44,
      output_tokens_details: { reasoning_tokens: 30 },
      total_tokens: 12077,
    });
    assert.deepEqual(usage, full({ prompt_tokens: 12033, completion_tokens: 44, total_tokens: 12077, cached_tokens: 11904, reasoning_tokens: 30 }));
  });

  test('response.usage of a streaming terminal event is read as Responses usage', () => {
    const usage = usageOf('response.usage', { input_tokens: 10, output_tokens: 5, input_tokens_details: { cached_tokens: 8 } });
    assert.deepEqual(usage, full({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, cached_tokens: 8 }));
  });

  test('the "usage": null of response.created and response.in_progress carries nothing', () => {
    assert.equal(usageOf('response.usage', null, null), null);
  });

  test('a top-level usage with input_tokens and total_tokens is Responses usage, not Anthropic', () => {
    const usage = usageOf('usage', { input_tokens: 10, output_tokens: 2, total_tokens: 12 });
    assert.deepEqual(usage, full({ prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 }));
  });
});

describe('Anthropic messages', () => {
  test('prompt tokens are input + cache reads + cache writes; cached tokens are the reads', () => {
    const usage = usageOf('usage', {
      input_tokens: 12,
      cache_creation_input_tokens: 1500,
      cache_read_input_tokens: 2048,
      output_tokens: 230,
    });
    assert.deepEqual(usage, full({ prompt_tokens: 3560, completion_tokens: 230, total_tokens: 3790, cached_tokens: 2048, cache_creation_tokens: 1500 }));
  });

  test("message_delta's output_tokens overwrites message_start's, and the input figures stay", () => {
    const { usage } = replay([
      ['message.usage', { input_tokens: 18, cache_creation_input_tokens: 0, cache_read_input_tokens: 100, output_tokens: 1 }],
      ['usage', { output_tokens: 240 }],
    ]);
    assert.deepEqual(usage, full({ prompt_tokens: 118, completion_tokens: 240, total_tokens: 358, cached_tokens: 100 }));
  });

  test('several message_delta events carry running totals: the last one wins, nothing is summed', () => {
    const { usage } = replay([
      ['message.usage', { input_tokens: 5, cache_read_input_tokens: 50, output_tokens: 2 }],
      ['usage', { input_tokens: 5, cache_read_input_tokens: 50, output_tokens: 38 }],
      ['usage', { input_tokens: 900, cache_read_input_tokens: 50, output_tokens: 412 }],
    ]);
    assert.deepEqual(usage, full({ prompt_tokens: 950, completion_tokens: 412, total_tokens: 1362, cached_tokens: 50 }));
  });

  test('a top-level usage with input_tokens but no total_tokens is Anthropic usage', () => {
    assert.deepEqual(usageOf('usage', { input_tokens: 10, output_tokens: 2 }), full({ prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 }));
  });

  test('a top-level usage naming Anthropic cache fields is Anthropic usage', () => {
    const usage = usageOf('usage', { input_tokens: 10, cache_read_input_tokens: 30, output_tokens: 2 });
    assert.deepEqual(usage, full({ prompt_tokens: 40, completion_tokens: 2, total_tokens: 42, cached_tokens: 30 }));
  });
});

describe('Gemini', () => {
  test('completion tokens are candidates + thoughts; reasoning tokens are the thoughts; cached tokens are a subset', () => {
    const usage = usageOf('usageMetadata', {
      promptTokenCount: 1204,
      candidatesTokenCount: 85,
      thoughtsTokenCount: 310,
      cachedContentTokenCount: 1024,
      totalTokenCount: 1599,
    });
    assert.deepEqual(usage, full({ prompt_tokens: 1204, completion_tokens: 395, total_tokens: 1599, cached_tokens: 1024, reasoning_tokens: 310 }));
  });

  test('running totals repeated on every chunk are not summed', () => {
    const usage = usageOf(
      'usageMetadata',
      { promptTokenCount: 5, candidatesTokenCount: 39, thoughtsTokenCount: 186, totalTokenCount: 230 },
      { promptTokenCount: 5, candidatesTokenCount: 42, thoughtsTokenCount: 186, totalTokenCount: 233 },
      { promptTokenCount: 5, candidatesTokenCount: 44, thoughtsTokenCount: 186, totalTokenCount: 235 },
    );
    assert.deepEqual(usage, full({ prompt_tokens: 5, completion_tokens: 230, total_tokens: 235, reasoning_tokens: 186 }));
  });

  test('tool-use prompt tokens count as prompt tokens', () => {
    const usage = usageOf('usageMetadata', { promptTokenCount: 10, toolUsePromptTokenCount: 40, candidatesTokenCount: 5, totalTokenCount: 55 });
    assert.deepEqual(usage, full({ prompt_tokens: 50, completion_tokens: 5, total_tokens: 55 }));
  });

  test('a missing totalTokenCount is the sum', () => {
    assert.equal(usageOf('usageMetadata', { promptTokenCount: 3, candidatesTokenCount: 4, thoughtsTokenCount: 5 })?.total_tokens, 12);
  });
});

describe('Ollama native', () => {
  test('prompt_eval_count and eval_count are prompt and completion tokens, and total is their sum', () => {
    const { usage } = replay([['prompt_eval_count', 26], ['eval_count', 9]]);
    assert.deepEqual(usage, full({ prompt_tokens: 26, completion_tokens: 9, total_tokens: 35 }));
  });

  test('an embed response with only prompt_eval_count counts 0 completion tokens', () => {
    assert.deepEqual(replay([['prompt_eval_count', 8]]).usage, full({ prompt_tokens: 8, total_tokens: 8 }));
  });
});

describe('mixed families', () => {
  test('the API that reported last describes the response; fields of different APIs never mix', () => {
    const { usage } = replay([
      ['usageMetadata', { promptTokenCount: 1, candidatesTokenCount: 1, totalTokenCount: 2 }],
      ['usage', { prompt_tokens: 10, completion_tokens: 20 }],
    ]);
    assert.deepEqual(usage, full({ prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 }));
  });

  test('a later object of another API with no valid count does not take over', () => {
    const { usage } = replay([
      ['usage', { prompt_tokens: 10, completion_tokens: 20 }],
      ['usageMetadata', { promptTokenCount: -1 }],
    ]);
    assert.deepEqual(usage, full({ prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 }));
  });
});

// ---- Valid counts (SPEC §8)

describe('invalid counts are treated as absent', () => {
  const invalid: [string, unknown][] = [
    ['a negative number', -1],
    ['a fraction', 1.5],
    ['1e300', 1e300],
    ['2^53', 2 ** 53],
    ['Infinity (JSON 1e400)', JSON.parse('1e400')],
    ['the string "12"', '12'],
    ['a boolean', true],
    ['null', null],
    ['an object', { value: 12 }],
    ['an array', [12]],
  ];
  for (const [label, value] of invalid) {
    test(`${label} as the only count gives no usage`, () => {
      assert.equal(usageOf('usage', { prompt_tokens: value }), null);
      assert.equal(usageOf('usageMetadata', { promptTokenCount: value }), null);
      assert.equal(usageOf('message.usage', { input_tokens: value }), null);
      assert.equal(replay([['eval_count', value]]).usage, null);
    });

    test(`${label} beside valid counts is read as 0 and never printed`, () => {
      assert.deepEqual(usageOf('usage', { prompt_tokens: 5, completion_tokens: value }), full({ prompt_tokens: 5, total_tokens: 5 }));
    });

    test(`${label} in a later object keeps the earlier valid value`, () => {
      assert.equal(usageOf('usage', { prompt_tokens: 5 }, { prompt_tokens: value })?.prompt_tokens, 5);
    });
  }

  test('an invalid total_tokens falls back to the sum', () => {
    assert.equal(usageOf('usage', { prompt_tokens: 2, completion_tokens: 3, total_tokens: -5 })?.total_tokens, 5);
  });

  test('2^53−1 is the largest valid count', () => {
    assert.equal(usageOf('usage', { total_tokens: Number.MAX_SAFE_INTEGER })?.total_tokens, Number.MAX_SAFE_INTEGER);
  });

  test('zero is a valid count, so an all-zero usage object carries usage', () => {
    assert.deepEqual(usageOf('usage', { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 }), full({}));
  });

  test('-0 is read as 0', () => {
    assert.ok(Object.is(usageOf('usage', JSON.parse('{"prompt_tokens":-0}'))?.prompt_tokens, 0));
  });
});

describe('usage objects that carry nothing', () => {
  const empty: [string, unknown][] = [
    ['null', null],
    ['an empty object', {}],
    ['a string', '{"prompt_tokens":12}'],
    ['a number', 12],
    ['an array', [{ prompt_tokens: 12 }]],
    ['an object of unrelated keys', { service_tier: 'standard', server_tool_use: { web_search_requests: 1 } }],
  ];
  for (const [label, value] of empty) {
    test(`usage as ${label} gives no usage at any usage path`, () => {
      for (const path of ['usage', 'message.usage', 'response.usage', 'usageMetadata']) {
        assert.equal(usageOf(path, value), null, path);
      }
    });
  }

  test('"usage": null on every chunk leaves an earlier usage as it was', () => {
    assert.deepEqual(usageOf('usage', { prompt_tokens: 1 }, null, {}), full({ prompt_tokens: 1, total_tokens: 1 }));
  });

  test('counts inherited from Object.prototype are not read', () => {
    assert.equal(usageOf('usage', JSON.parse('{"__proto__":{"prompt_tokens":12}}')), null);
  });

  test('paths outside the capture list are ignored', () => {
    assert.deepEqual(replay([['choices', { prompt_tokens: 1 }], ['timings', { prompt_n: 4 }], ['x.usage', { prompt_tokens: 1 }]]), { usage: null, model: null });
  });
});

// ---- Model

describe('model', () => {
  test('is read from model, message.model, response.model and modelVersion', () => {
    for (const path of ['model', 'message.model', 'response.model', 'modelVersion']) {
      assert.equal(replay([[path, 'm-1']]).model, 'm-1', path);
    }
  });

  test('is the last non-empty string seen', () => {
    assert.equal(replay([['response.model', 'a'], ['model', 'b'], ['model', '']]).model, 'b');
  });

  test('ignores values that are not strings', () => {
    assert.equal(replay([['model', 42], ['model', null], ['model', { id: 'x' }], ['model', ['x']]]).model, null);
  });

  test('is null when the response names none, even when it carries usage', () => {
    assert.deepEqual(replay([['usage', { prompt_tokens: 1 }]]).model, null);
  });
});

describe('accumulator', () => {
  test('usage() is a snapshot: later values do not change a record already returned', () => {
    const acc = createUsageAccumulator();
    acc.add('usage', { prompt_tokens: 1 });
    const first = acc.usage();
    acc.add('usage', { prompt_tokens: 2 });
    assert.equal(first?.prompt_tokens, 1);
    assert.equal(acc.usage()?.prompt_tokens, 2);
  });

  test('two accumulators share no state', () => {
    const a = createUsageAccumulator();
    const b = createUsageAccumulator();
    a.add('usage', { prompt_tokens: 1 });
    a.add('model', 'x');
    assert.equal(b.usage(), null);
    assert.equal(b.model(), null);
  });

  test('the capture path list cannot be changed by a caller', () => {
    assert.ok(Object.isFrozen(USAGE_CAPTURE_PATHS));
  });

  test('random values at random paths never throw, and every figure is a valid count', () => {
    // mulberry32: a seeded PRNG, so a failure reproduces.
    let seed = 0x5eed;
    const random = (): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const keys = [
      'prompt_tokens', 'completion_tokens', 'total_tokens', 'input_tokens', 'output_tokens', 'cache_read_input_tokens',
      'cache_creation_input_tokens', 'promptTokenCount', 'candidatesTokenCount', 'thoughtsTokenCount', 'totalTokenCount',
      'toolUsePromptTokenCount', 'cachedContentTokenCount', 'prompt_tokens_details', 'input_tokens_details', 'cached_tokens',
    ];
    const scalar = (): unknown => pick([0, 1, 7, -3, 2.5, 1e300, 2 ** 53, Number.MAX_SAFE_INTEGER, '9', true, null, 'gpt']);
    const value = (depth: number): unknown => {
      if (depth > 2 || random() < 0.5) return scalar();
      if (random() < 0.2) return [value(depth + 1)];
      const object: Record<string, unknown> = {};
      for (let i = Math.floor(random() * 5); i > 0; i--) object[pick(keys)] = value(depth + 1);
      return object;
    };
    const paths = [...USAGE_CAPTURE_PATHS, 'choices', ''];
    for (let round = 0; round < 2000; round++) {
      const acc = createUsageAccumulator();
      for (let i = Math.floor(random() * 6); i >= 0; i--) acc.add(pick(paths), value(0));
      const usage = acc.usage();
      for (const figure of usage === null ? [] : Object.values(usage)) {
        assert.ok(Number.isInteger(figure) && figure >= 0, `round ${round}: ${JSON.stringify(usage)}`);
      }
      const model = acc.model();
      assert.ok(model === null || (typeof model === 'string' && model !== ''));
    }
  });
});

// ---- Audio, reasoning outside completion, Groq, upstream cost (SPEC §8, §9)

describe('audio tokens, reasoning counted outside, Groq and the upstream cost', () => {
  /** Every (path, value) the sniffer would capture from a body, in order. */
  const pairsOfBody = (contentType: string, body: string): [string, unknown][] =>
    documentsOf(contentType, body).flatMap((doc) => [...capturesOf(doc)]);

  /** The cost the accumulator reports after the given usage objects, in order. */
  const costOf = (path: string, ...values: unknown[]): number | null => {
    const acc = createUsageAccumulator();
    for (const value of values) acc.add(path, value);
    return acc.cost();
  };

  const chat = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };

  test('chat audio tokens are counted within prompt and completion and also on their own', () => {
    const usage = usageOf('usage', {
      prompt_tokens: 120,
      completion_tokens: 80,
      total_tokens: 200,
      prompt_tokens_details: { cached_tokens: 20, audio_tokens: 64 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 50, accepted_prediction_tokens: 0 },
    });
    assert.deepEqual(
      usage,
      full({ prompt_tokens: 120, completion_tokens: 80, total_tokens: 200, cached_tokens: 20, audio_prompt_tokens: 64, audio_completion_tokens: 50 }),
    );
  });

  test('invalid audio counts are absent, and a later object without them keeps the earlier ones', () => {
    for (const bad of [-1, 1.5, '7', 1e300, null, true]) {
      const usage = usageOf('usage', { ...chat, prompt_tokens_details: { audio_tokens: bad }, completion_tokens_details: { audio_tokens: bad } });
      assert.deepEqual(usage, full({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 }), JSON.stringify(bad));
    }
    const kept = usageOf('usage', { ...chat, prompt_tokens_details: { audio_tokens: 4 }, completion_tokens_details: { audio_tokens: 3 } }, { ...chat, completion_tokens: 6 });
    assert.deepEqual(kept, full({ prompt_tokens: 10, completion_tokens: 6, total_tokens: 15, audio_prompt_tokens: 4, audio_completion_tokens: 3 }));
  });

  test("the Realtime API's response.done usage: input_token_details and output_token_details, cached and audio", () => {
    // The Realtime `response.done` event: {"type":"response.done","response":{...,"usage":{...}}}.
    const realtime = {
      total_tokens: 553,
      input_tokens: 361,
      output_tokens: 192,
      input_token_details: { text_tokens: 119, audio_tokens: 242, image_tokens: 0, cached_tokens: 128, cached_tokens_details: { text_tokens: 64, audio_tokens: 64 } },
      output_token_details: { text_tokens: 30, audio_tokens: 162 },
    };
    const expected = full({ prompt_tokens: 361, completion_tokens: 192, total_tokens: 553, cached_tokens: 128, audio_prompt_tokens: 242, audio_completion_tokens: 162 });
    const body = `data: ${JSON.stringify({ type: 'response.done', event_id: 'e1', response: { id: 'r1', status: 'completed', usage: realtime } })}\n\n`;
    assert.deepEqual(replay(pairsOfBody('text/event-stream', body)).usage, expected);
    assert.deepEqual(usageOf('response.usage', realtime), expected);
    assert.deepEqual(usageOf('usage', realtime), expected, 'the same object as a top-level usage');
  });

  test('reasoning counted outside completion (total = prompt + completion + reasoning) is added to completion', () => {
    const usage = usageOf('usage', { prompt_tokens: 10, completion_tokens: 5, total_tokens: 35, completion_tokens_details: { reasoning_tokens: 20 } });
    assert.deepEqual(usage, full({ prompt_tokens: 10, completion_tokens: 25, total_tokens: 35, reasoning_tokens: 20 }));
    assert.equal(usage!.total_tokens, usage!.prompt_tokens + usage!.completion_tokens, 'total = prompt + completion');
  });

  test('reasoning counted outside in Responses usage is added to completion too', () => {
    const usage = usageOf('usage', { input_tokens: 100, output_tokens: 7, total_tokens: 157, output_tokens_details: { reasoning_tokens: 50 } });
    assert.deepEqual(usage, full({ prompt_tokens: 100, completion_tokens: 57, total_tokens: 157, reasoning_tokens: 50 }));
  });

  test('the ordinary case, reasoning already among completion tokens, is unchanged', () => {
    const usage = usageOf('usage', { prompt_tokens: 10, completion_tokens: 25, total_tokens: 35, completion_tokens_details: { reasoning_tokens: 20 } });
    assert.deepEqual(usage, full({ prompt_tokens: 10, completion_tokens: 25, total_tokens: 35, reasoning_tokens: 20 }));
  });

  test('without an upstream total, or with one that matches neither reading, completion is left as reported', () => {
    assert.deepEqual(
      usageOf('usage', { prompt_tokens: 10, completion_tokens: 5, completion_tokens_details: { reasoning_tokens: 20 } }),
      full({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, reasoning_tokens: 20 }),
    );
    assert.deepEqual(
      usageOf('usage', { prompt_tokens: 10, completion_tokens: 5, total_tokens: 99, completion_tokens_details: { reasoning_tokens: 20 } }),
      full({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 99, reasoning_tokens: 20 }),
    );
  });

  test('reasoning of 0 never moves completion, whatever the total', () => {
    assert.deepEqual(
      usageOf('usage', { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, completion_tokens_details: { reasoning_tokens: 0 } }),
      full({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 }),
    );
  });

  test('Gemini, whose thoughts are already added to completion, is unchanged', () => {
    // candidates 5 + thoughts 20 = 25 completion; a total of 35 is prompt + completion, not a sign of reasoning outside.
    const usage = usageOf('usageMetadata', { promptTokenCount: 10, candidatesTokenCount: 5, thoughtsTokenCount: 20, totalTokenCount: 35 });
    assert.deepEqual(usage, full({ prompt_tokens: 10, completion_tokens: 25, total_tokens: 35, reasoning_tokens: 20 }));
  });

  test('reasoning outside, repeated on every chunk as running totals, is added once', () => {
    const chunk = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 35, completion_tokens_details: { reasoning_tokens: 20 } };
    assert.deepEqual(usageOf('usage', chunk, chunk, chunk), full({ prompt_tokens: 10, completion_tokens: 25, total_tokens: 35, reasoning_tokens: 20 }));
  });

  test("Groq's x_groq.usage on a stream's last chunk is read like usage, with the model", () => {
    const body =
      'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","model":"llama-3.1-8b-instant","choices":[{"index":0,"delta":{"role":"assistant","content":""}}],"x_groq":{"id":"req_01"}}\n\n' +
      'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","model":"llama-3.1-8b-instant","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n' +
      'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","model":"llama-3.1-8b-instant","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],' +
      '"x_groq":{"id":"req_01","usage":{"queue_time":0.02,"prompt_tokens":18,"prompt_time":0.001,"completion_tokens":7,"completion_time":0.01,"total_tokens":25,"total_time":0.011}}}\n\n' +
      'data: [DONE]\n\n';
    const { usage, model } = replay(pairsOfBody('text/event-stream', body));
    assert.deepEqual(usage, full({ prompt_tokens: 18, completion_tokens: 7, total_tokens: 25 }));
    assert.equal(model, 'llama-3.1-8b-instant');
  });

  test('x_groq.usage follows the same rules as usage: invalid counts absent, null carries nothing, last wins', () => {
    assert.equal(usageOf('x_groq.usage', null, {}, { prompt_tokens: -1, queue_time: 0.5 }), null);
    assert.deepEqual(usageOf('x_groq.usage', { ...chat }, { prompt_tokens: 10, completion_tokens: 9, total_tokens: 19 }), full({ prompt_tokens: 10, completion_tokens: 9, total_tokens: 19 }));
    assert.deepEqual(
      replay([['usage', { ...chat }], ['x_groq.usage', { prompt_tokens: 10, completion_tokens: 8, total_tokens: 18 }]]).usage,
      full({ prompt_tokens: 10, completion_tokens: 8, total_tokens: 18 }),
    );
  });

  test("the upstream's usage.cost (OpenRouter) is the accumulator's cost", () => {
    assert.equal(costOf('usage', { ...chat, cost: 0.00042, cost_details: { upstream_inference_cost: 0.0004 } }), 0.00042);
    assert.equal(costOf('usage', { ...chat, cost: 3 }), 3);
    assert.ok(Object.is(costOf('usage', { ...chat, cost: 0 }), 0), 'a free response costs 0, not null');
    assert.ok(Object.is(costOf('usage', { ...chat, cost: -0 }), 0), '-0 is 0');
  });

  test('a cost that is not a non-negative finite number is absent', () => {
    for (const bad of ['0.1', -0.01, -1, JSON.parse('1e400') as number, null, true, {}, [0.1]]) {
      assert.equal(costOf('usage', { ...chat, cost: bad }), null, JSON.stringify(bad) ?? String(bad));
    }
    assert.equal(costOf('usage', { ...chat }), null, 'no cost field');
    assert.equal(createUsageAccumulator().cost(), null, 'nothing seen');
  });

  test('the last valid cost wins; a later invalid one keeps it', () => {
    assert.equal(costOf('usage', { ...chat, cost: 0.1 }, { ...chat, cost: 0.2 }), 0.2);
    assert.equal(costOf('usage', { ...chat, cost: 0.1 }, { ...chat, cost: 'x' }), 0.1);
    assert.equal(costOf('usage', { ...chat, cost: 0.1 }, { ...chat }), 0.1);
    assert.equal(costOf('usage', { ...chat, cost: -5 }, { ...chat, cost: 0.3 }), 0.3);
  });

  test('a cost of a whole OpenRouter stream comes from its final usage chunk', () => {
    const body =
      'data: {"id":"gen-1","model":"anthropic/claude-3.5-sonnet","choices":[{"delta":{"content":"Hi"}}]}\n\n' +
      ': OPENROUTER PROCESSING\n\n' +
      'data: {"id":"gen-1","model":"anthropic/claude-3.5-sonnet","choices":[],"usage":{"prompt_tokens":14,"completion_tokens":3,"total_tokens":17,"cost":0.000087,"is_byok":false}}\n\n' +
      'data: [DONE]\n\n';
    const acc = createUsageAccumulator();
    for (const [path, value] of pairsOfBody('text/event-stream', body)) acc.add(path, value);
    assert.equal(acc.cost(), 0.000087);
    assert.deepEqual(acc.usage(), full({ prompt_tokens: 14, completion_tokens: 3, total_tokens: 17 }));
  });
});
