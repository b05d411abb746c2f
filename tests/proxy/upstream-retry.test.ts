import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_REPLAY_BODY_BYTES, ReplayBody } from '../../src/proxy/upstream-retry.ts';

describe('ReplayBody', () => {
  test('idempotent methods may be retried, POST and PATCH never', () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']) assert.equal(new ReplayBody(method).possible, true, method);
    for (const method of ['POST', 'PATCH', 'CONNECT', 'get']) assert.equal(new ReplayBody(method).possible, false, method);
  });

  test('gives back the body forwarded so far, whole, once', () => {
    const body = new ReplayBody('PUT');
    assert.equal(body.take(), null, 'no body yet');
    const again = new ReplayBody('PUT');
    again.add(Buffer.from('hel'));
    again.add(Buffer.from('lo'));
    assert.equal(again.take()?.toString(), 'hello');
    assert.equal(again.possible, false, 'one retry only');
    again.add(Buffer.from('more'));
    assert.equal(again.take(), null);
  });

  test('a body over the limit is not kept, and the request is no longer retried', () => {
    const body = new ReplayBody('PUT');
    body.add(Buffer.alloc(MAX_REPLAY_BODY_BYTES));
    assert.equal(body.possible, true, 'exactly the limit is kept');
    body.add(Buffer.alloc(1));
    assert.equal(body.possible, false);
    assert.equal(body.take(), null);
  });

  test('a response that began ends the chance of a retry', () => {
    const body = new ReplayBody('GET');
    body.add(Buffer.from('x'));
    body.close();
    assert.equal(body.possible, false);
    assert.equal(body.take(), null);
  });
});
