// Which messages the session tap sniffs (SPEC §13): the type at the front judged alone, anything
// else by the byte searches — which only ever rule messages out, never a usage event.

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, test } from 'node:test';
import { eventTypeOf, mayBeSniffed, mayMatter, SNIFFED_EVENTS } from '../../src/websocket/session-events.ts';
import { prng } from '../helpers/prng.ts';

describe('session events', () => {
  test('a type written first is read without the rest of the message', () => {
    assert.equal(eventTypeOf(Buffer.from('{"type":"response.output_audio.delta","delta":"AAAA')), 'response.output_audio.delta');
    assert.equal(eventTypeOf(Buffer.from('{"type":"response.done"}')), 'response.done');
  });

  test('a type elsewhere, with an escape, with spaces, or cut off is left to the byte searches', () => {
    for (const text of ['{"event_id":"e","type":"response.done"}', '{"type":"response.\\u0064one"}', '{ "type":"response.done"}', '{"type": "response.done"}', '{"type":"response.do', '[1]', '']) {
      assert.equal(eventTypeOf(Buffer.from(text)), undefined, text);
    }
  });

  test('a type longer than any the reader acts on is not one of them', () => {
    const type = eventTypeOf(Buffer.from(`{"type":"${'x'.repeat(100)}"}`));
    assert.ok(type !== undefined && !SNIFFED_EVENTS.has(type));
  });

  test('the byte searches keep every message that names usage, a session or response.created, or holds an escape', () => {
    for (const text of ['{"event_id":"e","type":"response.done","response":{"usage":{}}}', '{"a":1,"type":"session.updated","session":{}}', '{"x":"response.created"}', '{"us\\u0061ge":1}']) {
      assert.ok(mayMatter(Buffer.from(text)), text);
    }
  });

  test('base64 audio never matches a search, whatever its bytes', () => {
    const random = prng(3);
    for (let i = 0; i < 200; i++) {
      const raw = Buffer.from(Array.from({ length: 3000 }, () => Math.floor(random() * 256)));
      assert.equal(mayMatter(Buffer.from(`{"event_id":"e","delta":"${raw.toString('base64')}"}`)), false);
    }
  });

  test('mayBeSniffed() gives the verdict of eventTypeOf() and the set, on every prefix of real, odd and random events', () => {
    const random = prng(5);
    const types = [...SNIFFED_EVENTS, 'response.output_audio.delta', 'response.output_text.delta', 'response.don', 'response.done2', 'session.create', 'response.\\u0064one', 'x'.repeat(70), '', 'response.done\\"'];
    for (let round = 0; round < 3000; round++) {
      const type = types[Math.floor(random() * types.length)] as string;
      const body = random() < 0.2 ? `{ "type":"${type}"}` : `{"type":"${type}","event_id":"e${round}","delta":"AAAA"}`;
      const prefix = Buffer.from(body).subarray(0, Math.floor(random() * (body.length + 1)));
      const viaString = eventTypeOf(prefix);
      const expected = viaString === undefined || SNIFFED_EVENTS.has(viaString);
      assert.equal(mayBeSniffed(prefix), expected, prefix.toString());
    }
  });
});
