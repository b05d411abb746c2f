import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createRegistry,
  escapeHelp,
  escapeLabelValue,
  EXPOSITION_CONTENT_TYPE,
  formatValue,
} from '../../src/recording/metrics.ts';

/** The sample lines of a rendered text, without HELP/TYPE comments. */
function samples(text: string): string[] {
  return text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}

describe('value formatting', () => {
  test('integers are written plainly and fractions in shortest form', () => {
    assert.equal(formatValue(0), '0');
    assert.equal(formatValue(42), '42');
    assert.equal(formatValue(-3), '-3');
    assert.equal(formatValue(0.25), '0.25');
    assert.equal(formatValue(-0), '0');
  });

  test('infinities and NaN use the Go ParseFloat spellings', () => {
    assert.equal(formatValue(Infinity), '+Inf');
    assert.equal(formatValue(-Infinity), '-Inf');
    assert.equal(formatValue(NaN), 'NaN');
  });

  test('HELP escapes backslash and newline but leaves quotes alone', () => {
    assert.equal(escapeHelp('a\\b\nc "d"'), 'a\\\\b\\nc "d"');
  });

  test('label values escape backslash, double quote and newline', () => {
    assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
    assert.equal(escapeLabelValue('plain é 🦙'), 'plain é 🦙');
  });

  test('the content type is the 0.0.4 text format in UTF-8', () => {
    assert.equal(EXPOSITION_CONTENT_TYPE, 'text/plain; version=0.0.4; charset=utf-8');
  });
});

describe('counters', () => {
  test('each label set is its own series, sorted by label values', () => {
    const r = createRegistry();
    const c = r.counter('req_total', 'Requests.', ['method', 'status']);
    c.inc({ method: 'POST', status: '200' });
    c.inc({ method: 'GET', status: '404' }, 2);
    c.inc({ method: 'POST', status: '200' }, 3);
    c.inc({ method: 'GET', status: '200' });
    assert.equal(
      r.render(),
      [
        '# HELP req_total Requests.',
        '# TYPE req_total counter',
        'req_total{method="GET",status="200"} 1',
        'req_total{method="GET",status="404"} 2',
        'req_total{method="POST",status="200"} 4',
        '',
      ].join('\n'),
    );
  });

  test('adding 0 creates the series at 0', () => {
    const r = createRegistry();
    r.counter('x_total', 'X.', ['code']).inc({ code: 'a' }, 0);
    assert.deepEqual(samples(r.render()), ['x_total{code="a"} 0']);
  });

  test('a counter never goes down: negative, NaN and infinite amounts are ignored', () => {
    const r = createRegistry();
    const c = r.counter('x_total', 'X.');
    c.inc({}, 5);
    c.inc({}, -1);
    c.inc({}, NaN);
    c.inc({}, Infinity);
    assert.deepEqual(samples(r.render()), ['x_total 5']);
  });

  test('a counter without labels is present at 0 before anything happens', () => {
    const r = createRegistry();
    r.counter('x_total', 'X.');
    assert.deepEqual(samples(r.render()), ['x_total 0']);
  });

  test('a labelled counter with no series yet renders only its HELP and TYPE', () => {
    const r = createRegistry();
    r.counter('x_total', 'X.', ['code']);
    assert.equal(r.render(), '# HELP x_total X.\n# TYPE x_total counter\n');
  });

  test('label values that would collide when joined stay separate series', () => {
    const r = createRegistry();
    const c = r.counter('x_total', 'X.', ['a', 'b']);
    c.inc({ a: 'x,y', b: 'z' });
    c.inc({ a: 'x', b: 'y,z' });
    c.inc({ a: 'x\u0000y', b: '' });
    c.inc({ a: 'x', b: 'y\u0000' });
    assert.equal(samples(r.render()).length, 4);
  });

  test('label values are escaped in the output', () => {
    const r = createRegistry();
    r.counter('x_total', 'X.', ['model']).inc({ model: 'a\\b"c\nd' });
    assert.deepEqual(samples(r.render()), ['x_total{model="a\\\\b\\"c\\nd"} 1']);
  });
});

describe('gauges', () => {
  test('inc, dec and set move the value, and it may go below zero', () => {
    const r = createRegistry();
    const g = r.gauge('active', 'Active.');
    g.inc({});
    g.inc({}, 4);
    g.dec({}, 2);
    assert.deepEqual(samples(r.render()), ['active 3']);
    g.set({}, -1.5);
    assert.deepEqual(samples(r.render()), ['active -1.5']);
  });

  test('set stores NaN and infinities; inc and dec ignore non-finite amounts', () => {
    const r = createRegistry();
    const g = r.gauge('g', 'G.', ['k']);
    g.set({ k: 'nan' }, NaN);
    g.set({ k: 'pos' }, Infinity);
    g.set({ k: 'neg' }, -Infinity);
    g.inc({ k: 'pos' }, NaN);
    g.dec({ k: 'neg' }, Infinity);
    assert.deepEqual(samples(r.render()), ['g{k="nan"} NaN', 'g{k="neg"} -Inf', 'g{k="pos"} +Inf']);
  });
});

describe('histograms', () => {
  test('buckets are cumulative, in increasing order, and end with +Inf equal to _count', () => {
    const r = createRegistry();
    const h = r.histogram('d_seconds', 'D.', [], [0.1, 1, 10]);
    for (const v of [0.05, 0.1, 0.5, 2, 20, 30]) h.observe({}, v);
    assert.deepEqual(samples(r.render()), [
      'd_seconds_bucket{le="0.1"} 2',
      'd_seconds_bucket{le="1"} 3',
      'd_seconds_bucket{le="10"} 4',
      'd_seconds_bucket{le="+Inf"} 6',
      'd_seconds_sum 52.65',
      'd_seconds_count 6',
    ]);
  });

  test('a value equal to a bound counts in that bound\'s bucket (le means <=)', () => {
    const r = createRegistry();
    r.histogram('d', 'D.', [], [1, 2]).observe({}, 2);
    assert.deepEqual(samples(r.render()).slice(0, 3), ['d_bucket{le="1"} 0', 'd_bucket{le="2"} 1', 'd_bucket{le="+Inf"} 1']);
  });

  test('an unlabelled histogram is present with zero counts before any observation', () => {
    const r = createRegistry();
    r.histogram('d', 'D.', [], [1]);
    assert.deepEqual(samples(r.render()), ['d_bucket{le="1"} 0', 'd_bucket{le="+Inf"} 0', 'd_sum 0', 'd_count 0']);
  });

  test('labelled series put le last, and _sum/_count carry the labels', () => {
    const r = createRegistry();
    const h = r.histogram('d', 'D.', ['route'], [1]);
    h.observe({ route: 'b' }, 3);
    h.observe({ route: 'a' }, 0.5);
    assert.deepEqual(samples(r.render()), [
      'd_bucket{route="a",le="1"} 1',
      'd_bucket{route="a",le="+Inf"} 1',
      'd_sum{route="a"} 0.5',
      'd_count{route="a"} 1',
      'd_bucket{route="b",le="1"} 0',
      'd_bucket{route="b",le="+Inf"} 1',
      'd_sum{route="b"} 3',
      'd_count{route="b"} 1',
    ]);
  });

  test('negative values land in the first bucket; non-finite values are ignored', () => {
    const r = createRegistry();
    const h = r.histogram('d', 'D.', [], [0, 1]);
    h.observe({}, -2);
    h.observe({}, NaN);
    h.observe({}, Infinity);
    h.observe({}, -Infinity);
    assert.deepEqual(samples(r.render()), ['d_bucket{le="0"} 1', 'd_bucket{le="1"} 1', 'd_bucket{le="+Inf"} 1', 'd_sum -2', 'd_count 1']);
  });
});

describe('the exposition as a whole', () => {
  function sample() {
    const r = createRegistry();
    const c = r.counter('a_total', 'First\\family\nhelp.', ['k']);
    const g = r.gauge('b', 'Second.');
    const h = r.histogram('c_seconds', 'Third.', ['k'], [1, 5]);
    return { r, c, g, h };
  }

  test('each family has one HELP and one TYPE, before its samples, and its lines are grouped', () => {
    const { r, c, g, h } = sample();
    c.inc({ k: 'y' });
    h.observe({ k: 'x' }, 2);
    g.set({}, 7);
    c.inc({ k: 'x' });
    h.observe({ k: 'y' }, 0);
    const lines = r.render().split('\n').slice(0, -1);
    const seen: string[] = [];
    let current = '';
    for (const line of lines) {
      const type = /^# TYPE (\S+) /.exec(line);
      if (type !== null) {
        current = type[1] as string;
        assert.ok(!seen.includes(current), `${current} has a second TYPE line`);
        seen.push(current);
        continue;
      }
      if (line.startsWith('# HELP ')) {
        assert.ok(!seen.includes(line.split(' ')[2] as string), `HELP after TYPE or repeated: ${line}`);
        continue;
      }
      const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0] ?? '';
      assert.ok(name === current || name.replace(/_(bucket|sum|count)$/, '') === current, `${line} is outside its family ${current}`);
    }
    assert.deepEqual(seen, ['a_total', 'b', 'c_seconds']);
  });

  test('HELP text is escaped', () => {
    const { r } = sample();
    assert.ok(r.render().startsWith('# HELP a_total First\\\\family\\nhelp.\n# TYPE a_total counter\n'));
  });

  test('the output ends with exactly one line feed, and an empty registry renders nothing', () => {
    const { r } = sample();
    const text = r.render();
    assert.ok(text.endsWith('\n') && !text.endsWith('\n\n'));
    assert.equal(createRegistry().render(), '');
  });

  test('rendering twice gives the same text, whatever order label sets arrived in', () => {
    const one = sample();
    const two = sample();
    for (const k of ['p', 'q', 'r']) one.c.inc({ k });
    for (const k of ['r', 'p', 'q']) two.c.inc({ k });
    const first = one.r.render();
    assert.equal(one.r.render(), first);
    assert.equal(two.r.render(), first);
  });
});

describe('registration', () => {
  test('refuses invalid or repeated metric names', () => {
    const r = createRegistry();
    r.counter('ok_total', 'X.');
    assert.throws(() => r.counter('ok_total', 'X.'), /already registered/);
    assert.throws(() => r.gauge('9lives', 'X.'), /invalid metric name/);
    assert.throws(() => r.gauge('has-dash', 'X.'), /invalid metric name/);
  });

  test('refuses invalid, reserved or repeated label names', () => {
    const r = createRegistry();
    assert.throws(() => r.counter('a_total', 'X.', ['__name']), /label name/);
    assert.throws(() => r.counter('b_total', 'X.', ['a-b']), /label name/);
    assert.throws(() => r.counter('c_total', 'X.', ['k', 'k']), /label name/);
    assert.throws(() => r.histogram('d', 'X.', ['le'], [1]), /label name/);
  });

  test('refuses histogram buckets that are not finite and strictly increasing', () => {
    const r = createRegistry();
    assert.throws(() => r.histogram('a', 'X.', [], [1, 1]), RangeError);
    assert.throws(() => r.histogram('b', 'X.', [], [2, 1]), RangeError);
    assert.throws(() => r.histogram('c', 'X.', [], [1, Infinity]), RangeError);
    assert.throws(() => r.histogram('e', 'X.', [], [NaN]), RangeError);
  });
});
