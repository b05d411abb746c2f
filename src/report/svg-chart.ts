/**
 * Stacked bar charts as standalone SVG text: `lm-proxy report --format svg` (SPEC §11) and the
 * dashboard's charts (SPEC §12). Pure: no imports, no I/O, the same input gives the same bytes.
 * Input text is stripped of what XML 1.0 forbids and escaped; the output has no script, event
 * attribute, style sheet, font, link or href, so it is safe to inline into an HTML page.
 */

export interface ChartSeries { readonly name: string; readonly values: readonly number[] }
export interface StackedBarChart {
  readonly title: string;
  readonly categories: readonly string[];   // one bar per category, left to right (x axis labels)
  readonly series: readonly ChartSeries[];  // stacked bottom to top in this order; values[i] belongs to categories[i]
  readonly unit: 'tokens' | 'usd';
  readonly width?: number; readonly height?: number;  // px
}

const DEFAULT_WIDTH = 800; // px
const DEFAULT_HEIGHT = 400; // px
const MIN_SIZE = 200; // px: less cannot hold a title, axes and a legend
const MAX_SIZE = 10_000; // px: more is a typo, and would only make the document huge
const MAX_AMOUNT = 1e200; // larger values are drawn as this, so no stack of them sums to Infinity
const PAD = 12; // px around everything
const FONT = 'sans-serif'; // a generic family: nothing is fetched, no installed font is assumed
const TITLE_SIZE = 15; // px
const TEXT_SIZE = 11; // px: tick labels, category labels, the y axis title
const LEGEND_SIZE = 12; // px
const LEGEND_ROW = 18; // px between legend rows
const LINE = 1.2; // a line of text is 1.2 em high (DejaVu Sans' line box is 1.164 em)
const BOLD = 1.15; // bold text is up to 15% wider (DejaVu Sans Bold's W against its regular)
const LABEL_GAP = TEXT_SIZE; // px at least between two horizontal category labels
const SIN45 = Math.SQRT1_2;

/**
 * Tableau 10 (Maureen Stone, Tableau Software, 2016; the same values as d3-scale-chromatic's
 * schemeTableau10): ten qualitative colours chosen to stay apart for colour-blind readers and to
 * differ in lightness. Past ten series the colours repeat with a texture (hatched either way,
 * cross-hatched, lined, dotted), the second cue that survives greyscale print. Within each block
 * of ten the texture turns with the series, so neighbours in a stack differ in texture too, and
 * no two of the first sixty series share colour and texture (a report that splits by more should
 * fold the rest into "other").
 */
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'] as const;
const TEXTURES = ['solid', 'rising', 'falling', 'cross', 'horizontal', 'dots'] as const;
type Texture = (typeof TEXTURES)[number];
const TILE = 6; // px: the side of a texture's repeating tile
const TEXTURE_PATHS: Readonly<Record<Texture, string>> = {
  solid: '',
  rising: 'M0 6L6 0M-1 1L1 -1M5 7L7 5',
  falling: 'M0 0L6 6M-1 5L1 7M5 -1L7 1',
  cross: 'M0 6L6 0M-1 1L1 -1M5 7L7 5M0 0L6 6M-1 5L1 7M5 -1L7 1',
  horizontal: 'M0 1.5H6M0 4.5H6',
  dots: 'M2 3a1 1 0 1 0 2 0a1 1 0 1 0 -2 0',
};
interface Paint { readonly colour: string; readonly texture: Texture; readonly fill: string }

function paintOf(index: number, idPrefix: string): Paint {
  const colour = PALETTE[index % PALETTE.length] ?? PALETTE[0];
  const block = Math.floor(index / PALETTE.length) % TEXTURES.length;
  // Block b ≥ 1, colour c: texture 1 + (c + b − 1) mod 5, unique per (c, b) for b = 1…5.
  const texture = block === 0 ? 'solid' : (TEXTURES[1 + ((index + block - 1) % (TEXTURES.length - 1))] ?? 'rising');
  const fill = texture === 'solid' ? colour : `url(#${idPrefix}-${colour.slice(1)}-${texture})`;
  return { colour, texture, fill };
}

/** A texture tile: the series colour with lines (or dots) in white on dark colours, black on light. */
function patternDef(paint: Paint): string {
  const [r, g, b] = [1, 3, 5].map((at) => parseInt(paint.colour.slice(at, at + 2), 16) / 255) as [number, number, number];
  const ink = 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.6 ? 'stroke="#000" stroke-opacity="0.55"' : 'stroke="#fff"';
  const id = paint.fill.slice(5, -1);
  return `<pattern id="${id}" width="${TILE}" height="${TILE}" patternUnits="userSpaceOnUse">` +
    `<rect width="${TILE}" height="${TILE}" fill="${paint.colour}"/>` +
    `<path d="${TEXTURE_PATHS[paint.texture]}" fill="none" ${ink} stroke-width="1.2"/></pattern>`;
}

/** XML 1.0 §2.2 Char, minus the C1 controls; tabs and line breaks become spaces (SVG text is one line). */
function cleanText(value: unknown): string {
  const text = typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
  return text.replace(/[\t\n\r]/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f\ud800-\udfff\ufffe\uffff]/gu, '');
}

function escapeXml(text: string): string {
  if (!/[&<>"']/.test(text)) return text;
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? '');
}

/**
 * Width in px of text in an unknown sans-serif font, on the generous side (DejaVu Sans, the widest
 * common default, measured per character class), so labels placed by it never collide.
 */
function textWidth(text: string, size: number): number {
  let px = 0;
  for (const c of text) px += charWidth(c, size);
  return px;
}

function charWidth(c: string, size: number): number {
  if (c > '\u007f') return size;
  if (/[iljI.,:;|!' ]/.test(c)) return 0.32 * size;
  if (/[ftr()[\]/\-]/.test(c)) return 0.42 * size;
  if (/[mwMW]/.test(c)) return 0.98 * size;
  return (/[A-Z]/.test(c) ? 0.76 : 0.64) * size;
}

/** Cuts text (by code points, so no surrogate pair is split) to fit maxWidth, ending in an ellipsis. */
function fit(text: string, maxWidth: number, size: number): string {
  if (textWidth(text, size) <= maxWidth) return text;
  let kept = '';
  let px = charWidth('…', size);
  for (const c of text) {
    px += charWidth(c, size);
    if (px > maxWidth) break;
    kept += c;
  }
  return kept === '' ? '' : `${kept}…`;
}

function list<T>(value: readonly T[] | undefined): readonly T[] {
  return Array.isArray(value) ? value : [];
}

/** Negative, NaN, ±Infinity and non-numbers are drawn as 0. */
function amount(value: unknown): number {
  return typeof value === 'number' && value > 0 && value !== Infinity ? Math.min(value, MAX_AMOUNT) : 0;
}

export interface Axis { readonly step: number; readonly ticks: readonly number[] }

/**
 * Round ticks from 0: the smallest step of 1, 2 or 5 × 10^n that covers max in at most
 * maxTicks − 1 intervals (a short plot asks for fewer, so labels keep a line apart). The steps
 * grow at most 2.5× at a time, so that step needs at least 3 intervals: 4 to 8 ticks. Token
 * counts are whole, so their step is at least 1. With nothing to draw the axis still spans a
 * plausible range (0–4 tokens, $0–$1).
 */
export function niceAxis(max: number, unit: 'tokens' | 'usd', maxTicks = 8): Axis {
  const most = Math.min(7, Math.max(3, Math.floor(maxTicks) - 1)) + 0.000001;
  const top = max > 0 && Number.isFinite(max) ? max : unit === 'usd' ? 1 : 4;
  const tickAt = (i: number, m: number, e: number): number => (e >= 0 ? i * m * 10 ** e : (i * m) / 10 ** -e);
  for (let e = Math.floor(Math.log10(top / 7)) - 1; ; e += 1) {
    for (const m of [1, 2, 5]) {
      const step = tickAt(1, m, e);
      if ((unit === 'tokens' && step < 1) || top / step > most) continue;
      let intervals = Math.max(3, Math.ceil(top / step - 1e-9));
      while (tickAt(intervals, m, e) < top) intervals += 1;
      return { step, ticks: Array.from({ length: intervals + 1 }, (_, i) => tickAt(i, m, e)) };
    }
  }
}

// SI-style for token counts (5G); dollars read as money does ($3B).
const TOKEN_SUFFIXES: readonly (readonly [number, string])[] = [[1e15, 'P'], [1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
const USD_SUFFIXES: readonly (readonly [number, string])[] = [[1e12, 'T'], [1e9, 'B'], [1e6, 'M'], [1e3, 'k']];

/** Decimals that a multiple of step needs: 0.5 → 1, 0.02 → 2, 300 → 0. */
function decimalsFor(step: number): number {
  return Math.max(0, Math.min(20, -Math.floor(Math.log10(step) + 1e-9)));
}

function compact(value: number, step: number, suffixes: typeof TOKEN_SUFFIXES): string {
  const [divisor, suffix] = suffixes.find(([d]) => value >= d) ?? [1, ''];
  const digits = (value / divisor).toFixed(decimalsFor(step / divisor));
  return `${digits.includes('.') ? digits.replace(/\.?0+$/, '') : digits}${suffix}`;
}

/** Tick labels: tokens as 0, 500, 1.5k, 3.4M, 5G; dollars as $0, $0.0012, $1.50, $20, $1.2k, $3B. */
export function formatTick(value: number, step: number, unit: 'tokens' | 'usd'): string {
  if (unit === 'tokens') return compact(value, step, TOKEN_SUFFIXES);
  if (value === 0) return '$0';
  if (value >= 1000) return `$${compact(value, step, USD_SUFFIXES)}`;
  return `$${value.toFixed(step >= 1 ? 0 : Math.max(2, decimalsFor(step)))}`;
}

/** Exact values for tooltips: 1,234,567 tokens; $0.0001234 (plain decimal, at most 10 places, as SPEC §9 logs cost). */
export function formatExact(value: number, unit: 'tokens' | 'usd'): string {
  let plain = value >= 1e21 ? String(value) : value.toFixed(unit === 'usd' ? 10 : 3);
  if (plain.includes('.')) { // trailing zeros, then a bare point
    let end = plain.length;
    while (plain.charCodeAt(end - 1) === 48) end -= 1;
    plain = plain.slice(0, plain.charCodeAt(end - 1) === 46 ? end - 1 : end);
  }
  const point = plain.indexOf('.');
  const whole = point < 0 ? plain : plain.slice(0, point);
  const grouped = whole.length <= 3 || /e/.test(whole) ? whole : whole.replace(/\B(?=(\d{3})+$)/g, ',');
  const number = point < 0 ? grouped : grouped + plain.slice(point);
  return unit === 'usd' ? `$${number}` : `${number} ${value === 1 ? 'token' : 'tokens'}`;
}

/** Coordinates to 0.01 px: enough for any screen or print, and short (built from integers: faster than a float's shortest form). */
function n(value: number): string {
  const hundredths = Math.round(value * 100);
  if (!Number.isSafeInteger(hundredths)) return '0';
  const abs = Math.abs(hundredths);
  const whole = `${hundredths < 0 ? '-' : ''}${Math.floor(abs / 100)}`;
  const frac = abs % 100;
  return frac === 0 ? whole : `${whole}.${frac < 10 ? `0${frac}` : frac % 10 === 0 ? frac / 10 : frac}`;
}

function size(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? Math.min(MAX_SIZE, Math.max(MIN_SIZE, Math.round(value))) : fallback;
}

/** Label every k-th category, k from 1, 2, 3, 4, 6, 12, 24, 48…: whole hours of 5-minute buckets, days of hours. */
function labelEvery(minimum: number): number {
  for (const k of [1, 2, 3, 4, 6, 12]) if (k >= minimum) return k;
  return 12 * 2 ** Math.ceil(Math.log2(minimum / 12));
}

interface XLabels { readonly rotated: boolean; readonly every: number; readonly texts: readonly string[]; readonly depth: number }

/**
 * Category labels never overlap: horizontal when each fits its share of the axis, otherwise
 * rotated 45° (neighbours are then slot·sin 45° apart, which must be a line of text); both thin
 * to every k-th label. Rotation reads worse, so horizontal wins while it keeps at least half of
 * what rotation would show.
 */
function layoutXLabels(categories: readonly string[], slot: number, height: number): XLabels {
  const maxLength = Math.min(160, (height * 0.28 - TEXT_SIZE) / SIN45);
  const texts = categories.map((c) => fit(c, maxLength, TEXT_SIZE));
  const widest = texts.reduce((w, t) => Math.max(w, textWidth(t, TEXT_SIZE)), 0);
  const horizontal = labelEvery(Math.ceil((widest + LABEL_GAP) / slot));
  const rotated = labelEvery(Math.ceil((TEXT_SIZE * LINE) / (slot * SIN45)));
  if (horizontal <= 2 * rotated) return { rotated: false, every: horizontal, texts, depth: TEXT_SIZE + 10 };
  return { rotated: true, every: rotated, texts, depth: widest * SIN45 + TEXT_SIZE + 8 };
}

// index: the series it stands for, or null for the "+N more" note
interface LegendItem { readonly x: number; readonly row: number; readonly text: string; readonly full: string; readonly index: number | null }

/**
 * Legend entries in rows under the plot: in a grid of equal columns when that takes no more rows
 * than letting them flow (it reads tidier), else flowing. What does not fit in a quarter of the
 * height is summed up as "+N more".
 */
function layoutLegend(names: readonly string[], left: number, right: number, height: number): LegendItem[] {
  const texts = names.map((name) => fit(name, Math.min(200, right - left - 20), LEGEND_SIZE));
  const widths = texts.map((text) => 18 + textWidth(text, LEGEND_SIZE));
  const widest = widths.reduce((w, x) => Math.max(w, x), 0);
  const columns = Math.max(1, Math.floor((right - left - widest) / (widest + 16)) + 1);
  const grid = widths.map((_, i) => ({ x: left + (i % columns) * (widest + 16), row: Math.floor(i / columns) }));
  let x = left;
  let row = 0;
  const flow = widths.map((w) => {
    if (x > left && x + w > right) { row += 1; x = left; }
    const at = { x, row };
    x += w + 16;
    return at;
  });
  const rows = (at: readonly { row: number }[]): number => (at[at.length - 1]?.row ?? -1) + 1;
  const spots = rows(grid) <= rows(flow) ? grid : flow;
  const items: LegendItem[] = spots.map((at, i) => ({ ...at, text: texts[i] ?? '', full: names[i] ?? '', index: i }));
  const maxRows = Math.max(1, Math.floor((height * 0.25) / LEGEND_ROW));
  if (rows(spots) <= maxRows) return items;
  const shown = items.filter((item) => item.row < maxRows);
  for (;;) {
    const more = `+${names.length - shown.length} more`;
    const last = shown[shown.length - 1];
    const x = last === undefined ? left : last.x + 18 + textWidth(last.text, LEGEND_SIZE) + 16;
    if (last === undefined || x + textWidth(more, LEGEND_SIZE) <= right) {
      return [...shown, { x, row: last?.row ?? 0, text: more, full: more, index: null }];
    }
    shown.pop();
  }
}

export function renderStackedBarChart(chart: StackedBarChart): string {
  const width = size(chart.width, DEFAULT_WIDTH);
  const height = size(chart.height, DEFAULT_HEIGHT);
  const unit = chart.unit === 'usd' ? 'usd' : 'tokens';
  const categories = list(chart.categories).map(cleanText);
  const fullTitle = cleanText(chart.title);
  const names = list(chart.series).map((s) => cleanText(s?.name));
  // Pattern ids must differ between the charts of one HTML page (by model, by key…) and stay the
  // same for the same input: a hash of what names the chart does both. Values need not count: a
  // pattern depends only on its colour and texture.
  const idPrefix = `lmp-${fnv1a([width, height, unit, fullTitle, ...names, ...categories].join('\u0001')).toString(36)}`;
  const series = list(chart.series).map((s, i) => ({
    name: names[i] ?? '',
    escaped: escapeXml(names[i] ?? ''),
    values: categories.map((_, j) => amount(list(s?.values)[j])),
    paint: paintOf(i, idPrefix),
  }));
  const totals = categories.map((_, j) => series.reduce((sum, s) => sum + (s.values[j] ?? 0), 0));
  const max = totals.reduce((m, t) => Math.max(m, t), 0);

  const title = fit(fullTitle, width - 2 * PAD, TITLE_SIZE * BOLD);
  const plotTop = PAD + (title === '' ? 6 : TITLE_SIZE + 16);
  // The tick count waits for the plot's height, which waits for this: room for the widest labels of any count.
  const tickWidth = [4, 5, 6, 7, 8].map((k) => niceAxis(max, unit, k))
    .reduce((w, a) => Math.max(w, ...a.ticks.map((t) => textWidth(formatTick(t, a.step, unit), TEXT_SIZE))), 0);
  let plotLeft = PAD + TEXT_SIZE + 10 + tickWidth + 8;
  const plotRight = width - PAD - 6;
  const count = Math.max(1, categories.length);
  let labels = layoutXLabels(categories, (plotRight - plotLeft) / count, height);
  if (labels.rotated) {
    // The first rotated label runs down and to the left from its bar: keep it inside the picture.
    const reach = labels.depth - TEXT_SIZE - (plotRight - plotLeft) / count / 2;
    plotLeft = Math.max(plotLeft, PAD + reach);
    labels = layoutXLabels(categories, (plotRight - plotLeft) / count, height);
  }
  const slot = (plotRight - plotLeft) / count;
  const legend = layoutLegend(names, plotLeft, plotRight, height);
  const legendRows = legend.reduce((r, item) => Math.max(r, item.row + 1), 0);
  const legendTop = height - PAD - legendRows * LEGEND_ROW + 2;
  const plotBottom = Math.max(plotTop + 20, legendTop - 8 - labels.depth);
  // As many ticks as keep their labels a line and a half apart.
  const axis = niceAxis(max, unit, 1 + (plotBottom - plotTop) / (TEXT_SIZE * LINE * 1.5));
  const top = axis.ticks[axis.ticks.length - 1] ?? 1;
  const tickLabels = axis.ticks.map((v) => formatTick(v, axis.step, unit));
  const y = (v: number): number => plotBottom - (v / top) * (plotBottom - plotTop);
  const barWidth = Math.min(slot >= 4 ? slot * 0.72 : slot, 96);
  const separator = barWidth >= 4 ? ' stroke="#fff" stroke-width="0.6"' : '';

  const out: string[] = [];
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  if (title !== '') out.push(`<text x="${PAD}" y="${PAD + TITLE_SIZE}" font-size="${TITLE_SIZE}" font-weight="bold" fill="#222">${escapeXml(title)}</text>`);

  // Grid lines and tick labels (SPEC §11: "with axis labels").
  out.push(`<g class="lmp-chart-y-axis" font-size="${TEXT_SIZE}" fill="#555" text-anchor="end">`);
  axis.ticks.forEach((v, i) => {
    const at = n(y(v));
    if (i > 0) out.push(`<line x1="${n(plotLeft)}" x2="${n(plotRight)}" y1="${at}" y2="${at}" stroke="#e6e6e6" stroke-width="1"/>`);
    out.push(`<line x1="${n(plotLeft - 4)}" x2="${n(plotLeft)}" y1="${at}" y2="${at}" stroke="#888" stroke-width="1"/>`);
    out.push(`<text x="${n(plotLeft - 7)}" y="${at}" dy="0.35em">${escapeXml(tickLabels[i] ?? '')}</text>`);
  });
  const middle = n((plotTop + plotBottom) / 2);
  out.push(`<text x="${PAD + TEXT_SIZE}" y="${middle}" transform="rotate(-90 ${PAD + TEXT_SIZE} ${middle})" text-anchor="middle" fill="#333">` +
    `${unit === 'usd' ? 'Cost (USD)' : 'Tokens'}</text>`);
  out.push('</g>');

  // One group per category, left to right, titled with its total; segments bottom to top in series order.
  out.push('<g class="lmp-chart-bars">');
  categories.forEach((category, j) => {
    const x = n(plotLeft + slot * j + (slot - barWidth) / 2);
    const where = escapeXml(category);
    const segments: string[] = [];
    let base = 0;
    for (const s of series) {
      const value = s.values[j] ?? 0;
      if (value === 0) continue;
      const low = Math.round(y(base) * 100) / 100;
      const high = Math.round(y(base + value) * 100) / 100;
      base += value;
      // formatExact's digits, commas, "$" and "tokens" need no escaping
      segments.push(`<rect x="${x}" y="${n(high)}" width="${n(barWidth)}" height="${n(low - high)}" fill="${s.paint.fill}"${separator}>` +
        `<title>${s.escaped} · ${where}: ${formatExact(value, unit)}</title></rect>`);
    }
    out.push(`<g><title>${where}: ${formatExact(totals[j] ?? 0, unit)} in all</title>${segments.join('')}</g>`);
  });
  out.push('</g>');
  if (max === 0) {
    out.push(`<text x="${n((plotLeft + plotRight) / 2)}" y="${middle}" text-anchor="middle" font-size="14" fill="#777">no data</text>`);
  }
  out.push(`<path d="M${n(plotLeft)} ${n(plotTop)}V${n(plotBottom)}H${n(plotRight)}" fill="none" stroke="#888" stroke-width="1"/>`);

  // Category labels, thinned and possibly rotated so that none overlaps its neighbour.
  out.push(`<g class="lmp-chart-x-axis" font-size="${TEXT_SIZE}" fill="#555" text-anchor="${labels.rotated ? 'end' : 'middle'}">`);
  labels.texts.forEach((text, j) => {
    if (j % labels.every !== 0 || text === '') return;
    const cx = plotLeft + slot * (j + 0.5);
    const w = textWidth(text, TEXT_SIZE);
    if (!labels.rotated && (cx - w / 2 < 0 || cx + w / 2 > width)) return;
    const at = labels.rotated
      ? `x="${n(cx + 3)}" y="${n(plotBottom + 12)}" transform="rotate(-45 ${n(cx + 3)} ${n(plotBottom + 12)})"`
      : `x="${n(cx)}" y="${n(plotBottom + 8 + TEXT_SIZE)}"`;
    const full = categories[j] ?? '';
    out.push(`<text ${at}>${escapeXml(text)}${text === full ? '' : `<title>${escapeXml(full)}</title>`}</text>`);
  });
  out.push('</g>');

  out.push(`<g class="lmp-chart-legend" font-size="${LEGEND_SIZE}" fill="#333">`);
  for (const item of legend) {
    const top = legendTop + item.row * LEGEND_ROW;
    const tip = item.text === item.full ? '' : `<title>${escapeXml(item.full)}</title>`;
    const paint = item.index === null ? undefined : series[item.index]?.paint;
    if (paint === undefined) { out.push(`<text x="${n(item.x)}" y="${n(top + 10.5)}" fill="#777">${escapeXml(item.text)}</text>`); continue; }
    out.push(`<g><rect x="${n(item.x)}" y="${n(top)}" width="12" height="12" fill="${paint.fill}" stroke="#000" stroke-opacity="0.25" stroke-width="0.5"/>` +
      `<text x="${n(item.x + 18)}" y="${n(top + 10.5)}">${escapeXml(item.text)}</text>${tip}</g>`);
  }
  out.push('</g>');

  const textured = series.map((s) => s.paint).filter((p, i, all) => p.texture !== 'solid' && all.findIndex((q) => q.fill === p.fill) === i);
  const defs = textured.length > 0 ? `<defs>${textured.map(patternDef).join('')}</defs>` : '';
  const label = escapeXml(fullTitle === '' ? 'Chart' : fullTitle);
  const summary = `Stacked bars of ${unit === 'usd' ? 'cost in US dollars' : 'tokens'}: ${categories.length} categories, ${series.length} series.`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" font-family="${FONT}">` +
    `<title>${label}</title><desc>${summary}</desc>${defs}${out.join('')}</svg>\n`;
}

/** FNV-1a, 32 bits: a stable hash for ids (not for security). */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
}
