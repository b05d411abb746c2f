// The dashboard page of SPEC §12: one HTML document with its CSS and script inline, that asks
// nothing of any other host (no font, CDN or favicon fetch: it works air-gapped) and refreshes
// itself from usage.json and the chart SVGs, by relative URLs, on its own origin. Pure: the page
// is a constant, and so is its Content-Security-Policy, which allows exactly the inline style and
// script by their sha256 (CSP Level 3 §8.4 hash-source) and connections to 'self' only.
// The script puts every name it receives into the page as text (textContent), never as markup;
// chart SVGs come from our own renderer, are parsed as XML, and lose anything but drawing.

import { createHash } from 'node:crypto';

/** The response header that gives a chart's data_version (the handler sets it). */
export const CHART_VERSION_HEADER = 'LM-Proxy-Data-Version';

// 5 seconds: "refreshes itself every few seconds" (SPEC §12); `?refresh=N` asks for N seconds.
const REFRESH_MS = 5_000;

const STYLE = `
:root { color-scheme: light; --ink: #1f2328; --muted: #656d76; --line: #d8dee4; --card: #fff;
  --bg: #f4f6f8; --accent: #4e79a7; --bad: #c93c37; --good: #2f8132; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap; padding: 14px 24px;
  background: #24292f; color: #fff; }
header h1 { margin: 0; font-size: 18px; font-weight: 600; }
header .window { color: #c9d1d9; font-size: 13px; }
header .status { margin-left: auto; font-size: 13px; color: #c9d1d9; }
header .status.down { color: #ffb3ad; font-weight: 600; }
main { padding: 18px 24px 8px; max-width: 1680px; margin: 0 auto; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 26px; font-weight: 600; margin-top: 2px; font-variant-numeric: tabular-nums; }
.card .sub { color: var(--muted); font-size: 12px; font-variant-numeric: tabular-nums; }
.card.bad .value { color: var(--bad); }
h2 { font-size: 15px; margin: 22px 0 10px; font-weight: 600; }
.split { display: flex; align-items: center; gap: 6px; margin: 22px 0 10px; flex-wrap: wrap; }
.split h2 { margin: 0 8px 0 0; }
.split button { font: inherit; font-size: 13px; padding: 3px 12px; border: 1px solid var(--line);
  border-radius: 999px; background: #fff; color: var(--ink); cursor: pointer; }
.split button[aria-pressed="true"] { background: var(--accent); border-color: var(--accent); color: #fff; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(520px, 100%), 1fr)); gap: 12px; }
.chart { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 6px;
  min-height: 120px; }
.chart svg { display: block; width: 100%; height: auto; }
.chart .empty { color: var(--muted); padding: 40px; text-align: center; }
.tops { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(560px, 100%), 1fr)); gap: 12px; }
.top { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.top h3 { margin: 0 0 6px; font-size: 14px; font-weight: 600; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 6px; text-align: right; border-bottom: 1px solid #eef1f4; white-space: nowrap;
  overflow: hidden; text-overflow: ellipsis; }
th { color: var(--muted); font-weight: 500; font-size: 12px; }
th:first-child, td:first-child { text-align: left; width: 40%; }
td.name { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
tr.none td.name, tr.other td.name { font-family: inherit; font-style: italic; color: var(--muted); }
.top .note { color: var(--muted); font-size: 12px; margin-top: 6px; }
footer { max-width: 1680px; margin: 12px auto 24px; padding: 0 24px; color: var(--muted); font-size: 12px; }
`;

const SCRIPT = `
(function () {
  'use strict';
  var asked = Number(new URLSearchParams(location.search).get('refresh'));
  var REFRESH_MS = asked >= 1 && asked <= 3600 ? asked * 1000 : ${REFRESH_MS};
  var byId = function (id) { return document.getElementById(id); };
  var whole = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  var state = { split: null, splits: [], snapshot: null, busy: false };

  function tokens(n) {
    var units = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
    for (var i = 0; i < units.length; i++) {
      var v = n / units[i][0];
      if (v >= 1) return String(parseFloat(v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2))) + units[i][1];
    }
    return whole.format(n);
  }
  function usd(n) {
    if (n === 0) return '$0';
    if (n < 0.01) return '$' + n.toFixed(Math.min(10, 2 - Math.floor(Math.log10(n))));
    if (n < 1) return '$' + n.toFixed(4);
    if (n < 1e5) return '$' + n.toFixed(2);
    return '$' + whole.format(n);
  }
  function percent(rate) {
    if (rate === null) return '\\u2013';
    return (rate * 100).toFixed(rate !== 0 && rate < 0.01 ? 2 : 1) + '%';
  }
  function clock(iso, seconds) {
    return new Date(iso).toISOString().slice(11, seconds ? 19 : 16) + ' UTC';
  }
  function put(id, text) { byId(id).textContent = text; }
  function cell(tr, text, className) {
    var td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    tr.appendChild(td);
    return td;
  }

  function fillTable(id, list, noneLabel) {
    var body = byId(id + '-rows');
    body.replaceChildren();
    var rows = list.rows.slice();
    function add(row, kind) {
      var tr = document.createElement('tr');
      var label = kind === 'other' ? 'other (past the cap)' : row.name === null ? noneLabel : row.name;
      if (kind === 'other' || row.name === null) tr.className = kind === 'other' ? 'other' : 'none';
      cell(tr, label, 'name').title = label;
      cell(tr, whole.format(row.responses));
      cell(tr, tokens(row.prompt_tokens));
      cell(tr, tokens(row.completion_tokens));
      cell(tr, tokens(row.total_tokens));
      cell(tr, row.unpriced === row.responses ? '\\u2013' : usd(row.cost));
      body.appendChild(tr);
    }
    rows.forEach(function (row) { add(row, 'row'); });
    if (list.other) add(list.other, 'other');
    if (rows.length === 0 && !list.other) {
      var tr = document.createElement('tr');
      cell(tr, 'nothing in the last 24 h', 'name').colSpan = 6;
      tr.className = 'none';
      body.appendChild(tr);
    }
    var shown = rows.length < list.series ? ', top ' + rows.length + ' shown' : '';
    put(id + '-note', list.series + ' of at most ' + list.cap + ' names in the window' + shown + '; names past the cap count as other');
  }

  var DRAWING = { svg: 1, g: 1, rect: 1, path: 1, line: 1, text: 1, tspan: 1, title: 1, desc: 1, defs: 1, pattern: 1 };
  function drawingOnly(root) {
    var all = [root].concat(Array.prototype.slice.call(root.getElementsByTagName('*')));
    all.forEach(function (el) {
      if (!DRAWING[el.localName]) { if (el.parentNode) el.parentNode.removeChild(el); return; }
      Array.prototype.slice.call(el.attributes).forEach(function (a) {
        var name = a.name.toLowerCase();
        if (name.indexOf('on') === 0 || name.indexOf('href') !== -1) el.removeAttribute(a.name);
      });
    });
    return root;
  }

  var SLOTS = {
    'chart-tokens-model': function () { return 'tokens-by-model'; },
    'chart-cost-model': function () { return 'cost-by-model'; },
    'chart-tokens-split': function () { return 'tokens-by-' + state.split; },
    'chart-cost-split': function () { return 'cost-by-' + state.split; }
  };
  var drawn = {};
  var loading = {};

  function loadChart(slotId, name) {
    var url = state.snapshot.charts[name];
    var slot = byId(slotId);
    if (!url) { slot.replaceChildren(); return; }
    loading[slotId] = true;
    var version = null;
    fetch(url, { cache: 'no-store' }).then(function (res) {
      if (!res.ok) throw new Error('chart ' + name + ': HTTP ' + res.status);
      version = Number(res.headers.get('${CHART_VERSION_HEADER}'));
      return res.text();
    }).then(function (text) {
      var doc = new DOMParser().parseFromString(text, 'image/svg+xml');
      var root = doc.documentElement;
      if (root.localName !== 'svg' || doc.getElementsByTagName('parsererror').length > 0) throw new Error('chart ' + name + ': not an SVG');
      slot.replaceChildren(document.importNode(drawingOnly(root), true));
      drawn[slotId] = { name: name, version: version };
    }).catch(function (err) {
      slot.textContent = String(err.message || err);
      drawn[slotId] = null;
    }).finally(function () { loading[slotId] = false; });
  }

  function syncCharts() {
    Object.keys(SLOTS).forEach(function (slotId) {
      var name = SLOTS[slotId]();
      var now = drawn[slotId];
      var fresh = now && now.name === name && now.version === state.snapshot.data_version;
      if (!fresh && !loading[slotId]) loadChart(slotId, name);
    });
  }

  function splitButtons(snapshot) {
    var splits = ['key', 'user'];
    if (snapshot.tag !== null) splits.unshift('tag');
    if (state.split === null) state.split = splits[0];
    if (splits.join() === state.splits.join()) return;
    state.splits = splits;
    var box = byId('split-buttons');
    box.replaceChildren();
    splits.forEach(function (split) {
      var b = document.createElement('button');
      b.type = 'button';
      b.textContent = split === 'tag' ? 'tag ' + snapshot.tag : split;
      b.setAttribute('aria-pressed', String(split === state.split));
      b.addEventListener('click', function () {
        state.split = split;
        Array.prototype.forEach.call(box.children, function (other) { other.setAttribute('aria-pressed', String(other === b)); });
        put('split-title', 'By ' + b.textContent);
        syncCharts();
      });
      box.appendChild(b);
    });
    put('split-title', 'By ' + (state.split === 'tag' ? 'tag ' + snapshot.tag : state.split));
  }

  function show(s) {
    state.snapshot = s;
    var t = s.totals;
    put('window', 'from ' + s.window_start.slice(0, 10) + ' ' + clock(s.window_start) + ', in 5-minute buckets');
    put('requests', whole.format(t.requests));
    put('requests-sub', 'since ' + clock(s.live_since) + ' \\u00b7 ' + whole.format(t.client_errors) + ' answered 4xx');
    put('error-rate', percent(t.error_rate));
    put('error-rate-sub', whole.format(t.errors) + ' errors: 5xx or no answer');
    byId('card-errors').className = t.error_rate > 0.01 ? 'card bad' : 'card';
    put('in-flight', whole.format(s.in_flight));
    put('in-flight-sub', 'requests open now');
    put('tokens', tokens(t.total_tokens));
    put('tokens-sub', tokens(t.prompt_tokens) + ' prompt \\u00b7 ' + tokens(t.completion_tokens) + ' completion');
    put('cost', usd(t.cost));
    put('cost-sub', whole.format(t.unpriced) + ' responses unpriced');
    put('responses', whole.format(t.responses));
    put('responses-sub', whole.format(s.timeline.responses[s.timeline.responses.length - 1] || 0) + ' in the last bucket');
    fillTable('top-models', s.top.models, '(no model)');
    fillTable('top-keys', s.top.keys, '(no key)');
    fillTable('top-users', s.top.users, '(no user)');
    byId('top-tags').hidden = s.top.tags === null;
    if (s.top.tags !== null) {
      put('top-tags-title', 'Top values of tag ' + s.tag);
      fillTable('top-tags', s.top.tags, '(untagged)');
    }
    splitButtons(s);
    syncCharts();
  }

  function refresh() {
    if (state.busy) return;
    state.busy = true;
    fetch('usage.json', { cache: 'no-store' }).then(function (res) {
      if (!res.ok) throw new Error('HTTP ' + res.status);
      return res.json();
    }).then(function (s) {
      show(s);
      byId('status').className = 'status';
      put('status', 'updated ' + clock(s.generated_at, true));
    }).catch(function (err) {
      byId('status').className = 'status down';
      put('status', 'cannot reach the proxy (' + String(err.message || err) + '), retrying');
    }).finally(function () { state.busy = false; });
  }

  refresh();
  setInterval(refresh, REFRESH_MS);
})();
`;

function table(id: string, title: string): string {
  return `<section class="top" id="${id}"><h3 id="${id}-title">${title}</h3><table>
<thead><tr><th>name</th><th title="responses with usage">resp.</th><th title="prompt tokens">prompt</th><th title="completion tokens">compl.</th><th title="total tokens">total</th><th title="cost (USD) of the priced responses">cost</th></tr></thead>
<tbody id="${id}-rows"></tbody></table><div class="note" id="${id}-note"></div></section>`;
}

function card(id: string, label: string, cardId = ''): string {
  return `<div class="card"${cardId === '' ? '' : ` id="${cardId}"`}><div class="label">${label}</div><div class="value" id="${id}">\u2013</div><div class="sub" id="${id}-sub"></div></div>`;
}

const BODY = `<header><h1>lm-proxy \u00b7 usage, last 24 hours</h1><span class="window" id="window"></span>
<span class="status" id="status">loading\u2026</span></header>
<main>
<section class="cards">
${card('requests', 'Requests')}
${card('error-rate', 'Error rate', 'card-errors')}
${card('in-flight', 'In flight')}
${card('tokens', 'Tokens')}
${card('cost', 'Cost')}
${card('responses', 'Responses with usage')}
</section>
<h2>By model</h2>
<section class="charts"><div class="chart" id="chart-tokens-model"></div><div class="chart" id="chart-cost-model"></div></section>
<div class="split"><h2 id="split-title">By key</h2><span id="split-buttons"></span></div>
<section class="charts"><div class="chart" id="chart-tokens-split"></div><div class="chart" id="chart-cost-split"></div></section>
<h2>Top over the last 24 hours</h2>
<section class="tops">
${table('top-models', 'Top models')}
${table('top-keys', 'Top keys')}
${table('top-users', 'Top users')}
${table('top-tags', 'Top tag values')}
</section>
</main>
<footer>This page shows key ids and end users. Serve the admin listener (METRICS_ADDR) on loopback or a private network only, never on a public address. Figures are kept in memory for 24 hours; request counts start when the proxy started.</footer>`;

/** The `'sha256-…'` source that allows exactly this inline text (CSP Level 3 §8.4). */
export function hashSource(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

export interface DashboardPage {
  readonly html: string;
  /** Content-Security-Policy to send with it: nothing but the inline style and script, and 'self'. */
  readonly csp: string;
}

let built: DashboardPage | undefined;

export function dashboardPage(): DashboardPage {
  built ??= {
    html:
      '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">' +
      '<meta name="viewport" content="width=device-width, initial-scale=1">' +
      '<meta name="referrer" content="no-referrer"><title>lm-proxy usage</title>' +
      // A favicon from data: so the browser asks the server for no /favicon.ico.
      '<link rel="icon" href="data:,">' +
      `<style>${STYLE}</style></head>\n<body>\n${BODY}\n<script>${SCRIPT}</script>\n</body></html>\n`,
    csp: [
      "default-src 'none'",
      `script-src ${hashSource(SCRIPT)}`,
      `style-src ${hashSource(STYLE)}`,
      "img-src 'self' data:",
      "connect-src 'self'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
  };
  return built;
}
