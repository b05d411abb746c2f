import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, type Logger } from '../../src/recording/logger.ts';
import type { LogFormat } from '../../src/config/config.ts';

interface Captured {
  readonly logger: Logger;
  /** Each write() call's text, per sink. */
  readonly out: string[];
  readonly err: string[];
}

function capture(format: LogFormat): Captured {
  const out: string[] = [];
  const err: string[] = [];
  const logger = createLogger(format, { write: (text: string) => out.push(text) }, { write: (text: string) => err.push(text) });
  return { logger, out, err };
}

/** The lines written so far to one sink, after flushing. */
function linesOf(writes: readonly string[]): string[] {
  const text = writes.join('');
  assert.ok(text === '' || text.endsWith('\n'), 'every line ends with a newline');
  return text === '' ? [] : text.slice(0, -1).split('\n');
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('text format (SPEC §7)', () => {
  test('the start-up lines read exactly as in SPEC §7', () => {
    const { logger, out } = capture('text');
    logger.info('Starting lm-proxy...');
    logger.info('Proxy configured:', { upstream: 'https://api.openai.com/v1', listen: '0.0.0.0:3000' });
    logger.info('Listening on 0.0.0.0:3000');
    logger.flush();
    assert.deepEqual(linesOf(out), [
      '[INFO] Starting lm-proxy...',
      '[INFO] Proxy configured: upstream=https://api.openai.com/v1 listen=0.0.0.0:3000',
      '[INFO] Listening on 0.0.0.0:3000',
    ]);
  });

  test('a usage line starts exactly `[USAGE] prompt_tokens=15 completion_tokens=42 total_tokens=57`, then the other pairs', () => {
    const { logger, out } = capture('text');
    logger.usage({ prompt_tokens: 15, completion_tokens: 42, total_tokens: 57 });
    logger.usage({ prompt_tokens: 15, completion_tokens: 42, total_tokens: 57, model: 'gpt-4o', stream: true, complete: true, end: 'done' });
    logger.flush();
    assert.deepEqual(linesOf(out), [
      '[USAGE] prompt_tokens=15 completion_tokens=42 total_tokens=57',
      '[USAGE] prompt_tokens=15 completion_tokens=42 total_tokens=57 model=gpt-4o stream=true complete=true end=done',
    ]);
  });

  test('the usage line starts with the three counts whatever order the fields come in', () => {
    const { logger, out } = capture('text');
    logger.usage({ model: 'm', total_tokens: 3, stream: false, completion_tokens: 2, prompt_tokens: 1 });
    logger.flush();
    assert.deepEqual(linesOf(out), ['[USAGE] prompt_tokens=1 completion_tokens=2 total_tokens=3 model=m stream=false']);
  });

  test('warnings and errors carry their level', () => {
    const { logger, err } = capture('text');
    logger.warn('careful', { n: 1 });
    logger.error('broken');
    logger.flush();
    assert.deepEqual(linesOf(err), ['[WARN] careful n=1', '[ERROR] broken']);
  });

  test('values with a space, a quote, an equals sign or a control character are JSON-quoted; others are bare', () => {
    const { logger, out } = capture('text');
    logger.info('request', {
      plain: 'gpt-4o',
      path: '/v1/chat/completions',
      space: 'a b',
      quote: 'say "hi"',
      equals: 'a=b',
      tab: 'a\tb',
      newline: 'a\nb',
      empty: '',
      unicode: 'h\u00e9llo',
      none: null,
      yes: true,
      no: false,
      int: 57,
      fraction: 12.5,
      negative: -1,
    });
    logger.flush();
    assert.deepEqual(linesOf(out), [
      '[INFO] request plain=gpt-4o path=/v1/chat/completions space="a b" quote="say \\"hi\\"" equals="a=b" tab="a\\tb" newline="a\\nb" empty="" unicode=h\u00e9llo none=null yes=true no=false int=57 fraction=12.5 negative=-1',
    ]);
  });

  test('a message with a line break still makes one line', () => {
    const { logger, err } = capture('text');
    logger.error('first\nsecond\r\nthird');
    logger.flush();
    assert.equal(linesOf(err).length, 1);
    assert.match(linesOf(err)[0]!, /^\[ERROR\] first.*second.*third$/);
  });

  test('an empty message with fields gives no double space', () => {
    const { logger, out } = capture('text');
    logger.info('', { a: 1 });
    logger.info('alone');
    logger.flush();
    assert.deepEqual(linesOf(out), ['[INFO] a=1', '[INFO] alone']);
  });
});

describe('json format (SPEC §7, §8)', () => {
  test('each line is one JSON object with level, an ISO 8601 time, msg and the fields, numbers as numbers', () => {
    const { logger, out } = capture('json');
    const before = Date.now();
    logger.info('Proxy configured:', { upstream: 'https://api.openai.com/v1', listen: '0.0.0.0:3000', port: 3000, ok: true, none: null });
    logger.flush();
    const lines = linesOf(out);
    assert.equal(lines.length, 1);
    const event = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.deepEqual(Object.keys(event).slice(0, 3), ['level', 'time', 'msg']);
    assert.equal(event['level'], 'info');
    assert.equal(event['msg'], 'Proxy configured:');
    assert.match(event['time'] as string, ISO_8601);
    const time = Date.parse(event['time'] as string);
    assert.ok(time >= before - 1000 && time <= Date.now() + 1000);
    assert.equal(event['upstream'], 'https://api.openai.com/v1');
    assert.equal(event['port'], 3000);
    assert.equal(event['ok'], true);
    assert.equal(event['none'], null);
  });

  test('a usage event carries its numbers as numbers at the top level', () => {
    const { logger, out } = capture('json');
    logger.usage({ prompt_tokens: 15, completion_tokens: 42, total_tokens: 57, model: 'gpt-4o', stream: false });
    logger.flush();
    const event = JSON.parse(linesOf(out)[0]!) as Record<string, unknown>;
    assert.equal(event['level'], 'usage');
    assert.equal(typeof event['msg'], 'string');
    assert.equal(event['prompt_tokens'], 15);
    assert.equal(event['completion_tokens'], 42);
    assert.equal(event['total_tokens'], 57);
    assert.equal(event['model'], 'gpt-4o');
    assert.equal(event['stream'], false);
  });

  test('warn and error lines are JSON on the second sink', () => {
    const { logger, out, err } = capture('json');
    logger.warn('w', { code: 'x' });
    logger.error('e\nwith a break');
    logger.flush();
    assert.deepEqual(out, []);
    const events = linesOf(err).map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(events.map((e) => [e['level'], e['msg']]), [['warn', 'w'], ['error', 'e\nwith a break']]);
    assert.equal(events[0]!['code'], 'x');
  });

  test('a value of any text, quotes and breaks included, survives the round trip', () => {
    const { logger, out } = capture('json');
    const tricky = 'a "b" = c\n\t\u0000 \u2028 \u00e9';
    logger.info(tricky, { v: tricky });
    logger.flush();
    const event = JSON.parse(linesOf(out)[0]!) as Record<string, unknown>;
    assert.equal(event['msg'], tricky);
    assert.equal(event['v'], tricky);
  });
});

describe('sinks and batching', () => {
  test('info and usage go to the first sink, warn and error to the second', () => {
    const { logger, out, err } = capture('text');
    logger.info('i');
    logger.warn('w');
    logger.usage({ prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 });
    logger.error('e');
    logger.flush();
    assert.deepEqual(linesOf(out), ['[INFO] i', '[USAGE] prompt_tokens=1 completion_tokens=1 total_tokens=2']);
    assert.deepEqual(linesOf(err), ['[WARN] w', '[ERROR] e']);
  });

  test('nothing is written synchronously; the next turn of the event loop writes each sink once, in order', async () => {
    const { logger, out, err } = capture('text');
    logger.info('one');
    logger.warn('two');
    logger.info('three');
    logger.error('four');
    assert.deepEqual(out, []);
    assert.deepEqual(err, []);
    await nextTurn();
    assert.deepEqual(out, ['[INFO] one\n[INFO] three\n']);
    assert.deepEqual(err, ['[WARN] two\n[ERROR] four\n']);
  });

  test('flush() writes everything pending at once, and the scheduled turn then writes nothing more', async () => {
    const { logger, out, err } = capture('text');
    for (let i = 0; i < 100; i++) logger.info(`line ${i}`);
    logger.warn('w');
    logger.flush();
    assert.equal(out.length, 1);
    assert.deepEqual(linesOf(out), Array.from({ length: 100 }, (_, i) => `[INFO] line ${i}`));
    assert.deepEqual(err, ['[WARN] w\n']);
    await nextTurn();
    assert.equal(out.length, 1);
    assert.equal(err.length, 1);
  });

  test('flush() with nothing pending writes nothing', () => {
    const { logger, out, err } = capture('json');
    logger.flush();
    assert.deepEqual(out, []);
    assert.deepEqual(err, []);
  });

  test('lines logged after a flush are written on a later turn, after the earlier ones', async () => {
    const { logger, out } = capture('text');
    logger.info('a');
    logger.flush();
    logger.info('b');
    assert.deepEqual(out, ['[INFO] a\n']);
    await nextTurn();
    assert.deepEqual(out, ['[INFO] a\n', '[INFO] b\n']);
    logger.info('c');
    await nextTurn();
    assert.deepEqual(linesOf(out), ['[INFO] a', '[INFO] b', '[INFO] c']);
  });

  test('a sink that only sees one side gets nothing from the other', async () => {
    const { logger, err } = capture('text');
    logger.info('only out');
    await nextTurn();
    assert.deepEqual(err, []);
  });
});
