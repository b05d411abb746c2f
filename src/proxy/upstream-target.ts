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
 * The path a log may show for any request target, refused ones included: the origin-form
 * path without the query (which may hold a `key`) and without the authority of an
 * absolute-form target (which may hold `user:password@`). '' when there is none.
 */
export function pathForLog(target: string): string {
  const pathAndQuery = originFormOf(target) ?? '';
  const q = pathAndQuery.indexOf('?');
  return q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
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

/** Path segments as judged: `%2e` read as `.`, `%2f`, `%5c` and `\\` as separators. */
function judgedSegments(path: string): string[] {
  return path.replace(ENCODED_DOT, '.').replace(SEPARATORS, '/').split('/').slice(1);
}

/**
 * True when the path, after RFC 3986 §5.2.4 remove_dot_segments, ends above (or beside)
 * the base path. As in the RFC, `..` at the root stays at the root (`/../v1/x` is
 * `/v1/x`); so with an empty base path nothing is ever refused (SPEC §8).
 */
function climbsAboveBase(joinedPath: string, basePath: string): boolean {
  if (basePath === '') return false;
  // Fast path: no dot at all, literal or encoded, means nothing can climb.
  if (!joinedPath.includes('.') && !/%2e/i.test(joinedPath)) return false;
  const stack: string[] = [];
  for (const segment of judgedSegments(joinedPath)) {
    if (segment === '..') stack.pop();
    else if (segment !== '.') stack.push(segment);
  }
  // The base path is judged the same way, so an encoded slash in it (`/a%2fb`) compares alike.
  const baseSegments = judgedSegments(basePath);
  if (stack.length < baseSegments.length) return true;
  return baseSegments.some((segment, i) => stack[i] !== segment);
}
