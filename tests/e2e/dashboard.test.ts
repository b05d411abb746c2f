// The dashboard and the metrics as users meet them (SPEC §6, §9, §12): the real proxy with
// METRICS_ADDR and a ledger that already holds the last hours, real traffic through it, the
// page in Debian's chromium (playwright-core), and a real Prometheus server scraping the admin
// listener. The browser test saves a screenshot and prints its path.

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../../scripts/proxy-harness.ts';
import { delay, request, startProxy, startUpstream, type ProxyProcess, type TestUpstream } from './harness.ts';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = join(tmpdir(), 'lm-proxy-dashboard-e2e.png');
const PRICES = { 'gpt-4o': { input_cost_per_token: 2.5e-6, output_cost_per_token: 1e-5 }, 'claude-sonnet-4': { input_cost_per_token: 3e-6, output_cost_per_token: 1.5e-5 } };

const dir = mkdtempSync(join(tmpdir(), 'lm-proxy-dashboard-'));
const ledgerPath = join(dir, 'usage.jsonl');
const pricesPath = join(dir, 'prices.json');
let upstream: TestUpstream;
let proxy: ProxyProcess;
let admin = '';

/** A chat reply naming the model asked for, with usage that grows with the prompt. */
function reply(model: string, prompt: number): string {
  return JSON.stringify({ id: 'x', object: 'chat.completion', model, choices: [], usage: { prompt_tokens: prompt, completion_tokens: 10, total_tokens: prompt + 10 } });
}

async function chat(model: string, prompt: number, key: string): Promise<void> {
  const res = await request(proxy.origin, {
    method: 'POST',
    path: '/v1/chat/completions',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'x-prompt-tokens': String(prompt) },
    body: JSON.stringify({ model, user: 'alice', messages: [] }),
  });
  assert.equal(res.status, 200);
}

interface Snapshot {
  readonly totals: { readonly responses: number; readonly total_tokens: number; readonly cost: number };
  readonly top: { readonly models: { readonly rows: readonly { readonly name: string | null; readonly total_tokens: number }[] } };
}

async function snapshot(): Promise<Snapshot> {
  return JSON.parse((await request(admin, { path: '/usage.json' })).body.toString()) as Snapshot;
}

before(async () => {
  // Two records from two hours ago: the dashboard must read them back from the ledger at start.
  const earlier = new Date(Date.now() - 2 * 3600_000).toISOString();
  const old = new Date(Date.now() - 30 * 3600_000).toISOString();
  const line = (time: string, model: string, total: number): string =>
    JSON.stringify({ time, method: 'POST', path: '/v1/chat/completions', status: 200, model, stream: false, prompt_tokens: total, completion_tokens: 0, total_tokens: total, cached_tokens: 0, reasoning_tokens: 0, cache_creation_tokens: 0, complete: true, end: 'done', duration_ms: 1, ttfb_ms: 1, key_id: 'aaaaaaaaaaaa', cost: null, cost_source: null, tags: {}, user: null }) + '\n';
  writeFileSync(ledgerPath, line(old, 'yesterday-model', 999) + line(earlier, 'backfilled-model', 1000) + line(earlier, 'backfilled-model', 500));
  writeFileSync(pricesPath, JSON.stringify(PRICES));
  upstream = await startUpstream((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const asked = (JSON.parse(body) as { model: string }).model;
      res.setHeader('content-type', 'application/json');
      res.end(reply(asked, Number(req.headers['x-prompt-tokens'] ?? 1)));
    });
  });
  const adminPort = await freePort();
  proxy = await startProxy({
    upstream: `${upstream.origin}/v1`,
    args: ['--metrics', `127.0.0.1:${adminPort}`, '--usage-log', ledgerPath, '--prices', pricesPath],
  });
  admin = `http://127.0.0.1:${adminPort}`;
  await proxy.waitForLine(/Dashboard: read back/, 10_000);
});

after(async () => {
  await proxy?.stop();
  await upstream?.close();
});

describe('the dashboard on the admin listener', () => {
  test('GET / is one self-contained page, and /usage.json carries the ledger read back at start and the live traffic', async () => {
    const page = await request(admin, { path: '/' });
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'/);
    assert.doesNotMatch(page.body.toString(), /https?:\/\//, 'no URL of another host in the page');

    const before = await snapshot();
    assert.equal(before.top.models.rows.find((row) => row.name === 'backfilled-model')?.total_tokens, 1500, 'the last 24 h of the ledger were read back');
    assert.equal(before.top.models.rows.some((row) => row.name === 'yesterday-model'), false, 'older records are not');

    await chat('gpt-4o', 100, 'sk-one');
    await chat('claude-sonnet-4', 200, 'sk-two');
    await chat('gpt-4o', 300, 'sk-one');
    let after: Snapshot = before;
    for (let i = 0; i < 50 && after.totals.responses < before.totals.responses + 3; i++) {
      await delay(50);
      after = await snapshot();
    }
    assert.equal(after.totals.responses, before.totals.responses + 3);
    assert.equal(after.totals.total_tokens, before.totals.total_tokens + 110 + 210 + 310);
    const expectedCost = (100 + 300) * 2.5e-6 + 20 * 1e-5 + 200 * 3e-6 + 10 * 1.5e-5;
    assert.ok(Math.abs(after.totals.cost - before.totals.cost - expectedCost) < 1e-9, `cost ${after.totals.cost}`);
    assert.equal(after.top.models.rows.find((row) => row.name === 'gpt-4o')?.total_tokens, 420);
  });

  test('in a real browser: no console error, no request to another host, bars for the traffic, new traffic without a reload', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} not found: apt-get install -y chromium` }, async (t) => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'],
    });
    try {
      const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      const foreign: string[] = [];
      await context.route('**/*', async (route) => {
        const url = route.request().url();
        if (new URL(url).origin !== admin) {
          foreign.push(url);
          await route.abort();
        } else await route.continue();
      });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('console', (msg) => {
        if (msg.type() === 'error') errors.push(msg.text());
      });
      page.on('pageerror', (err) => errors.push(String(err)));
      await page.goto(`${admin}/?refresh=1`);
      await page.waitForSelector('#chart-tokens-model svg g.lmp-chart-bars rect', { state: 'attached', timeout: 20_000 });
      const tips = await page.$$eval('#chart-tokens-model svg rect title', (titles) => titles.map((x) => x.textContent ?? ''));
      for (const model of ['gpt-4o', 'claude-sonnet-4', 'backfilled-model']) {
        assert.ok(tips.some((tip) => tip.startsWith(`${model} · `)), `no bar for ${model}: ${tips.slice(0, 5).join(' | ')}`);
      }

      await chat('fresh-model', 5_000, 'sk-three');
      await page.waitForFunction(
        () => [...(globalThis as unknown as { document: { querySelectorAll(s: string): Iterable<{ textContent: string | null }> } }).document.querySelectorAll('#top-models-rows td.name')].some((td) => td.textContent === 'fresh-model'),
        undefined,
        { timeout: 20_000 },
      );
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      t.diagnostic(`screenshot: ${SCREENSHOT}`);
      assert.deepEqual(errors, []);
      assert.deepEqual(foreign, []);
    } finally {
      await browser.close();
    }
  });
});

describe('a real Prometheus scraping the admin listener', () => {
  const have = spawnSync('sh', ['-c', 'command -v prometheus']).status === 0;
  test('its HTTP API returns lm_proxy_tokens_total and lm_proxy_cost_usd_total with the traffic sent', { skip: have ? false : 'prometheus not installed (Debian package prometheus)', timeout: 60_000 }, async () => {
    const promPort = await freePort();
    const promDir = mkdtempSync(join(tmpdir(), 'lm-proxy-prometheus-'));
    const config = join(promDir, 'prometheus.yml');
    writeFileSync(config, `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: lm-proxy\n    static_configs:\n      - targets: ['${admin.replace('http://', '')}']\n`);
    await chat('gpt-4o', 1_000, 'sk-prom');
    const prometheus: ChildProcess = spawn('prometheus', [
      `--config.file=${config}`, `--storage.tsdb.path=${join(promDir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`,
    ], { stdio: 'ignore' });
    try {
      const query = async (expr: string): Promise<number | null> => {
        try {
          const res = await request(`http://127.0.0.1:${promPort}`, { path: `/api/v1/query?query=${encodeURIComponent(expr)}` });
          const body = JSON.parse(res.body.toString()) as { data?: { result?: { value: [number, string] }[] } };
          const value = body.data?.result?.[0]?.value[1];
          return value === undefined ? null : Number(value);
        } catch {
          return null; // not up yet
        }
      };
      const proxyText = (await request(admin, { path: '/metrics' })).body.toString();
      const expected = (name: string): number => Number(new RegExp(`^${name.replace(/[{}"=,]/g, '\\$&')} (\\S+)$`, 'm').exec(proxyText)?.[1]);
      const tokensSeries = 'lm_proxy_tokens_total{model="gpt-4o",type="prompt"}';
      const costSeries = 'lm_proxy_cost_usd_total{model="gpt-4o"}';
      let tokens: number | null = null;
      let cost: number | null = null;
      for (let i = 0; i < 200 && (tokens === null || cost === null); i++) {
        await delay(200);
        tokens = await query(tokensSeries);
        cost = await query(costSeries);
      }
      assert.equal(tokens, expected(tokensSeries));
      assert.equal(tokens, 100 + 300 + 1_000, 'the prompt tokens of the gpt-4o requests this file sent');
      assert.ok(cost !== null && Math.abs(cost - expected(costSeries)) < 1e-12, `cost ${cost}`);
    } finally {
      prometheus.kill('SIGTERM');
    }
  });
});
