import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { dashboardPage, hashSource } from '../../src/dashboard/page.ts';

const { html, csp } = dashboardPage();

function between(text: string, open: string, close: string): string {
  const start = text.indexOf(open);
  const end = text.indexOf(close, start);
  assert.ok(start !== -1 && end !== -1, `${open} … ${close} not found`);
  assert.equal(text.indexOf(open, start + 1), -1, `more than one ${open}`);
  return text.slice(start + open.length, end);
}

const script = between(html, '<script>', '</script>');
const style = between(html, '<style>', '</style>');

function directive(name: string): string {
  const found = csp.split(';').map((d) => d.trim()).find((d) => d.startsWith(name + ' '));
  assert.ok(found !== undefined, `no ${name} in ${csp}`);
  return found.slice(name.length + 1);
}

describe('dashboard page', () => {
  it('names no other host and loads nothing by URL: no scheme, no //, no url(), no @import, no src=', () => {
    for (const needle of ['http:', 'https:', '//', 'url(', '@import', 'src=', 'ws:', 'wss:', 'ftp:']) {
      assert.equal(html.toLowerCase().indexOf(needle), -1, `found ${needle}`);
    }
    // The only resources the script asks for are relative paths on the page's own origin.
    const fetched = [...script.matchAll(/fetch\(([^,)]+)/g)].map((m) => m[1]!.trim());
    assert.deepEqual(fetched, ['url', "'usage.json'"]);
    assert.match(script, /state\.snapshot\.charts\[name\]/); // chart URLs come from our usage.json
  });

  it('asks for no favicon: its icon is an empty data: URL', () => {
    assert.match(html, /<link rel="icon" href="data:,">/);
    assert.equal([...html.matchAll(/<link /g)].length, 1);
  });

  it('sends a CSP that allows exactly its inline script and style, by sha256', () => {
    const scriptHash = `'sha256-${createHash('sha256').update(script, 'utf8').digest('base64')}'`;
    assert.equal(directive('script-src'), scriptHash);
    assert.equal(directive('style-src'), hashSource(style));
    assert.equal(directive('default-src'), "'none'");
    assert.equal(directive('connect-src'), "'self'");
    assert.equal(directive('img-src'), "'self' data:");
    assert.equal(directive('frame-ancestors'), "'none'");
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    assert.equal([...html.matchAll(/<script/g)].length, 1);
    assert.equal([...html.matchAll(/<style/g)].length, 1);
    assert.doesNotMatch(html, /\sstyle="/); // an inline style attribute would need 'unsafe-inline'
    assert.doesNotMatch(html, /\son[a-z]+=/i); // nor would an event attribute run
  });

  it('has a script that compiles and never writes markup: textContent only', () => {
    assert.doesNotThrow(() => new Function(script));
    for (const sink of ['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'eval(', 'setAttribute(\'style', 'srcdoc']) {
      assert.equal(script.indexOf(sink), -1, `script uses ${sink}`);
    }
    assert.match(script, /textContent/);
    // SVG is parsed as XML, not HTML, and stripped to drawing elements before it is inserted.
    assert.match(script, /parseFromString\(text, 'image\/svg\+xml'\)/);
    assert.match(script, /drawingOnly\(root\)/);
  });

  it('has every element its script looks up by id (a missing one would stop each refresh)', () => {
    const ids = new Set([...html.matchAll(/ id="([^"]+)"/g)].map((m) => m[1]));
    const used = [...script.matchAll(/(?:byId|put|loadChart)\('([a-z-]+)'/g)].map((m) => m[1]!);
    for (const table of script.matchAll(/fillTable\('([a-z-]+)'/g)) used.push(`${table[1]}-rows`, `${table[1]}-note`);
    assert.ok(used.length > 20);
    for (const id of used) assert.ok(ids.has(id), `no element with id ${id}`);
  });

  it('refreshes from usage.json every few seconds', () => {
    const every = /var REFRESH_MS = .*: (\d+);/.exec(script);
    assert.ok(every !== null);
    assert.ok(Number(every[1]) >= 2000 && Number(every[1]) <= 10_000);
    assert.match(script, /setInterval\(refresh, REFRESH_MS\)/);
  });

  it('says in its footer that the admin listener belongs on loopback or a private network', () => {
    const footer = between(html, '<footer>', '</footer>');
    assert.match(footer, /key ids and end users/);
    assert.match(footer, /loopback or a private network/);
  });

  it('is the same page, and the same policy, every time', () => {
    assert.equal(dashboardPage().html, html);
    assert.equal(dashboardPage().csp, csp);
  });
});
