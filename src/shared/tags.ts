// Usage tags (SPEC §10): `name=value, name=value`, from a request's `LM-Proxy-Tags`
// headers or from the `TAGS` setting. A malformed pair is dropped and the rest kept;
// at most 16 names, later new names dropped, a repeated name taking its later value.
// Work is linear in the text and the result bounded, whatever a client sends.
// Pure: no I/O; never throws.

/** The request header that carries tags; it never reaches the upstream (SPEC §10). */
export const TAGS_HEADER = 'lm-proxy-tags';
export const MAX_TAGS = 16;

export type Tags = Readonly<Record<string, string>>;
export const NO_TAGS: Tags = Object.freeze({});

// SPEC §10, after lower-casing the name.
const NAME = /^[a-z0-9_.-]{1,32}$/;
const VALUE = /^[A-Za-z0-9_.:/@+-]{1,128}$/;
// Longer than any valid pair (32 + 1 + 128) plus whitespace around it: not worth a regex.
const MAX_PAIR_CHARS = 256;

/** Tag names and values, in the order names first appeared; what `parseTagsInto` fills. */
export type TagMap = Map<string, string>;

export interface TagsParse {
  /** Pairs dropped: malformed, or a new name past the 16th. */
  readonly dropped: number;
}

/** Adds the well-formed pairs of `text` to `into` (which may already hold earlier headers' tags). */
export function parseTagsInto(text: string, into: TagMap): TagsParse {
  let dropped = 0;
  let start = 0;
  while (start <= text.length) {
    let comma = text.indexOf(',', start);
    if (comma < 0) comma = text.length;
    const pair = comma - start > MAX_PAIR_CHARS ? null : text.slice(start, comma).trim();
    start = comma + 1;
    if (pair === '') continue; // `a=1,,b=2` and a trailing comma: empty list elements (RFC 9110 §5.6.1)
    const equals = pair === null ? -1 : pair.indexOf('=');
    if (pair === null || equals < 0) {
      dropped++;
      continue;
    }
    const name = pair.slice(0, equals).trim().toLowerCase();
    const value = pair.slice(equals + 1).trim();
    if (!NAME.test(name) || !VALUE.test(value) || (!into.has(name) && into.size >= MAX_TAGS)) {
      dropped++;
      continue;
    }
    into.set(name, value);
  }
  return { dropped };
}

/** The tags of a record: the deployment's, then the request's, a request's own name winning. */
export function mergeTags(deployment: Tags, request: TagMap | null): Tags {
  if (request === null || request.size === 0) return deployment;
  // Loops, not spreads: a spread of the two measured 1.5% of a small response's CPU.
  const merged: Record<string, string> = {};
  for (const name in deployment) putTag(merged, name, deployment[name] as string);
  for (const [name, value] of request) putTag(merged, name, value);
  return merged;
}

// `__proto__` is a valid name: assigned, it would set the object's prototype instead of adding
// the tag, so that one is defined as an own property.
function putTag(tags: Record<string, string>, name: string, value: string): void {
  if (name !== '__proto__') tags[name] = value;
  else Object.defineProperty(tags, name, { value, enumerable: true, writable: true, configurable: true });
}

/** The tags in `text` as a frozen object, or the first problem: for `TAGS`, where a typo must not pass silently. */
export function parseTagsSetting(text: string): { ok: true; tags: Tags } | { ok: false; message: string } {
  const map: TagMap = new Map();
  for (const raw of text.split(',')) {
    const pair = raw.trim();
    if (pair === '') continue;
    if (parseTagsInto(pair, new Map()).dropped > 0) {
      return { ok: false, message: `${quoted(pair)} is not name=value (names [a-z0-9_.-]{1,32}, values [A-Za-z0-9_.:/@+-]{1,128})` };
    }
    if (parseTagsInto(pair, map).dropped > 0) return { ok: false, message: `more than ${MAX_TAGS} tags` };
  }
  return { ok: true, tags: Object.freeze(Object.fromEntries(map)) };
}

// The message is one line of a start-up error (SPEC §2): the pair escaped (a newline in TAGS must not
// start a second line) and cut short (a megabyte of TAGS must not become a megabyte of stderr).
const MAX_QUOTED_CHARS = 64;

function quoted(pair: string): string {
  return JSON.stringify(pair.length > MAX_QUOTED_CHARS ? `${pair.slice(0, MAX_QUOTED_CHARS)}…` : pair);
}
