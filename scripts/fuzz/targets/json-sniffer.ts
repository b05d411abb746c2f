/**
 * Fuzz target: src/usage/json-sniffer.ts against JSON.parse and the harness's own RFC 8259 reader.
 * For every input: end() is what the reference says (ok, malformed, truncated, empty), the values
 * reported are exactly the reference's occurrences decoded by JSON.parse, in order (for a malformed or
 * truncated input, a prefix of them), whatever the chunk cuts; where JSON.parse accepts the input, the
 * last value reported per path is JSON.parse's; where it rejects it, end() is never 'ok' unless the
 * input is several whole values (NDJSON, concatenated JSON).
 */
import { Buffer } from 'node:buffer';
import { isDeepStrictEqual } from 'node:util';
import { createJsonSniffer, type SniffEnd } from '../../../src/usage/json-sniffer.ts';
import { USAGE_CAPTURE_PATHS } from '../../../src/usage/usage.ts';
import { embeddingsBody, longContentBody, logprobsBody } from '../../bench/json-sniffer.ts';
import { USAGE_FIXTURES } from '../../../tests/fixtures/usage/index.ts';
import { randomInput } from '../../../tests/helpers/random-json.ts';
import { expect, type FuzzTarget } from '../engine.ts';
import { copies, int, pick, rechunk, type Rand } from '../mutate.ts';
import { parsedAtPaths, referenceSniff } from '../json-reference.ts';

type Report = [string, unknown];

interface Outcome {
  readonly reports: Report[];
  readonly end: SniffEnd;
  readonly documentEnds: number;
}

// Paths nested in captured paths, and a key that needs escapes, besides the proxy's own list.
const NESTED_CAPTURE: readonly string[] = ['usage', 'message', 'message.usage', 'a.b.c', 'a.b', 'k"\\'];

function sniff(chunks: readonly Uint8Array[], capture: readonly string[], maxValueBytes: number): Outcome {
  const reports: Report[] = [];
  let documentEnds = 0;
  const sniffer = createJsonSniffer({
    capture,
    maxValueBytes,
    onValue: (path, value) => void reports.push([path, value]),
    onDocumentEnd: () => void documentEnds++,
  });
  for (const chunk of chunks) sniffer.feed(chunk);
  const end = sniffer.end();
  expect(sniffer.failed === (end === 'malformed'), 'failed-flag', () => `failed=${sniffer.failed} but end()=${end}`);
  return { reports, end, documentEnds };
}

/** SSE event data of the fixtures: each is a JSON document the tracker sniffs on its own. */
function fixtureDocuments(): Buffer[] {
  const out: Buffer[] = [];
  for (const fixture of USAGE_FIXTURES) {
    if (!fixture.contentType.startsWith('text/event-stream')) {
      out.push(Buffer.from(fixture.body));
      continue;
    }
    for (const event of fixture.body.split(/\r?\n\r?\n/)) {
      const data = event.split(/\r?\n/).filter((line) => line.startsWith('data:')).map((line) => line.slice(line.startsWith('data: ') ? 6 : 5));
      if (data.length > 0) out.push(Buffer.from(data.join('\n')));
    }
  }
  return out;
}

// SPEC §4, §8 examples and the shapes the issue names (bytes after the usage object).
const SPEC_EXAMPLES = [
  '{"usage":{"prompt_tokens":15,"completion_tokens":42,"total_tokens":57}}',
  '{"usage":null}', '{"usage":{}}', '{"usage":{"prompt_tokens":-1,"completion_tokens":1.5,"total_tokens":1e300}}',
  '{"usage":{"prompt_tokens":1},"x":[1,2]}', '[{"usageMetadata":{"promptTokenCount":8}},{"modelVersion":"g"}]',
  '{"model":"llama3.2","done":true,"prompt_eval_count":26,"eval_count":9}\n{"model":"m"}\n',
  '{"us\\u0061ge":{"total_tokens":9007199254740993},"message":{"usage":{"a":"\\u0022\\ud800"}}}',
];

export const jsonSnifferTarget: FuzzTarget = {
  name: 'json-sniffer',
  description: 'src/usage/json-sniffer.ts vs JSON.parse and an RFC 8259 reference: end(), every reported value, every cut',
  seeds(rand) {
    const seeds = [...fixtureDocuments(), ...SPEC_EXAMPLES.map((text) => Buffer.from(text))];
    seeds.push(embeddingsBody(0.01, 'float'), embeddingsBody(0.01, 'base64'), longContentBody(0.005), logprobsBody(0.005));
    for (let n = 0; n < 40; n++) seeds.push(Buffer.from(randomInput(rand).text));
    return seeds;
  },
  generate(rand) {
    return Buffer.from(randomInput(rand, 4 + int(rand, 20)).text);
  },
  check(input, rand) {
    checkSniffer(input, rand);
  },
  grow(input, factor) {
    // Concatenated copies (the sniffer reads concatenated JSON), and the input wrapped as one member's value.
    return Buffer.concat([Buffer.from('{"x":['), ...Array.from({ length: factor }, () => [input, Buffer.from(',')]).flat(), Buffer.from('0]}')]);
  },
  work(input) {
    const sniffer = createJsonSniffer({ capture: USAGE_CAPTURE_PATHS, onValue() {} });
    for (let i = 0; i < input.length; i += 4096) sniffer.feed(input.subarray(i, i + 4096));
    sniffer.end();
  },
};

export function checkSniffer(input: Buffer, rand: Rand): void {
  const capture = rand() < 0.8 ? USAGE_CAPTURE_PATHS : NESTED_CAPTURE;
  const reference = referenceSniff(input, capture);
  const whole = sniff([input], capture, Infinity);
  const expected: Report[] = reference.occurrences.map(([path, text]) => [path, JSON.parse(text) as unknown]);
  expect(whole.end === reference.end, 'end-mismatch', () => `sniffer end()=${whole.end}, reference ${reference.end}: ${preview(input)}`);
  if (whole.end === 'ok') {
    expect(isDeepStrictEqual(whole.reports, expected), 'reports-mismatch', () => `sniffer ${show(whole.reports)}, reference ${show(expected)}`);
    // A top-level number that the input's last byte ends is complete only at end(), which does not call
    // onDocumentEnd (reported: harmless, no usage is at a top-level number).
    const last = reference.documents[reference.documents.length - 1] ?? '';
    const unannounced = /^-?\d/.test(last) && input.toString('utf8').endsWith(last) ? 1 : 0;
    expect(whole.documentEnds === reference.roots - unannounced, 'document-ends', () => `onDocumentEnd ${whole.documentEnds} times, reference ${reference.roots} roots: ${preview(input)}`);
  } else {
    const prefix = expected.slice(0, whole.reports.length);
    expect(isDeepStrictEqual(whole.reports, prefix), 'reports-not-prefix', () => `sniffer ${show(whole.reports)}, reference ${show(expected)}`);
  }
  checkAgainstJsonParse(input, capture, whole);

  // The same outcome whatever the cuts, also from chunks in fresh ArrayBuffers.
  for (let round = 0; round < 3; round++) {
    const chunks = rechunk(rand, input);
    const cut = sniff(round === 2 ? copies(chunks) : chunks, capture, Infinity);
    expect(isDeepStrictEqual(cut, whole), 'cuts-change-outcome', () => `whole ${show(whole)}, cut at ${chunks.map((c) => c.length).join('+')}: ${show(cut)}`);
  }
  // A small value cap only abandons values: what is reported is a subsequence, the end the same.
  const cap = pick(rand, [0, 1, 8, 64, 200]);
  const capped = sniff(rechunk(rand, input), capture, cap);
  expect(capped.end === whole.end, 'cap-changes-end', () => `maxValueBytes=${cap}: end ${capped.end}, uncapped ${whole.end}`);
  expect(isSubsequence(capped.reports, whole.reports), 'cap-reports-extra', () => `maxValueBytes=${cap}: ${show(capped.reports)} not within ${show(whole.reports)}`);
}

function checkAgainstJsonParse(input: Buffer, capture: readonly string[], whole: Outcome): void {
  const bom = input[0] === 0xef && input[1] === 0xbb && input[2] === 0xbf;
  const text = input.toString('utf8', bom ? 3 : 0);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Rejected: never 'ok', unless it is several whole values (JSON.parse reads one).
    if (whole.end === 'ok') {
      const reference = referenceSniff(input, capture);
      expect(reference.documents.length > 1, 'ok-but-not-json', () => `JSON.parse rejects it, sniffer says ok: ${preview(input)}`);
    }
    return;
  }
  expect(whole.end === 'ok', 'json-but-not-ok', () => `JSON.parse accepts it, sniffer says ${whole.end}: ${preview(input)}`);
  const shadowed = referenceSniff(input, capture).shadowed;
  const last = new Map<string, unknown>();
  for (const [path, value] of whole.reports) last.set(path, value);
  for (const [path, value] of parsedAtPaths(parsed, capture)) {
    if (shadowed.has(path)) continue;
    expect(last.has(path) && isDeepStrictEqual(last.get(path), value), 'last-value-differs', () => `${path}: sniffer ${show(last.get(path))}, JSON.parse ${show(value)}`);
  }
}

function isSubsequence(small: readonly Report[], large: readonly Report[]): boolean {
  let j = 0;
  for (const report of small) {
    while (j < large.length && !isDeepStrictEqual(large[j], report)) j++;
    if (j === large.length) return false;
    j++;
  }
  return true;
}

function show(value: unknown): string {
  const text = JSON.stringify(value, (_key, v: unknown) => (Object.is(v, -0) ? '-0' : v)) ?? String(value);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

export function preview(input: Buffer): string {
  const text = JSON.stringify(input.toString('latin1'));
  return input.length > 200 ? `${text.slice(0, 200)}… (${input.length} bytes)` : text;
}
