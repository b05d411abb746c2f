import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createJsonSniffer, DEFAULT_MAX_VALUE_BYTES, MAX_JSON_DEPTH, type SniffEnd } from '../../src/usage/json-sniffer.ts';
import { USAGE_CAPTURE_PATHS } from '../../src/usage/usage.ts';
import { embeddingsBody, longContentBody } from '../../scripts/bench/json-sniffer.ts';
import { USAGE_FIXTURES } from '../fixtures/usage/index.ts';
import { expectedReports, randomInput } from '../helpers/random-json.ts';
import { prng } from '../helpers/prng.ts';
import { cutAt, cutRandomly } from '../helpers/sse-streams.ts';

type Report = [string, unknown];

interface Outcome {
  readonly reports: Report[];
  readonly end: SniffEnd;
  readonly failed: boolean;
}

interface SniffOptions {
  readonly capture?: readonly string[];
  readonly maxValueBytes?: number;
}

function sniff(chunks: readonly Uint8Array[], options: SniffOptions = {}): Outcome {
  const reports: Report[] = [];
  const sniffer = createJsonSniffer({
    capture: options.capture ?? USAGE_CAPTURE_PATHS,
    maxValueBytes: options.maxValueBytes,
    onValue: (path, value) => reports.push([path, value]),
  });
  for (const chunk of chunks) sniffer.feed(chunk);
  const end = sniffer.end();
  return { reports, end, failed: sniffer.failed };
}

/** Each string is one chunk (strings are UTF-8; a number[] is raw bytes). */
function sniffText(...chunks: (string | number[])[]): Outcome {
  return sniff(chunks.map((chunk) => (typeof chunk === 'string' ? Buffer.from(chunk) : new Uint8Array(chunk))));
}

/** Chunks as plain Uint8Arrays (copies), as a caller that is not Node's stream machinery might pass. */
function plain(chunks: readonly Uint8Array[]): Uint8Array[] {
  return chunks.map((chunk) => new Uint8Array(chunk));
}

/** An outcome as text, -0 kept apart from 0: comparing these is much cheaper than a deep comparison. */
function fingerprint(outcome: Outcome): string {
  return JSON.stringify(outcome, (_key, value: unknown) => (Object.is(value, -0) ? '-0' : value));
}

/**
 * The property every test below leans on: the same reports, end() and `failed` whether the input is fed
 * whole, cut at every position (at `maxCuts` spread positions for longer inputs), at every pair of
 * positions (tiny inputs), byte by byte, or at seeded random positions (half of them as plain Uint8Arrays).
 */
function assertSameWhateverTheCuts(input: Uint8Array, options: SniffOptions, seed: number, label: string, maxCuts = 1500): Outcome {
  const whole = sniff([input], options);
  const expected = fingerprint(whole);
  const check = (chunks: Uint8Array[], how: string): void => {
    const result = sniff(chunks, options);
    if (fingerprint(result) !== expected) assert.deepStrictEqual(result, whole, `${label}: ${how}`);
  };
  const n = input.length;
  const step = Math.max(1, Math.floor(n / maxCuts));
  for (let p = 0; p <= n; p += step) check(cutAt(input, [p]), `cut at ${p}`);
  if (n <= 48) {
    for (let p = 0; p <= n; p++) for (let q = p; q <= n; q++) check(cutAt(input, [p, q]), `cut at ${p} and ${q}`);
  }
  const rand = prng(seed);
  for (let run = 0; run < 8; run++) {
    const chunks = cutRandomly(input, rand, 1 + Math.floor(rand() * Math.min(n, 200)));
    check(run % 2 === 0 ? chunks : plain(chunks), `random cuts, seed ${seed} run ${run}`);
  }
  check(cutAt(input, Array.from({ length: n }, (_, i) => i)), 'byte by byte');
  return whole;
}

function ok(...reports: Report[]): Outcome {
  return { reports, end: 'ok', failed: false };
}

describe('capture paths', () => {
  test('captures top-level usage and model of a chat completion, not the usage-looking key in its choices', () => {
    const body =
      '{"id":"chatcmpl-1","object":"chat.completion","created":1755137921,"model":"gpt-4o","choices":[{"index":0,' +
      '"message":{"role":"assistant","content":"hi","usage":{"fake":1}},"finish_reason":"stop"}],' +
      '"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0}}}';
    assert.deepStrictEqual(
      sniffText(body),
      ok(['model', 'gpt-4o'], ['usage', { prompt_tokens: 19, completion_tokens: 10, total_tokens: 29, prompt_tokens_details: { cached_tokens: 0 } }]),
    );
  });

  test("captures message.usage and message.model of Anthropic's message_start, and usage of message_delta", () => {
    const start = '{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4","content":[],"stop_reason":null,"usage":{"input_tokens":18,"output_tokens":1}}       }';
    const delta = '{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":240}     }';
    assert.deepStrictEqual(sniffText(start), ok(['message.model', 'claude-sonnet-4'], ['message.usage', { input_tokens: 18, output_tokens: 1 }]));
    assert.deepStrictEqual(sniffText(delta), ok(['usage', { output_tokens: 240 }]));
  });

  test('captures response.usage and response.model of a Responses API event, not usage-like text in its output', () => {
    const event =
      '{"type":"response.completed","response":{"id":"resp_1","object":"response","status":"completed","model":"o4-mini",' +
      '"output":[{"type":"message","content":[{"type":"output_text","text":"\\"usage\\":{\\"input_tokens\\":1}"}]}],' +
      '"usage":{"input_tokens":37,"output_tokens":120,"total_tokens":157}},"sequence_number":24}';
    assert.deepStrictEqual(sniffText(event), ok(['response.model', 'o4-mini'], ['response.usage', { input_tokens: 37, output_tokens: 120, total_tokens: 157 }]));
  });

  test("captures usageMetadata in every element of Gemini's JSON-array stream", () => {
    const body =
      '[{"candidates":[{"content":{"parts":[{"text":"A"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":8,"totalTokenCount":12},"modelVersion":"gemini-2.0-flash"}\r\n' +
      ',\r\n{"candidates":[{"content":{"parts":[{"text":"B"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":8,"totalTokenCount":35}}\r\n]';
    assert.deepStrictEqual(
      sniffText(body),
      ok(
        ['usageMetadata', { promptTokenCount: 8, totalTokenCount: 12 }],
        ['modelVersion', 'gemini-2.0-flash'],
        ['usageMetadata', { promptTokenCount: 8, totalTokenCount: 35 }],
      ),
    );
  });

  test('captures prompt_eval_count and eval_count on the last line of an Ollama NDJSON stream', () => {
    const body =
      '{"model":"llama3.2","message":{"role":"assistant","content":"The"},"done":false}\n' +
      '{"model":"llama3.2","message":{"role":"assistant","content":""},"done":true,"prompt_eval_count":26,"prompt_eval_duration":130,"eval_count":9}\n';
    assert.deepStrictEqual(
      sniffText(body),
      ok(['model', 'llama3.2'], ['model', 'llama3.2'], ['prompt_eval_count', 26], ['eval_count', 9]),
    );
  });

  test('captures model and usage after the data array of an embeddings response', () => {
    const body =
      '{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.0023064255,-0.009327292,1e-7]},' +
      '{"object":"embedding","index":1,"embedding":"AAAAAAAAgD8="}],"model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}}';
    assert.deepStrictEqual(sniffText(body), ok(['model', 'text-embedding-3-small'], ['usage', { prompt_tokens: 8, total_tokens: 8 }]));
  });

  test('captures values of every JSON type', () => {
    const body = '{"a":"s","b":-1.5e+2,"c":true,"d":false,"e":null,"f":[1,{"g":[]}],"h":{}}';
    assert.deepStrictEqual(sniff([Buffer.from(body)], { capture: ['a', 'b', 'c', 'd', 'e', 'f', 'h'] }), ok(
      ['a', 's'], ['b', -150], ['c', true], ['d', false], ['e', null], ['f', [1, { g: [] }]], ['h', {}],
    ));
  });

  test('never captures a usage key off the configured paths', () => {
    const bodies = [
      '{"choices":[{"message":{"usage":{"prompt_tokens":1}}}]}', // in an array
      '{"meta":{"usage":1},"message":{"meta":{"usage":2}}}', // in an object that is not on a path
      '{"response":{"message":{"usage":1}}}', // response.message.usage is no path
      '[[{"usage":1}]]', // only the top-level array's own elements are roots
      '[{"data":[{"usage":1}]}]',
      '{"choices":[{"message":{"tool_calls":[{"function":{"arguments":"{\\"usage\\":{\\"prompt_tokens\\":1}}"}}]}}]}',
      '{"type":"usage","kind":["usage"],"note":"\\"usage\\": {\\"a\\":1}"}', // "usage" as a string value
      '{"Usage":1,"usage ":2,"usag":3,"usage\\u0000":4}', // near misses
    ];
    for (const body of bodies) assert.deepStrictEqual(sniffText(body), ok(), body);
  });

  test('reports a captured object whole, without reporting a key path inside it again', () => {
    assert.deepStrictEqual(sniffText('{"usage":{"usage":{"usage":1}}}'), ok(['usage', { usage: { usage: 1 } }]));
  });

  test('reports a path nested in another captured path first, then the outer value', () => {
    const result = sniff([Buffer.from('{"message":{"usage":{"a":1},"id":"x"}}')], { capture: ['message', 'message.usage'] });
    assert.deepStrictEqual(result, ok(['message.usage', { a: 1 }], ['message', { usage: { a: 1 }, id: 'x' }]));
  });

  test('reports each occurrence of a duplicate key, in order', () => {
    assert.deepStrictEqual(sniffText('{"usage":{"a":1},"x":0,"usage":{"a":2}}'), ok(['usage', { a: 1 }], ['usage', { a: 2 }]));
  });

  test('matches keys by their decoded text, whatever escapes spell them', () => {
    assert.deepStrictEqual(sniffText('{"us\\u0061ge":1}'), ok(['usage', 1]));
    assert.deepStrictEqual(sniffText('{"\\u0075\\u0073\\u0061\\u0067\\u0065":2}'), ok(['usage', 2]));
    assert.deepStrictEqual(sniffText('{"message":{"\\u0075sage":3}}'), ok(['message.usage', 3]));
    const everyByteEscaped = [...'prompt_eval_count'].map((ch) => '\\u00' + ch.charCodeAt(0).toString(16)).join('');
    assert.deepStrictEqual(sniffText(`{"${everyByteEscaped}":4}`), ok(['prompt_eval_count', 4]));
    const capture = ['ключ.😀', 'a"b', 'c\\d', 'e/f'];
    const keys = '{"\\u043a\\u043bюч":{"\\ud83d\\ude00":1},"ключ":{"😀":2},"a\\"b":3,"a\\u0022b":4,"c\\\\d":5,"e\\/f":6}';
    assert.deepStrictEqual(sniff([Buffer.from(keys)], { capture }), ok(['ключ.😀', 1], ['ключ.😀', 2], ['a"b', 3], ['a"b', 4], ['c\\d', 5], ['e/f', 6]));
  });

  test('skips a key too long to match any path, even when it is written with escapes', () => {
    const longKey = '\\u0075'.repeat(500);
    assert.deepStrictEqual(sniffText(`{"${longKey}":1,"${'u'.repeat(10_000)}":2,"usage":3}`), ok(['usage', 3]));
  });

  test('does not mistake a string that looks like a key for one', () => {
    assert.deepStrictEqual(sniffText('{"text":"\\"usage\\": {\\"prompt_tokens\\": 1}","usage":2}'), ok(['usage', 2]));
    assert.deepStrictEqual(sniffText('{"text":"\\\\","usage":2}'), ok(['usage', 2]));
  });

  test('reports a value as soon as its last byte arrives, before the rest of the input', () => {
    const reports: Report[] = [];
    const sniffer = createJsonSniffer({ capture: ['usage', 'eval_count'], onValue: (path, value) => reports.push([path, value]) });
    sniffer.feed(Buffer.from('{"usage":{"a":1}'));
    assert.deepStrictEqual(reports, [['usage', { a: 1 }]]);
    sniffer.feed(Buffer.from(',"eval_count":18'));
    assert.equal(reports.length, 1, 'a number is complete only once the byte after it is seen');
    sniffer.feed(Buffer.from(' '));
    assert.deepStrictEqual(reports, [['usage', { a: 1 }], ['eval_count', 18]]);
    sniffer.feed(Buffer.from(',"x":[1,'));
    assert.equal(sniffer.end(), 'truncated');
    assert.equal(reports.length, 2);
  });

  test('refuses a capture path with an empty key', () => {
    assert.throws(() => createJsonSniffer({ capture: ['a..b'], onValue() {} }), RangeError);
    assert.throws(() => createJsonSniffer({ capture: [''], onValue() {} }), RangeError);
  });
});

describe('end()', () => {
  const cases: Record<SniffEnd, string[]> = {
    ok: [
      '{}', '[]', '1', '-0.5e+3', '"s"', 'true', 'null', ' {} ', '{}{}', '[] "a" {}', '1 2', '1\n', 'true\r\nfalse',
      '\ufeff{}', '\ufeff 1', '{"a":"\\ud800"}', '"\\udc00\\ud800\\uDBFF"', '\t{\r\n"usage"\t:\n{ "a" : [ 1 , 2 ] }\r}\n',
      '[{"a":[{}]}]',
    ],
    empty: ['', '   \n\t\r', '\ufeff', '\ufeff  '],
    truncated: [
      '{', '[', '{"a"', '{"a":', '{"a":1', '"abc', '"ab\\', '"\\u12', 'tru', 'f', '-', '1.', '1e', '1e+', '[1,', '{"a":{"b":[',
      '{"data":[1,2,{"x":"]', '{"a":[1,"\\', '{"usage":{"a":1}', '\ufeff[',
    ],
    malformed: [
      '<html><body>502 Bad Gateway</body></html>', '{"a":}', '[}', '{]', ']', '}', '{"a":1}}', '{"a":1} x', '{"a":1}]', '1true',
      'truefalse', '01', '-a', '1.e5', '.5', '+1', '1e}', 'NaN', 'Infinity', '{"a" 1}', '{a:1}', "{'a':1}", '{"a":1,}', '[1,]',
      '[,1]', '[1 2]', '{"a":1 "b":2}', '{"a":tru}', '{"a":nul}', '{"a":True}', '"\\x"', '"\\u12G4"', '{"a":"\\a"}',
      '"a\u0001b"', '{"usage":{"a" 1}}', '{"usage":[1,]}', '{"data":[1,2}', '{"x":[{]}', '{}\ufeff{}', '\ufeff\ufeff{}', 'data: {}',
      '{"a":1}\n{"b":}', '{"a":"\\uD800"}x', '{"a":[1 2 x]}', '{"a":["\\x"]}',
    ],
  };
  for (const [expected, inputs] of Object.entries(cases)) {
    test(`is '${expected}' for ${inputs.length} inputs of that kind`, () => {
      for (const input of inputs) {
        const result = sniff([Buffer.from(input)], { capture: ['usage'] });
        assert.equal(result.end, expected, JSON.stringify(input));
        assert.equal(result.failed, expected === 'malformed', JSON.stringify(input));
      }
    });
  }

  test('is truncated for a BOM cut short and malformed for a broken one', () => {
    assert.equal(sniffText([0xef]).end, 'truncated');
    assert.equal(sniffText([0xef, 0xbb]).end, 'truncated');
    assert.equal(sniffText([0xef, 0xbb, 0x7b]).end, 'malformed');
  });

  test('judges content below the capture levels as fully as the rest: numbers, literals, commas and colons too', () => {
    assert.deepStrictEqual(sniffText('{"data":[1 2 x, tru],"usage":1}'), { reports: [], end: 'malformed', failed: true });
    assert.deepStrictEqual(sniffText('{"data":[1,2}').end, 'malformed');
    // A captured value is parsed whole, so a grammar error inside it is still found.
    assert.equal(sniffText('{"usage":{"a":[1 2]}}').end, 'malformed');
  });

  test('keeps what was reported before the input turned out malformed, and reports nothing after', () => {
    const reports: Report[] = [];
    const sniffer = createJsonSniffer({ capture: ['usage'], onValue: (path, value) => reports.push([path, value]) });
    sniffer.feed(Buffer.from('{"usage":1}\n{"a":}\n{"usage":2}\n'));
    assert.equal(sniffer.failed, true);
    sniffer.feed(Buffer.from('{"usage":3}'));
    assert.deepStrictEqual(reports, [['usage', 1]]);
    assert.equal(sniffer.end(), 'malformed');
  });

  test('gives the same answer when called again, and ignores input fed after it', () => {
    const reports: Report[] = [];
    const sniffer = createJsonSniffer({ capture: ['usage'], onValue: (path, value) => reports.push([path, value]) });
    sniffer.feed(Buffer.from('{"usage":1'));
    assert.equal(sniffer.end(), 'truncated');
    sniffer.feed(Buffer.from('}'));
    assert.equal(sniffer.end(), 'truncated');
    assert.deepStrictEqual(reports, []);
  });

  test('reset() makes a used sniffer (failed, or in the middle of a capture) as good as new', () => {
    const reports: Report[] = [];
    const sniffer = createJsonSniffer({ capture: ['usage'], onValue: (path, value) => reports.push([path, value]) });
    sniffer.feed(Buffer.from('<html>'));
    sniffer.reset();
    assert.equal(sniffer.failed, false);
    sniffer.feed(Buffer.from('{"usage":{"a":"' + 'x'.repeat(100)));
    sniffer.feed(Buffer.from('y'));
    sniffer.reset();
    sniffer.feed(Buffer.from('{"usage":{"b":2}}'));
    assert.equal(sniffer.end(), 'ok');
    sniffer.reset();
    sniffer.feed(Buffer.from('{"data":["ab\\')); // stopped just after a backslash in a skipped string
    sniffer.reset();
    sniffer.feed(Buffer.from('{"data":["",[]],"usage":3}'));
    assert.equal(sniffer.end(), 'ok');
    assert.deepStrictEqual(reports, [['usage', { b: 2 }], ['usage', 3]]);
    sniffer.reset();
    assert.equal(sniffer.end(), 'empty');
  });
});

describe('chunk boundaries', () => {
  test('reads a number fed one byte at a time', () => {
    const input = '{"eval_count":12345,"prompt_eval_count":-0.25e-2}';
    assert.deepStrictEqual(sniffText(...input.split('')), ok(['eval_count', 12345], ['prompt_eval_count', -0.0025]));
  });

  test('a backslash ending a chunk escapes the first byte of the next, in skipped strings, tracked strings and keys', () => {
    const input = '{"choices":[{"t":"a\\"b\\\\"}],"x":"c\\"d\\\\","us\\u0061ge":"\\"\\\\\\u0022"}';
    const positions = [...input].flatMap((ch, i) => (ch === '\\' ? [i + 1] : []));
    for (const p of positions) {
      assert.deepStrictEqual(sniffText(input.slice(0, p), input.slice(p)), ok(['usage', '"\\"']), `cut at ${p}`);
    }
  });

  test('reads multibyte UTF-8 in a captured value cut between its bytes', () => {
    const input = Buffer.from('{"model":"模型😀é"}');
    for (let p = 0; p <= input.length; p++) assert.deepStrictEqual(sniff(cutAt(input, [p])), ok(['model', '模型😀é']), `cut at ${p}`);
  });
});

describe('limits', () => {
  test(`abandons a captured value longer than maxValueBytes (default ${DEFAULT_MAX_VALUE_BYTES}), and goes on`, () => {
    const value = '{"a":"' + 'x'.repeat(40) + '"}';
    const body = Buffer.from(`{"usage":${value},"model":"m"}`);
    for (let p = 0; p <= body.length; p++) {
      const chunks = cutAt(body, [p]);
      assert.deepStrictEqual(sniff(chunks, { maxValueBytes: value.length }), ok(['usage', JSON.parse(value)], ['model', 'm']));
      assert.deepStrictEqual(sniff(chunks, { maxValueBytes: value.length - 1 }), ok(['model', 'm']), `cut at ${p}`);
    }
    const big = `{"usage":{"a":"${'x'.repeat(DEFAULT_MAX_VALUE_BYTES)}"},"eval_count":1}`;
    assert.deepStrictEqual(sniff(cutRandomly(Buffer.from(big), prng(1), 9)), ok(['eval_count', 1]));
  });

  test('still reports a small path inside an abandoned larger one', () => {
    const body = Buffer.from(`{"message":{"usage":{"a":1},"content":"${'x'.repeat(100)}","model":"m"}}`);
    for (let p = 0; p <= body.length; p++) {
      const result = sniff(cutAt(body, [p]), { capture: ['message', 'message.usage', 'message.model'], maxValueBytes: 40 });
      assert.deepStrictEqual(result, ok(['message.usage', { a: 1 }], ['message.model', 'm']), `cut at ${p}`);
    }
  });

  test(`accepts ${MAX_JSON_DEPTH} levels of nesting and treats one more as malformed`, () => {
    const nest = (levels: number, inner = ''): string => '['.repeat(levels) + inner + ']'.repeat(levels);
    assert.equal(sniffText(nest(MAX_JSON_DEPTH)).end, 'ok');
    assert.equal(sniffText(nest(MAX_JSON_DEPTH + 1)).end, 'malformed');
    assert.equal(sniffText('['.repeat(MAX_JSON_DEPTH + 1)).end, 'malformed');
    assert.equal(sniffText('['.repeat(MAX_JSON_DEPTH)).end, 'truncated');
    const objects = (levels: number): string => '{"a":'.repeat(levels - 1) + '{}' + '}'.repeat(levels - 1);
    assert.equal(sniffText(objects(MAX_JSON_DEPTH)).end, 'ok');
    assert.equal(sniffText(objects(MAX_JSON_DEPTH + 1)).end, 'malformed');
    // The levels above a captured value count too, and the value comes out whole.
    const deepUsage = `{"usage":${nest(MAX_JSON_DEPTH - 1, '7')}}`;
    const result = sniff([Buffer.from(deepUsage)], { maxValueBytes: Infinity });
    assert.equal(result.end, 'ok');
    assert.deepStrictEqual(result.reports, [['usage', JSON.parse(nest(MAX_JSON_DEPTH - 1, '7'))]]);
    assert.equal(sniffText(`{"usage":${nest(MAX_JSON_DEPTH, '7')}}`).end, 'malformed');
    // The cap holds where every level is on a capture path, too.
    const capture = [Array.from({ length: MAX_JSON_DEPTH + 1 }, () => 'a').join('.')];
    assert.deepStrictEqual(sniff([Buffer.from(objects(MAX_JSON_DEPTH))], { capture }), ok());
    assert.equal(sniff([Buffer.from(objects(MAX_JSON_DEPTH + 1))], { capture }).end, 'malformed');
  });
});

/** The JSON documents of an SSE body: each event's data (enough of the SSE rules for these fixtures). */
function sseData(body: string): string[] {
  return body.split(/\r?\n\r?\n/).flatMap((event) => {
    const data = event.split(/\r?\n/).filter((line) => line.startsWith('data:')).map((line) => line.slice(line.startsWith('data: ') ? 6 : 5));
    return data.length === 0 ? [] : [data.join('\n')];
  });
}

describe('property: the cuts never change what is reported', () => {
  const options = { capture: USAGE_CAPTURE_PATHS, maxValueBytes: Infinity };

  for (const fixture of USAGE_FIXTURES) {
    test(`recorded body ${fixture.name}`, () => {
      const documents = fixture.contentType.startsWith('text/event-stream') ? sseData(fixture.body) : [fixture.body];
      documents.forEach((document, index) => {
        const result = assertSameWhateverTheCuts(Buffer.from(document), options, index + 1, `${fixture.name} #${index}`);
        let values: unknown[];
        try {
          values = fixture.contentType.includes('ndjson')
            ? document.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as unknown)
            : [JSON.parse(document)];
        } catch {
          assert.deepStrictEqual(result, { reports: [], end: 'malformed', failed: true }, `${fixture.name} #${index} is not JSON`);
          return;
        }
        assert.deepStrictEqual(result, ok(...expectedReports(values, USAGE_CAPTURE_PATHS)), `${fixture.name} #${index}`);
      });
    });
  }

  test('synthetic embeddings (float and base64) and long escaped content', () => {
    const bodies = [embeddingsBody(0.02, 'float'), embeddingsBody(0.02, 'base64'), longContentBody(0.02)];
    bodies.forEach((body, index) => {
      const result = assertSameWhateverTheCuts(body, options, 100 + index, `synthetic body ${index}`);
      assert.deepStrictEqual(result, ok(...expectedReports([JSON.parse(body.toString())], USAGE_CAPTURE_PATHS)));
    });
  });

  test('300 random inputs: reports match JSON.parse of the whole input, walked by path', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const input = randomInput(prng(seed));
      const result = assertSameWhateverTheCuts(Buffer.from(input.text), options, seed, `random input ${seed}`, 400);
      assert.deepStrictEqual(result, ok(...expectedReports(input.values, USAGE_CAPTURE_PATHS)), `random input ${seed}`);
    }
  });

  test('300 random inputs damaged at random (truncated, bytes changed, dropped or added): never throws, cuts agree', () => {
    const damage = ['{', '}', '[', ']', '"', '\\', ',', ':', ' ', 'x', '0', '-', 'e', '\u0001', 'u'];
    for (let seed = 1; seed <= 300; seed++) {
      const rand = prng(seed * 7919);
      let text = randomInput(rand).text;
      for (let edits = 1 + Math.floor(rand() * 3); edits > 0; edits--) {
        const at = Math.floor(rand() * (text.length + 1));
        const roll = rand();
        if (roll < 0.25) text = text.slice(0, at);
        else if (roll < 0.5) text = text.slice(0, at) + text.slice(at + 1);
        else text = text.slice(0, at) + (damage[Math.floor(rand() * damage.length)] as string) + text.slice(roll < 0.75 ? at : at + 1);
      }
      const result = assertSameWhateverTheCuts(Buffer.from(text), options, seed, `damaged input ${seed}: ${JSON.stringify(text)}`, 400);
      if (result.end === 'ok') assert.ok(!result.failed);
    }
  });
});

describe('fuzz findings (scripts/fuzz, issue 17): every byte below the paths is judged', () => {
  // Minimised inputs of the json-sniffer fuzz target (seed 1): the skipper checked only strings and
  // brackets, so bytes after the usage object were never judged and a malformed body ended 'ok'
  // (SPEC §8: it must end complete=false end=malformed).
  const malformed: [string, string][] = [
    ['{"usage":{"prompt_tokens":1},"x":[1,,2]}', 'an empty array element after the usage object'],
    ['{"usage":{"prompt_tokens":1},"x":[1 2]}', 'two numbers without a comma'],
    ['{"usage":{"prompt_tokens":1},"x":{"a" 1}}', 'a member without a colon'],
    ['{"usage":{"prompt_tokens":1},"x":{"a":1,}}', 'a trailing comma'],
    ['{"usage":{"prompt_tokens":1},"x":[01]}', 'a leading zero'],
    ['{"usage":{"prompt_tokens":1},"x":[1.]}', 'a fraction without digits'],
    ['{"usage":{"prompt_tokens":1},"x":[-]}', 'a lone minus'],
    ['{"usage":{"prompt_tokens":1},"x":[tru]}', 'a broken literal'],
    ['{"usage":{"prompt_tokens":1},"x":{1:2}}', 'a key that is not a string'],
    ['{"usage":{"prompt_tokens":1},"x":["a\tb"]}', 'a raw control character in a string'],
    ['{"usage":{"prompt_tokens":1},"x":["\\x"]}', 'an unknown escape'],
    ['{"usage":{"prompt_tokens":1},"x":["\\u12g4"]}', 'a bad \\u escape'],
    ['{"usage":{"prompt_tokens":1},"x":[1e]}', 'an exponent without digits'],
    ['{"":{""{""}},"prompt_eval_count":1}', 'a key followed by a value where the colon belongs (nothing is reported after it)'],
  ];
  for (const [body, what] of malformed) {
    test(`is malformed for ${what}, wherever the chunks are cut`, () => {
      const result = assertSameWhateverTheCuts(Buffer.from(body), { capture: USAGE_CAPTURE_PATHS }, 17, body);
      assert.equal(result.end, 'malformed', body);
      assert.ok(result.reports.every(([path]) => path === 'usage'), `${body}: ${JSON.stringify(result.reports)}`);
    });
  }

  test('is malformed, not truncated, for garbage in a skipped container that the input then cuts short', () => {
    assert.equal(sniffText('{"":"","":{l').end, 'malformed');
    assert.equal(sniffText('{"":"","":{').end, 'truncated');
  });

  test('judges a captured value abandoned for its size as fully as one it reports', () => {
    // maxValueBytes 8: the usage object is abandoned (never JSON.parse'd), yet its bytes are still judged.
    assert.equal(sniff([Buffer.from('{"usage":{"a":[1,,2]}}')], { maxValueBytes: 8 }).end, 'malformed');
    assert.deepStrictEqual(sniff([Buffer.from('{"usage":{"a":[1,2]},"model":"m"}')], { maxValueBytes: 8 }), ok(['model', 'm']));
  });

  test('still skips valid content of every kind: long strings, escapes cut anywhere, numbers of every shape', () => {
    const body =
      `{"data":[{"e":[0.1,-2,3e5,-0.0e-0,1E+2, 7 ,8\n]},"${'A'.repeat(300)}\\n\\u00e9\\"",true,false,null,{},[],` +
      `{"k\\u0022":[[1],[2.5]]}],"usage":{"total_tokens":3}}`;
    const result = assertSameWhateverTheCuts(Buffer.from(body), { capture: USAGE_CAPTURE_PATHS }, 18, 'valid skipped content');
    assert.deepStrictEqual(result, ok(['usage', { total_tokens: 3 }]));
  });
});
