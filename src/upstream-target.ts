// Turns a client's request target into the path sent upstream: the base path of
// UPSTREAM_URL joined with the request's path and query by string concatenation,
// never by URL resolution — `new URL('//evil.example/x', base)` would change the
// host (SPEC §3). Refuses paths whose dot segments climb above the base path
// (SPEC §8 "Forwarding"). Forwards every accepted path exactly as received. Pure.

export type TargetResult =
  | {
      readonly ok: true;
      /** Path and query for the upstream request line. */
      readonly upstreamPath: string;
      /** The path the client asked for, without the query: for logs and the ledger. */
      readonly clientPath: string;
      /** The raw query without its `?`, or '' (for the `key` credential lookup). */
      readonly query: string;
    }
  | { readonly ok: false; readonly message: string };

/**
 * @param target  `req.url`: origin-form (`/v1/x?q`) or absolute-form (`http://h/v1/x?q`).
 * @param basePath  '' or a path without trailing slash, such as '/v1'.
 */
export function resolveUpstreamTarget(target: string, basePath: string): TargetResult {
  const pathAndQuery = originFormOf(target);
  if (pathAndQuery === null) return { ok: false, message: 'the request target must be a path beginning with "/"' };

  const queryStart = pathAndQuery.indexOf('?');
  const path = queryStart < 0 ? pathAndQuery : pathAndQuery.slice(0, queryStart);
  const query = queryStart < 0 ? '' : pathAndQuery.slice(queryStart + 1);

  // The base path is not added twice when the request already starts with it,
  // on whole segments: /v1 matches /v1 and /v1/x, not /v1x (SPEC §3).
  const hasBase = basePath === '' || path === basePath || path.startsWith(basePath + '/');
  const upstreamPath = hasBase ? pathAndQuery : basePath + pathAndQuery;
  const joinedPath = hasBase ? path : basePath + path;

  if (climbsAboveBase(joinedPath, basePath)) {
    return { ok: false, message: 'the path climbs above the upstream base path with dot segments' };
  }
  return { ok: true, upstreamPath, clientPath: path, query };
}

/**
 * RFC 9112 §3.2: origin-form is returned as is; absolute-form (`scheme://authority/path?query`)
 * keeps only its path and query — its authority is never a place to connect to (SPEC §3).
 * Anything else (asterisk-form, authority-form, garbage) is null.
 */
function originFormOf(target: string): string | null {
  if (target.startsWith('/')) return target;
  const schemeEnd = target.indexOf('://');
  if (schemeEnd <= 0 || !/^[A-Za-z][A-Za-z0-9+.-]*$/.test(target.slice(0, schemeEnd))) return null;
  const authorityStart = schemeEnd + 3;
  let pathStart = authorityStart;
  while (pathStart < target.length && target[pathStart] !== '/' && target[pathStart] !== '?') pathStart++;
  const rest = target.slice(pathStart);
  return rest.startsWith('/') ? rest : '/' + rest;
}

// For judging only, `%2e` is a dot and `%2f`, `%5c` and `\` separate segments, because
// some upstream servers decode them before resolving (SPEC §8: `..%2f`, `x%2f..%2fy`).
const ENCODED_DOT = /%2e/gi;
const SEPARATORS = /%2f|%5c|\\/gi;

/**
 * RFC 3986 §5.2.4 remove_dot_segments, refusing instead of clamping: true when the
 * resolved path would end above the base path, or would climb above the root on the way.
 */
function climbsAboveBase(joinedPath: string, basePath: string): boolean {
  // Fast path: no dot at all, literal or encoded, means nothing can climb.
  if (!joinedPath.includes('.') && !/%2e/i.test(joinedPath)) return false;
  const segments = joinedPath.replace(ENCODED_DOT, '.').replace(SEPARATORS, '/').split('/').slice(1);
  const stack: string[] = [];
  for (const segment of segments) {
    if (segment === '..') {
      if (stack.length === 0) return true;
      stack.pop();
    } else if (segment !== '.') {
      stack.push(segment);
    }
  }
  if (basePath === '') return false;
  const baseSegments = basePath.split('/').slice(1);
  if (stack.length < baseSegments.length) return true;
  return baseSegments.some((segment, i) => stack[i] !== segment);
}
