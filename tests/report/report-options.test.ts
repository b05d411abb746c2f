import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseReportArgs, type ReportOptions } from '../../src/report/report-options.ts';

function options(argv: readonly string[]): ReportOptions {
  const args = parseReportArgs(argv);
  if (args.kind !== 'run') assert.fail(`expected options, got ${JSON.stringify(args)}`);
  return args.options;
}

function problem(argv: readonly string[]): string {
  const args = parseReportArgs(argv);
  if (args.kind !== 'bad') assert.fail(`expected a bad option, got ${JSON.stringify(args)}`);
  assert.ok(!args.message.includes('\n'), 'one line');
  assert.ok(args.message.startsWith('lm-proxy report: '), args.message);
  return args.message;
}

describe('report options', () => {
  test('defaults: by day then model, UTC, table, tokens, standard input', () => {
    const o = options([]);
    assert.deepEqual(o.by.map((f) => f.name), ['day', 'model']);
    assert.deepEqual([o.since, o.until, o.tz, o.pricesFile, o.reprice, o.format, o.metric, o.files], [null, null, 'UTC', null, false, 'table', 'tokens', []]);
  });

  test('reads every option as --flag value and as --flag=value, and files in any position', () => {
    const spaced = options(['a.jsonl', '--by', 'week,key,tag:team', '--since', '2026-03-01', '--until', '2026-04-01', '--tz', 'Europe/Paris', '--prices', 'p.json', '--reprice', '--format', 'csv', '--metric', 'cost', '-', 'b.gz']);
    const joined = options(['a.jsonl', '--by=week,key,tag:team', '--since=2026-03-01', '--until=2026-04-01', '--tz=Europe/Paris', '--prices=p.json', '--reprice=yes', '--format=csv', '--metric=cost', '-', 'b.gz']);
    assert.deepEqual(spaced, joined);
    assert.deepEqual(spaced.by, [
      { kind: 'period', name: 'week', period: 'week' },
      { kind: 'field', name: 'key' },
      { kind: 'tag', name: 'tag:team', tag: 'team' },
    ]);
    assert.deepEqual(spaced.files, ['a.jsonl', '-', 'b.gz']);
    assert.equal(spaced.since, Date.parse('2026-02-28T23:00:00Z'), 'midnight in Paris');
    assert.equal(spaced.until, Date.parse('2026-03-31T22:00:00Z'), 'midnight in Paris, in summer time');
  });

  test('every --by field is accepted, and tag names are lower-cased', () => {
    const o = options(['--by', 'hour,day,week,month,model,key,path,status,user,tag:Team.X-1']);
    assert.deepEqual(o.by.map((f) => f.name), ['hour', 'day', 'week', 'month', 'model', 'key', 'path', 'status', 'user', 'tag:team.x-1']);
  });

  test('a value with an offset is that instant; one without is read in --tz, whatever the order of the flags', () => {
    assert.equal(options(['--since', '2026-03-01T12:00:00+02:00', '--tz', 'America/New_York']).since, Date.parse('2026-03-01T10:00:00Z'));
    assert.equal(options(['--since', '2026-03-01T12:00', '--tz', 'America/New_York']).since, Date.parse('2026-03-01T17:00:00Z'));
    assert.equal(options(['--tz', 'America/New_York', '--since', '2026-03-01T12:00']).since, Date.parse('2026-03-01T17:00:00Z'));
  });

  test('-- ends the options: what follows is a file, even if it looks like a flag', () => {
    assert.deepEqual(options(['--format', 'json', '--', '--by', '-']).files, ['--by', '-']);
  });

  test('--help and -h ask for help, wherever they are', () => {
    assert.deepEqual(parseReportArgs(['--by', 'model', '--help']), { kind: 'help' });
    assert.deepEqual(parseReportArgs(['-h']), { kind: 'help' });
  });

  test('a bad option is one line naming the option and its value', () => {
    const cases: [readonly string[], string][] = [
      [['--tz', 'Mars/Olympus'], '--tz "Mars/Olympus"'],
      [['--by', 'day,colour'], '--by "day,colour"'],
      [['--by', ''], '--by ""'],
      [['--by', 'day,,model'], '--by "day,,model"'],
      [['--by', 'model,model'], '"model" is named twice'],
      [['--by', 'tag:'], '--by "tag:"'],
      [['--by', 'tag:no spaces'], '--by "tag:no spaces"'],
      [['--by', `tag:${'x'.repeat(33)}`], '--by'],
      [['--since', '2026-02-30'], '--since "2026-02-30"'],
      [['--until', 'tomorrow'], '--until "tomorrow"'],
      [['--since', '2026-03-02', '--until', '2026-03-01'], '--until "2026-03-01"'],
      [['--since', '2026-03-01', '--until', '2026-03-01'], '--until "2026-03-01"'],
      [['--format', 'xml'], '--format "xml"'],
      [['--metric', 'requests'], '--metric "requests"'],
      [['--reprice'], '--reprice'],
      [['--reprice=maybe', '--prices', 'p.json'], '--reprice "maybe"'],
      [['--prices='], '--prices ""'],
      [['--colour', 'red'], '"--colour"'],
      [['-x'], '"-x"'],
      [['--by'], 'missing value for --by'],
      [['--format'], 'missing value for --format'],
    ];
    for (const [argv, named] of cases) {
      const message = problem(argv);
      assert.ok(message.includes(named), `${JSON.stringify(argv)}: ${message}`);
    }
  });

  test('--reprice=false turns it off again', () => {
    assert.equal(options(['--prices', 'p.json', '--reprice', '--reprice=off']).reprice, false);
  });
});
