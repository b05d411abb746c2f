import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createDashboard } from '../../src/dashboard/dashboard-handler.ts';
import { dashboardPage } from '../../src/dashboard/page.ts';
import type { UsageSnapshot } from '../../src/dashboard/usage-snapshot.ts';
import type { DashboardUsage } from '../../src/dashboard/usage-window.ts';

const NOW = Date.parse('2026-03-02T12:00:00.000Z');
const HOSTILE = '<img src=x onerror=alert(1)>';

function usage(over: Partial<DashboardUsage> = {}): DashboardUsage {
  return {
    time: new Date(NOW).toISOString(), model: 'gpt-4o', prompt_tokens: 100, completion_tokens: 20, total_tokens: 120,
    key_id: 'k1', cost: 0.002, tags: {}, user: null, ...over,
  };
}

let now = NOW;
const dashboard = createDashboard({ now: () => now, tagName: 'team' });
const plain = createDashboard({ now: () => now });
let server: Server;
let base = '';

before(async () => {
  server = createServer((req, res) => {
    const which = req.headers['x-which'] === 'plain' ? plain : dashboard;
    if (!which.handle(req, res)) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not the dashboard\n');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

describe('dashboard handler', () => {
  it('serves the page with its CSP, no-store and nosniff, and HEAD with no body', async () => {
    const res = await fetch(`${base}/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(res.headers.get('content-security-policy'), dashboardPage().csp);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(await res.text(), dashboardPage().html);
    const head = await fetch(`${base}/?from=bookmark`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(dashboardPage().html)));
    assert.equal(await head.text(), '');
  });

  it('leaves other paths to the admin server, and answers other methods on its own with 405', async () => {
    for (const path of ['/metrics', '/healthz', '/index.html', '/usage.json/', '/chart/tokens-by-nothing.svg']) {
      const res = await fetch(base + path);
      assert.equal(res.status, 404, path);
      assert.equal(await res.text(), 'not the dashboard\n');
    }
    // Without a tag split, the tag charts are not the dashboard's either.
    const noTag = await fetch(`${base}/chart/tokens-by-tag.svg`, { headers: { 'x-which': 'plain' } });
    assert.equal(noTag.status, 404);
    const post = await fetch(`${base}/usage.json`, { method: 'POST', body: '{}' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });

  it('answers usage.json with the figures recorded and the request outcomes', async () => {
    dashboard.recordUsage(usage({ user: 'alice', tags: { team: 'search' } }));
    dashboard.recordUsage(usage({ model: 'o3', key_id: 'k2', cost: null }));
    dashboard.requestStarted();
    dashboard.requestStarted();
    dashboard.requestEnded(200);
    dashboard.requestEnded(502);
    dashboard.requestStarted();
    const res = await fetch(`${base}/usage.json?t=1`);
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const snap = (await res.json()) as UsageSnapshot;
    assert.equal(snap.in_flight, 1);
    assert.equal(snap.totals.total_tokens, 240);
    assert.equal(snap.totals.error_rate, 0.5);
    assert.deepEqual(snap.top.models.rows.map((r) => r.name).sort(), ['gpt-4o', 'o3']);
    assert.deepEqual(snap.top.tags!.rows.map((r) => r.name).sort(), [null, 'search'].sort());
    assert.deepEqual(Object.keys(snap.charts).sort(), [
      'cost-by-key', 'cost-by-model', 'cost-by-tag', 'cost-by-user', 'tokens-by-key', 'tokens-by-model', 'tokens-by-tag', 'tokens-by-user',
    ]);
    assert.match(snap.charts['tokens-by-model']!, /^chart\/tokens-by-model\.svg\?v=\d+$/);
  });

  it('draws each chart as SVG with a bar for the traffic, again when its figures changed but at most every 10 s', async () => {
    const get = async (): Promise<{ svg: string; version: number }> => {
      const res = await fetch(`${base}/chart/tokens-by-model.svg`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'image/svg+xml; charset=utf-8');
      assert.equal(res.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'");
      return { svg: await res.text(), version: Number(res.headers.get('lm-proxy-data-version')) };
    };
    const first = await get();
    assert.match(first.svg, /^<svg /);
    assert.match(first.svg, /<rect [^>]*><title>gpt-4o · 12:00: /);
    assert.equal(first.version, dashboard.snapshot().data_version);
    // Request outcomes are not drawn: they leave data_version, and so the charts, alone.
    dashboard.requestStarted();
    dashboard.requestEnded(200);
    assert.equal(dashboard.snapshot().data_version, first.version);
    dashboard.recordUsage(usage({ model: 'new-model' }));
    const version = dashboard.snapshot().data_version;
    assert.ok(version > first.version);
    assert.deepEqual(await get(), first); // drawn less than 10 s ago: the page will ask again
    now += 10_000;
    const second = await get();
    assert.match(second.svg, /new-model/);
    assert.equal(second.version, version);
    now = NOW;
  });

  it('keeps hostile names as data: escaped in the SVG, plain strings in the JSON', async () => {
    dashboard.recordUsage(usage({ model: HOSTILE, key_id: HOSTILE, user: HOSTILE, tags: { team: HOSTILE } }));
    now = NOW + 60_000; // past the charts' 10 s
    for (const name of ['tokens-by-model', 'cost-by-key', 'tokens-by-user', 'tokens-by-tag']) {
      const svg = await (await fetch(`${base}/chart/${name}.svg`)).text();
      assert.equal(svg.includes('<img'), false, name);
      assert.equal(svg.includes('&lt;img src=x onerror=alert(1)&gt;'), true, name);
    }
    const snap = (await (await fetch(`${base}/usage.json`)).json()) as UsageSnapshot;
    assert.ok(snap.top.users.rows.some((r) => r.name === HOSTILE));
    now = NOW;
  });

  it('moves the window with the clock: a day later the figures are gone', async () => {
    const later = createDashboard({ now: () => now });
    later.recordUsage(usage());
    now += 86_400_000;
    const snap = later.snapshot();
    assert.equal(snap.totals.responses, 0);
    assert.equal(snap.top.models.rows.length, 0);
    now = NOW;
  });

  it('backfills from a ledger the records of the day before it started, not its own run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmp-dash-'));
    try {
      const line = (at: number, model: string): string =>
        JSON.stringify({ time: new Date(at).toISOString(), model, total_tokens: 10, key_id: 'k', tags: {}, user: null, cost: 0.1 }) + '\n';
      const path = join(dir, 'usage.jsonl');
      writeFileSync(path, line(NOW - 2 * 86_400_000, 'ancient') + 'garbage\n' + line(NOW - 3_600_000, 'earlier') + line(NOW, 'live'));
      const fresh = createDashboard({ now: () => now });
      const result = await fresh.backfill(path);
      assert.deepEqual(result, { records: 1, skipped: 1, outside: 2, bytesRead: result.bytesRead, error: null });
      assert.deepEqual(fresh.snapshot().top.models.rows.map((r) => r.name), ['earlier']);
      assert.equal((await fresh.backfill(join(dir, 'nope'))).error, 'ENOENT');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
