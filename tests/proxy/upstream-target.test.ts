import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveUpstreamTarget } from '../../src/proxy/upstream-target.ts';

/** The upstream path and query for an accepted target. */
function upstreamPath(target: string, basePath: string): string {
  const result = resolveUpstreamTarget(target, basePath);
  assert.ok(result.ok, `${JSON.stringify(target)} with base ${JSON.stringify(basePath)} should be accepted`);
  return result.upstreamPath;
}

function assertRefused(target: string, basePath: string): void {
  const result = resolveUpstreamTarget(target, basePath);
  assert.equal(result.ok, false, `${JSON.stringify(target)} with base ${JSON.stringify(basePath)} should be refused`);
  if (!result.ok) {
    assert.ok(result.message.length > 0);
    assert.ok(!result.message.includes(target) || target.length < 2, 'the message does not echo the target');
  }
}

describe('joining the base path (SPEC §3)', () => {
  test('a request path that already begins with the base path is not given it twice', () => {
    assert.equal(upstreamPath('/v1/chat/completions', '/v1'), '/v1/chat/completions');
    assert.equal(upstreamPath('/v1', '/v1'), '/v1');
    assert.equal(upstreamPath('/v1/', '/v1'), '/v1/');
    assert.equal(upstreamPath('/v1?x=1', '/v1'), '/v1?x=1');
  });

  test('a request path without the base path gets it in front', () => {
    assert.equal(upstreamPath('/chat/completions', '/v1'), '/v1/chat/completions');
    assert.equal(upstreamPath('/', '/v1'), '/v1/');
    assert.equal(upstreamPath('/?a=b', '/v1'), '/v1/?a=b');
    assert.equal(upstreamPath('/v1/chat/completions', '/api'), '/api/v1/chat/completions');
  });

  test('the base path matches whole segments only', () => {
    assert.equal(upstreamPath('/v1x', '/v1'), '/v1/v1x');
    assert.equal(upstreamPath('/v1x/models', '/v1'), '/v1/v1x/models');
    assert.equal(upstreamPath('/v10/models', '/v1'), '/v1/v10/models');
    assert.equal(upstreamPath('/V1/models', '/v1'), '/v1/V1/models');
    assert.equal(upstreamPath('/apix', '/api'), '/api/apix');
  });

  test('a base path of several segments matches only as a whole', () => {
    assert.equal(upstreamPath('/a/b/c', '/a/b'), '/a/b/c');
    assert.equal(upstreamPath('/a/b', '/a/b'), '/a/b');
    assert.equal(upstreamPath('/a/bc', '/a/b'), '/a/b/a/bc');
    assert.equal(upstreamPath('/a', '/a/b'), '/a/b/a');
    assert.equal(upstreamPath('/b/c', '/a/b'), '/a/b/b/c');
  });

  test('with an empty base path the request path goes as is', () => {
    assert.equal(upstreamPath('/v1/chat/completions', ''), '/v1/chat/completions');
    assert.equal(upstreamPath('/', ''), '/');
    assert.equal(upstreamPath('/x?y', ''), '/x?y');
  });

  test('clientPath is the path the client asked for, without the query or the base path added', () => {
    const result = resolveUpstreamTarget('/chat/completions?key=secret&x=1', '/v1');
    assert.deepEqual(result, { ok: true, upstreamPath: '/v1/chat/completions?key=secret&x=1', clientPath: '/chat/completions', query: 'key=secret&x=1' });
    const absolute = resolveUpstreamTarget('http://elsewhere/v1/models?x', '/v1');
    assert.deepEqual(absolute, { ok: true, upstreamPath: '/v1/models?x', clientPath: '/v1/models', query: 'x' });
  });
});

describe('the query string (SPEC §3: byte for byte)', () => {
  const QUERIES = [
    'a=1&a=2',
    'b=%2F%zz+x&&c=%E2%82%AC',
    '%',
    '%%25',
    '+',
    'a+b=c+d',
    'key=&=',
    '?',
    '?a=1?b',
    'path=/../../etc/passwd',
    'x=\u00e9\u00ff\u0080',
    'x=a%00b',
    'q="quoted" <angle> {brace}|pipe\\back`tick^',
    ';a;b',
  ];

  test('is forwarded exactly as received, whatever its bytes', () => {
    for (const query of QUERIES) {
      for (const base of ['', '/v1', '/api']) {
        const result = resolveUpstreamTarget(`/v1/models?${query}`, base);
        assert.ok(result.ok, query);
        assert.ok(result.upstreamPath.endsWith(`/v1/models?${query}`), `${query} with base ${base}`);
        assert.equal(result.query, query);
        assert.equal(result.clientPath, '/v1/models');
      }
    }
  });

  test('an empty `?` is kept, and a target without `?` gets none', () => {
    assert.deepEqual(resolveUpstreamTarget('/v1/models?', '/v1'), { ok: true, upstreamPath: '/v1/models?', clientPath: '/v1/models', query: '' });
    assert.deepEqual(resolveUpstreamTarget('/v1/models', '/v1'), { ok: true, upstreamPath: '/v1/models', clientPath: '/v1/models', query: '' });
  });

  test('`??` keeps both question marks; the query starts after the first', () => {
    assert.deepEqual(resolveUpstreamTarget('/x??', ''), { ok: true, upstreamPath: '/x??', clientPath: '/x', query: '?' });
    assert.equal(upstreamPath('/models??a', '/v1'), '/v1/models??a');
  });

  test('dot segments in the query are never judged', () => {
    assert.equal(upstreamPath('/v1/files?name=../../x&p=%2e%2e%2f', '/v1'), '/v1/files?name=../../x&p=%2e%2e%2f');
    assert.equal(upstreamPath('/files?/../..', '/v1'), '/v1/files?/../..');
  });
});

describe('absolute-form targets (SPEC §3: only path and query are used)', () => {
  test('the scheme and authority are dropped, path and query kept', () => {
    assert.equal(upstreamPath('http://elsewhere/x?y', ''), '/x?y');
    assert.equal(upstreamPath('http://elsewhere/x?y', '/v1'), '/v1/x?y');
    assert.equal(upstreamPath('http://elsewhere:81/v1/models?x=1', '/v1'), '/v1/models?x=1');
    assert.equal(upstreamPath('https://user@host:1/x', ''), '/x');
    assert.equal(upstreamPath('https://user:pw@host:1/v1/x', '/v1'), '/v1/x');
    assert.equal(upstreamPath('HTTP://ELSEWHERE/v1/a', '/v1'), '/v1/a');
    assert.equal(upstreamPath('http://[::1]:8080/v1/a', '/v1'), '/v1/a');
  });

  test('an absolute-form target without a path asks for the root', () => {
    assert.equal(upstreamPath('http://elsewhere', ''), '/');
    assert.equal(upstreamPath('http://elsewhere', '/v1'), '/v1/');
    assert.deepEqual(resolveUpstreamTarget('http://elsewhere?x', '/v1'), { ok: true, upstreamPath: '/v1/?x', clientPath: '/', query: 'x' });
    assert.deepEqual(resolveUpstreamTarget('http://elsewhere?', ''), { ok: true, upstreamPath: '/?', clientPath: '/', query: '' });
  });

  test('the authority never leaks into the path', () => {
    for (const target of ['http://evil.example/x', 'http://evil.example:1/x', 'https://a@evil.example/x', 'http://evil.example?evil.example']) {
      const result = resolveUpstreamTarget(target, '/v1');
      assert.ok(result.ok);
      assert.ok(!result.upstreamPath.slice(0, result.upstreamPath.indexOf('?') >>> 0).includes('evil'), target);
    }
  });

  test('a path that looks like another authority stays a path on the upstream', () => {
    assert.equal(upstreamPath('//evil.example/x', '/v1'), '/v1//evil.example/x');
    assert.equal(upstreamPath('//evil.example/x', ''), '//evil.example/x');
    assert.equal(upstreamPath('/@evil.example/x', '/v1'), '/v1/@evil.example/x');
    assert.equal(upstreamPath('///x', '/v1'), '/v1///x');
  });

  test('dot segments in an absolute-form path are judged like any other', () => {
    assertRefused('http://elsewhere/v1/../x', '/v1');
    assert.equal(upstreamPath('http://elsewhere/v1/a/../b', '/v1'), '/v1/a/../b');
  });
});

describe('targets that are not a path', () => {
  test('asterisk-form, authority-form and garbage are refused', () => {
    for (const target of ['*', '', 'garbage', 'v1/models', 'elsewhere:443', 'elsewhere.example:443', 'http:/x', 'http:x', '://x/y', '1http://x/y', 'ht tp://x/y', '?x', '.', '..', '../x']) {
      assertRefused(target, '/v1');
    }
  });
});

describe('dot segments (SPEC §8: judged after RFC 3986 §5.2.4 resolution)', () => {
  const CLIMB_ABOVE_V1 = [
    '/v1/..',
    '/v1/../',
    '/v1/../admin',
    '/..',
    '/../x',
    '/v1/a/../..',
    '/v1/a/../../x',
    '/v1/%2e%2e',
    '/v1/%2e%2e/x',
    '/v1/%2E%2E/x',
    '/v1/%2E%2e/x',
    '/v1/%2E./x',
    '/v1/.%2e/x',
    '/v1/.%2E',
    '/v1/..%2f',
    '/v1/..%2F',
    '/v1/..%2fx',
    '/v1/..%2fx/..%2f..',
    '/x%2f..%2f..',
    '/x%2f..%2f..%2fy',
    '/v1/..\\',
    '/v1/..\\..\\x',
    '/v1/..%5c',
    '/v1/..%5Cx',
    '/v1/x%5c..%5c..',
    '/v1/.%2e/%2e./x',
    '/v1/./../x',
    '/v1/a/./../../x',
  ];

  test('a path that would end above the base path is refused', () => {
    for (const target of CLIMB_ABOVE_V1) assertRefused(target, '/v1');
  });

  test('a path that would end beside the base path is refused', () => {
    assertRefused('/v1/../v2/models', '/v1');
    assertRefused('/v1/../V1/models', '/v1');
    assertRefused('/v1/../v1x', '/v1');
    assertRefused('/b/../../a/c', '/a/b');
    assertRefused('/../c', '/a/b');
  });

  const STAY_BELOW_V1 = [
    '/v1/a/../b',
    '/v1/./x',
    '/v1/.',
    '/v1/a/..',
    '/v1/a/%2e%2e/b',
    '/v1/a/%2E%2E',
    '/v1/a%2f..',
    '/v1/a%2f..%2fb',
    '/v1/a\\..\\b',
    '/v1/a%5c..',
    '/a/..',
    '/v1/../v1/models',
    '/v1/...',
    '/v1/..foo',
    '/v1/foo..',
    '/v1/.../x',
    '/v1/%2e',
    '/v1/%252e%252e/x',
    '/v1/..x;/x',
  ];

  test('a path that stays at or below the base path is forwarded exactly as received', () => {
    for (const target of STAY_BELOW_V1) {
      const expected = target.startsWith('/v1/') || target === '/v1' ? target : `/v1${target}`;
      assert.equal(upstreamPath(target, '/v1'), expected, target);
    }
  });

  test('RFC 3986 §5.2.4 stops at the root, so a path that climbs past it and comes back is forwarded as received', () => {
    assert.equal(upstreamPath('/v1/../../v1/x', '/v1'), '/v1/../../v1/x');
    assert.equal(upstreamPath('/v1/%2e%2e/%2e%2e/v1/x', '/v1'), '/v1/%2e%2e/%2e%2e/v1/x');
  });

  test('with an empty base path nothing can end above it, so every path is forwarded as received', () => {
    for (const target of ['/..', '/../x', '/a/../../b', '/%2e%2e/%2e%2e', '/..%2f..%2f', '/..\\x']) {
      assert.equal(upstreamPath(target, ''), target);
    }
  });

  test('a longer base path is judged segment by segment', () => {
    assert.equal(upstreamPath('/a/b/c/../d', '/a/b'), '/a/b/c/../d');
    assert.equal(upstreamPath('/c/..', '/a/b'), '/a/b/c/..');
    assertRefused('/a/b/..', '/a/b');
    assertRefused('/..', '/a/b');
  });

  test('a base path with an encoded slash is judged the way the request path is', () => {
    assert.equal(upstreamPath('/a%2fb/x/../y', '/a%2fb'), '/a%2fb/x/../y');
    assert.equal(upstreamPath('/x/..', '/a%2Fb'), '/a%2Fb/x/..');
    assertRefused('/..', '/a%2fb');
  });

  test('the query of a refused path does not rescue it, and the query of an accepted one is kept', () => {
    assertRefused('/v1/..?x=/v1', '/v1');
    assert.equal(upstreamPath('/v1/a/..?q=1', '/v1'), '/v1/a/..?q=1');
  });
});
