import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatExact,
  formatTick,
  niceAxis,
  renderStackedBarChart,
  type StackedBarChart,
} from '../../src/report/svg-chart.ts';
import { childElements, elementsOf, parseXml, textOf, type XmlElement } from '../helpers/xml.ts';
import { prng } from '../helpers/prng.ts';

// ---- reading a chart back, as a reader of the SVG would -------------------------------------

function parse(svg: string): XmlElement {
  const result = parseXml(svg);
  if (!result.ok) assert.fail(`not well-formed at ${result.offset}: ${result.error}\n${svg.slice(Math.max(0, result.offset - 80), result.offset + 80)}`);
  return result.root;
}

function render(chart: StackedBarChart): XmlElement {
  return parse(renderStackedBarChart(chart));
}

function attr(element: XmlElement, name: string): string {
  const value = element.attributes.get(name);
  assert.ok(value !== undefined, `<${element.name}> has no ${name}`);
  return value;
}

function num(element: XmlElement, name: string): number {
  const value = Number(attr(element, name));
  assert.ok(Number.isFinite(value), `<${element.name} ${name}="${attr(element, name)}"> is not a number`);
  return value;
}

function group(root: XmlElement, cls: string): XmlElement {
  const found = elementsOf(root).filter((e) => e.attributes.get('class') === cls);
  assert.equal(found.length, 1, `one group of class ${cls}`);
  return found[0] as XmlElement;
}

/** Direct text only: a text element's own <title> (the full label) is not what is drawn. */
function drawnText(element: XmlElement): string {
  return element.children.map((c) => (c.type === 'text' ? c.text : '')).join('');
}

function titleOf(element: XmlElement): string {
  const title = childElements(element, 'title')[0];
  return title === undefined ? '' : textOf(title);
}

interface Segment { readonly x: number; readonly y: number; readonly width: number; readonly height: number; readonly fill: string; readonly tip: string }
interface Bar { readonly tip: string; readonly segments: readonly Segment[] }

function barsOf(root: XmlElement): Bar[] {
  return childElements(group(root, 'lmp-chart-bars'), 'g').map((g) => ({
    tip: titleOf(g),
    segments: childElements(g, 'rect').map((r) => ({
      x: num(r, 'x'), y: num(r, 'y'), width: num(r, 'width'), height: num(r, 'height'), fill: attr(r, 'fill'), tip: titleOf(r),
    })),
  }));
}

/** Tick labels with their heights, bottom (0) first; the rotated axis title is not a tick. */
function ticksOf(root: XmlElement): { label: string; y: number }[] {
  return childElements(group(root, 'lmp-chart-y-axis'), 'text')
    .filter((t) => !t.attributes.has('transform'))
    .map((t) => ({ label: textOf(t), y: num(t, 'y') }));
}

function legendOf(root: XmlElement): { name: string; fill: string }[] {
  return childElements(group(root, 'lmp-chart-legend'), 'g').map((g) => {
    const text = childElements(g, 'text')[0] as XmlElement;
    const full = titleOf(g);
    return { name: full === '' ? textOf(text) : full, fill: attr(childElements(g, 'rect')[0] as XmlElement, 'fill') };
  });
}

/** What a fill looks like: its colour and texture, resolving url(#id) to the pattern it names. */
function lookOf(root: XmlElement, fill: string): string {
  const ref = /^url\(#([A-Za-z0-9_-]+)\)$/.exec(fill);
  if (ref === null) return `${fill} solid`;
  const pattern = elementsOf(root).find((e) => e.name === 'pattern' && e.attributes.get('id') === ref[1]);
  assert.ok(pattern !== undefined, `pattern ${ref[1]} is defined`);
  const tile = childElements(pattern, 'rect')[0] as XmlElement;
  const ink = childElements(pattern, 'path')[0] as XmlElement;
  return `${attr(tile, 'fill')} ${attr(ink, 'd')}`;
}

/** What XML 1.0 allows and the chart keeps, computed independently of the module. */
function cleaned(text: string): string {
  let out = '';
  for (const c of text) {
    const cp = c.codePointAt(0) ?? 0;
    if (cp === 9 || cp === 10 || cp === 13) out += ' ';
    else if ((cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || cp >= 0x10000) out += c;
  }
  return out;
}

/** Advance widths of DejaVu Sans (the widest common default sans-serif), rounded up, in em. */
function dejaVuWidth(text: string, size: number): number {
  let em = 0;
  for (const c of text) em += c > '\u007f' ? 1 : /[mwMW]/.test(c) ? 1 : /[A-Z]/.test(c) ? 0.8 : /[0-9a-z]/.test(c) ? 0.64 : 0.4;
  return em * size;
}

// ---- samples ---------------------------------------------------------------------------------

const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-3-5-sonnet-20241022', 'o3-mini', 'llama-3.1-70b-instruct'];
const DAYS = ['2026-03-02', '2026-03-03', '2026-03-04', '2026-03-05', '2026-03-06', '2026-03-07', '2026-03-08'];

function week(seed = 1): StackedBarChart {
  const random = prng(seed);
  return {
    title: 'Tokens per day by model',
    categories: DAYS,
    unit: 'tokens',
    series: MODELS.map((name, i) => ({ name, values: DAYS.map(() => Math.round((5 - i) * 400_000 * (0.2 + random()))) })),
  };
}

function fiveMinuteBuckets(width: number, seriesCount: number): StackedBarChart {
  const random = prng(288);
  const categories = Array.from({ length: 288 }, (_, i) => `${String(Math.floor(i / 12)).padStart(2, '0')}:${String((i % 12) * 5).padStart(2, '0')}`);
  return {
    title: 'Cost per 5 minutes, last 24 h',
    categories,
    unit: 'usd',
    width,
    series: Array.from({ length: seriesCount }, (_, s) => ({ name: `key-${s}`, values: categories.map(() => random() * 0.01) })),
  };
}

// ---- the tests -------------------------------------------------------------------------------

describe('the strict XML parser used by these tests', () => {
  test('reads elements, attributes, text, entities, character references, comments and CDATA', () => {
    const result = parseXml('<?xml version="1.0" encoding="UTF-8"?><!-- c --><a x="1 &amp; &#x32;" y=\'&quot;\'>t&lt;&#233;<![CDATA[<raw>]]><b/><!--in--></a>\n');
    assert.ok(result.ok);
    const root = result.root;
    assert.equal(root.name, 'a');
    assert.equal(root.attributes.get('x'), '1 & 2');
    assert.equal(root.attributes.get('y'), '"');
    assert.equal(textOf(root), 't<é<raw>');
    assert.deepEqual(root.children.map((c) => c.type), ['text', 'element', 'comment']);
  });

  test('rejects what is not well-formed', () => {
    const malformed = [
      '', 'text', '<a>', '<a></b>', '<a><b></a></b>', '<a x="1" x="2"/>', '<a x=1/>', '<a x="<"/>', '<a x="1"y="2"/>',
      '<a>&</a>', '<a>&nbsp;</a>', '<a>&#0;</a>', '<a>&#xD800;</a>', '<a>\u0000</a>', '<a>\u0008</a>', '<a>\ud800</a>',
      '<a/><b/>', '<a/>text', '<a><!-- x -- y --></a>', '<a><!-- x ---></a>', '<!DOCTYPE a><a/>', '<a>]]></a>',
      '<a><![CDATA[x</a>', ' <?xml version="1.0"?><a/>', '<a><?xml version="1.0"?></a>', '<1a/>', '<a b/>', '<a>x',
    ];
    for (const source of malformed) assert.equal(parseXml(source).ok, false, JSON.stringify(source));
  });

  test('rejects every cut of a chart short of its end tag', () => {
    const svg = renderStackedBarChart(week());
    assert.ok(parseXml(svg).ok);
    const random = prng(99);
    for (let i = 0; i < 300; i += 1) {
      const cut = Math.floor(random() * (svg.length - 1));
      assert.equal(parseXml(svg.slice(0, cut)).ok, false, `cut at ${cut}`);
    }
  });
});

describe('renderStackedBarChart', () => {
  test('returns a standalone SVG document with its namespace, size and viewBox', () => {
    const svg = renderStackedBarChart(week());
    const root = parse(svg);
    assert.equal(root.name, 'svg');
    assert.equal(attr(root, 'xmlns'), 'http://www.w3.org/2000/svg');
    assert.equal(attr(root, 'width'), '800');
    assert.equal(attr(root, 'height'), '400');
    assert.equal(attr(root, 'viewBox'), '0 0 800 400');
    assert.equal(titleOf(root), 'Tokens per day by model');
    const sized = parse(renderStackedBarChart({ ...week(), width: 1000, height: 500 }));
    assert.equal(attr(sized, 'viewBox'), '0 0 1000 500');
  });

  test('segment heights are proportional to their values and stand on the zero line', () => {
    const chart = week();
    const root = render(chart);
    const ticks = ticksOf(root);
    const max = Math.max(...DAYS.map((_, j) => chart.series.reduce((sum, s) => sum + (s.values[j] ?? 0), 0)));
    const axis = niceAxis(max, 'tokens');
    assert.deepEqual(ticks.map((t) => t.label), axis.ticks.map((v) => formatTick(v, axis.step, 'tokens')));
    const zero = (ticks[0] as { y: number }).y;
    const top = ticks[ticks.length - 1] as { y: number };
    const perToken = (zero - top.y) / (axis.ticks[axis.ticks.length - 1] as number);
    const bars = barsOf(root);
    bars.forEach((bar, j) => {
      assert.equal(bar.segments.length, MODELS.length);
      bar.segments.forEach((segment, i) => {
        const value = chart.series[i]?.values[j] ?? 0;
        assert.ok(Math.abs(segment.height - value * perToken) <= 0.5, `${segment.tip}: ${segment.height} px for ${value}`);
      });
      const bottom = bar.segments[0] as Segment;
      assert.ok(Math.abs(bottom.y + bottom.height - zero) <= 0.01);
    });
  });

  test('stacks segments edge to edge, bottom to top in series order', () => {
    const chart = week(2);
    for (const bar of barsOf(render(chart))) {
      bar.segments.forEach((segment, i) => {
        assert.ok(segment.tip.startsWith(`${MODELS[i]} · `), segment.tip);
        const above = bar.segments[i + 1];
        if (above !== undefined) {
          assert.ok(Math.abs(above.y + above.height - segment.y) <= 0.01, 'adjacent');
          assert.equal(above.x, segment.x);
          assert.equal(above.width, segment.width);
        }
      });
    }
  });

  test('draws one bar per category, left to right in category order', () => {
    const bars = barsOf(render(week()));
    assert.deepEqual(bars.map((b) => b.tip.split(':')[0]), DAYS);
    for (let j = 1; j < bars.length; j += 1) {
      assert.ok((bars[j]?.segments[0]?.x ?? 0) > (bars[j - 1]?.segments[0]?.x ?? Infinity));
    }
  });

  test('puts every series in the legend, with the fill of its bars', () => {
    const chart = week();
    const root = render(chart);
    const legend = legendOf(root);
    assert.deepEqual(legend.map((l) => l.name), MODELS);
    const segments = barsOf(root).flatMap((b) => b.segments);
    legend.forEach(({ name, fill }) => {
      const own = segments.filter((s) => s.tip.startsWith(`${name} · `));
      assert.equal(own.length, DAYS.length);
      for (const s of own) assert.equal(s.fill, fill, name);
    });
    assert.equal(new Set(legend.map((l) => l.fill)).size, MODELS.length);
  });

  test('gives each segment a tooltip with series, category and exact value, and each bar its total', () => {
    const root = render({ title: 't', categories: ['2026-03-01'], unit: 'tokens', series: [{ name: 'gpt-4o', values: [1_234_567] }, { name: 'o3', values: [1] }] });
    const bar = barsOf(root)[0] as Bar;
    assert.deepEqual(bar.segments.map((s) => s.tip), ['gpt-4o · 2026-03-01: 1,234,567 tokens', 'o3 · 2026-03-01: 1 token']);
    assert.equal(bar.tip, '2026-03-01: 1,234,568 tokens in all');
    const usd = barsOf(render({ title: 't', categories: ['k'], unit: 'usd', series: [{ name: 'm', values: [0.0001234] }] }))[0] as Bar;
    assert.equal(usd.segments[0]?.tip, 'm · k: $0.0001234');
  });

  test('ticks are round (1, 2 or 5 × 10^n), 4 to 8 of them from 0, and the top one covers the tallest bar', () => {
    const random = prng(7);
    for (let i = 0; i < 3000; i += 1) {
      const max = 10 ** (random() * 20 - 7);
      for (const unit of ['tokens', 'usd'] as const) {
        const { step, ticks } = niceAxis(max, unit);
        const label = `${unit} max=${max}`;
        assert.ok(ticks.length >= 4 && ticks.length <= 8, `${label}: ${ticks.length} ticks`);
        assert.equal(ticks[0], 0);
        const top = ticks[ticks.length - 1] as number;
        assert.ok(top >= max, `${label}: top ${top}`);
        assert.ok(top - step < max || ticks.length === 4, `${label}: top ${top} is the first step at or above the max`);
        const mantissa = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
        assert.ok([1, 2, 5].some((m) => Math.abs(mantissa - m) < 1e-9), `${label}: step ${step}`);
        ticks.forEach((t, k) => assert.ok(Math.abs(t - k * step) <= 1e-9 * Math.max(1, t), `${label}: tick ${t}`));
        if (unit === 'tokens') assert.ok(step >= 1 && ticks.every(Number.isInteger), `${label}: whole tokens`);
        for (let most = 4; most <= 8; most += 1) {
          const fewer = niceAxis(max, unit, most).ticks;
          assert.ok(fewer.length >= 4 && fewer.length <= most && (fewer[fewer.length - 1] as number) >= max, `${label}: at most ${most} ticks`);
        }
      }
    }
    assert.deepEqual(niceAxis(7_040_000, 'tokens').ticks, [0, 2e6, 4e6, 6e6, 8e6]);
    assert.deepEqual(niceAxis(0.3, 'usd').ticks, [0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3]);
  });

  test('a short plot gets fewer ticks, their labels still a line and a half apart', () => {
    for (const height of [200, 240, 300, 400, 800]) {
      const ticks = ticksOf(render({ ...week(), height, categories: DAYS.map((d) => `${d} with a long label`) }));
      assert.ok(ticks.length >= 4 && ticks.length <= 8);
      for (let i = 1; i < ticks.length; i += 1) assert.ok((ticks[i - 1]?.y ?? 0) - (ticks[i]?.y ?? 0) >= 11 * 1.2 * 1.5 - 0.01, `height ${height}`);
    }
  });

  test('formats tick labels for the unit', () => {
    const cases: [number, number, 'tokens' | 'usd', string][] = [
      [0, 1, 'tokens', '0'], [500, 100, 'tokens', '500'], [1200, 200, 'tokens', '1.2k'], [2000, 1000, 'tokens', '2k'],
      [3_400_000, 200_000, 'tokens', '3.4M'], [5e9, 1e9, 'tokens', '5G'], [1500, 500, 'tokens', '1.5k'],
      [0, 0.5, 'usd', '$0'], [0.0012, 0.0002, 'usd', '$0.0012'], [1.5, 0.5, 'usd', '$1.50'], [20, 5, 'usd', '$20'],
      [1200, 200, 'usd', '$1.2k'], [3e9, 1e9, 'usd', '$3B'], [0.1, 0.02, 'usd', '$0.10'],
    ];
    for (const [value, step, unit, expected] of cases) assert.equal(formatTick(value, step, unit), expected, `${value} ${unit}`);
    assert.equal(formatExact(1234.5, 'usd'), '$1,234.5');
    assert.equal(formatExact(12.25, 'tokens'), '12.25 tokens');
    assert.equal(ticksOf(render({ ...week(), unit: 'usd' })).every((t) => t.label.startsWith('$')), true);
  });

  test('escapes hostile text and drops the characters XML forbids', () => {
    const hostile = {
      title: '<script>alert(1)</script> & "quotes" \'too\' \u0000\u0008 end',
      category: '</text><a href="javascript:alert(1)">x</a>]]>',
      series: ['<img src=x onerror=alert(1)>', 'a\u0000b\u0008c\u001f\ud800d\ufffe', 'tab\tnew\nline'],
    };
    const chart: StackedBarChart = {
      title: hostile.title, categories: [hostile.category], unit: 'usd',
      series: hostile.series.map((name) => ({ name, values: [1] })),
    };
    const svg = renderStackedBarChart(chart);
    assert.equal(/<script|<img|<a[ >]|\u0000|\u0008/.test(svg), false);
    const root = parse(svg);
    assert.deepEqual([...new Set(elementsOf(root).map((e) => e.name))].sort(), ['desc', 'g', 'line', 'path', 'rect', 'svg', 'text', 'title']);
    assert.equal(titleOf(root), cleaned(hostile.title));
    assert.ok(elementsOf(root).some((e) => e.name === 'text' && drawnText(e) === cleaned(hostile.title)));
    assert.deepEqual(legendOf(root).map((l) => l.name), hostile.series.map(cleaned));
    const bar = barsOf(root)[0] as Bar;
    assert.equal(bar.tip.startsWith(cleaned(hostile.category)), true);
    assert.deepEqual(bar.segments.map((s) => s.tip.split(' · ')[0]), hostile.series.map(cleaned));
    const label = childElements(group(root, 'lmp-chart-x-axis'), 'text')[0] as XmlElement;
    assert.equal(cleaned(hostile.category).startsWith(drawnText(label).replace(/…$/, '')), true);
  });

  test('carries nothing that could run, fetch or restyle the page it is inlined into', () => {
    const random = prng(5);
    const chart = fiveMinuteBuckets(800, 25);
    const root = render({ ...chart, title: 'x" onload="alert(1)', series: chart.series.map((s) => ({ ...s, name: `${s.name} onclick="y" href="#"${random()}` })) });
    const allowed = new Set(['svg', 'title', 'desc', 'defs', 'pattern', 'rect', 'path', 'g', 'text', 'line']);
    const ids = new Set(elementsOf(root).map((e) => e.attributes.get('id')).filter((id) => id !== undefined));
    for (const element of elementsOf(root)) {
      assert.ok(allowed.has(element.name), element.name);
      for (const [name, value] of element.attributes) {
        assert.ok(!/^on/i.test(name) && !/href|src|style/i.test(name), `attribute ${name}`);
        assert.ok(!/javascript:|@import|https?:/i.test(value) || name === 'xmlns', `${name}="${value}"`);
        const ref = /url\(([^)]*)\)/.exec(value);
        if (ref !== null) assert.ok(ids.has((ref[1] ?? '').replace(/^#/, '')) && ref[1]?.startsWith('#'), `${name}="${value}" is a local reference`);
      }
    }
    assert.equal(attr(root, 'font-family'), 'sans-serif');
  });

  test('tells twelve and more series apart by colour and texture, and legend swatches look like their bars', () => {
    const names = Array.from({ length: 60 }, (_, i) => `series-${i + 1}`);
    const root = render({ title: 'many', categories: ['a', 'b'], unit: 'tokens', height: 2000, series: names.map((name) => ({ name, values: [1, 2] })) });
    const legend = legendOf(root);
    assert.deepEqual(legend.map((l) => l.name), names);
    const looks = legend.map((l) => lookOf(root, l.fill));
    assert.equal(new Set(looks).size, 60, 'sixty distinct colour and texture combinations');
    assert.ok(looks.slice(0, 10).every((look) => look.endsWith(' solid')), 'the first ten are plain colours');
    assert.ok(looks.slice(10).every((look) => !look.endsWith(' solid')), 'past ten, a texture');
    const texture = (look: string): string => look.slice(look.indexOf(' ') + 1);
    for (let i = 10; i < 59; i += 1) assert.notEqual(texture(looks[i] ?? ''), texture(looks[i + 1] ?? ''), `series ${i + 1} and ${i + 2}`);
    const bar = barsOf(root)[0] as Bar;
    bar.segments.forEach((s, i) => assert.equal(s.fill, legend[i]?.fill));
  });

  test('keeps category labels apart, by at least the font size, for 288 five-minute buckets at any width', () => {
    for (const width of [400, 800, 1200, 2400]) {
      const root = render(fiveMinuteBuckets(width, 12));
      const axis = group(root, 'lmp-chart-x-axis');
      const size = num(axis, 'font-size');
      const rotated = attr(axis, 'text-anchor') === 'end';
      const labels = childElements(axis, 'text').map((t) => ({ x: num(t, 'x'), text: drawnText(t) }));
      assert.ok(labels.length >= 4, `${width}px: ${labels.length} labels`);
      assert.equal(labels[0]?.text, '00:00');
      for (let i = 1; i < labels.length; i += 1) {
        const [a, b] = [labels[i - 1], labels[i]] as [{ x: number; text: string }, { x: number; text: string }];
        const apart = rotated ? (b.x - a.x) * Math.SQRT1_2 : b.x - a.x - (dejaVuWidth(a.text, size) + dejaVuWidth(b.text, size)) / 2;
        assert.ok(apart >= size, `${width}px: "${a.text}" and "${b.text}" ${apart.toFixed(1)} px apart`);
      }
      for (const l of labels) assert.ok(rotated || (l.x - dejaVuWidth(l.text, size) / 2 >= 0 && l.x + dejaVuWidth(l.text, size) / 2 <= width));
    }
  });

  test('rotates long labels that do not fit, still apart, still inside the picture', () => {
    const categories = Array.from({ length: 31 }, (_, i) => `2026-03-${String(i + 1).padStart(2, '0')} user-${'x'.repeat(i)}`);
    const root = render({ title: 'month', categories, unit: 'tokens', series: [{ name: 's', values: categories.map((_, i) => i + 1) }] });
    const axis = group(root, 'lmp-chart-x-axis');
    assert.equal(attr(axis, 'text-anchor'), 'end');
    const size = num(axis, 'font-size');
    const labels = childElements(axis, 'text');
    assert.ok(labels.some((t) => drawnText(t).endsWith('…')), 'the longest labels are cut');
    labels.forEach((t, i) => {
      assert.match(attr(t, 'transform'), /^rotate\(-45 /);
      const reach = dejaVuWidth(drawnText(t), size) * Math.SQRT1_2;
      assert.ok(num(t, 'x') - reach >= -1, `label ${i} starts inside`);
      assert.ok(num(t, 'y') + reach <= 400, `label ${i} ends above the bottom`);
      const next = labels[i + 1];
      if (next !== undefined) assert.ok((num(next, 'x') - num(t, 'x')) * Math.SQRT1_2 >= size);
      const shown = drawnText(t);
      if (shown.endsWith('…')) assert.ok(categories.includes(titleOf(t)) && titleOf(t).startsWith(shown.slice(0, -1)), `label ${i} keeps its full text`);
    });
  });

  test('an empty chart still has axes, a note that there is no data, and is well-formed', () => {
    for (const chart of [
      { title: 'empty', categories: [], series: [], unit: 'tokens' },
      { title: 'zeros', categories: ['a', 'b'], series: [{ name: 's', values: [0, 0] }], unit: 'tokens' },
      { title: 'junk', categories: ['a'], series: [{ name: 's', values: [NaN, -5] }, { name: 't', values: [] }], unit: 'usd' },
      { title: '', categories: [], series: [], unit: 'usd' },
    ] satisfies StackedBarChart[]) {
      const root = render(chart);
      const ticks = ticksOf(root);
      assert.ok(ticks.length >= 4, chart.title);
      assert.equal(ticks[0]?.label, chart.unit === 'usd' ? '$0' : '0');
      assert.ok(elementsOf(root).some((e) => e.name === 'text' && textOf(e) === 'no data'), chart.title);
      assert.ok(elementsOf(root).some((e) => e.name === 'path'), 'the axis lines');
      assert.equal(barsOf(root).flatMap((b) => b.segments).length, 0);
      assert.equal(barsOf(root).length, chart.categories.length);
    }
    assert.equal(elementsOf(render(week())).some((e) => textOf(e) === 'no data'), false);
  });

  test('draws negative, NaN and infinite values as 0 and tolerates values arrays of any length', () => {
    const root = render({
      title: 'odd', categories: ['a', 'b', 'c'], unit: 'tokens',
      series: [{ name: 'short', values: [5] }, { name: 'long', values: [1, 2, 3, 4, 5] }, { name: 'bad', values: [-1, NaN, Infinity] }],
    });
    const bars = barsOf(root);
    assert.deepEqual(bars.map((b) => b.segments.map((s) => s.tip.split(' · ')[0])), [['short', 'long'], ['long'], ['long']]);
    assert.deepEqual(bars.map((b) => b.tip), ['a: 6 tokens in all', 'b: 2 tokens in all', 'c: 3 tokens in all']);
    assert.deepEqual(ticksOf(root).map((t) => t.label), ['0', '1', '2', '3', '4', '5', '6']);
  });

  test('clamps its size to sane bounds and uses the defaults for nonsense', () => {
    const sizeOf = (width: number, height: number): string => attr(render({ ...week(), width, height }), 'viewBox');
    assert.equal(sizeOf(NaN, Infinity), '0 0 800 400');
    assert.equal(sizeOf(50, 10), '0 0 200 200');
    assert.equal(sizeOf(1e9, 640.4), '0 0 10000 640');
  });

  test('cuts long text with an ellipsis to fit, keeping the whole of it in a title', () => {
    const long = 'x'.repeat(400);
    const root = render({ title: long, categories: ['c'], unit: 'tokens', series: [{ name: `m-${long}`, values: [1] }] });
    const drawnTitle = elementsOf(root).find((e) => e.attributes.get('font-weight') === 'bold') as XmlElement;
    assert.ok(drawnText(drawnTitle).endsWith('…') && dejaVuWidth(drawnText(drawnTitle), 15) <= 800);
    assert.equal(titleOf(root), long);
    assert.equal(legendOf(root)[0]?.name, `m-${long}`);
    const surrogates = render({ title: '😀'.repeat(200), categories: [], series: [], unit: 'tokens' });
    assert.ok(elementsOf(surrogates).every((e) => !/[\ud800-\udfff]/u.test(textOf(e))), 'no pair cut in half');
  });

  test('gives the same bytes for the same input, and another chart other pattern ids', () => {
    const chart = fiveMinuteBuckets(800, 14);
    assert.equal(renderStackedBarChart(chart), renderStackedBarChart(structuredClone(chart)));
    const ids = (svg: string): string[] => [...svg.matchAll(/ id="([^"]+)"/g)].map((m) => m[1] ?? '');
    const one = ids(renderStackedBarChart(chart));
    const other = ids(renderStackedBarChart({ ...chart, title: 'another' }));
    assert.equal(one.length, 4);
    assert.equal(one.some((id) => other.includes(id)), false);
  });

  test('random charts, hostile text included, are always well-formed and drawn inside their plot', () => {
    const random = prng(2026);
    const pool = ['a', 'Z', '9', ' ', '<', '>', '&', '"', "'", ']]>', '\u0000', '\u0008', '\t', '\u007f', '\u0085', '\ud800', '\udc00', '😀', 'é', '\ufffe', '中'];
    const text = (): string => Array.from({ length: Math.floor(random() * 12) }, () => pool[Math.floor(random() * pool.length)]).join('');
    const value = (): number => [NaN, -1, Infinity, 0, random() * 10 ** Math.floor(random() * 12)][Math.floor(random() * 5)] ?? 0;
    for (let i = 0; i < 150; i += 1) {
      const categories = Array.from({ length: Math.floor(random() * 40) }, text);
      const chart: StackedBarChart = {
        title: text(), categories, unit: random() < 0.5 ? 'tokens' : 'usd',
        width: 150 + random() * 1500, height: 150 + random() * 800,
        series: Array.from({ length: Math.floor(random() * 15) }, () => ({ name: text(), values: Array.from({ length: Math.floor(random() * 45) }, value) })),
      };
      const root = render(chart);
      const ticks = ticksOf(root);
      const [zero, top] = [ticks[0]?.y ?? NaN, ticks[ticks.length - 1]?.y ?? NaN];
      const bars = barsOf(root);
      assert.equal(bars.length, categories.length);
      bars.forEach((bar, j) => {
        assert.ok(bar.tip.startsWith(`${cleaned(categories[j] ?? '')}: `));
        for (const s of bar.segments) {
          assert.ok(s.height >= 0 && s.y >= top - 0.01 && s.y + s.height <= zero + 0.01, `chart ${i}: ${JSON.stringify(s)}`);
        }
      });
    }
  });
});
