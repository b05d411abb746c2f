import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { earlyHintLinks } from '../../src/proxy/interim-responses.ts';

describe('earlyHintLinks', () => {
  test('each link-value of each Link header, in order; other headers are not links', () => {
    assert.deepEqual(
      earlyHintLinks(['Link', '</a.css>; rel=preload; as=style, </b.js>; rel=preload', 'X-Other', '</c>', 'link', '</d.woff2>; rel=preload; as=font; crossorigin']),
      ['</a.css>; rel=preload; as=style', '</b.js>; rel=preload', '</d.woff2>; rel=preload; as=font; crossorigin'],
    );
  });

  test('a comma inside a link-value\'s parameters does not split it', () => {
    assert.deepEqual(earlyHintLinks(['Link', '</a>; rel="preload, prefetch"']), ['</a>; rel="preload, prefetch"']);
  });

  test('values Node could take seconds to reject are dropped before it sees them', () => {
    const hostile = `<a>${'; a=b'.repeat(25)} ;`;
    assert.deepEqual(earlyHintLinks(['Link', `${hostile}, </ok>; rel=preload`]), ['</ok>; rel=preload']);
    assert.deepEqual(earlyHintLinks(['Link', `</${'x'.repeat(2000)}>; rel=preload`]), []);
  });

  test('at most 16 link-values', () => {
    const many = Array.from({ length: 40 }, (_, i) => `</${i}>; rel=preload`).join(', ');
    assert.equal(earlyHintLinks(['Link', many]).length, 16);
  });
});
