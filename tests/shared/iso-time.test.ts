import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isoTimeNow } from '../../src/shared/iso-time.ts';

test('the time is the wall clock’s, to the millisecond, and moves with it', (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: Date.UTC(2026, 10, 27, 13, 47, 29, 123) });
  assert.equal(isoTimeNow(), '2026-11-27T13:47:29.123Z');
  assert.equal(isoTimeNow(), '2026-11-27T13:47:29.123Z');
  t.mock.timers.tick(1);
  assert.equal(isoTimeNow(), '2026-11-27T13:47:29.124Z');
  t.mock.timers.setTime(Date.UTC(2027, 0, 1));
  assert.equal(isoTimeNow(), '2027-01-01T00:00:00.000Z');
});
