import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { findApiKey, keyIdFrom, keyIdOf, subprotocolKey } from '../../src/usage/key-id.ts';

const sha = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 12);

describe('key_id (SPEC §8)', () => {
  test('is the first 12 lowercase hex digits of the key\'s SHA-256, never the key', () => {
    assert.equal(keyIdOf('sk-abc'), sha('sk-abc'));
    assert.match(keyIdOf('sk-abc'), /^[0-9a-f]{12}$/);
  });

  test('takes the token after Bearer, in any case of the scheme, and skips other schemes', () => {
    assert.equal(findApiKey(['Authorization', 'Bearer sk-1'], ''), 'sk-1');
    assert.equal(findApiKey(['authorization', 'bearer   sk-2  '], ''), 'sk-2');
    assert.equal(findApiKey(['Authorization', 'Basic dXNlcjpwYXNz'], ''), null);
    assert.equal(findApiKey(['Authorization', 'Basic dXNlcjpwYXNz', 'x-api-key', 'sk-3'], ''), 'sk-3');
  });

  test('looks in Authorization, x-api-key, api-key, x-goog-api-key, then the key query parameter, in that order', () => {
    const all = ['x-goog-api-key', 'g', 'api-key', 'a', 'X-Api-Key', 'x', 'Authorization', 'Bearer b'];
    assert.equal(findApiKey(all, 'key=q'), 'b');
    assert.equal(findApiKey(all.slice(0, 6), 'key=q'), 'x');
    assert.equal(findApiKey(all.slice(0, 4), 'key=q'), 'a');
    assert.equal(findApiKey(all.slice(0, 2), 'key=q'), 'g');
    assert.equal(findApiKey([], 'alt=sse&key=q'), 'q');
    assert.equal(findApiKey([], 'alt=sse'), null);
  });

  test('percent-decodes the key query parameter, and leaves a + as a +', () => {
    assert.equal(findApiKey([], 'key=a%2Fb+c'), 'a/b+c');
    assert.equal(findApiKey([], 'key=bad%zz'), 'bad%zz');
    assert.equal(findApiKey([], 'key='), null);
  });

  test('is null when the request carries no key', () => {
    assert.equal(keyIdFrom(['Content-Type', 'application/json'], 'x=1'), null);
    assert.equal(keyIdFrom(['Authorization', 'Bearer sk-z'], ''), sha('sk-z'));
  });
});

describe('the browser WebSocket subprotocol key (SPEC §13)', () => {
  test('openai-insecure-api-key.KEY among the offered subprotocols is a key, whatever the header’s case', () => {
    assert.equal(subprotocolKey(['Sec-WebSocket-Protocol', 'realtime, openai-insecure-api-key.sk-abc, openai-beta.realtime-v1']), 'sk-abc');
    assert.equal(subprotocolKey(['sec-websocket-protocol', 'openai-insecure-api-key.sk-abc']), 'sk-abc');
    assert.equal(subprotocolKey(['Sec-WebSocket-Protocol', 'realtime']), null);
    assert.equal(subprotocolKey(['Sec-WebSocket-Protocol', 'openai-insecure-api-key.']), null, 'an empty key is none');
  });

  test('it gives key_id only where no other key is present', () => {
    const protocol = ['Sec-WebSocket-Protocol', 'realtime, openai-insecure-api-key.sk-browser'];
    assert.equal(keyIdFrom(protocol, ''), sha('sk-browser'));
    assert.equal(keyIdFrom(['Authorization', 'Bearer sk-header', ...protocol], ''), sha('sk-header'));
    assert.equal(keyIdFrom(protocol, 'key=sk-query'), sha('sk-query'));
  });
});
