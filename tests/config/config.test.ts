import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  SETTINGS,
  formatListenAddress,
  parseConfig,
  parseListenAddress,
  parseUpstream,
  renderHelp,
  renderSettingsTable,
  type Config,
  type Upstream,
} from '../../src/config/config.ts';

type Env = Record<string, string | undefined>;

function configOf(argv: readonly string[], env: Env = {}): Config {
  const outcome = parseConfig(argv, env);
  assert.equal(outcome.kind, 'run', `expected a config, got ${JSON.stringify(outcome)}`);
  return (outcome as { config: Config }).config;
}

function errorsOf(argv: readonly string[], env: Env = {}): readonly string[] {
  const outcome = parseConfig(argv, env);
  assert.equal(outcome.kind, 'error', `expected an error, got ${JSON.stringify(outcome)}`);
  return (outcome as { errors: readonly string[] }).errors;
}

/** The one error line for a single bad value; checks it is one line naming `name`, the value and what is expected. */
function oneError(argv: readonly string[], env: Env, name: string, value: string): string {
  const errors = errorsOf(argv, env);
  assert.equal(errors.length, 1, `one error expected: ${JSON.stringify(errors)}`);
  const line = errors[0]!;
  assert.doesNotMatch(line, /[\r\n]/, 'an error is one line');
  assert.ok(line.includes(name), `${JSON.stringify(line)} names ${name}`);
  assert.ok(line.includes(JSON.stringify(value)), `${JSON.stringify(line)} quotes the value ${JSON.stringify(value)}`);
  assert.match(line, /expected \S/, 'says what is expected');
  return line;
}

function upstreamOf(raw: string): Upstream {
  const result = parseUpstream(raw);
  assert.ok(result.ok, `${raw} should be accepted`);
  return result.value;
}

describe('defaults', () => {
  test('with no flags and an empty environment every setting has the SPEC §2 default', () => {
    const config = configOf([], {});
    assert.deepEqual(config.upstream, {
      protocol: 'https:',
      hostname: 'api.openai.com',
      port: 443,
      authority: 'api.openai.com',
      basePath: '/v1',
      href: 'https://api.openai.com/v1',
    });
    assert.deepEqual(config.listen, { host: '0.0.0.0', port: 3000 });
    assert.equal(config.usageLog, null);
    assert.equal(config.logFormat, 'text');
    assert.equal(config.metrics, null);
    assert.equal(config.injectStreamUsage, true);
    assert.equal(config.upstreamTimeoutMs, 600_000);
    assert.equal(config.shutdownGraceMs, 30_000);
    assert.equal(config.accessLog, true);
    assert.equal(config.trackUsage, true);
  });

  test('the config is frozen', () => {
    assert.ok(Object.isFrozen(configOf([], {})));
  });

  test('environment variables unrelated to lm-proxy are ignored', () => {
    assert.deepEqual(configOf([], { PATH: '/bin', HOME: '/root', PORT: 'nope' }), configOf([], {}));
  });
});

// Each setting: its variable, its flag, and two valid values with what they become.
interface SettingCase {
  readonly env: string;
  readonly flag: string;
  readonly a: string;
  readonly b: string;
  readonly read: (config: Config) => unknown;
  readonly aIs: unknown;
  readonly bIs: unknown;
}

const SETTING_CASES: readonly SettingCase[] = [
  { env: 'UPSTREAM_URL', flag: '--upstream', a: 'http://a.example/v1', b: 'https://b.example:8443/api', read: (c) => c.upstream.href, aIs: 'http://a.example/v1', bIs: 'https://b.example:8443/api' },
  { env: 'LISTEN_ADDR', flag: '--listen', a: '127.0.0.1:4000', b: ':5000', read: (c) => c.listen, aIs: { host: '127.0.0.1', port: 4000 }, bIs: { host: undefined, port: 5000 } },
  { env: 'USAGE_LOG', flag: '--usage-log', a: '/tmp/a.jsonl', b: 'b usage.jsonl', read: (c) => c.usageLog, aIs: '/tmp/a.jsonl', bIs: 'b usage.jsonl' },
  { env: 'LOG_FORMAT', flag: '--log-format', a: 'json', b: 'text', read: (c) => c.logFormat, aIs: 'json', bIs: 'text' },
  { env: 'METRICS_ADDR', flag: '--metrics', a: '127.0.0.1:9090', b: '9091', read: (c) => c.metrics, aIs: { host: '127.0.0.1', port: 9090 }, bIs: { host: undefined, port: 9091 } },
  { env: 'INJECT_STREAM_USAGE', flag: '--inject-stream-usage', a: 'false', b: 'on', read: (c) => c.injectStreamUsage, aIs: false, bIs: true },
  { env: 'UPSTREAM_TIMEOUT_MS', flag: '--upstream-timeout', a: '1500', b: '0', read: (c) => c.upstreamTimeoutMs, aIs: 1500, bIs: 0 },
  { env: 'SHUTDOWN_GRACE_MS', flag: '--shutdown-grace', a: '10', b: '20', read: (c) => c.shutdownGraceMs, aIs: 10, bIs: 20 },
  { env: 'UPSTREAM_IDLE_MS', flag: '--upstream-idle', a: '1000', b: '65000', read: (c) => c.upstreamIdleMs, aIs: 1000, bIs: 65000 },
  { env: 'PRICES_FILE', flag: '--prices', a: '/etc/a.json', b: 'b.json', read: (c) => c.pricesFile, aIs: '/etc/a.json', bIs: 'b.json' },
  { env: 'TAGS', flag: '--tags', a: 'team=a', b: 'team=b, env=prod', read: (c) => c.tags, aIs: { team: 'a' }, bIs: { team: 'b', env: 'prod' } },
  { env: 'ACCESS_LOG', flag: '--access-log', a: 'no', b: 'YES', read: (c) => c.accessLog, aIs: false, bIs: true },
  { env: 'TRACK_USAGE', flag: '--track-usage', a: '0', b: '1', read: (c) => c.trackUsage, aIs: false, bIs: true },
];

describe('every setting has a variable and a flag', () => {
  test('every setting in the help table is covered by these tests', () => {
    assert.deepEqual(SETTINGS.map((s) => `${s.env} ${s.flag}`), SETTING_CASES.map((s) => `${s.env} ${s.flag}`));
  });

  for (const s of SETTING_CASES) {
    test(`${s.env} sets it, --flag value and --flag=value set it, and ${s.flag} wins over ${s.env}`, () => {
      assert.deepEqual(s.read(configOf([], { [s.env]: s.a })), s.aIs, 'from the variable');
      assert.deepEqual(s.read(configOf([s.flag, s.b], {})), s.bIs, '--flag value');
      assert.deepEqual(s.read(configOf([`${s.flag}=${s.b}`], {})), s.bIs, '--flag=value');
      assert.deepEqual(s.read(configOf([s.flag, s.b], { [s.env]: s.a })), s.bIs, 'the flag wins');
      assert.deepEqual(s.read(configOf([`${s.flag}=${s.b}`], { [s.env]: s.a })), s.bIs, 'the flag wins (= form)');
    });

    test(`${s.flag} wins even when ${s.env} holds a bad value`, () => {
      assert.deepEqual(s.read(configOf([s.flag, s.b], { [s.env]: 'bad value\u0000' })), s.bIs);
    });
  }

  test('a flag given twice takes its last value', () => {
    assert.equal(configOf(['--listen', ':1', '--listen=:2']).listen.port, 2);
  });

  test('USAGE_LOG and METRICS_ADDR set to the empty string mean off', () => {
    const config = configOf([], { USAGE_LOG: '', METRICS_ADDR: '' });
    assert.equal(config.usageLog, null);
    assert.equal(config.metrics, null);
    assert.equal(configOf(['--usage-log='], { USAGE_LOG: '/tmp/x' }).usageLog, null);
    assert.equal(configOf(['--metrics', ''], { METRICS_ADDR: ':9' }).metrics, null);
  });
});

describe('booleans', () => {
  const TRUE = ['true', '1', 'yes', 'on', 'TRUE', 'True', 'Yes', 'ON', 'oN'];
  const FALSE = ['false', '0', 'no', 'off', 'FALSE', 'False', 'NO', 'Off'];

  test('true, 1, yes and on in any case are true', () => {
    for (const word of TRUE) {
      assert.equal(configOf([], { INJECT_STREAM_USAGE: word }).injectStreamUsage, true, word);
      assert.equal(configOf([`--track-usage=${word}`]).trackUsage, true, word);
    }
  });

  test('false, 0, no and off in any case are false', () => {
    for (const word of FALSE) {
      assert.equal(configOf([], { INJECT_STREAM_USAGE: word }).injectStreamUsage, false, word);
      assert.equal(configOf(['--access-log', word]).accessLog, false, word);
    }
  });

  test('any other word is a bad value naming the variable or flag', () => {
    for (const word of ['', 'y', 'n', 't', 'f', '2', '-1', 'truee', 'enabled', 'nope', 'true false']) {
      const line = oneError([], { INJECT_STREAM_USAGE: word }, 'INJECT_STREAM_USAGE', word);
      assert.match(line, /boolean/);
      oneError(['--track-usage', word], {}, '--track-usage', word);
    }
  });
});

describe('durations', () => {
  test('whole non-negative milliseconds are accepted; above what setTimeout can wait, they mean its longest wait', () => {
    const longest = 2_147_483_647;
    for (const [text, ms] of [['0', 0], ['1', 1], ['600000', 600_000], ['007', 7], ['2147483647', longest], ['2147483648', longest], ['99999999999999999999', longest]] as const) {
      assert.equal(configOf([], { UPSTREAM_TIMEOUT_MS: text }).upstreamTimeoutMs, ms, text);
      assert.equal(configOf([`--shutdown-grace=${text}`]).shutdownGraceMs, ms, text);
    }
  });

  test('negative, fractional, exponent, empty, padded, signed and hex values are bad values', () => {
    for (const text of ['-1', '1.5', '1e3', '', ' 5', '5 ', '+5', '0x10', '1_000', 'Infinity', 'NaN', '10ms']) {
      oneError([], { UPSTREAM_TIMEOUT_MS: text }, 'UPSTREAM_TIMEOUT_MS', text);
      oneError([`--shutdown-grace=${text}`], {}, '--shutdown-grace', text);
    }
  });

});

describe('LOG_FORMAT', () => {
  test('only text and json are accepted', () => {
    for (const text of ['', 'JSON', 'Text', 'ndjson', 'logfmt']) {
      oneError([], { LOG_FORMAT: text }, 'LOG_FORMAT', text);
    }
  });
});

describe('LISTEN_ADDR forms', () => {
  const GOOD: readonly (readonly [string, string | undefined, number])[] = [
    ['127.0.0.1:8080', '127.0.0.1', 8080],
    ['0.0.0.0:3000', '0.0.0.0', 3000],
    ['localhost:80', 'localhost', 80],
    ['[::1]:8080', '::1', 8080],
    ['[::]:3000', '::', 3000],
    ['[::ffff:127.0.0.1]:1', '::ffff:127.0.0.1', 1],
    [':8080', undefined, 8080],
    ['8080', undefined, 8080],
    ['0', undefined, 0],
    ['127.0.0.1:0', '127.0.0.1', 0],
    ['65535', undefined, 65_535],
    ['[::1]:65535', '::1', 65_535],
  ];

  test('host:port, [ipv6]:port, :port and port are accepted, ports 0 to 65535', () => {
    for (const [text, host, port] of GOOD) {
      assert.deepEqual(parseListenAddress(text), { ok: true, value: { host, port } }, text);
      assert.deepEqual(configOf([], { LISTEN_ADDR: text }).listen, { host, port }, text);
    }
  });

  test('port and :port listen on all interfaces (no host given to Node)', () => {
    assert.equal(configOf(['--listen', '3000']).listen.host, undefined);
    assert.equal(configOf(['--listen', ':3000']).listen.host, undefined);
  });

  const BAD = [
    '65536', ':65536', '127.0.0.1:65536', '[::1]:65536', '99999999', '-1', ':-1', '1.5', '',
    ':', 'localhost', 'localhost:', '127.0.0.1:http', ' 80', '80 ',
    '::1:80', '::1', 'fe80::1:80', '[::1]', '[::1]80', '[::1]:', '[notip]:80', '[::g]:80', '[1:2:3]:80', '[127.0.0.1]:80', '[]:80', '[::1:80',
    'host name:80', 'a/b:80', 'user@host:80',
  ];

  test('out-of-range ports, unbracketed IPv6, bracketed non-IPv6 and other shapes are bad values', () => {
    for (const text of BAD) {
      assert.equal(parseListenAddress(text).ok, false, text);
      const line = oneError([], { LISTEN_ADDR: text }, 'LISTEN_ADDR', text);
      assert.match(line, /65535/, 'the expected text gives the port range');
      oneError([`--metrics=${text === '' ? 'x' : text}`], {}, '--metrics', text === '' ? 'x' : text);
    }
  });

  test('formatListenAddress writes the address back in the form it is read in', () => {
    assert.equal(formatListenAddress({ host: '127.0.0.1', port: 80 }), '127.0.0.1:80');
    assert.equal(formatListenAddress({ host: '::1', port: 80 }), '[::1]:80');
    assert.equal(formatListenAddress({ host: undefined, port: 80 }), ':80');
    for (const [text] of GOOD) {
      const parsed = parseListenAddress(text);
      assert.ok(parsed.ok);
      assert.deepEqual(parseListenAddress(formatListenAddress(parsed.value)), parsed, text);
    }
  });
});

describe('UPSTREAM_URL', () => {
  test('http and https URLs are accepted, with the scheme and host normalised', () => {
    assert.equal(upstreamOf('http://localhost:8080/v1').protocol, 'http:');
    assert.equal(upstreamOf('https://api.example.com/v1').protocol, 'https:');
    assert.equal(upstreamOf('HTTPS://API.Example.COM/v1').href, 'https://api.example.com/v1');
  });

  test('a trailing slash means the same as none', () => {
    assert.deepEqual(upstreamOf('http://h.example/v1/'), upstreamOf('http://h.example/v1'));
    assert.deepEqual(upstreamOf('http://h.example/'), upstreamOf('http://h.example'));
    assert.deepEqual(upstreamOf('http://h.example/api/v1/'), upstreamOf('http://h.example/api/v1'));
    assert.equal(upstreamOf('http://h.example/v1//').basePath, '/v1');
  });

  test('the base path, authority and port are derived, leaving default ports out of the authority', () => {
    assert.deepEqual(upstreamOf('http://h.example/v1'), {
      protocol: 'http:', hostname: 'h.example', port: 80, authority: 'h.example', basePath: '/v1', href: 'http://h.example/v1',
    });
    assert.deepEqual(upstreamOf('https://h.example'), {
      protocol: 'https:', hostname: 'h.example', port: 443, authority: 'h.example', basePath: '', href: 'https://h.example',
    });
    assert.deepEqual(upstreamOf('http://h.example:80/api'), upstreamOf('http://h.example/api'));
    assert.deepEqual(upstreamOf('https://h.example:443/'), upstreamOf('https://h.example'));
    assert.deepEqual(upstreamOf('http://h.example:443/x'), {
      protocol: 'http:', hostname: 'h.example', port: 443, authority: 'h.example:443', basePath: '/x', href: 'http://h.example:443/x',
    });
    assert.deepEqual(upstreamOf('https://h.example:80'), {
      protocol: 'https:', hostname: 'h.example', port: 80, authority: 'h.example:80', basePath: '', href: 'https://h.example:80',
    });
    assert.deepEqual(upstreamOf('http://127.0.0.1:8080/a/b/c/'), {
      protocol: 'http:', hostname: '127.0.0.1', port: 8080, authority: '127.0.0.1:8080', basePath: '/a/b/c', href: 'http://127.0.0.1:8080/a/b/c',
    });
  });

  test('an IPv6 host is connected to without brackets and sent in Host with them', () => {
    assert.deepEqual(upstreamOf('http://[::1]:8080/v1'), {
      protocol: 'http:', hostname: '::1', port: 8080, authority: '[::1]:8080', basePath: '/v1', href: 'http://[::1]:8080/v1',
    });
    assert.deepEqual(upstreamOf('https://[2001:db8::1]/'), {
      protocol: 'https:', hostname: '2001:db8::1', port: 443, authority: '[2001:db8::1]', basePath: '', href: 'https://[2001:db8::1]',
    });
  });

  test('the configured value reaches the config through the variable and the flag', () => {
    assert.equal(configOf([], { UPSTREAM_URL: 'http://localhost:8080/api/' }).upstream.basePath, '/api');
    assert.equal(configOf(['--upstream=http://[::1]:9/v1']).upstream.authority, '[::1]:9');
  });

  const BAD = [
    'ftp://h.example/v1', 'file:///etc/passwd', 'ws://h.example/', 'mailto:a@b.example', 'javascript:alert(1)',
    'http://h.example/v1?x=1', 'http://h.example/v1?', 'http://h.example?', 'http://h.example/v1#frag', 'http://h.example/v1#', 'http://h.example/#',
    'http://user:pass@h.example/v1', 'http://user@h.example/', 'https://:secret@h.example/', 'http://@h.example/', 'http://:@h.example/',
    'not a url', 'h.example/v1', '/v1', '', 'http://', 'http:// h.example', 'http://h.example:99999/', 'http://h.example:0/', 'http://[::1/',
  ];

  test('other schemes, a query or fragment (even empty), credentials, port 0 and non-URLs are bad values', () => {
    for (const text of BAD) {
      assert.equal(parseUpstream(text).ok, false, text);
      oneError([], { UPSTREAM_URL: text }, 'UPSTREAM_URL', text);
      oneError(['--upstream', text], {}, '--upstream', text);
    }
  });

  test('the error for a bad URL says what is wrong with it', () => {
    assert.match(oneError([], { UPSTREAM_URL: 'ftp://x' }, 'UPSTREAM_URL', 'ftp://x'), /http:\/\/ or https:\/\//);
    assert.match(oneError([], { UPSTREAM_URL: 'nope' }, 'UPSTREAM_URL', 'nope'), /http:\/\/ or https:\/\//);
    assert.match(oneError([], { UPSTREAM_URL: 'http://h/?' }, 'UPSTREAM_URL', 'http://h/?'), /without query or fragment/);
    assert.match(oneError([], { UPSTREAM_URL: 'http://@h/' }, 'UPSTREAM_URL', 'http://@h/'), /without credentials/);
    assert.match(oneError([], { UPSTREAM_URL: 'http://h:0/' }, 'UPSTREAM_URL', 'http://h:0/'), /port from 1 to 65535/);
  });

  test('an @ in the base path is not taken for credentials', () => {
    assert.equal(upstreamOf('http://h.example/@team/v1').basePath, '/@team/v1');
    assert.equal(upstreamOf('http://h.example:8080/a@b').authority, 'h.example:8080');
  });

  test('an error never repeats the password of a URL with credentials in clear beyond the value itself', () => {
    // The value is named as given (SPEC §2); this only checks nothing else is added, such as a parsed form.
    const line = oneError([], { UPSTREAM_URL: 'http://u:pw@h.example/' }, 'UPSTREAM_URL', 'http://u:pw@h.example/');
    assert.equal(line.split('pw').length, 2);
  });
});

describe('flags and errors', () => {
  test('an unknown flag is an error mentioning it', () => {
    for (const flag of ['--bogus', '--bogus=1', '--upstream-url', '-x', '--LISTEN']) {
      const errors = errorsOf([flag]);
      assert.equal(errors.length, 1);
      const name = flag.split('=')[0]!;
      assert.ok(errors[0]!.includes(name), `${errors[0]} names ${name}`);
      assert.doesNotMatch(errors[0]!, /[\r\n]/);
    }
  });

  test('an unknown flag followed by its value is one error, naming the flag', () => {
    for (const argv of [['--bogus', '1'], ['--bogus', 'x', '--listen', '3001']]) {
      const errors = errorsOf(argv);
      assert.equal(errors.length, 1, errors.join('\n'));
      assert.ok(errors[0]!.includes('"--bogus"'));
    }
    // With its value inline, the next argument is judged on its own.
    assert.equal(errorsOf(['--bogus=1', 'stray']).length, 2);
  });

  test('a positional argument is an error mentioning it', () => {
    const errors = errorsOf(['http://h.example']);
    assert.equal(errors.length, 1);
    assert.ok(errors[0]!.includes('http://h.example'));
  });

  test('a value after a separate flag may begin with a dash, and is then judged as a value', () => {
    oneError(['--upstream-timeout', '-1'], {}, '--upstream-timeout', '-1');
    oneError(['--track-usage', '-1'], {}, '--track-usage', '-1');
    oneError(['--listen', '--upstream'], {}, '--listen', '--upstream');
  });

  test('an unknown flag and a bad value in the environment each get their line', () => {
    const errors = errorsOf(['--bogus'], { LISTEN_ADDR: 'nowhere' });
    assert.equal(errors.length, 2);
    assert.ok(errors.some((line) => line.includes('"--bogus"')));
    assert.ok(errors.some((line) => line.includes('LISTEN_ADDR') && line.includes('"nowhere"')));
  });

  test('an unknown flag stops --help and --version from answering', () => {
    assert.equal(parseConfig(['--help', '--bogus'], {}).kind, 'error');
    assert.equal(parseConfig(['--bogus', '-v'], {}).kind, 'error');
  });

  test('a boolean flag given a value is an error naming the flag and the value', () => {
    oneError(['--version=1'], {}, '--version', '1');
  });

  test('a flag without its value is an error naming the flag', () => {
    const errors = errorsOf(['--upstream']);
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /--upstream/);
  });

  test('an unknown flag with LOG_FORMAT=json asks for the error in JSON', () => {
    const outcome = parseConfig(['--bogus'], { LOG_FORMAT: 'json' });
    assert.equal(outcome.kind, 'error');
    assert.equal(outcome.kind === 'error' && outcome.logFormat, 'json');
    const viaFlag = parseConfig(['--log-format=json', '--bogus'], {});
    assert.equal(viaFlag.kind === 'error' && viaFlag.logFormat, 'json');
    const bad = parseConfig(['--bogus'], { LOG_FORMAT: 'xml' });
    assert.equal(bad.kind === 'error' && bad.logFormat, 'text');
  });

  test('several bad values give one line each, and the log format of the errors is the one configured', () => {
    const outcome = parseConfig(['--listen', '::1:80', '--upstream-timeout=1.5'], {
      UPSTREAM_URL: 'ftp://x',
      INJECT_STREAM_USAGE: 'maybe',
      LOG_FORMAT: 'json',
      SHUTDOWN_GRACE_MS: '-1',
    });
    assert.equal(outcome.kind, 'error');
    if (outcome.kind !== 'error') return;
    assert.equal(outcome.logFormat, 'json');
    assert.equal(outcome.errors.length, 5);
    const bad: readonly (readonly [string, string])[] = [
      ['UPSTREAM_URL', 'ftp://x'], ['--listen', '::1:80'], ['INJECT_STREAM_USAGE', 'maybe'], ['--upstream-timeout', '1.5'], ['SHUTDOWN_GRACE_MS', '-1'],
    ];
    for (const [name, value] of bad) {
      const lines: string[] = outcome.errors.filter((line) => line.includes(name) && line.includes(JSON.stringify(value)));
      assert.equal(lines.length, 1, `one line for ${name}`);
    }
    for (const line of outcome.errors) assert.doesNotMatch(line, /[\r\n]/);
  });

  test('a bad log format is reported and the errors fall back to text', () => {
    const outcome = parseConfig([], { LOG_FORMAT: 'xml', LISTEN_ADDR: 'x' });
    assert.equal(outcome.kind === 'error' && outcome.logFormat, 'text');
    assert.equal(outcome.kind === 'error' && outcome.errors.length, 2);
  });

  test('a value with a newline stays on one line in the error', () => {
    const line = oneError([], { LISTEN_ADDR: 'a\nb' }, 'LISTEN_ADDR', 'a\nb');
    assert.ok(line.includes('"a\\nb"'));
  });
});

describe('--help and --version', () => {
  test('--help and -h ask for help, whatever the environment holds', () => {
    assert.deepEqual(parseConfig(['--help'], {}), { kind: 'help' });
    assert.deepEqual(parseConfig(['-h'], { UPSTREAM_URL: 'ftp://bad' }), { kind: 'help' });
    assert.deepEqual(parseConfig(['--listen', ':1', '--help'], {}), { kind: 'help' });
  });

  test('--version and -v ask for the version', () => {
    assert.deepEqual(parseConfig(['--version'], {}), { kind: 'version' });
    assert.deepEqual(parseConfig(['-v'], { LISTEN_ADDR: 'bad' }), { kind: 'version' });
  });

  test('--help with a value is an error', () => {
    assert.equal(parseConfig(['--help=yes'], {}).kind, 'error');
  });

  test('the help names the version, both ways to give a flag, and holds the settings table', () => {
    const help = renderHelp('9.8.7');
    assert.ok(help.includes('9.8.7'));
    assert.ok(help.includes('--flag value'));
    assert.ok(help.includes('--flag=value'));
    assert.ok(help.includes(renderSettingsTable()));
    assert.ok(help.includes('--help') && help.includes('--version'));
    assert.ok(help.endsWith('\n'));
  });

  test('the settings table has a row per setting with variable, flag, default and meaning', () => {
    const lines = renderSettingsTable().split('\n');
    assert.equal(lines[0], '| variable | flag | default | meaning |');
    assert.equal(lines.length, 2 + SETTINGS.length);
    for (const s of SETTINGS) {
      assert.ok(lines.some((line) => line.startsWith(`| \`${s.env}\` | \`${s.flag}\` | \`${s.default}\` | `)), s.env);
    }
  });

  test('the settings table carries the variables, flags and defaults of SPEC §2', () => {
    const spec: readonly (readonly [string, string, string])[] = [
      ['UPSTREAM_URL', '--upstream', 'https://api.openai.com/v1'],
      ['LISTEN_ADDR', '--listen', '0.0.0.0:3000'],
      ['USAGE_LOG', '--usage-log', 'none'],
      ['LOG_FORMAT', '--log-format', 'text'],
      ['METRICS_ADDR', '--metrics', 'none (off)'],
      ['INJECT_STREAM_USAGE', '--inject-stream-usage', 'true'],
      ['UPSTREAM_TIMEOUT_MS', '--upstream-timeout', '600000'],
      ['SHUTDOWN_GRACE_MS', '--shutdown-grace', '30000'],
      ['UPSTREAM_IDLE_MS', '--upstream-idle', '60000'],
      ['PRICES_FILE', '--prices', 'none'],
      ['TAGS', '--tags', 'none'],
    ];
    for (const [env, flag, fallback] of spec) {
      const row = SETTINGS.find((s) => s.env === env);
      assert.deepEqual(row && [row.env, row.flag, row.default], [env, flag, fallback]);
    }
  });

  test('the defaults in the settings table are the defaults the parser uses', () => {
    const env: Env = {};
    for (const s of SETTINGS) env[s.env] = s.default.startsWith('none') ? '' : s.default;
    assert.deepEqual(configOf([], env), configOf([], {}));
  });
});

const README = join(import.meta.dirname, '..', '..', 'README.md');

describe('README', () => {
  test('README.md shows every row of the settings table verbatim', () => {
    const readme = readFileSync(README, 'utf8');
    for (const row of renderSettingsTable().split('\n')) {
      assert.ok(readme.includes(row), `README.md lacks the row:\n${row}`);
    }
  });
});

describe('TAGS (SPEC §10)', () => {
  test('unset or empty means no tags', () => {
    assert.deepEqual(configOf([], {}).tags, {});
    assert.deepEqual(configOf([], { TAGS: '' }).tags, {});
  });

  test('names are lower-cased, spaces around pairs ignored, and the same name twice takes the later value', () => {
    assert.deepEqual(configOf([], { TAGS: ' Team=a , env=prod,team=b ' }).tags, { team: 'b', env: 'prod' });
  });

  test('a malformed pair or more than 16 tags is a bad value naming TAGS (a typo in a deployment must not pass silently)', () => {
    const seventeen = Array.from({ length: 17 }, (_, i) => `t${i}=v`).join(',');
    for (const value of ['team', 'team=', '=a', 'team=a b', 't\u0000=a', 'Ä=1', 'x'.repeat(33) + '=1', 'n=' + 'v'.repeat(129), seventeen]) {
      const outcome = parseConfig([], { TAGS: value });
      assert.equal(outcome.kind, 'error', value);
      if (outcome.kind !== 'error') continue;
      assert.equal(outcome.errors.length, 1);
      assert.match(outcome.errors[0] as string, /invalid TAGS/);
    }
    assert.equal(Object.keys(configOf([], { TAGS: seventeen.split(',').slice(0, 16).join(',') }).tags).length, 16);
  });
});
