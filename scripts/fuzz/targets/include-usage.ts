/**
 * Fuzz target: src/injection/include-usage.ts injectIncludeUsage (SPEC §5) on random request bodies. The
 * decision is judged against JSON.parse of the body: a valid UTF-8 JSON object whose last "stream" is true,
 * that mentions include_usage nowhere (top level, or any stream_options object) and whose last
 * stream_options is absent or an object, is edited; any other body is not. An edited body parses to the
 * original object plus stream_options.include_usage: true, and is the original with one run inserted.
 */
import { Buffer } from 'node:buffer';
import { isDeepStrictEqual } from 'node:util';
import { injectIncludeUsage, MAX_INJECT_BODY_BYTES } from '../../../src/injection/include-usage.ts';
import { writeString } from '../../../tests/helpers/random-json.ts';
import { expect, type FuzzTarget } from '../engine.ts';
import { int, pick, type Rand } from '../mutate.ts';
import { preview } from './json-sniffer.ts';

const INSERTS = [',"stream_options":{"include_usage":true}', '"include_usage":true', ',"include_usage":true'].map((t) => Buffer.from(t));
const fatal = new TextDecoder('utf-8', { fatal: true });

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The keys of the members of a valid JSON object's text, in order, duplicates kept (decoded). */
function memberKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) keys.push(JSON.parse(text.slice(i, j + 1)) as string);
      expectKey = false;
      i = j;
    } else if (ch === '{' || ch === '[') {
      depth++;
      expectKey = depth === 1 && ch === '{';
    } else if (ch === '}' || ch === ']') depth--;
    else if (ch === ',' && depth === 1) expectKey = true;
  }
  return keys;
}

/** The text of every top-level member's value named `name` that is an object ('' for other values), in order. */
function memberValues(text: string, name: string): string[] {
  const out: string[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1) {
        let k = j + 1;
        while (/\s/.test(text[k] ?? '')) k++;
        if (text[k] === ':' && JSON.parse(text.slice(i, j + 1)) === name) {
          k++;
          while (/\s/.test(text[k] ?? '')) k++;
          if (text[k] === '{') {
            let d = 0;
            let e = k;
            for (; e < text.length; e++) {
              if (text[e] === '"') {
                e++;
                while (text[e] !== '"') e += text[e] === '\\' ? 2 : 1;
              } else if (text[e] === '{' || text[e] === '[') d++;
              else if ((text[e] === '}' || text[e] === ']') && --d === 0) break;
            }
            out.push(text.slice(k, e + 1));
          } else out.push('');
        }
      }
      i = j;
    } else if (ch === '{' || ch === '[') depth++;
    else if (ch === '}' || ch === ']') depth--;
  }
  return out;
}

/** What SPEC §5 says should happen to this body: null (untouched) or the object the edit must parse to. */
function expectedEdit(body: Buffer): Json | null {
  if (body.length > MAX_INJECT_BODY_BYTES) return null;
  let text: string;
  let parsed: unknown;
  try {
    text = fatal.decode(body); // drops one leading BOM, as the module skips one
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(parsed) || parsed['stream'] !== true) return null;
  const keys = memberKeys(text);
  if (keys.includes('include_usage')) return null;
  const optionsTexts = memberValues(text, 'stream_options').filter((t) => t !== '');
  if (optionsTexts.some((t) => memberKeys(t).includes('include_usage'))) return null;
  const options = parsed['stream_options'];
  if (options !== undefined && !isObject(options)) return null;
  return { ...parsed, stream_options: { ...(options ?? {}), include_usage: true } };
}

function isOneInsertion(original: Buffer, edited: Buffer): boolean {
  for (const insert of INSERTS) {
    if (edited.length !== original.length + insert.length) continue;
    let d = 0;
    while (d < original.length && original[d] === edited[d]) d++;
    for (let at = d; at >= Math.max(0, d - insert.length); at--) {
      if (Buffer.concat([original.subarray(0, at), insert, original.subarray(at)]).equals(edited)) return true;
    }
  }
  return false;
}

const KEYS = ['model', 'messages', 'stream', 'stream', 'stream_options', 'stream_options', 'include_usage', 'temperature', 'n', 'user', 'str\\u0065am', 'stream_\\u006fptions', 'include\\u005fusage', 'seed', 'x'];
const VALUES = ['true', 'true', 'false', 'null', '"true"', '1', '9007199254740993', '1e400', '-0', '"gpt-4o"', '[{"role":"user","content":"hi \\u0022stream\\u0022"}]', '{}', '{"include_usage":false}', '{"include_usage":true}', '{"x":1}', '{"x":{"include_usage":1}}', '[]', '{"stream":true}', '"\\ud800"'];

function randomBody(rand: Rand): Buffer {
  const ws = (): string => pick(rand, ['', '', '', ' ', '\n  ', '\t', '\r\n']);
  const members: string[] = [];
  for (let n = int(rand, 7); n > 0; n--) {
    const key = pick(rand, KEYS);
    const written = key.includes('\\') ? `"${key}"` : writeString(rand, key);
    let value = pick(rand, VALUES);
    if (key.startsWith('stream_') && rand() < 0.5) value = pick(rand, ['{}', '{"x":1}', `{ "a" : [1,{"b":2}] ,"c":"}"}`, 'null', '[]', '"s"', '{"include_usage":false}']);
    members.push(`${ws()}${written}${ws()}:${ws()}${value}${ws()}`);
  }
  if (rand() < 0.8) members.splice(int(rand, members.length + 1), 0, `${ws()}"stream"${ws()}:${ws()}true${ws()}`);
  let text = `${ws()}{${members.join(',')}}${ws()}`;
  if (rand() < 0.05) text = `\ufeff${text}`;
  const body = Buffer.from(text);
  return rand() < 0.05 ? Buffer.concat([body.subarray(0, body.length >> 1), Buffer.from([0xff]), body.subarray(body.length >> 1)]) : body;
}

export const includeUsageTarget: FuzzTarget = {
  name: 'include-usage',
  description: 'src/injection/include-usage.ts: edits exactly the bodies SPEC §5 names; the edit parses to the original plus include_usage, one run inserted',
  seeds(rand) {
    const seeds: Buffer[] = [
      '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}',
      '{"model":"gpt-4o","stream":true,"stream_options":{}}', '{"stream":true,"stream_options":{"include_usage":false}}',
      '{"stream":true,"n":12345678901234567890}', '{"stream":false}', '[{"stream":true}]', '\ufeff{"stream":true}',
    ].map((t) => Buffer.from(t));
    for (let n = 0; n < 30; n++) seeds.push(randomBody(rand));
    return seeds;
  },
  generate: randomBody,
  check(input) {
    const result = injectIncludeUsage(input);
    const expected = expectedEdit(input);
    if (expected === null) {
      expect(!result.injected, 'edited-untouchable', () => `${preview(input)} was edited to ${result.injected ? preview(result.body) : ''}`);
      return;
    }
    expect(result.injected, 'not-edited', () => `${preview(input)} left untouched: ${result.injected ? '' : result.reason}`);
    const edited = JSON.parse(fatal.decode(result.body)) as unknown;
    expect(isDeepStrictEqual(edited, expected), 'edit-changes-object', () => `${preview(input)} → ${preview(result.body)}`);
    expect(isOneInsertion(input, result.body), 'edit-changes-bytes', () => `${preview(input)} → ${preview(result.body)}`);
  },
  grow(input, factor) {
    // A long "messages" array before the members the edit looks at.
    const text = input.toString('latin1');
    const open = text.indexOf('{');
    if (open < 0) return Buffer.concat(Array.from({ length: factor }, () => input));
    const filler = Array.from({ length: factor }, () => '{"role":"user","content":"x"}').join(',');
    return Buffer.from(`${text.slice(0, open + 1)}"messages":[${filler}],${text.slice(open + 1)}`, 'latin1');
  },
  work(input) {
    injectIncludeUsage(input);
  },
};
