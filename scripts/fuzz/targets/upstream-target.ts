/**
 * Fuzz target: src/proxy/upstream-target.ts resolveUpstreamTarget on random request targets (every %xx,
 * dot segments, slashes, backslashes, absolute-form) against an independent reference: RFC 3986 §5.2.4
 * remove_dot_segments written out step by step as the RFC words it, on the path as SPEC §8 judges it
 * (`%2e` a dot; `%2f`, `%5c` and `\` separators). A path is refused exactly when the resolved path ends
 * above the base path; an accepted one is forwarded byte for byte, and the upstream's host, built by
 * RFC 9112 §3.3 from the upstream origin and the path, is always the upstream's.
 */
import { Buffer } from 'node:buffer';
import { resolveUpstreamTarget } from '../../../src/proxy/upstream-target.ts';
import { expect, type FuzzTarget } from '../engine.ts';
import { int, pick, type Rand } from '../mutate.ts';

// Base paths as config.ts makes them from UPSTREAM_URL (a URL's pathname without its trailing slash).
const BASES = ['', '/v1', '/api/v1', '/openai/deployments/gpt-4o', '/a%2fb', '/v1.0', '/%7Euser', '/a%20b', '/x/y/z'];
const PIECES = [
  '/', '/', '/', '//', '.', '..', '...', '%2e', '%2E', '.%2e', '%2e%2E', '%2f', '%2F', '%5c', '%5C', '\\', 'v1', 'v1', 'api',
  'chat', 'completions', 'x', '', '%', '%2', '%zz', '%00', '%252e', '@', ':', ';', 'evil.example', '?', '?q=1&key=k', '#f',
  'é', '%C3%A9', '~', '+', '&', '=', 'v1x', 'a%2fb', '.v1', 'v1.', 'deployments', 'openai',
];
const SCHEMES = ['http://', 'https://', 'HTTP://', 'ws://', 'x+y.z://', 'http:/', '://', 'http://user:pw@'];

function randomTarget(rand: Rand, base: string): string {
  let path = '';
  const roll = rand();
  if (roll < 0.3 && base !== '') path = base;
  for (let n = int(rand, 10); n > 0; n--) path += pick(rand, PIECES);
  if (!path.startsWith('/') && rand() < 0.85) path = `/${path}`;
  if (rand() < 0.1) path = pick(rand, SCHEMES) + pick(rand, ['evil.example', 'h:1', '', '[::1]']) + path;
  if (rand() < 0.03) path = pick(rand, ['*', '', 'evil.example:443', 'h']);
  return path;
}

/** SPEC §8: the path as judged. */
function judged(path: string): string {
  return path.replace(/%2e/gi, '.').replace(/%2f|%5c|\\/gi, '/');
}

/** RFC 3986 §5.2.4, step by step: the input buffer is emptied into the output buffer. */
export function removeDotSegments(path: string): string {
  let input = path;
  let output = '';
  while (input.length > 0) {
    if (input.startsWith('../')) input = input.slice(3); // A
    else if (input.startsWith('./')) input = input.slice(2);
    else if (input.startsWith('/./')) input = input.slice(2); // B
    else if (input === '/.') input = '/';
    else if (input.startsWith('/../') || input === '/..') {
      // C: replace the prefix with "/" and remove the last segment and its preceding "/" from the output
      input = input === '/..' ? '/' : input.slice(3);
      const slash = output.lastIndexOf('/');
      output = slash < 0 ? '' : output.slice(0, slash);
    } else if (input === '.' || input === '..') input = ''; // D
    else {
      // E: move the first path segment, with its initial "/" if any, to the output
      const next = input.indexOf('/', input.startsWith('/') ? 1 : 0);
      const segment = next < 0 ? input : input.slice(0, next);
      output += segment;
      input = input.slice(segment.length);
    }
  }
  return output;
}

function checkTarget(target: string, base: string): void {
  let result: ReturnType<typeof resolveUpstreamTarget>;
  try {
    result = resolveUpstreamTarget(target, base);
  } catch (error) {
    throw new Error(`resolveUpstreamTarget(${JSON.stringify(target)}, ${JSON.stringify(base)}) threw: ${String(error)}`);
  }
  // The reference's view of the same target: origin-form as is; absolute-form keeps its path and query.
  let pathAndQuery: string | null = null;
  if (target.startsWith('/')) pathAndQuery = target;
  else {
    const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?]*(.*)$/s.exec(target);
    if (m !== null) pathAndQuery = (m[1] as string).startsWith('/') ? (m[1] as string) : `/${m[1] as string}`;
  }
  const label = `target ${JSON.stringify(target)} base ${JSON.stringify(base)}`;
  if (pathAndQuery === null) {
    expect(!result.ok, 'accepts-non-path', () => `${label} accepted as ${JSON.stringify(result)}`);
    return;
  }
  const q = pathAndQuery.indexOf('?');
  const path = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
  const hasBase = base === '' || path === base || path.startsWith(`${base}/`);
  const joined = hasBase ? path : base + path;
  const resolved = removeDotSegments(judged(joined));
  const judgedBase = judged(base);
  const climbs = base !== '' && !(resolved === judgedBase || resolved.startsWith(`${judgedBase}/`));
  expect(result.ok === !climbs, climbs ? 'climb-accepted' : 'path-refused', () => `${label}: resolved ${JSON.stringify(resolved)}, got ${JSON.stringify(result)}`);
  if (!result.ok) return;
  const expected = hasBase ? pathAndQuery : base + pathAndQuery;
  expect(result.upstreamPath === expected, 'path-changed', () => `${label}: upstream path ${JSON.stringify(result.upstreamPath)}, want ${JSON.stringify(expected)}`);
  expect(result.clientPath === path && result.query === (q < 0 ? '' : pathAndQuery.slice(q + 1)), 'client-path', () => `${label}: ${JSON.stringify(result)}`);
  // RFC 9112 §3.3: the target URI of an origin-form request is the origin, then the path: never another host.
  let host: string | null = null;
  try {
    host = new URL(`http://upstream.example:8080${result.upstreamPath}`).host;
  } catch {
    host = 'upstream.example:8080'; // not a URL WHATWG parses, but still no other authority
  }
  expect(result.upstreamPath.startsWith('/') && host === 'upstream.example:8080', 'other-host', () => `${label}: ${result.upstreamPath} names ${host}`);
}

export const upstreamTargetTarget: FuzzTarget = {
  name: 'upstream-target',
  description: 'src/proxy/upstream-target.ts vs RFC 3986 §5.2.4 written out: refused iff above the base path; never another host',
  seeds(rand) {
    const seeds = ['/v1/chat/completions', '/chat/completions', '//evil.example/x', '/@evil', '/v1/../x', '/v1/%2e%2e/x', '/v1/..%2f..%2fx', '/x%2f..%2fy', 'http://elsewhere/x?y=1', '/v1x/../v1/y'];
    for (let n = 0; n < 30; n++) seeds.push(randomTarget(rand, pick(rand, BASES)));
    return seeds.map((target) => Buffer.from(`${pick(rand, BASES)}\n${target}`));
  },
  generate(rand) {
    const base = pick(rand, BASES);
    return Buffer.from(`${base}\n${randomTarget(rand, base)}`);
  },
  check(input) {
    // The input is "base\ntarget"; a mutated base that config.ts could never produce is replaced.
    const text = input.toString('utf8');
    const newline = text.indexOf('\n');
    let base = newline < 0 ? '' : text.slice(0, newline);
    const target = newline < 0 ? text : text.slice(newline + 1);
    if (!BASES.includes(base)) base = '/v1';
    checkTarget(target, base);
  },
};
