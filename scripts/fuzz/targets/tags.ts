/**
 * Fuzz target: src/shared/tags.ts (SPEC §10) on random header text. parseTagsInto never throws, keeps at
 * most 16 tags whose names and values match SPEC §10's patterns, counts drops as a safe non-negative
 * integer, keeps a tag only when the text has that pair; several headers add up to 16 at most;
 * parseTagsSetting accepts only what parseTagsInto keeps whole; mergeTags lets the request's tag win.
 */
import { Buffer } from 'node:buffer';
import { MAX_TAGS, mergeTags, parseTagsInto, parseTagsSetting, type TagMap } from '../../../src/shared/tags.ts';
import { expect, type FuzzTarget } from '../engine.ts';
import { int, pick, type Rand } from '../mutate.ts';

const NAME = /^[a-z0-9_.-]{1,32}$/;
const VALUE = /^[A-Za-z0-9_.:/@+-]{1,128}$/;
const PIECES = ['team', 'Team', 'env', 'prod', 'a', 'x.y', 'a-b', '_', '=', '=', ',', ',', ' ', '\t', ' , ', 'é', '=v', 'k=v', 'user@host', 'a/b', 'b:c', '+', '\u0000', '\n', ';', '"', 'x'.repeat(33), 'y'.repeat(129), '1'];

function randomText(rand: Rand): string {
  let text = '';
  for (let n = int(rand, 40); n > 0; n--) text += pick(rand, PIECES);
  return text;
}

function checkMap(map: TagMap, label: string): void {
  expect(map.size <= MAX_TAGS, 'too-many-tags', () => `${map.size} tags from ${label}`);
  for (const [name, value] of map) {
    expect(NAME.test(name) && VALUE.test(value), 'bad-tag', () => `${JSON.stringify(name)}=${JSON.stringify(value)} from ${label}`);
  }
}

export const tagsTarget: FuzzTarget = {
  name: 'tags',
  description: 'src/shared/tags.ts: never throws; ≤ 16 tags, each matching SPEC §10; drops counted; settings agree',
  seeds(rand) {
    const seeds = ['team=search, env=prod', 'a=1,,b=2,', 'A=B', ' x = y ', 'bad pair, ok=1', Array.from({ length: 20 }, (_, i) => `t${i}=v`).join(',')];
    for (let n = 0; n < 20; n++) seeds.push(randomText(rand));
    return seeds.map((s) => Buffer.from(s));
  },
  generate(rand) {
    return Buffer.from(randomText(rand));
  },
  check(input, rand) {
    const text = input.toString('utf8');
    const label = JSON.stringify(text.slice(0, 200));
    const map: TagMap = new Map();
    const { dropped } = parseTagsInto(text, map);
    expect(Number.isSafeInteger(dropped) && dropped >= 0, 'bad-count', () => `dropped ${dropped}`);
    checkMap(map, label);
    // Each kept tag is a pair of the text, as written (the name lower-cased, both trimmed).
    const pairs = text.split(',').map((pair) => pair.trim());
    for (const [name, value] of map) {
      const found = pairs.some((pair) => {
        const eq = pair.indexOf('=');
        return eq >= 0 && pair.slice(0, eq).trim().toLowerCase() === name && pair.slice(eq + 1).trim() === value;
      });
      expect(found, 'tag-not-in-text', () => `${name}=${value} not a pair of ${label}`);
    }
    // Several headers add up, still at most 16.
    const more: TagMap = new Map(map);
    parseTagsInto(text.split('').reverse().join(''), more);
    parseTagsInto(pick(rand, ['a=1', 'z=2', text]), more);
    checkMap(more, `${label} and more headers`);
    // TAGS: accepted only if every non-empty pair is kept.
    const setting = parseTagsSetting(text);
    if (setting.ok) {
      expect(Object.isFrozen(setting.tags) && Object.keys(setting.tags).length <= MAX_TAGS, 'setting-tags', () => `${label}: ${JSON.stringify(setting.tags)}`);
      for (const [name, value] of Object.entries(setting.tags)) expect(NAME.test(name) && VALUE.test(value), 'bad-tag', () => `setting ${name}=${value}`);
      const merged = mergeTags(setting.tags, more);
      for (const [name, value] of more) expect(merged[name] === value, 'merge-order', () => `request tag ${name} lost to the setting`);
    } else {
      expect(setting.message.length < 400 && !/[\r\n]/.test(setting.message), 'setting-message', () => setting.message);
    }
  },
  grow(input, factor) {
    return Buffer.concat(Array.from({ length: factor }, () => [input, Buffer.from(',')]).flat());
  },
  work(input) {
    parseTagsInto(input.toString('utf8'), new Map());
  },
};
