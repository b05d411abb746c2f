import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { injectStreamUsage, isFilterableStream } from '../../src/injection/stream-usage-injection.ts';

describe('injectStreamUsage', () => {
  const streaming = Buffer.from('{"model":"m","stream":true}');

  test('the edited body goes with its own length, never chunked or compressed', () => {
    const result = injectStreamUsage(['Content-Type', 'application/json', 'Transfer-Encoding', 'chunked', 'Accept-Encoding', 'gzip', 'X-Keep', '1'], streaming);
    assert.ok(result !== null);
    assert.equal(result.body.toString(), '{"model":"m","stream":true,"stream_options":{"include_usage":true}}');
    assert.deepEqual(result.headers, ['Content-Type', 'application/json', 'X-Keep', '1', 'Content-Length', String(result.body.length), 'Accept-Encoding', 'identity']);
  });

  test('a body it does not edit is left to go as it came', () => {
    assert.equal(injectStreamUsage(['Content-Length', '10'], Buffer.from('{"model":"m"}')), null);
  });
});

describe('isFilterableStream', () => {
  test('only an uncompressed 200 event stream', () => {
    assert.equal(isFilterableStream(200, 'text/event-stream; charset=utf-8', undefined), true);
    assert.equal(isFilterableStream(200, 'text/event-stream', ' Identity '), true);
    assert.equal(isFilterableStream(200, 'text/event-stream', 'gzip'), false);
    assert.equal(isFilterableStream(400, 'text/event-stream', undefined), false);
    assert.equal(isFilterableStream(200, 'application/json', undefined), false);
    assert.equal(isFilterableStream(200, undefined, undefined), false);
  });
});
