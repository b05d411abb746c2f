import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { backfillLedger } from '../../src/dashboard/ledger-backfill.ts';
import type { DashboardUsage } from '../../src/dashboard/usage-window.ts';
import { prng } from '../helpers/prng.ts';

const NOW = Date.parse('2026-03-02T12:00:00.000Z');
const DAY = 86_400_000;
const dir = mkdtempSync(join(tmpdir(), 'lmp-backfill-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** A ledger line as the proxy writes it (SPEC §4 fields, §9 cost, §10 tags and user). */
function line(at: number, over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    time: new Date(at).toISOString(), method: 'POST', path: '/v1/chat/completions', status: 200,
    model: 'gpt-4o', stream: false, prompt_tokens: 10, completion_tokens: 5, total_tokens: 15,
    cached_tokens: 0, reasoning_tokens: 0, cache_creation_tokens: 0, complete: true, end: 'done',
    duration_ms: 12, ttfb_ms: 3, key_id: 'k1', cost: 0.0001, cost_source: 'prices', tags: {}, user: null,
    ...over,
  }) + '\n';
}

function ledger(text: string | Buffer): string {
  const path = join(dir, `ledger-${files++}.jsonl`);
  writeFileSync(path, text);
  return path;
}

async function read(path: string, options: Partial<Parameters<typeof backfillLedger>[2]> = {}) {
  const got: DashboardUsage[] = [];
  // Tags come with a null prototype (a tag named __proto__ is data); spread to compare with literals.
  const result = await backfillLedger(path, (u) => got.push({ ...u, tags: { ...u.tags } }), { since: NOW - DAY, ...options });
  return { got, result };
}

describe('ledger backfill', () => {
  it('reads the records of the last 24 hours, newest first, and leaves older ones out', async () => {
    const text = [NOW - 2 * DAY, NOW - DAY - 1, NOW - DAY + 1, NOW - 60_000, NOW - 1].map((t, i) => line(t, { user: `u${i}` })).join('');
    const { got, result } = await read(ledger(text));
    assert.deepEqual(got.map((u) => u.user), ['u4', 'u3', 'u2']);
    assert.equal(result.records, 3);
    assert.equal(result.outside, 2);
    assert.equal(result.error, null);
    assert.deepEqual(got[0], {
      time: new Date(NOW - 1).toISOString(), model: 'gpt-4o', prompt_tokens: 10, completion_tokens: 5, total_tokens: 15,
      key_id: 'k1', cost: 0.0001, tags: {}, user: 'u4',
    });
  });

  it('leaves out records at or after `before`: the live path counts those', async () => {
    const { got, result } = await read(ledger(line(NOW - 10) + line(NOW) + line(NOW + 5)), { before: NOW });
    assert.equal(got.length, 1);
    assert.equal(result.outside, 2);
  });

  it('skips and counts lines that are not records, and takes CRLF, blank lines and a last line without newline', async () => {
    const text = 'not json\n' + line(NOW - 5) + '\n\r\n' + '{"time":"yesterday"}\n[1,2]\n' + line(NOW - 4).replace('\n', '\r\n') + '{"time":"x"' + '\n' + line(NOW - 3).trimEnd();
    const { got, result } = await read(ledger(text), { chunkBytes: 37 });
    assert.equal(got.length, 3);
    assert.equal(result.skipped, 4);
  });

  it('reads an older ledger without cost, tags or user, and wrong types as absent', async () => {
    const old = JSON.stringify({ time: new Date(NOW - 5).toISOString(), model: 7, total_tokens: '9', key_id: null, tags: { team: 'a', n: 1 } });
    const { got } = await read(ledger(old + '\n'));
    assert.deepEqual(got, [{ time: new Date(NOW - 5).toISOString(), model: null, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, key_id: null, cost: null, tags: { team: 'a' }, user: null }]);
  });

  it('gives the same records whatever the chunk size, with multibyte names cut at every boundary', async () => {
    const rand = prng(11);
    let text = '';
    for (let i = 0; i < 40; i++) text += line(NOW - DAY + 1000 * (i + 1), { user: `ü€😀${i}`, model: rand() < 0.3 ? 'модель' : 'gpt' });
    const path = ledger(text);
    const whole = (await read(path, { chunkBytes: 1 << 20 })).got;
    assert.equal(whole.length, 40);
    for (let chunk = 1; chunk <= 300; chunk += chunk < 40 ? 1 : 17) {
      const { got, result } = await read(path, { chunkBytes: chunk });
      assert.deepEqual(got, whole, `chunk ${chunk}`);
      assert.equal(result.skipped, 0, `chunk ${chunk}`);
    }
  });

  it('drops a line over the length limit without holding it, and keeps its neighbours', async () => {
    const long = JSON.stringify({ time: new Date(NOW - 2).toISOString(), pad: 'x'.repeat(5000) }) + '\n';
    const path = ledger(line(NOW - 3, { user: 'a' }) + long + line(NOW - 1, { user: 'b' }));
    for (const chunk of [64, 700, 4999, 5001, 1 << 20]) {
      const { got, result } = await read(path, { chunkBytes: chunk, maxLineBytes: 1000 });
      assert.deepEqual(got.map((u) => u.user), ['b', 'a'], `chunk ${chunk}`);
      assert.equal(result.skipped, 1, `chunk ${chunk}`);
    }
  });

  it('reads past a little disorder and stops at the first chunk holding only older records', async () => {
    // Old records, then a recent one among a few old ones (out of order), then recent ones.
    let text = '';
    for (let i = 0; i < 200; i++) text += line(NOW - 3 * DAY + i * 1000, { user: 'old' });
    text += line(NOW - DAY - 5) + line(NOW - DAY + 500, { user: 'late' }) + line(NOW - DAY - 4);
    for (let i = 0; i < 50; i++) text += line(NOW - 1000 * (50 - i), { user: 'new' });
    const path = ledger(text);
    const size = Buffer.byteLength(text);
    const chunk = Buffer.byteLength(line(NOW)) * 8;
    const { got, result } = await read(path, { chunkBytes: chunk });
    assert.equal(got.filter((u) => u.user === 'late').length, 1);
    assert.equal(got.filter((u) => u.user === 'new').length, 50);
    assert.equal(got.some((u) => u.user === 'old'), false);
    assert.ok(result.bytesRead < size / 2, `read ${result.bytesRead} of ${size} bytes`);
  });

  it('reads only the tail of a large ledger whose day is at its end', async () => {
    const path = join(dir, 'large.jsonl');
    const fd = openSync(path, 'w');
    const old = Buffer.from(line(NOW - 3 * DAY).repeat(10_000)); // ~3.4 MB a write
    for (let i = 0; i < 15; i++) writeSync(fd, old); // ~50 MB of records older than the window
    let tail = '';
    for (let i = 0; i < 2000; i++) tail += line(NOW - DAY + 40_000 * (i + 1));
    writeSync(fd, tail);
    closeSync(fd);
    const chunk = 256 * 1024;
    const { result } = await read(path, { chunkBytes: chunk });
    assert.equal(result.records, 2000);
    const tailBytes = Buffer.byteLength(tail);
    assert.ok(result.bytesRead <= tailBytes + 2 * chunk, `read ${result.bytesRead} bytes for a ${tailBytes}-byte tail`);
  });

  it('lets timers run while it reads', async () => {
    const path = ledger(line(NOW - 5).repeat(5000));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const { result } = await read(path, { chunkBytes: 4096 });
    clearInterval(timer);
    assert.equal(result.records, 5000);
    assert.ok(ticks > 0, 'no timer ran during the read');
  });

  it('answers an unreadable file with its error code, and stops when aborted', async () => {
    const missing = await read(join(dir, 'missing.jsonl'));
    assert.deepEqual(missing.result, { records: 0, skipped: 0, outside: 0, bytesRead: 0, error: 'ENOENT' });
    const folder = await read(dir);
    assert.equal(folder.result.error, 'EISDIR');
    const controller = new AbortController();
    controller.abort();
    const aborted = await read(ledger(line(NOW - 5)), { signal: controller.signal });
    assert.equal(aborted.result.error, 'aborted');
    assert.equal(aborted.result.records, 0);
    const empty = await read(ledger(''));
    assert.deepEqual(empty.result, { records: 0, skipped: 0, outside: 0, bytesRead: 0, error: null });
  });
});
