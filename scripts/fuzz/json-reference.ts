/**
 * The fuzz oracle's own JSON reader, written from RFC 8259 alone (recursive descent over the decoded
 * text, nothing shared with src/): whether bytes are zero or more JSON values as the sniffer reads them
 * (concatenated, or separated by whitespace; a number or literal needs whitespace before what follows),
 * and where every value at a capture path lies. Values are decoded by JSON.parse, never here.
 */
import { Buffer } from 'node:buffer';

export type RefEnd = 'ok' | 'malformed' | 'truncated' | 'empty';

export interface RefResult {
  readonly end: RefEnd;
  /** Every value at a capture path, in the order their last byte comes: [path, text]. */
  readonly occurrences: [string, string][];
  /** The text of each whole top-level value. */
  readonly documents: string[];
  /** Paths under a key written twice in one object: a report there may come from the value JSON.parse drops. */
  readonly shadowed: Set<string>;
  /** Document ends: each whole top-level value, and each element of a top-level array (onDocumentEnd's count). */
  readonly roots: number;
}

const MAX_DEPTH = 1024; // the sniffer's MAX_JSON_DEPTH: one more open bracket is malformed
const BOM = [0xef, 0xbb, 0xbf];

class Stop {
  readonly end: 'malformed' | 'truncated';
  constructor(end: 'malformed' | 'truncated') {
    this.end = end;
  }
}

const isWs = (ch: string | undefined): boolean => ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r';
const isDigit = (ch: string | undefined): boolean => ch !== undefined && ch >= '0' && ch <= '9';
const isHex = (ch: string | undefined): boolean => ch !== undefined && /^[0-9a-fA-F]$/.test(ch);

export function referenceSniff(bytes: Uint8Array, capture: readonly string[]): RefResult {
  const occurrences: [string, string][] = [];
  const documents: string[] = [];
  const shadowed = new Set<string>();
  // RFC 8259 §8.1 lets a parser ignore one leading BOM; a BOM cut short may still be arriving.
  let start = 0;
  if (bytes[0] === BOM[0]) {
    let k = 1;
    while (k < 3 && k < bytes.length && bytes[k] === BOM[k]) k++;
    if (k === bytes.length && k < 3) return { end: 'truncated', occurrences, documents, shadowed, roots: 0 };
    if (k === 3) start = 3;
  }
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + start, bytes.length - start).toString('utf8');
  const prefixes = new Set(capture.flatMap((path) => path.split('.').map((_, i, keys) => keys.slice(0, i + 1).join('.'))));
  const captures = new Set(capture);
  let i = 0;
  let depth = 0;
  let roots = 0;

  const fail = (): never => {
    throw new Stop(i >= text.length ? 'truncated' : 'malformed');
  };
  const skipWs = (): void => {
    while (isWs(text[i])) i++;
  };
  const open = (): void => {
    if (depth === MAX_DEPTH) throw new Stop('malformed');
    depth++;
  };

  /** A string starting at text[i] (a quote): its end. */
  const string = (): void => {
    i++;
    for (;;) {
      const ch = text[i];
      if (ch === undefined) fail();
      else if (ch === '"') {
        i++;
        return;
      } else if (ch === '\\') {
        i++;
        const e = text[i];
        if (e === undefined) fail();
        else if (e === 'u') {
          for (let k = 1; k <= 4; k++) if (!isHex(text[i + k])) (i += k), fail();
          i += 5;
        } else if ('"\\/bfnrt'.includes(e)) i++;
        else fail();
      } else if (ch.charCodeAt(0) < 0x20) fail();
      else i++;
    }
  };
  const digits = (): void => {
    if (!isDigit(text[i])) fail();
    while (isDigit(text[i])) i++;
  };
  const number = (): void => {
    if (text[i] === '-') i++;
    if (text[i] === '0') i++;
    else digits();
    if (text[i] === '.') {
      i++;
      digits();
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      digits();
    }
  };
  const literal = (word: string): void => {
    for (const ch of word) {
      if (text[i] !== ch) fail();
      i++;
    }
  };

  /** A value at text[i]; `path` is its capture path ('' for a document root) or null when no path goes through it. */
  const value = (path: string | null, topLevel: boolean): void => {
    const from = i;
    const ch = text[i];
    if (ch === '{') {
      open();
      i++;
      skipWs();
      const seen = new Set<string>();
      if (text[i] === '}') i++;
      else {
        for (;;) {
          skipWs();
          if (text[i] !== '"') fail();
          const keyFrom = i;
          string();
          const key = JSON.parse(text.slice(keyFrom, i)) as string;
          const child = path === null ? null : path === '' ? key : `${path}.${key}`;
          const tracked = child !== null && prefixes.has(child) ? child : null;
          if (tracked !== null) {
            if (seen.has(key)) for (const p of capture) if (p.startsWith(`${tracked}.`)) shadowed.add(p);
            seen.add(key);
          }
          skipWs();
          if (text[i] !== ':') fail();
          i++;
          skipWs();
          value(tracked, false);
          skipWs();
          if (text[i] === ',') i++;
          else if (text[i] === '}') {
            i++;
            break;
          } else fail();
        }
      }
      depth--;
    } else if (ch === '[') {
      open();
      i++;
      skipWs();
      // Only the elements of a top-level array are document roots.
      const elementPath = topLevel ? '' : null;
      if (text[i] === ']') i++;
      else {
        for (;;) {
          skipWs();
          value(elementPath, false);
          if (topLevel) roots++;
          skipWs();
          if (text[i] === ',') i++;
          else if (text[i] === ']') {
            i++;
            break;
          } else fail();
        }
      }
      depth--;
    } else if (ch === '"') string();
    else if (ch === '-' || isDigit(ch)) {
      number();
      // A number inside a container is complete only when the byte after it is seen.
      if (!topLevel && i >= text.length) fail();
    } else if (ch === 't') literal('true');
    else if (ch === 'f') literal('false');
    else if (ch === 'n') literal('null');
    else fail();
    if (path !== null && captures.has(path)) occurrences.push([path, text.slice(from, i)]);
  };

  try {
    let needsWs = false;
    for (;;) {
      const before = i;
      skipWs();
      if (i >= text.length) break;
      if (needsWs && i === before) throw new Stop('malformed'); // `1true`, `1"a"`
      const from = i;
      const first = text[i];
      value('', true);
      roots++;
      documents.push(text.slice(from, i));
      needsWs = first !== '{' && first !== '[' && first !== '"';
    }
  } catch (error) {
    if (error instanceof Stop) return { end: error.end, occurrences, documents, shadowed, roots };
    throw error;
  }
  return { end: documents.length > 0 ? 'ok' : 'empty', occurrences, documents, shadowed, roots };
}

/** The values JSON.parse gives at each capture path of one parsed document, last root winning. */
export function parsedAtPaths(parsed: unknown, capture: readonly string[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const root of Array.isArray(parsed) ? parsed : [parsed]) {
    for (const path of capture) {
      let node: unknown = root;
      let found = true;
      for (const key of path.split('.')) {
        if (typeof node !== 'object' || node === null || Array.isArray(node) || !Object.hasOwn(node, key)) {
          found = false;
          break;
        }
        node = (node as Record<string, unknown>)[key];
      }
      if (found) out.set(path, node);
    }
  }
  return out;
}
