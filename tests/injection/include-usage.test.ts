import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { injectIncludeUsage, isInjectionCandidate, MAX_INJECT_BODY_BYTES } from '../../src/injection/include-usage.ts';
import { pick, prng } from '../helpers/sse-streams.ts';
import { randomValue, writeString } from '../helpers/random-json.ts';

const NEW_MEMBER = ',"stream_options":{"include_usage":true}';

function inject(body: string | Buffer) {
  return injectIncludeUsage(typeof body === 'string' ? Buffer.from(body) : body);
}

/** The edited body, asserting it is the input with exactly `text` inserted at `at`. */
function assertInserted(input: string, at: number, text: string): string {
  const result = inject(input);
  assert.equal(result.injected, true, `expected an injection into ${input}`);
  if (!result.injected) throw new Error('unreachable');
  const expected = input.slice(0, at) + text + input.slice(at);
  assert.equal(result.body.toString('utf8'), expected);
  return expected;
}

function assertUntouched(body: string | Buffer, reason: string): void {
  const result = inject(body);
  assert.deepEqual(result, { injected: false, reason });
}

describe('isInjectionCandidate', () => {
  test('accepts a POST to a path ending in /chat/completions or /completions', () => {
    assert.equal(isInjectionCandidate('POST', '/v1/chat/completions'), true);
    assert.equal(isInjectionCandidate('POST', '/chat/completions'), true);
    assert.equal(isInjectionCandidate('POST', '/v1/completions'), true);
    assert.equal(isInjectionCandidate('POST', '/openai/deployments/gpt-4o/chat/completions'), true);
  });

  test('refuses other methods and other paths', () => {
    assert.equal(isInjectionCandidate('GET', '/v1/chat/completions'), false);
    assert.equal(isInjectionCandidate('PUT', '/v1/chat/completions'), false);
    assert.equal(isInjectionCandidate('POST', '/v1/embeddings'), false);
    assert.equal(isInjectionCandidate('POST', '/v1/responses'), false);
    assert.equal(isInjectionCandidate('POST', '/v1/chat/completions/'), false);
    assert.equal(isInjectionCandidate('POST', '/v1/chatcompletions'), false);
    assert.equal(isInjectionCandidate('POST', '/v1/chat/completions/abc'), false);
  });

  test('judges the path without a query string that slipped in', () => {
    assert.equal(isInjectionCandidate('POST', '/v1/chat/completions?api-version=2024-10-21'), true);
    assert.equal(isInjectionCandidate('POST', '/v1/x?next=/completions'), false);
  });
});

describe('injectIncludeUsage: where the text goes', () => {
  test('adds stream_options after the last member when there is none', () => {
    const input = '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}';
    const output = assertInserted(input, input.length - 1, NEW_MEMBER);
    assert.deepEqual(JSON.parse(output).stream_options, { include_usage: true });
  });

  test('adds include_usage inside an empty stream_options', () => {
    const input = '{"stream":true,"stream_options":{},"model":"m"}';
    assertInserted(input, input.indexOf('{}') + 1, '"include_usage":true');
  });

  test('adds include_usage inside an empty stream_options that holds whitespace', () => {
    const input = '{"stream":true,"stream_options":{ \n },"model":"m"}';
    const output = assertInserted(input, input.indexOf('{ \n') + 1, '"include_usage":true');
    assert.deepEqual(JSON.parse(output).stream_options, { include_usage: true });
  });

  test('adds include_usage after the last member of a non-empty stream_options', () => {
    const input = '{"stream_options":{"continuous_usage_stats":false, "x":[1,{"y":2}] },"stream":true}';
    const output = assertInserted(input, input.indexOf('}] }') + 2, ',"include_usage":true');
    assert.deepEqual(JSON.parse(output).stream_options, { continuous_usage_stats: false, x: [1, { y: 2 }], include_usage: true });
  });

  test('keeps big integers, key order, spacing and unicode escapes byte for byte', () => {
    const input =
      '{ "seed" : 12345678901234567890, "z":1, "a":2, "messages":[{"role":"user","content":"caf\\u00e9 \u00e9 \\ud83d\\ude00 \u{1F600}"}],' +
      ' "logit_bias":{"50256":-100}, "temperature":0.10000000000000001, "stream" : true , "n":1e2 }';
    const output = assertInserted(input, input.indexOf('1e2') + 3, NEW_MEMBER);
    assert.ok(output.includes('12345678901234567890'));
    assert.equal(JSON.parse(output).stream_options.include_usage, true);
  });

  test('edits a pretty-printed body without touching its layout', () => {
    const input = '{\n  "model": "gpt-4o",\n  "stream": true,\n  "messages": [\n    {"role": "user", "content": "hi"}\n  ]\n}\n';
    assertInserted(input, input.lastIndexOf(']') + 1, NEW_MEMBER);
  });

  test('edits a pretty-printed stream_options in place', () => {
    const input = '{\r\n\t"stream": true,\r\n\t"stream_options": {\r\n\t\t"foo": "bar"\r\n\t}\r\n}';
    const output = assertInserted(input, input.indexOf('"bar"') + 5, ',"include_usage":true');
    assert.deepEqual(JSON.parse(output).stream_options, { foo: 'bar', include_usage: true });
  });

  test('keeps a leading UTF-8 BOM and still edits the body', () => {
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(' {"stream":true}')]);
    const result = inject(body);
    assert.equal(result.injected, true);
    if (!result.injected) return;
    assert.deepEqual(result.body, Buffer.concat([body.subarray(0, body.length - 1), Buffer.from(NEW_MEMBER), Buffer.from('}')]));
  });

  test('keeps non-ASCII text byte for byte', () => {
    const input = '{"messages":[{"content":"日本語 \u{1F600} Ω"}],"stream":true}';
    const result = inject(input);
    assert.equal(result.injected, true);
    if (!result.injected) return;
    const inputBytes = Buffer.from(input);
    assert.deepEqual(result.body, Buffer.concat([inputBytes.subarray(0, inputBytes.length - 1), Buffer.from(NEW_MEMBER + '}')]));
  });
});

describe('injectIncludeUsage: what counts as streaming', () => {
  test('leaves a body with stream false, missing, null or the string "true" untouched', () => {
    assertUntouched('{"model":"m","stream":false}', 'not_streaming');
    assertUntouched('{"model":"m"}', 'not_streaming');
    assertUntouched('{}', 'not_streaming');
    assertUntouched('{"stream":null}', 'not_streaming');
    assertUntouched('{"stream":"true"}', 'not_streaming');
    assertUntouched('{"stream":1}', 'not_streaming');
  });

  test('does not count a "stream" nested inside messages or other members', () => {
    assertUntouched('{"messages":[{"stream":true}],"metadata":{"stream":true}}', 'not_streaming');
    assertUntouched('{"content":"\\"stream\\":true","x":"{\\"stream\\":true}"}', 'not_streaming');
  });

  test('reads duplicate keys as JSON.parse does: the last one wins', () => {
    assertUntouched('{"stream":true,"stream":false}', 'not_streaming');
    const input = '{"stream":false,"stream":true}';
    assertInserted(input, input.length - 1, NEW_MEMBER);
    const twice = '{"stream":true,"stream_options":null,"stream_options":{}}';
    const output = assertInserted(twice, twice.length - 2, '"include_usage":true');
    assert.deepEqual(JSON.parse(output).stream_options, { include_usage: true });
    assertUntouched('{"stream":true,"stream_options":{},"stream_options":null}', 'stream_options_not_object');
  });

  test('compares decoded keys, so escaped keys count', () => {
    const input = '{"str\\u0065am":true,"stream\\u005foptions":{"a":1}}';
    const output = assertInserted(input, input.length - 2, ',"include_usage":true');
    assert.deepEqual(JSON.parse(output).stream_options, { a: 1, include_usage: true });
    assertUntouched('{"stream":true,"stream_options":{"include\\u005fusage":false}}', 'include_usage_present');
  });
});

describe('injectIncludeUsage: the client\'s own include_usage', () => {
  test('leaves an explicit include_usage false or true alone', () => {
    assertUntouched('{"stream":true,"stream_options":{"include_usage":false}}', 'include_usage_present');
    assertUntouched('{"stream":true,"stream_options":{"include_usage":true}}', 'include_usage_present');
    assertUntouched('{"stream":true,"stream_options":{"x":1,"include_usage":null}}', 'include_usage_present');
    assertUntouched('{"stream":false,"stream_options":{"include_usage":true}}', 'not_streaming');
  });

  test('counts include_usage in an overridden, earlier stream_options as the client\'s word', () => {
    assertUntouched('{"stream":true,"stream_options":{"include_usage":false},"stream_options":{}}', 'include_usage_present');
  });

  test('counts a misplaced top-level include_usage as the client\'s word', () => {
    assertUntouched('{"stream":true,"include_usage":false}', 'include_usage_present');
    assertUntouched('{"include_usage":true,"stream":true,"stream_options":{}}', 'include_usage_present');
  });

  test('does not count include_usage written in message text or nested deeper', () => {
    const input = '{"messages":[{"role":"user","content":"set \\"include_usage\\": false please"}],"stream":true}';
    assertInserted(input, input.length - 1, NEW_MEMBER);
    const nested = '{"stream":true,"stream_options":{"extra":{"include_usage":false}}}';
    assertInserted(nested, nested.length - 2, ',"include_usage":true');
  });

  test('leaves a stream_options that is not an object alone', () => {
    assertUntouched('{"stream":true,"stream_options":null}', 'stream_options_not_object');
    assertUntouched('{"stream":true,"stream_options":[]}', 'stream_options_not_object');
    assertUntouched('{"stream":true,"stream_options":"include_usage"}', 'stream_options_not_object');
    assertUntouched('{"stream":true,"stream_options":true}', 'stream_options_not_object');
  });
});

describe('injectIncludeUsage: bodies that are not for editing', () => {
  test('leaves invalid JSON untouched', () => {
    assertUntouched('', 'not_json');
    assertUntouched('   ', 'not_json');
    assertUntouched('{"stream":true', 'not_json');
    assertUntouched('{"stream":true,}', 'not_json');
    assertUntouched('{"stream":true} {}', 'not_json');
    assertUntouched('{"stream":true,"x":tru}', 'not_json');
    assertUntouched('{"stream":true,"x":01}', 'not_json');
    assertUntouched('{"stream":true,"x":"a\nb"}', 'not_json');
    assertUntouched('{"stream":true,"x":[1,}', 'not_json');
    assertUntouched('{"stream":true,"stream_options":{"a" 1}}', 'not_json');
    assertUntouched("{'stream':true}", 'not_json');
    assertUntouched('{"stream":true,"x":"\\', 'not_json');
    assertUntouched('stream', 'not_json');
  });

  test('leaves JSON that is not an object untouched', () => {
    assertUntouched('[{"stream":true}]', 'not_object');
    assertUntouched('"stream"', 'not_object');
    assertUntouched(' 42 ', 'not_object');
    assertUntouched('null', 'not_object');
  });

  test('leaves a body that is not UTF-8 untouched', () => {
    const body = Buffer.concat([Buffer.from('{"stream":true,"content":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    assertUntouched(body, 'not_json');
    const truncated = Buffer.concat([Buffer.from('{"stream":true,"content":"'), Buffer.from('€').subarray(0, 2), Buffer.from('"}')]);
    assertUntouched(truncated, 'not_json');
  });

  test('leaves a body above 8 MiB untouched, and edits one just at the limit', () => {
    const head = '{"stream":true,"pad":"';
    const tail = '"}';
    const atLimit = Buffer.alloc(MAX_INJECT_BODY_BYTES, 0x61);
    atLimit.write(head, 0);
    atLimit.write(tail, atLimit.length - tail.length);
    assert.equal(inject(atLimit).injected, true);
    const over = Buffer.alloc(MAX_INJECT_BODY_BYTES + 1, 0x61);
    over.write(head, 0);
    over.write(tail, over.length - tail.length);
    assertUntouched(over, 'too_large');
  });

  test('never throws on deeply nested or hostile bodies', () => {
    const deep = '{"stream":true,"x":' + '['.repeat(100_000) + ']'.repeat(100_000) + '}';
    assert.equal(inject(deep).injected, true);
    assertUntouched('{"stream":true,"x":' + '['.repeat(100_000) + '}', 'not_json');
    assertUntouched('{"stream":true,"x":"' + '\\'.repeat(100_001) + '"}', 'not_json');
    assert.equal(inject('{"stream":true,"x":"' + '\\'.repeat(100_000) + '"}').injected, true);
  });
});

// ---- Property test: random bodies, judged against JSON.parse and byte-exact insertion.

interface Option {
  readonly text: string;
  readonly isObject: boolean;
  readonly mentionsIncludeUsage: boolean;
}

function randomOptions(rand: () => number): Option {
  const roll = rand();
  if (roll < 0.15) return { text: pick(rand, ['null', '[]', '"s"', 'true', '0']), isObject: false, mentionsIncludeUsage: false };
  const members: string[] = [];
  let mentions = false;
  for (let n = Math.floor(rand() * 3); n > 0; n--) {
    const key = pick(rand, ['include_usage', 'continuous_usage_stats', 'x', 'include_usag']);
    mentions ||= key === 'include_usage';
    members.push(writeString(rand, key) + pick(rand, ['', ' ']) + ':' + randomValue(rand, 2, { nodes: 3 }));
  }
  return { text: '{' + (members.length === 0 ? pick(rand, ['', ' ', '\n']) : members.join(',')) + '}', isObject: true, mentionsIncludeUsage: mentions };
}

function randomBody(rand: () => number): { text: string; expected: boolean } {
  const ws = () => pick(rand, ['', '', ' ', '\n  ', '\t', '\r\n']);
  const members: string[] = [];
  let lastStream: string | undefined;
  let lastOptions: Option | undefined;
  let anyMention = false;
  for (let n = 1 + Math.floor(rand() * 6); n > 0; n--) {
    const key = pick(rand, ['stream', 'stream', 'stream_options', 'model', 'messages', 'include_usage', 'streams']);
    let value: string;
    if (key === 'stream') {
      value = lastStream = pick(rand, ['true', 'true', 'false', '"true"', 'null']);
    } else if (key === 'stream_options') {
      lastOptions = randomOptions(rand);
      anyMention ||= lastOptions.mentionsIncludeUsage;
      value = lastOptions.text;
    } else {
      anyMention ||= key === 'include_usage'; // misplaced at the top, still the client's word
      value = rand() < 0.3 ? '{"stream":true,"stream_options":{"include_usage":false}}' : randomValue(rand, 1, { nodes: 8 });
    }
    members.push(ws() + writeString(rand, key) + ws() + ':' + ws() + value + ws());
  }
  const text = ws() + '{' + members.join(',') + '}' + ws();
  const expected = lastStream === 'true' && !anyMention && (lastOptions === undefined || lastOptions.isObject);
  return { text, expected };
}

test('random bodies: the edit matches JSON.parse semantics and inserts exactly one run of bytes', () => {
  const rand = prng(0x5eed);
  let injectedCount = 0;
  for (let n = 0; n < 5000; n++) {
    const { text, expected } = randomBody(rand);
    const result = inject(text);
    assert.equal(result.injected, expected, text);
    if (!result.injected) continue;
    injectedCount++;
    const output = result.body.toString('utf8');
    const parsed = JSON.parse(text);
    assert.deepEqual(JSON.parse(output), { ...parsed, stream_options: { ...(parsed.stream_options ?? {}), include_usage: true } }, text);
    // Exactly one run inserted: a common prefix and suffix cover the whole input.
    let prefix = 0;
    while (prefix < text.length && text[prefix] === output[prefix]) prefix++;
    const inserted = output.length - text.length;
    assert.equal(output.slice(prefix + inserted), text.slice(prefix), text);
    assert.ok([NEW_MEMBER, '"include_usage":true', ',"include_usage":true'].includes(output.slice(prefix, prefix + inserted)), text);
  }
  assert.ok(injectedCount > 500, `only ${injectedCount} bodies were edited; the generator needs tuning`);
});

test('random damage: a body JSON.parse refuses is never edited', () => {
  const rand = prng(0xbad);
  for (let n = 0; n < 5000; n++) {
    const { text } = randomBody(rand);
    const bytes = Buffer.from(text);
    const at = Math.floor(rand() * bytes.length);
    const damaged = pick(rand, [
      Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]), // a byte lost
      Buffer.concat([bytes.subarray(0, at), pick(rand, ['"', '\\', ',', '}', ']', '{', 'x', '\u0001', '\xff'].map((c) => Buffer.from(c, 'latin1'))), bytes.subarray(at)]), // a byte added
    ]);
    let valid = true;
    try {
      JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(damaged));
    } catch {
      valid = false;
    }
    if (!valid) assert.equal(inject(damaged).injected, false, damaged.toString('utf8'));
  }
});
