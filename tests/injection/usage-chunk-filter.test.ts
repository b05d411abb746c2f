import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createUsageChunkFilter, DEFAULT_MAX_EVENT_BYTES } from '../../src/injection/usage-chunk-filter.ts';
import { cutAt, cutRandomly, prng } from '../helpers/sse-streams.ts';

// ---- Fixtures, shaped like a recorded api.openai.com stream with include_usage on
// (research/anchors-gateways.md §2.2): every ordinary chunk carries "usage":null, then one
// usage-only chunk with "choices":[] before data: [DONE].

const BASE = { id: 'chatcmpl-C4Hq1', object: 'chat.completion.chunk', created: 1755137921, model: 'gpt-5-nano-2025-08-07', service_tier: 'default', system_fingerprint: null };
const USAGE = { prompt_tokens: 12, completion_tokens: 100, total_tokens: 112, prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 100, audio_tokens: 0 } };

function chunkJson(choices: unknown[], usage: unknown, withUsageKey = true): string {
  return JSON.stringify(withUsageKey ? { ...BASE, choices, usage, obfuscation: 'WuQNX' } : { ...BASE, choices, obfuscation: 'WuQNX' });
}

const ROLE = chunkJson([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, finish_reason: null }], null);
const HELLO = chunkJson([{ index: 0, delta: { content: 'Hello' }, finish_reason: null }], null);
const WORLD = chunkJson([{ index: 0, delta: { content: ' wörld \u{1F600}' }, finish_reason: null }], null);
const FINISH = chunkJson([{ index: 0, delta: {}, finish_reason: 'stop' }], null);
const USAGE_ONLY = chunkJson([], USAGE);

function sse(datas: readonly string[], eol = '\n'): string {
  return datas.map((d) => `data: ${d}${eol}${eol}`).join('');
}

const KEPT = [ROLE, HELLO, WORLD, FINISH];
const STREAM = sse([...KEPT, USAGE_ONLY, '[DONE]']);
const EXPECTED = sse([...KEPT, '[DONE]']);

/** Feeds the pieces, returns everything the filter let out (pushes and end), and the filter. */
function run(pieces: readonly Buffer[], maxEventBytes?: number) {
  const filter = createUsageChunkFilter(maxEventBytes === undefined ? undefined : { maxEventBytes });
  const out: Buffer[] = [];
  for (const piece of pieces) out.push(...filter.push(piece));
  out.push(...filter.end());
  return { output: Buffer.concat(out), filter };
}

function filtered(text: string, maxEventBytes?: number): string {
  return run([Buffer.from(text)], maxEventBytes).output.toString('utf8');
}

/** The stream cut before each of `positions`; Buffer#subarray keeps the pieces Buffers. */
function cut(buf: Buffer, positions: readonly number[]): Buffer[] {
  return cutAt(buf, positions) as Buffer[];
}

describe('removing the usage-only chunk', () => {
  test('removes exactly the usage-only event from a realistic OpenAI stream', () => {
    const { output, filter } = run([Buffer.from(STREAM)]);
    assert.equal(output.toString('utf8'), EXPECTED);
    assert.equal(filter.removedEvents, 1);
  });

  test('leaves the "usage":null on every ordinary chunk as it came', () => {
    const output = filtered(STREAM);
    assert.equal(output.split('"usage":null').length - 1, KEPT.length);
  });

  test('removes it from a stream whose ordinary chunks have no usage key', () => {
    const plain = [ROLE, HELLO, FINISH].map((d) => d.replace(',"usage":null', ''));
    assert.equal(filtered(sse([...plain, USAGE_ONLY, '[DONE]'])), sse([...plain, '[DONE]']));
  });

  test('removes the legacy completions usage chunk (usage before choices)', () => {
    const text = JSON.stringify({ id: 'cmpl-1', object: 'text_completion', created: 1, model: 'babbage-002', choices: [{ text: 'hi', index: 0, finish_reason: null }], usage: null });
    const usage = '{"id":"cmpl-1","object":"text_completion","created":1,"model":"babbage-002","usage":{"prompt_tokens":31,"completion_tokens":25,"total_tokens":56},"choices":[]}';
    assert.equal(filtered(sse([text, usage, '[DONE]'])), sse([text, '[DONE]']));
  });

  test('handles CRLF and CR line endings the same way', () => {
    for (const eol of ['\r\n', '\r']) {
      assert.equal(filtered(sse([...KEPT, USAGE_ONLY, '[DONE]'], eol)), sse([...KEPT, '[DONE]'], eol));
    }
  });

  test('reads the data as an EventSource would: no space after the colon, several data lines', () => {
    assert.equal(filtered(`data:${USAGE_ONLY}\n\ndata: [DONE]\n\n`), 'data: [DONE]\n\n');
    const split = 'data: {"choices":[],\ndata: "usage":{"total_tokens":3}}\n\n';
    assert.equal(filtered(split + 'data: [DONE]\n\n'), 'data: [DONE]\n\n');
  });

  test('removes the event whole: its comment lines and its blank line too, nothing around it', () => {
    const text = `: keep-alive\n\ndata: ${HELLO}\n\n: ping\ndata: ${USAGE_ONLY}\n\n\n: after\n\ndata: [DONE]\n\n`;
    assert.equal(filtered(text), `: keep-alive\n\ndata: ${HELLO}\n\n\n: after\n\ndata: [DONE]\n\n`);
  });
});

describe('what is never removed', () => {
  const keep = (name: string, data: string) =>
    test(`keeps ${name}`, () => {
      const text = sse([HELLO, data, '[DONE]']);
      const { output, filter } = run([Buffer.from(text)]);
      assert.equal(output.toString('utf8'), text);
      assert.equal(filter.removedEvents, 0);
    });
  keep('usage on a chunk whose choices are not empty (vLLM, llama.cpp)', chunkJson([{ index: 0, delta: {}, finish_reason: 'stop' }], USAGE));
  keep('an empty-choices chunk whose usage is null (Azure prompt_filter_results)', JSON.stringify({ choices: [], prompt_filter_results: [{ prompt_index: 0 }], usage: null }));
  keep('usage that is an array, a number or a string', JSON.stringify({ choices: [], usage: [1] }) + '\n\ndata: ' + JSON.stringify({ choices: [], usage: 5 }) + '\n\ndata: {"choices":[],"usage":"{}"}');
  keep('a usage-only shape without a choices key', JSON.stringify({ usage: USAGE }));
  keep('a chunk with choices that is an object', JSON.stringify({ choices: {}, usage: USAGE }));
  keep('usage and empty choices nested deeper than the top level', JSON.stringify({ data: { choices: [], usage: USAGE } }));
  keep('data that is not JSON but looks like the usage chunk', '{"choices":[],"usage":{"total_tokens":1}');
  keep('a JSON array holding the usage-only chunk', `[${USAGE_ONLY}]`);

  test('keeps an event that has no data field, only field names that start with "data"', () => {
    const text = `datax: ${USAGE_ONLY}\n\nevent: usage\nid: ${USAGE_ONLY}\n\n`;
    assert.equal(filtered(text), text);
  });

  test('forwards an unterminated last event as it came, usage-only or not', () => {
    const text = `data: ${HELLO}\n\ndata: ${USAGE_ONLY}\n`;
    assert.equal(filtered(text), text);
    assert.equal(filtered(`data: ${USAGE_ONLY}`), `data: ${USAGE_ONLY}`);
  });
});

describe('timing and memory', () => {
  test('forwards a complete event at once and holds back only the event in progress', () => {
    const filter = createUsageChunkFilter();
    const first = `data: ${HELLO}\n\n`;
    const partial = 'data: {"choi';
    const out1 = Buffer.concat(filter.push(Buffer.from(first + partial)));
    assert.equal(out1.toString('utf8'), first);
    const out2 = Buffer.concat(filter.push(Buffer.from(`ces":[],"x":1}\n`)));
    assert.equal(out2.length, 0);
    const out3 = Buffer.concat(filter.push(Buffer.from('\n')));
    assert.equal(out3.toString('utf8'), 'data: {"choices":[],"x":1}\n\n');
    assert.deepEqual(filter.end(), []);
  });

  test('forwards an event the moment its blank line ends in a CR, without waiting for a possible LF', () => {
    const filter = createUsageChunkFilter();
    assert.equal(Buffer.concat(filter.push(Buffer.from(`data: ${HELLO}\r\n\r`))).toString('utf8'), `data: ${HELLO}\r\n\r`);
    assert.equal(Buffer.concat(filter.push(Buffer.from(`\ndata: ${USAGE_ONLY}\r\n\r`))).toString('utf8'), '\n');
    assert.equal(Buffer.concat(filter.push(Buffer.from('\ndata: [DONE]\r\n\r\n'))).toString('utf8'), 'data: [DONE]\r\n\r\n');
    assert.equal(filter.removedEvents, 1);
  });

  test('reads a CR at the end of one chunk and an LF at the start of the next as one line end', () => {
    // eventsource-parser v3 saw two events in 'data: a\r' + '\ndata: b\r\n\r\n'; it is one.
    const { output } = run([Buffer.from('data: {"choices":[],\r'), Buffer.from('\ndata: "usage":{}}\r\n\r\n')]);
    assert.equal(output.length, 0);
  });

  test('forwards the input buffers themselves when nothing is removed (no copy)', () => {
    const filter = createUsageChunkFilter();
    const whole = Buffer.from(sse([ROLE, HELLO]));
    const out = filter.push(whole);
    assert.equal(out.length, 1);
    assert.equal(out[0], whole);
    const withTail = Buffer.from(sse([HELLO]) + 'data: {');
    const [head, ...rest] = filter.push(withTail);
    assert.equal(rest.length, 0);
    assert.ok(head !== undefined && head.buffer === withTail.buffer && head.byteOffset === withTail.byteOffset);
  });

  test('streams an event larger than maxEventBytes through as it arrives and never removes it', () => {
    const big = JSON.stringify({ choices: [], usage: { total_tokens: 1, pad: 'x'.repeat(200) } });
    const filter = createUsageChunkFilter({ maxEventBytes: 100 });
    const text = Buffer.from(`data: ${big}\n\n`);
    const first = filter.push(text.subarray(0, 150));
    assert.equal(Buffer.concat(first).length, 150, 'past the limit, the held bytes go out');
    const second = filter.push(text.subarray(150, 160));
    assert.equal(Buffer.concat(second).length, 10, 'and the rest streams as it comes');
    const rest = filter.push(text.subarray(160));
    assert.equal(Buffer.concat([...first, ...second, ...rest]).toString('utf8'), text.toString('utf8'));
    assert.equal(filter.removedEvents, 0);
    // After the oversized event, removal works again.
    assert.deepEqual(filter.push(Buffer.from('data: {"choices":[],"usage":{}}\n\n')), []);
    assert.equal(filter.removedEvents, 1);
  });

  test('defaults maxEventBytes to 1 MiB', () => {
    assert.equal(DEFAULT_MAX_EVENT_BYTES, 1024 * 1024);
    const atLimit = `data: {"choices":[],"usage":{},"p":"${'x'.repeat(DEFAULT_MAX_EVENT_BYTES - 40)}"}\n`;
    const padded = atLimit.replace('"p":"', '"p":"' + 'x'.repeat(DEFAULT_MAX_EVENT_BYTES - atLimit.length));
    assert.equal(Buffer.byteLength(padded), DEFAULT_MAX_EVENT_BYTES);
    assert.equal(filtered(padded + '\n'), '');
    const over = padded.replace('"p":"', '"p":"x');
    assert.equal(filtered(over + '\n'), over + '\n');
  });
});

describe('cut anywhere, same bytes out', () => {
  const small = sse([HELLO.slice(0, 40) + '"}', '{"choices":[],"usage":{"total_tokens":3}}', '[DONE]']);

  for (const [name, eol] of [['LF', '\n'], ['CRLF', '\r\n'], ['CR', '\r']] as const) {
    test(`gives the same output for every single and double cut of a small ${name} stream`, () => {
      const text = Buffer.from(small.replaceAll('\n', eol));
      const expected = run([text]).output;
      assert.equal(expected.toString('utf8'), sse([HELLO.slice(0, 40) + '"}', '[DONE]'], eol));
      for (let a = 0; a <= text.length; a++) {
        assert.deepEqual(run(cut(text, [a])).output, expected, `cut at ${a}`);
        for (let b = a; b <= text.length; b++) {
          const { output, filter } = run(cut(text, [a, b]));
          assert.deepEqual(output, expected, `cuts at ${a}, ${b}`);
          assert.equal(filter.removedEvents, 1);
        }
      }
    });
  }

  test('gives the same output for every cut when the usage event sits at the size limit', () => {
    const usage = '{"choices":[],"usage":{"total_tokens":3}}';
    const text = Buffer.from(sse([HELLO, usage, '[DONE]'], '\r\n'));
    const eventSize = Buffer.byteLength(`data: ${usage}\r\n`); // the bytes before its blank line
    for (const [max, removed] of [[eventSize, 1], [eventSize - 1, 0]] as const) {
      const expected = run([text], max);
      assert.equal(expected.filter.removedEvents, removed, `max ${max}`);
      for (let a = 0; a <= text.length; a++) {
        for (let b = a; b <= text.length; b += 7) {
          const { output, filter } = run(cut(text, [a, b]), max);
          assert.deepEqual(output, expected.output, `max ${max}, cuts at ${a}, ${b}`);
          assert.equal(filter.removedEvents, removed);
        }
      }
    }
  });

  test('gives the same output for random cuts of long mixed streams (seeded)', () => {
    const rand = prng(20240611);
    const eols = ['\n', '\r\n', '\r'];
    for (let round = 0; round < 300; round++) {
      const eol = eols[round % 3] as string;
      const events: string[] = [];
      const kept: string[] = [];
      for (let n = 0; n < 12; n++) {
        const r = rand();
        const event = r < 0.2 ? `data: ${USAGE_ONLY}${eol}` : r < 0.3 ? `: ping${eol}` : r < 0.4 ? `event: x${eol}data: [DONE]${eol}` : `data: ${[ROLE, HELLO, WORLD, FINISH][n % 4]}${eol}`;
        const blankLines = eol.repeat(1 + Math.floor(rand() * 2));
        events.push(event + blankLines);
        kept.push(r < 0.2 ? blankLines.slice(eol.length) : event + blankLines);
      }
      const text = Buffer.from(events.join(''));
      const expected = Buffer.from(kept.join(''));
      const pieces = cutRandomly(text, rand, Math.floor(rand() * 40)) as Buffer[];
      assert.deepEqual(run(pieces).output, expected, `round ${round}, pieces of ${pieces.map((p) => p.length).join(',')} bytes`);
    }
  });

  test('gives the same output when fed one byte at a time', () => {
    const text = Buffer.from(STREAM.replaceAll('\n', '\r\n'));
    const pieces = Array.from({ length: text.length }, (_, i) => text.subarray(i, i + 1));
    assert.equal(run(pieces).output.toString('utf8'), EXPECTED.replaceAll('\n', '\r\n'));
  });

  test('judges every event of a chunk, many without a bracket, and a buffer pushed twice alike', () => {
    const chunk = Buffer.from(`data: ${HELLO}\n\n` + ': ping\n\n'.repeat(50) + `data: ${USAGE_ONLY}\n\n` + ': ping\n\n'.repeat(50));
    const filter = createUsageChunkFilter();
    const once = Buffer.concat(filter.push(chunk)).toString('utf8');
    const twice = Buffer.concat(filter.push(chunk)).toString('utf8');
    assert.equal(once, chunk.toString('utf8').replace(`data: ${USAGE_ONLY}\n\n`, ''));
    assert.equal(twice, once);
    assert.equal(filter.removedEvents, 2);
  });

  test('ignores empty chunks, also between a CR and its LF', () => {
    const text = Buffer.from(sse([USAGE_ONLY, '[DONE]'], '\r\n'));
    const crAt = text.indexOf('\r\n\r\n') + 2;
    const pieces = [text.subarray(0, crAt + 1), Buffer.alloc(0), text.subarray(crAt + 1)];
    assert.equal(run(pieces).output.toString('utf8'), 'data: [DONE]\r\n\r\n');
  });
});

describe('fuzz findings (scripts/fuzz, issue 17)', () => {
  test('removes a usage-only first event behind a UTF-8 BOM, as an EventSource reads it, at every cut', () => {
    // An EventSource strips one leading BOM (WHATWG HTML §9.2.6), so the client would have seen this
    // usage-only event: the field name was read as "\ufeffdata" and the event kept.
    const text = Buffer.from(`\ufeffdata: ${USAGE_ONLY}\n\ndata: [DONE]\n\n`);
    for (let p = 0; p <= text.length; p++) {
      const { output, filter } = run(cut(text, [p]));
      assert.equal(output.toString('utf8'), 'data: [DONE]\n\n', `cut at ${p}`);
      assert.equal(filter.removedEvents, 1);
    }
    // Only the stream's first event can start with one: a BOM later is text, and the event stays.
    const later = `data: [DONE]\n\n\ufeffdata: ${USAGE_ONLY}\n\n`;
    assert.equal(filtered(later), later);
  });
});
