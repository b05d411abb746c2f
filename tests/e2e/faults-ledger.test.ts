// The usage ledger under faults, through the real proxy: its file removed, made
// read-only or replaced while the proxy runs, and a SIGTERM with 100 streams in
// flight. Proxying never stops, failures are reported once, and no accepted line
// is lost (SPEC §4, §8).

import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { delay, keyIdOf, request, startProxy, startUpstream, waitUntil, type TestUpstream } from './harness.ts';

interface LedgerEntry {
  key_id: string;
  complete: boolean;
  end: string;
  prompt_tokens: number;
}

function ledgerEntries(path: string): LedgerEntry[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as LedgerEntry);
}

const isRoot = process.getuid?.() === 0;

describe('the ledger file under faults', () => {
  let upstream: TestUpstream;
  const dirs: string[] = [];

  before(async () => {
    upstream = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"model":"m","usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}');
    });
  });
  after(async () => {
    await upstream.close();
    for (const dir of dirs) {
      chmodSync(dir, 0o700);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  function ledgerDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'lm-proxy-ledger-faults-'));
    dirs.push(dir);
    return dir;
  }

  async function call(origin: string, key: string): Promise<void> {
    const res = await request(origin, { method: 'POST', path: '/v1/chat/completions', headers: { authorization: `Bearer ${key}` }, body: '{}' });
    assert.equal(res.status, 200, 'proxying goes on');
  }

  test('a ledger removed while running is created anew, and later lines land in the new file', async () => {
    const path = join(ledgerDir(), 'ledger.jsonl');
    const proxy = await startProxy({ upstream: `${upstream.origin}/v1`, args: ['--usage-log', path] });
    try {
      await call(proxy.origin, 'sk-before-removal');
      await waitUntil(() => ledgerEntries(path).length === 1, 'the first line is written');
      unlinkSync(path);
      // The ledger checks its path about once a second.
      await delay(1_200);
      await call(proxy.origin, 'sk-after-removal');
      await waitUntil(() => ledgerEntries(path).length > 0, 'the ledger file is back');
      assert.deepEqual(ledgerEntries(path).map((e) => e.key_id), [keyIdOf('sk-after-removal')]);
    } finally {
      await proxy.stop();
    }
  });

  test('a ledger made read-only while running: proxying goes on, nothing crashes, the open file still takes lines', async () => {
    const path = join(ledgerDir(), 'ledger.jsonl');
    const proxy = await startProxy({ upstream: `${upstream.origin}/v1`, args: ['--usage-log', path] });
    try {
      await call(proxy.origin, 'sk-before-chmod');
      await waitUntil(() => ledgerEntries(path).length === 1, 'the first line is written');
      chmodSync(path, 0o400);
      await delay(1_200);
      // Linux checks permissions when a file is opened; the ledger's descriptor stays writable.
      await call(proxy.origin, 'sk-after-chmod');
      await waitUntil(() => ledgerEntries(path).length === 2, 'the second line is written');
      assert.equal(proxy.child.exitCode, null);
    } finally {
      assert.equal(await proxy.stop(), 0);
    }
  });

  /** Breaks the ledger's path with `breakIt`, then sends requests over 3 s: one report, every answer 200. */
  async function reportedOnce(breakIt: (dir: string, path: string) => void): Promise<void> {
    const dir = ledgerDir();
    const path = join(dir, 'ledger.jsonl');
    const proxy = await startProxy({ upstream: `${upstream.origin}/v1`, args: ['--usage-log', path] });
    try {
      await call(proxy.origin, 'sk-before-break');
      await waitUntil(() => ledgerEntries(path).length === 1, 'the first line is written');
      breakIt(dir, path);
      // Spread over several of the ledger's once-a-second checks of its path.
      for (let i = 0; i < 4; i++) {
        await delay(800);
        await call(proxy.origin, `sk-after-break-${i}`);
      }
      await proxy.waitForLine(/usage ledger/, 3_000);
      await delay(300);
      const reports = proxy.stderr.filter((line) => line.includes('usage ledger'));
      assert.equal(reports.length, 1, `one report, not one per line or per check:\n${reports.join('\n')}`);
      assert.match(reports[0]!, /ledger\.jsonl/);
      assert.equal(proxy.child.exitCode, null);
    } finally {
      assert.equal(await proxy.stop(), 0);
    }
  }

  test('a ledger path that can no longer be opened (now a folder) is reported on stderr once, and proxying goes on', async () => {
    // Works as root too: nobody can open a folder for appending.
    await reportedOnce((_dir, path) => {
      unlinkSync(path);
      mkdirSync(path);
    });
  });

  test('a ledger removed from a folder made read-only is reported on stderr once, and proxying goes on', async (t) => {
    if (isRoot) {
      t.skip('running as root: a read-only folder does not stop root from creating the file');
      return;
    }
    await reportedOnce((dir, path) => {
      unlinkSync(path);
      chmodSync(dir, 0o500);
    });
  });
});

describe('SIGTERM with 100 streams in flight', () => {
  const STREAMS = 100;
  const ENDLESS_FROM = 80; // streams 80-99 never end on their own: the grace period cuts them
  let upstream: TestUpstream;

  before(async () => {
    upstream = await startUpstream((req, res) => {
      const n = Number(new URL(req.url ?? '/', 'http://u').searchParams.get('n'));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: {"model":"m","choices":[],"usage":{"prompt_tokens":${n},"completion_tokens":1,"total_tokens":${n + 1}}}\n\n`);
      const tick = setInterval(() => res.write('data: {"choices":[{"delta":{"content":"."}}]}\n\n'), 100);
      res.on('close', () => clearInterval(tick));
      if (n < ENDLESS_FROM) {
        // Ends within the grace period: 0.3 to 1.1 s after it began.
        setTimeout(() => {
          clearInterval(tick);
          res.end('data: [DONE]\n\n');
        }, 300 + n * 10);
      }
    });
  });
  after(() => upstream.close());

  test('every stream that completes within the grace period has its ledger line; the cut ones are marked shutdown', { timeout: 20_000 }, async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'lm-proxy-ledger-sigterm-')), 'ledger.jsonl');
    const proxy = await startProxy({ upstream: `${upstream.origin}/v1`, args: ['--usage-log', path, '--shutdown-grace', '2500'] });
    const started: Promise<void>[] = [];
    const endings = Array.from({ length: STREAMS }, (_, n) =>
      new Promise<'end' | 'error'>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port: proxy.port, path: `/v1/stream?n=${n}`, headers: { authorization: `Bearer sk-stream-${n}` }, agent: false });
        req.on('error', reject);
        started.push(new Promise<void>((resolveStarted) => {
          req.on('response', (res) => {
            res.once('data', () => resolveStarted());
            res.on('end', () => resolve('end'));
            res.on('error', () => resolve('error'));
            res.on('close', () => resolve('error'));
          });
        }));
      }));
    await Promise.all(started);
    const exit = proxy.stop('SIGTERM');
    const outcomes = await Promise.all(endings);
    assert.equal(await exit, 0);

    const completed = outcomes.flatMap((o, n) => (o === 'end' ? [n] : []));
    const cut = outcomes.flatMap((o, n) => (o === 'error' ? [n] : []));
    // The finite streams end 1.4 s or more before the grace period does.
    assert.deepEqual(completed, Array.from({ length: ENDLESS_FROM }, (_, n) => n));
    assert.equal(cut.length, STREAMS - ENDLESS_FROM);
    const byKey = new Map(ledgerEntries(path).map((e) => [e.key_id, e]));
    for (const n of completed) {
      const entry = byKey.get(keyIdOf(`sk-stream-${n}`));
      assert.ok(entry !== undefined, `stream ${n} completed but has no ledger line`);
      assert.equal(entry.complete, true, `stream ${n}`);
      assert.equal(entry.end, 'done', `stream ${n}`);
      assert.equal(entry.prompt_tokens, n);
    }
    for (const n of cut) {
      const entry = byKey.get(keyIdOf(`sk-stream-${n}`));
      assert.ok(entry !== undefined, `stream ${n} was cut after its usage but has no ledger line`);
      assert.equal(entry.complete, false, `stream ${n}`);
      assert.equal(entry.end, 'shutdown', `stream ${n}`);
    }
    assert.equal(byKey.size, STREAMS, 'one line per stream, none twice');
    assert.equal(ledgerEntries(path).length, STREAMS);
  });
});
