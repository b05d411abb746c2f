// Where a usage record goes (SPEC §4, §7, §8, §9, §10): the `[USAGE]` text line, the JSON usage
// event, the ledger line and the counters, driven through createUsageLog with the real logger
// and the real proxy metrics, and a ledger that only collects what it is given.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LogFormat } from '../../src/config/config.ts';
import { createLogger } from '../../src/recording/logger.ts';
import { createProxyMetrics } from '../../src/recording/proxy-metrics.ts';
import { createUsageLog, ledgerLine, type UsageCounters } from '../../src/recording/usage-log.ts';
import type { UsageRecord } from '../../src/shared/usage-record.ts';

function recordOf(fields: Partial<UsageRecord> = {}): UsageRecord {
  return {
    time: '2025-09-01T12:00:00.000Z',
    method: 'POST',
    path: '/v1/chat/completions',
    status: 200,
    model: 'gpt-4o-2024-08-06',
    stream: false,
    prompt_tokens: 100,
    completion_tokens: 20,
    total_tokens: 120,
    cached_tokens: 40,
    reasoning_tokens: 5,
    cache_creation_tokens: 0,
    audio_prompt_tokens: 3,
    audio_completion_tokens: 2,
    complete: true,
    end: 'done',
    duration_ms: 12.3,
    ttfb_ms: 4.5,
    key_id: '0123456789ab',
    cost: null,
    cost_source: null,
    tags: {},
    user: null,
    ...fields,
  };
}

const PRICED: Partial<UsageRecord> = { cost: 0.0001234, cost_source: 'prices' };

interface Outputs {
  readonly stdout: string[];
  readonly stderr: string[];
  readonly ledger: string[];
  readonly counted: { tokens: unknown[][]; cost: unknown[][] };
}

/** Every record through one usage log of the given format; the lines each sink got. */
function logAll(format: LogFormat, records: readonly UsageRecord[]): Outputs {
  const out: string[] = [];
  const err: string[] = [];
  const logger = createLogger(format, { write: (t: string) => out.push(t) }, { write: (t: string) => err.push(t) });
  const ledger: string[] = [];
  const counted = { tokens: [] as unknown[][], cost: [] as unknown[][] };
  const counters: UsageCounters = { tokens: (...args) => counted.tokens.push(args), cost: (...args) => counted.cost.push(args) };
  const log = createUsageLog(logger, { append: (line) => ledger.push(line), close: async () => {} }, counters, format);
  for (const record of records) log(record);
  logger.flush();
  const lines = (writes: string[]): string[] => writes.join('').split('\n').filter((l) => l !== '');
  return { stdout: lines(out), stderr: lines(err), ledger, counted };
}

/** The one `[USAGE]` text line of one record. */
function textLine(fields: Partial<UsageRecord> = {}): string {
  const { stdout } = logAll('text', [recordOf(fields)]);
  assert.equal(stdout.length, 1, JSON.stringify(stdout));
  return stdout[0] as string;
}

// The ledger's fields, in order: SPEC §4's, §8's additions, §9's cost, §10's attribution.
const LEDGER_FIELDS = [
  'time', 'method', 'path', 'status', 'model', 'stream',
  'prompt_tokens', 'completion_tokens', 'total_tokens', 'cached_tokens', 'reasoning_tokens',
  'cache_creation_tokens', 'audio_prompt_tokens', 'audio_completion_tokens',
  'complete', 'end', 'duration_ms', 'ttfb_ms', 'key_id',
  'cost', 'cost_source', 'tags', 'user',
];

describe('the [USAGE] text line', () => {
  test('starts exactly with the three counts', () => {
    assert.ok(textLine(PRICED).startsWith('[USAGE] prompt_tokens=100 completion_tokens=20 total_tokens=120 '));
    assert.ok(textLine({ tags: { team: 'a' }, user: 'u' }).startsWith('[USAGE] prompt_tokens=100 completion_tokens=20 total_tokens=120 '));
  });

  test('carries the other counts, the audio ones among them', () => {
    const line = textLine();
    for (const pair of ['cached_tokens=40', 'reasoning_tokens=5', 'audio_prompt_tokens=3', 'audio_completion_tokens=2', 'model=gpt-4o-2024-08-06']) {
      assert.ok(line.includes(` ${pair}`), `${pair} in ${line}`);
    }
  });

  test('has cost= only when priced, as a plain decimal', () => {
    assert.match(textLine(PRICED), / cost=0\.0001234( |$)/);
    assert.match(textLine({ cost: 0.0000875, cost_source: 'upstream' }), / cost=0\.0000875( |$)/);
    assert.match(textLine({ cost: 1.5e-7, cost_source: 'prices' }), / cost=0\.00000015( |$)/, 'no exponent');
    assert.match(textLine({ cost: 12.5, cost_source: 'prices' }), / cost=12\.5( |$)/);
    assert.match(textLine({ cost: 0, cost_source: 'prices' }), / cost=0( |$)/, 'a free response is priced');
    assert.match(textLine({ cost: 1e-12, cost_source: 'prices' }), / cost=0( |$)/, 'at most 10 places');
    assert.doesNotMatch(textLine(), /cost/, 'unpriced: no cost at all');
  });

  test('has one tag.NAME=VALUE per tag, in the record\'s order, and none without tags', () => {
    const line = textLine({ tags: { team: 'search', env: 'prod', 'user.tier': 'pro/1@a+b:c' } });
    assert.match(line, / tag\.team=search tag\.env=prod tag\.user\.tier=pro\/1@a\+b:c( |$)/);
    assert.doesNotMatch(textLine(), /tag\./);
  });

  test('has user= when set, and no user= when not', () => {
    assert.match(textLine({ user: 'alice-42' }), / user=alice-42( |$)/);
    assert.doesNotMatch(textLine(), / user=/);
  });

  test('quotes a user holding spaces, quotes, an equals sign or control bytes, so the line stays one line of pairs', () => {
    const cases: [string, string][] = [
      ['Alice Smith', '"Alice Smith"'],
      ['say "hi"', '"say \\"hi\\""'],
      ['a=b', '"a=b"'],
      ['evil\nforged line', '"evil\\nforged line"'],
      ['esc\x1b[31m', '"esc\\u001b[31m"'],
      ['tab\there', '"tab\\there"'],
      ['x tag.team=forged', '"x tag.team=forged"'],
    ];
    for (const [user, written] of cases) {
      const line = textLine({ user });
      assert.ok(line.endsWith(` user=${written}`) || line.includes(` user=${written} `), `${JSON.stringify(user)}: ${line}`);
      assert.equal(JSON.parse(written), user, 'the quoted form reads back as the user');
      assert.doesNotMatch(line, /[\x00-\x1f\x7f]/, 'no raw control byte');
    }
  });

  test('the cost, tags and user together', () => {
    const line = textLine({ ...PRICED, tags: { team: 'a' }, user: 'bob' });
    for (const part of [' cost=0.0001234', ' tag.team=a', ' user=bob']) assert.ok(line.includes(part), `${part} in ${line}`);
  });
});

describe('the JSON usage event (LOG_FORMAT=json)', () => {
  const eventOf = (fields: Partial<UsageRecord>): Record<string, unknown> => {
    const { stdout } = logAll('json', [recordOf(fields)]);
    assert.equal(stdout.length, 1);
    return JSON.parse(stdout[0] as string) as Record<string, unknown>;
  };

  test('carries every ledger field at the top level, cost, cost_source, tags and user included', () => {
    const record = recordOf({ ...PRICED, tags: { team: 'search', env: 'prod' }, user: 'alice' });
    const event = eventOf(record);
    assert.equal(event['level'], 'usage');
    const ledger = JSON.parse(ledgerLine(record)) as Record<string, unknown>;
    for (const name of LEDGER_FIELDS) {
      if (name === 'time') continue; // the event's time is its log line's
      assert.ok(Object.hasOwn(event, name), `${name} in the event`);
      assert.deepEqual(event[name], ledger[name], name);
    }
    assert.equal(event['cost'], 0.0001234);
    assert.equal(event['cost_source'], 'prices');
    assert.deepEqual(event['tags'], { team: 'search', env: 'prod' });
    assert.equal(event['user'], 'alice');
  });

  test('an unpriced record without tags or user says so with null, null, {} and null', () => {
    const event = eventOf({});
    assert.equal(event['cost'], null);
    assert.equal(event['cost_source'], null);
    assert.deepEqual(event['tags'], {});
    assert.equal(event['user'], null);
  });

  test('an upstream cost is a number with cost_source upstream, never a string', () => {
    const event = eventOf({ cost: 0.0000875, cost_source: 'upstream' });
    assert.equal(event['cost'], 0.0000875);
    assert.equal(event['cost_source'], 'upstream');
  });
});

describe('the ledger line', () => {
  test('has every SPEC §4, §8, §9 and §10 field, time first, and ends the line', () => {
    const line = ledgerLine(recordOf({ ...PRICED, tags: { team: 'a' }, user: 'u' }));
    assert.ok(line.endsWith('\n'));
    assert.equal(line.indexOf('\n'), line.length - 1, 'one line');
    const entry = JSON.parse(line) as Record<string, unknown>;
    assert.deepEqual(Object.keys(entry), LEDGER_FIELDS);
    assert.ok(line.startsWith('{"time":"2025-09-01T12:00:00.000Z",'));
  });

  test('holds the record\'s values as JSON numbers, strings, booleans, an object and nulls', () => {
    const record = recordOf({ cost: 0.0035, cost_source: 'prices', tags: { team: 'search', env: 'prod' }, user: 'alice' });
    assert.deepEqual(JSON.parse(ledgerLine(record)), { ...record });
  });

  test('an unpriced record writes cost and cost_source as null, tags as {} and user as null: present, not missing', () => {
    const entry = JSON.parse(ledgerLine(recordOf())) as Record<string, unknown>;
    assert.deepEqual([entry['cost'], entry['cost_source'], entry['tags'], entry['user']], [null, null, {}, null]);
  });

  test('a user with line breaks and quotes stays inside the one line', () => {
    const user = 'a\nb\r"c"\u2028';
    const line = ledgerLine(recordOf({ user }));
    assert.equal(line.indexOf('\n'), line.length - 1);
    assert.equal((JSON.parse(line) as { user: string }).user, user);
  });

  test('createUsageLog appends exactly that line, once per record, in either log format', () => {
    for (const format of ['text', 'json'] as const) {
      const records = [recordOf(PRICED), recordOf({ model: null, tags: { a: '1' } })];
      const { ledger } = logAll(format, records);
      assert.deepEqual(ledger, records.map(ledgerLine), format);
    }
  });
});

describe('the counters', () => {
  test('tokens move for every record; cost only for priced ones, with the record\'s cost', () => {
    const { counted } = logAll('text', [
      recordOf({ model: 'a', cost: 0.5, cost_source: 'prices' }),
      recordOf({ model: 'b' }),
      recordOf({ model: null, cost: 0.25, cost_source: 'upstream' }),
      recordOf({ model: 'c', cost: 0, cost_source: 'prices' }),
    ]);
    assert.deepEqual(counted.tokens, [['a', 100, 20], ['b', 100, 20], [null, 100, 20], ['c', 100, 20]]);
    assert.deepEqual(counted.cost, [['a', 0.5], [null, 0.25], ['c', 0]]);
  });

  test('through the real metrics: lm_proxy_cost_usd_total by model, priced models only; tags and users are never labels', () => {
    const metrics = createProxyMetrics();
    const logger = createLogger('text', { write: () => {} }, { write: () => {} });
    const log = createUsageLog(logger, null, metrics, 'text');
    const tagged = { tags: { team: 'secret-team' }, user: 'secret-user' };
    log(recordOf({ model: 'gpt-4o', cost: 0.001, cost_source: 'prices', ...tagged }));
    log(recordOf({ model: 'gpt-4o', cost: 0.002, cost_source: 'upstream', ...tagged }));
    log(recordOf({ model: 'unpriced-model', ...tagged }));
    const text = metrics.render();
    const costLines = text.split('\n').filter((l) => l.startsWith('lm_proxy_cost_usd_total{'));
    assert.equal(costLines.length, 1, costLines.join('\n'));
    const [series, value] = (costLines[0] as string).split(' ');
    assert.equal(series, 'lm_proxy_cost_usd_total{model="gpt-4o"}');
    assert.ok(Math.abs(Number(value) - 0.003) < 1e-15, value);
    assert.match(text, /# TYPE lm_proxy_cost_usd_total counter/);
    assert.match(text, /lm_proxy_tokens_total\{model="unpriced-model",type="prompt"\} 100/);
    assert.doesNotMatch(text, /secret-team|secret-user|team=|user=/);
    logger.flush();
  });

  test('no ledger and no counters: the line alone, nothing thrown', () => {
    const out: string[] = [];
    const logger = createLogger('text', { write: (t: string) => out.push(t) }, { write: () => {} });
    createUsageLog(logger, null, null, 'text')(recordOf(PRICED));
    logger.flush();
    assert.match(out.join(''), /^\[USAGE\] prompt_tokens=100 /);
  });
});
