// A tiny Prometheus registry: counters, gauges and histograms with labels, and the
// writer for the text exposition format 0.0.4 (prometheus/docs
// docs/instrumenting/exposition_formats.md) that SPEC §6's `GET /metrics` serves.
// Pure: no I/O, no timers, no global state. Recording runs on the proxy's hot path, so
// it walks one Map per label and allocates only the first time a label set is seen.

/** The Content-Type of `render()`'s output; Prometheus 3 fails a scrape without a valid one. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** One value per label name; a metric without labels takes `{}`. */
export type Labels<L extends string> = Readonly<Record<L, string>>;

export interface Counter<L extends string = never> {
  /** Adds `by` (default 1); adding 0 creates the series at 0. A counter never goes down:
   *  a negative or non-finite amount is ignored. */
  inc(labels: Labels<L>, by?: number): void;
}

export interface Gauge<L extends string = never> {
  /** Non-finite amounts are ignored by inc and dec; set stores any number, NaN included. */
  inc(labels: Labels<L>, by?: number): void;
  dec(labels: Labels<L>, by?: number): void;
  set(labels: Labels<L>, value: number): void;
}

export interface Histogram<L extends string = never> {
  /** Counts `value` in the first bucket whose upper bound is >= value (`+Inf` last). A
   *  non-finite value is ignored: it would turn `_sum` into NaN or ±Inf for good. */
  observe(labels: Labels<L>, value: number): void;
}

export interface Registry {
  counter<L extends string = never>(name: string, help: string, labelNames?: readonly L[]): Counter<L>;
  gauge<L extends string = never>(name: string, help: string, labelNames?: readonly L[]): Gauge<L>;
  /** `buckets` are the finite upper bounds, strictly increasing; `+Inf` is added. */
  histogram<L extends string = never>(
    name: string,
    help: string,
    labelNames: readonly L[],
    buckets: readonly number[],
  ): Histogram<L>;
  /** Every family in registration order, its series sorted by label values; ends with LF. */
  render(): string;
}

// exposition_formats.md: metric names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
// [a-zA-Z_][a-zA-Z0-9_]*, and names starting with __ are reserved.
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Go ParseFloat spellings: integers plain, `+Inf`, `-Inf`, `NaN` (exposition_formats.md). */
export function formatValue(value: number): string {
  if (Number.isFinite(value)) return String(value);
  if (Number.isNaN(value)) return 'NaN';
  return value > 0 ? '+Inf' : '-Inf';
}

/** HELP text escapes backslash and line feed, and nothing else. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Label values escape backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

interface Series {
  /** `a="x",b="y"` without braces, so a histogram can append its `le`. */
  readonly labelText: string;
}

interface ValueSeries extends Series {
  value: number;
}

interface HistogramSeries extends Series {
  /** Per-bucket (not cumulative) counts; the last slot is `+Inf`. Render accumulates. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

type Node<S> = Map<string, Node<S> | S>;

/** The series of one metric, found by walking one Map per label value: no joined key
 *  to build per call, and no collision whatever the values contain. */
class Family<S extends Series> {
  readonly series: S[] = [];
  private readonly root: Node<S> = new Map();
  private readonly unlabelled: S | undefined;
  private readonly labelNames: readonly string[];
  private readonly make: (labelText: string) => S;

  constructor(labelNames: readonly string[], make: (labelText: string) => S) {
    this.labelNames = labelNames;
    this.make = make;
    if (labelNames.length === 0) {
      // A metric without labels exists from the start, at 0.
      this.unlabelled = make('');
      this.series.push(this.unlabelled);
    }
  }

  get(labels: Readonly<Record<string, string>>): S {
    if (this.unlabelled !== undefined) return this.unlabelled;
    const names = this.labelNames;
    const last = names.length - 1;
    let node = this.root;
    for (let i = 0; i < last; i++) {
      const value = labels[names[i] as string] ?? '';
      let next = node.get(value) as Node<S> | undefined;
      if (next === undefined) {
        next = new Map();
        node.set(value, next);
      }
      node = next;
    }
    const value = labels[names[last] as string] ?? '';
    let series = node.get(value) as S | undefined;
    if (series === undefined) {
      series = this.make(labelText(names, labels));
      node.set(value, series);
      this.series.push(series);
    }
    return series;
  }

  sorted(): readonly S[] {
    // Sorted by label text so the output does not depend on the order requests arrived in.
    return this.series.sort((a, b) => (a.labelText < b.labelText ? -1 : a.labelText > b.labelText ? 1 : 0));
  }
}

function labelText(names: readonly string[], labels: Readonly<Record<string, string>>): string {
  return names.map((name) => `${name}="${escapeLabelValue(labels[name] ?? '')}"`).join(',');
}

function braces(text: string): string {
  return text === '' ? '' : `{${text}}`;
}

interface Entry {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  write(lines: string[]): void;
}

export function createRegistry(): Registry {
  const entries: Entry[] = [];
  const names = new Set<string>();

  function register(name: string, labelNames: readonly string[], reserved: readonly string[]): void {
    // Registration happens once at start-up with names written in code: a bad one is a
    // programming error, so it throws rather than reporting.
    if (!METRIC_NAME.test(name)) throw new TypeError(`invalid metric name: ${JSON.stringify(name)}`);
    if (names.has(name)) throw new TypeError(`metric already registered: ${name}`);
    const seen = new Set<string>();
    for (const label of labelNames) {
      if (!LABEL_NAME.test(label) || label.startsWith('__') || reserved.includes(label) || seen.has(label)) {
        throw new TypeError(`invalid or repeated label name for ${name}: ${JSON.stringify(label)}`);
      }
      seen.add(label);
    }
    names.add(name);
  }

  function valueFamily(name: string, help: string, type: 'counter' | 'gauge', labelNames: readonly string[]) {
    register(name, labelNames, []);
    const family = new Family<ValueSeries>(labelNames, (text) => ({ labelText: text, value: 0 }));
    entries.push({
      name,
      help,
      type,
      write(lines) {
        for (const s of family.sorted()) lines.push(`${name}${braces(s.labelText)} ${formatValue(s.value)}`);
      },
    });
    return family;
  }

  return {
    counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
      const family = valueFamily(name, help, 'counter', labelNames);
      return {
        inc(labels, by = 1) {
          if (!(by >= 0) || by === Infinity) return;
          family.get(labels).value += by;
        },
      };
    },

    gauge<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
      const family = valueFamily(name, help, 'gauge', labelNames);
      return {
        inc(labels, by = 1) {
          if (Number.isFinite(by)) family.get(labels).value += by;
        },
        dec(labels, by = 1) {
          if (Number.isFinite(by)) family.get(labels).value -= by;
        },
        set(labels, value) {
          family.get(labels).value = value;
        },
      };
    },

    histogram<L extends string = never>(
      name: string,
      help: string,
      labelNames: readonly L[],
      buckets: readonly number[],
    ): Histogram<L> {
      register(name, labelNames, ['le']);
      for (let i = 0; i < buckets.length; i++) {
        const bound = buckets[i] as number;
        if (!Number.isFinite(bound) || (i > 0 && bound <= (buckets[i - 1] as number))) {
          throw new RangeError(`buckets of ${name} must be finite and strictly increasing`);
        }
      }
      const bounds = Float64Array.from(buckets);
      const leText = [...buckets.map(formatValue), '+Inf'];
      const family = new Family<HistogramSeries>(labelNames, (text) => ({
        labelText: text,
        counts: new Float64Array(bounds.length + 1),
        sum: 0,
        count: 0,
      }));
      entries.push({
        name,
        help,
        type: 'histogram',
        write(lines) {
          for (const s of family.sorted()) {
            const prefix = s.labelText === '' ? '' : `${s.labelText},`;
            let cumulative = 0;
            for (let i = 0; i < s.counts.length; i++) {
              cumulative += s.counts[i] as number;
              lines.push(`${name}_bucket{${prefix}le="${leText[i] as string}"} ${formatValue(cumulative)}`);
            }
            lines.push(`${name}_sum${braces(s.labelText)} ${formatValue(s.sum)}`);
            lines.push(`${name}_count${braces(s.labelText)} ${formatValue(s.count)}`);
          }
        },
      });
      return {
        observe(labels, value) {
          if (!Number.isFinite(value)) return;
          const s = family.get(labels);
          // A linear scan beats a binary search for the ~16 buckets a latency histogram has.
          let i = 0;
          while (i < bounds.length && value > (bounds[i] as number)) i++;
          s.counts[i] = (s.counts[i] as number) + 1;
          s.sum += value;
          s.count += 1;
        },
      };
    },

    render() {
      const lines: string[] = [];
      for (const entry of entries) {
        lines.push(`# HELP ${entry.name} ${escapeHelp(entry.help)}`, `# TYPE ${entry.name} ${entry.type}`);
        entry.write(lines);
      }
      return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
    },
  };
}
