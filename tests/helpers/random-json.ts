/**
 * Test helpers for the JSON sniffer: a seeded generator of random JSON inputs (one or more top-level
 * values, random whitespace, every string escape, keys written with escapes, deep nesting) and the
 * oracle — what the sniffer must report, worked out from JSON.parse of each whole value.
 */
import { pick } from './sse-streams.ts';

export interface GeneratedInput {
  /** One or more top-level JSON values, separated as RFC 8259 whitespace allows (or concatenated). */
  readonly text: string;
  /** Each top-level value, JSON.parse'd from its own text. */
  readonly values: readonly unknown[];
}

/** Object keys: capture-path keys (so paths are often hit), near misses, and keys that need escapes. */
const KEYS = [
  'usage', 'usage', 'model', 'message', 'message', 'response', 'response', 'usageMetadata', 'eval_count', 'prompt_eval_count',
  'data', 'choices', 'content', 'text', 'Usage', 'usage ', 'usag', 'us age', 'ключ', '😀', 'a"b', 'back\\slash', '',
];
/** String pieces: text that looks like JSON, every character that must or may be escaped, multibyte text, lone surrogates. */
const STRING_PIECES = [
  'a', 'usage', '"usage": {', '\\', '"', '/', '\n', '\t', '\r', '\b', '\f', '\u0000', '\u001f', 'é', '€', '世', '😀',
  '\ud800', '\udc00', ' ', '{', '}', '[', ']', ',', ':', '\\"', '\u2028',
];
const SHORT_ESCAPES: Readonly<Record<string, string>> = { '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
const WHITESPACE = [' ', '\t', '\n', '\r'];

function hex4(rand: () => number, unit: number): string {
  const digits = unit.toString(16).padStart(4, '0');
  return '\\u' + (rand() < 0.5 ? digits : digits.toUpperCase());
}

/** `s` as a JSON string literal, each character written plainly or escaped at random (where both are allowed). */
export function writeString(rand: () => number, s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    const escape = rand() < 0.3;
    if (cp >= 0xd800 && cp <= 0xdfff) out += hex4(rand, cp); // a lone surrogate can only be written escaped
    else if (ch === '"') out += escape ? hex4(rand, cp) : '\\"';
    else if (ch === '\\') out += escape ? hex4(rand, cp) : '\\\\';
    else if (cp < 0x20) out += SHORT_ESCAPES[ch] !== undefined && !escape ? SHORT_ESCAPES[ch] : hex4(rand, cp);
    else if (ch === '/') out += escape ? '\\/' : '/';
    else if (!escape) out += ch;
    else if (cp > 0xffff) out += hex4(rand, ch.charCodeAt(0)) + hex4(rand, ch.charCodeAt(1));
    else out += hex4(rand, cp);
  }
  return out + '"';
}

function whitespace(rand: () => number): string {
  if (rand() < 0.6) return '';
  let out = '';
  for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) out += pick(rand, WHITESPACE);
  return out;
}

function randomNumber(rand: () => number): string {
  let out = rand() < 0.3 ? '-' : '';
  if (rand() < 0.2) out += '0';
  else {
    out += String(1 + Math.floor(rand() * 9));
    for (let n = Math.floor(rand() * (rand() < 0.1 ? 25 : 4)); n > 0; n--) out += String(Math.floor(rand() * 10));
  }
  if (rand() < 0.3) {
    out += '.';
    for (let n = 1 + Math.floor(rand() * 4); n > 0; n--) out += String(Math.floor(rand() * 10));
  }
  if (rand() < 0.2) out += pick(rand, ['e', 'E', 'e+', 'E-', 'e-']) + String(Math.floor(rand() * 30));
  return out;
}

function randomString(rand: () => number): string {
  let s = '';
  for (let n = Math.floor(rand() * 6); n > 0; n--) s += pick(rand, STRING_PIECES);
  return s;
}

/** A random JSON value's text; `budget` bounds its size, `depth` is how deep it sits. */
export function randomValue(rand: () => number, depth: number, budget: { nodes: number }): string {
  budget.nodes--;
  const roll = rand();
  if (roll < 0.02 && depth < 3) return deepChain(rand, budget);
  if (budget.nodes > 0 && roll < (depth < 3 ? 0.55 : 0.3)) {
    const keys = new Set<string>(); // distinct keys, so JSON.parse (last wins) keeps every member
    const members: string[] = [];
    for (let n = Math.floor(rand() * 5); n > 0; n--) {
      const key = pick(rand, KEYS);
      if (keys.has(key)) continue;
      keys.add(key);
      members.push(whitespace(rand) + writeString(rand, key) + whitespace(rand) + ':' + whitespace(rand) + randomValue(rand, depth + 1, budget) + whitespace(rand));
    }
    return '{' + (members.length === 0 ? whitespace(rand) : members.join(',')) + '}';
  }
  if (budget.nodes > 0 && roll < (depth < 3 ? 0.7 : 0.45)) {
    const elements: string[] = [];
    for (let n = Math.floor(rand() * 4); n > 0; n--) elements.push(whitespace(rand) + randomValue(rand, depth + 1, budget) + whitespace(rand));
    return '[' + (elements.length === 0 ? whitespace(rand) : elements.join(',')) + ']';
  }
  if (roll < 0.8) return writeString(rand, randomString(rand));
  if (roll < 0.93) return randomNumber(rand);
  return pick(rand, ['true', 'false', 'null']);
}

/** A value wrapped in 20 to 300 random containers: deep nesting, sometimes around a capture path. */
function deepChain(rand: () => number, budget: { nodes: number }): string {
  let open = '';
  let close = '';
  for (let n = 20 + Math.floor(rand() * 280); n > 0; n--) {
    if (rand() < 0.5) {
      open += '[' + whitespace(rand);
      close = whitespace(rand) + ']' + close;
    } else {
      open += '{' + writeString(rand, pick(rand, KEYS)) + ':';
      close = '}' + close;
    }
  }
  return open + randomValue(rand, 9, budget) + close;
}

/** One to three top-level values: objects mostly, some arrays of objects (Gemini's stream), some scalars. */
export function randomInput(rand: () => number, nodes = 12): GeneratedInput {
  const texts: string[] = [];
  let text = whitespace(rand);
  for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) {
    const budget = { nodes };
    const roll = rand();
    let value: string;
    if (roll < 0.6) {
      do {
        budget.nodes = nodes;
        value = randomValue(rand, 0, budget);
      } while (!value.startsWith('{'));
    } else if (roll < 0.8) value = '[' + whitespace(rand) + randomValue(rand, 0, budget) + ',' + randomValue(rand, 0, budget) + whitespace(rand) + ']';
    else value = randomValue(rand, 3, budget);
    if (texts.length > 0) {
      const gap = whitespace(rand);
      // `{}{}` may be concatenated, but a number or literal needs whitespace after it.
      text += gap === '' && !/["}\]]$/.test(texts[texts.length - 1] as string) ? '\n' : gap;
    }
    texts.push(value);
    text += value;
  }
  return { text: text + whitespace(rand), values: texts.map((t) => JSON.parse(t) as unknown) };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * What the sniffer must report for these top-level values: for each document root (each value, and each
 * element of a top-level array) the values at the capture paths, inner paths first, in document order.
 */
export function expectedReports(values: readonly unknown[], capture: readonly string[]): [string, unknown][] {
  const prefixes = new Set(capture.flatMap((path) => path.split('.').map((_, i, keys) => keys.slice(0, i + 1).join('.'))));
  const reports: [string, unknown][] = [];
  const visit = (object: Record<string, unknown>, prefix: string): void => {
    for (const [key, value] of Object.entries(object)) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      if (!prefixes.has(path)) continue;
      if (isObject(value)) visit(value, path);
      if (capture.includes(path)) reports.push([path, value]);
    }
  };
  for (const value of values) {
    for (const root of Array.isArray(value) ? value : [value]) if (isObject(root)) visit(root, '');
  }
  return reports;
}
