// The dashboard in a real browser (Debian's chromium through playwright-core): the page loads
// with no console error (a CSP violation is one), asks no other origin for anything, draws bars
// for the traffic, shows new records without a reload, and keeps hostile names as text.
// A screenshot is saved under the system's temp folder; its path is printed.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createDashboard } from '../../src/dashboard/dashboard-handler.ts';
import type { DashboardUsage } from '../../src/dashboard/usage-window.ts';
import { prng } from '../helpers/prng.ts';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} not found: install it with apt-get install -y chromium`;
const HOSTILE = '<img src=x onerror=alert(1)>';
const SCREENSHOT = join(tmpdir(), 'lm-proxy-dashboard.png');

// What the callbacks run in the page reach (tsconfig has no DOM lib; the cast is erased).
interface InPage {
  readonly document: {
    querySelectorAll(selector: string): Iterable<{ readonly textContent: string | null }>;
    querySelector(selector: string): { readonly textContent: string | null } | null;
  };
  stillTheSamePage?: boolean;
}

const dashboard = createDashboard({ tagName: 'team' });
let server: Server;
let origin = '';

/** A day of traffic shaped like a working day: a few models and keys, busier in the afternoon. */
function feedDay(): void {
  const rand = prng(2026);
  const now = Date.now();
  const models = [['gpt-4o', 3e-6], ['gpt-4o-mini', 2e-7], ['claude-sonnet-4', 4e-6], ['o3', 8e-6], ['llama-3.1-70b', null], ['gemini-2.5-pro', 2.5e-6]] as const;
  const teams = ['search', 'support', 'research', 'growth'];
  for (let minute = 24 * 60 - 1; minute >= 0; minute -= 1) {
    const hour = new Date(now - minute * 60_000).getUTCHours();
    const load = 1 + 3 * Math.max(0, Math.sin(((hour - 6) / 16) * Math.PI));
    for (let i = 0; i < Math.round(load * rand() * 3); i++) {
      const [model, price] = models[Math.floor(rand() * rand() * models.length)]!;
      const prompt = Math.floor(200 + rand() * 3000);
      const completion = Math.floor(50 + rand() * 800);
      const record: DashboardUsage = {
        time: new Date(now - minute * 60_000 - Math.floor(rand() * 60_000)).toISOString(),
        model,
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        key_id: `key_${(Math.floor(rand() * rand() * 12) * 2654435761 >>> 0).toString(16).padStart(8, '0').slice(0, 8)}`,
        cost: price === null ? null : (prompt + 4 * completion) * price,
        tags: { team: teams[Math.floor(rand() * teams.length)]! },
        user: rand() < 0.2 ? null : `user${Math.floor(rand() * rand() * 30)}@example.org`,
      };
      dashboard.recordUsage(record);
    }
  }
  for (let i = 0; i < 400; i++) {
    dashboard.requestStarted();
    dashboard.requestEnded(rand() < 0.03 ? 502 : rand() < 0.05 ? 429 : 200);
  }
  dashboard.requestStarted();
  dashboard.requestStarted();
}

before(async () => {
  feedDay();
  // The one hostile record: its name must reach the tables as text and the charts escaped.
  dashboard.recordUsage({
    time: new Date().toISOString(), model: HOSTILE, prompt_tokens: 9_000, completion_tokens: 1_000, total_tokens: 10_000,
    key_id: HOSTILE, cost: 0.5, tags: { team: HOSTILE }, user: HOSTILE,
  });
  server = createServer((req, res) => {
    if (!dashboard.handle(req, res)) {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server?.close());

describe('dashboard in a browser', { skip }, () => {
  it('loads with no console error, asks only its own origin, draws the traffic and updates without a reload', async (t) => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'],
    });
    try {
      const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      const foreign: string[] = [];
      const asked: string[] = [];
      await context.route('**/*', async (route) => {
        const url = route.request().url();
        asked.push(url);
        if (new URL(url).origin !== origin) {
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
      page.on('request', (req) => {
        if (!req.url().startsWith(origin) && !req.url().startsWith('data:')) foreign.push(req.url());
      });

      await page.goto(`${origin}/?refresh=1`);
      await page.waitForSelector('#chart-tokens-model svg rect title', { state: 'attached', timeout: 15_000 });
      await page.waitForSelector('#chart-cost-split svg rect title', { state: 'attached', timeout: 15_000 });
      await page.evaluate(() => Object.assign(globalThis as unknown as InPage, { stillTheSamePage: true }));

      // Bars: one stacked segment per series per bucket with traffic, named in its tooltip.
      const bars = await page.$$eval('#chart-tokens-model svg g.lmp-chart-bars rect', (rects) => rects.length);
      assert.ok(bars > 288, `only ${bars} bar segments`);
      const tips = await page.$$eval('#chart-tokens-model svg rect title', (titles) => titles.map((x) => x.textContent ?? ''));
      assert.ok(tips.some((x) => x.startsWith('gpt-4o · ')), 'no gpt-4o segment');

      // Hostile names: text in the tables and charts, never an element.
      assert.equal(await page.$$eval('img, script[src], iframe, foreignObject', (els) => els.length), 0);
      const modelCells = await page.$$eval('#top-models-rows td.name', (tds) => tds.map((x) => x.textContent));
      assert.ok(modelCells.includes(HOSTILE), `hostile model not shown as text: ${modelCells.join(', ')}`);
      assert.ok(tips.some((x) => x.startsWith(HOSTILE)), 'hostile model not in the chart as text');

      // New traffic appears within a few refreshes, in the same page.
      dashboard.recordUsage({
        time: new Date().toISOString(), model: 'fresh-model-xyz', prompt_tokens: 30_000, completion_tokens: 5_000, total_tokens: 35_000,
        key_id: 'key_fresh', cost: 0.12, tags: { team: 'late' }, user: 'newcomer',
      });
      await page.waitForFunction(
        () => [...(globalThis as unknown as InPage).document.querySelectorAll('#top-models-rows td.name')].some((td) => td.textContent === 'fresh-model-xyz'),
        undefined,
        { timeout: 15_000 },
      );
      await page.waitForFunction(
        () => [...(globalThis as unknown as InPage).document.querySelectorAll('#chart-tokens-model svg rect title')].some((x) => (x.textContent ?? '').startsWith('fresh-model-xyz')),
        undefined,
        { timeout: 30_000 }, // a chart is drawn at most every 10 s
      );
      assert.equal(await page.evaluate(() => (globalThis as unknown as InPage).stillTheSamePage), true);

      // The split buttons switch the second pair of charts.
      await page.click('#split-buttons button:has-text("user")');
      await page.waitForFunction(
        () => ((globalThis as unknown as InPage).document.querySelector('#chart-tokens-split svg > title')?.textContent ?? '').includes('by user'),
        undefined,
        { timeout: 15_000 },
      );
      await page.click('#split-buttons button:has-text("tag")');
      await page.waitForFunction(() => ((globalThis as unknown as InPage).document.querySelector('#split-title')?.textContent ?? '') === 'By tag team', undefined, { timeout: 15_000 });
      await page.waitForSelector('#chart-tokens-split svg rect title', { state: 'attached', timeout: 15_000 });

      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      t.diagnostic(`screenshot: ${SCREENSHOT}`);
      console.log(`dashboard screenshot: ${SCREENSHOT}`);

      assert.deepEqual(errors, []);
      assert.deepEqual(foreign, []);
      assert.ok(asked.some((u) => u.includes('/usage.json')));
      assert.equal(asked.some((u) => u.endsWith('/favicon.ico')), false);
    } finally {
      await browser.close();
    }
  });
});
