import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IdleLimit, marginBefore } from '../../src/proxy/idle-limit.ts';

describe('IdleLimit', () => {
  test('starts at UPSTREAM_IDLE_MS and one upstream close does not change it (a restart closes everything at once)', () => {
    const limit = new IdleLimit(60_000);
    assert.equal(limit.ms, 60_000);
    assert.equal(limit.upstreamClosedAfter(5_000), false);
    assert.equal(limit.ms, 60_000);
  });

  test('two closes after about the same idle time are a rule: connections are retired a margin before it', () => {
    const limit = new IdleLimit(60_000);
    limit.upstreamClosedAfter(5_020);
    assert.equal(limit.upstreamClosedAfter(4_990), true);
    assert.equal(limit.ms, 4_990 - 1_000);
  });

  test('two closes that disagree teach nothing; the later one waits for its confirmation', () => {
    const limit = new IdleLimit(60_000);
    limit.upstreamClosedAfter(1_200); // a restart, say
    assert.equal(limit.upstreamClosedAfter(5_000), false);
    assert.equal(limit.ms, 60_000);
    assert.equal(limit.upstreamClosedAfter(5_050), true);
    assert.equal(limit.ms, 4_000);
  });

  test('the limit only ever shrinks, and a close at or past it teaches nothing', () => {
    const limit = new IdleLimit(10_000);
    limit.upstreamClosedAfter(2_000);
    limit.upstreamClosedAfter(2_000);
    assert.equal(limit.ms, 1_500);
    limit.upstreamClosedAfter(2_000);
    assert.equal(limit.upstreamClosedAfter(2_000), false);
    assert.equal(limit.ms, 1_500);
    assert.equal(new IdleLimit(1_000).upstreamClosedAfter(1_000), false);
  });

  test('the margin is a quarter of a short idle time, at least 50 ms and at most 1 s', () => {
    assert.equal(marginBefore(250), 62.5);
    assert.equal(marginBefore(100), 50);
    assert.equal(marginBefore(2_000), 500);
    assert.equal(marginBefore(30_000), 1_000);
    const fast = new IdleLimit(60_000);
    fast.upstreamClosedAfter(250);
    fast.upstreamClosedAfter(260);
    assert.equal(fast.ms, Math.floor(250 - 62.5));
  });

  test('an upstream that closes at once gives a limit of 0 (keep nothing), never a negative one; bad input is ignored', () => {
    const limit = new IdleLimit(60_000);
    limit.upstreamClosedAfter(10);
    limit.upstreamClosedAfter(12);
    assert.equal(limit.ms, 0);
    for (const bad of [NaN, -1, Infinity]) assert.equal(new IdleLimit(5_000).upstreamClosedAfter(bad), false);
  });
});
