// The command line as a user meets it: the real src/cli/main.ts in a child process
// (as exit-hook tests its hooks), judged by exit code and output (SPEC §1, §2, §7).

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { SETTINGS, renderSettingsTable } from '../../src/config/config.ts';
import { ROOT, startProxy } from './harness.ts';

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

// The child must not inherit lm-proxy settings from the shell that runs the tests.
const CLEAN_ENV: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !SETTINGS.some((s) => s.env === name)),
);

const children = new Set<ChildProcess>();
after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs lm-proxy to completion; a run that outlives `limitMs` is killed (and fails on its exit code). */
async function runCli(args: readonly string[], env: Readonly<Record<string, string>> = {}, limitMs = 30_000): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: ROOT,
    env: { ...CLEAN_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const guard = setTimeout(() => child.kill('SIGKILL'), limitMs);
  try {
    const [code] = (await once(child, 'close')) as [number | null];
    return { code, stdout, stderr };
  } finally {
    clearTimeout(guard);
    children.delete(child);
  }
}

function linesOf(text: string): string[] {
  return text === '' ? [] : text.replace(/\n$/, '').split('\n');
}

/** Asserts a usage error: exit 2, nothing on stdout, one stderr line naming `name` and the value. */
function assertUsageError(run: Run, name: string, value: string): string {
  assert.equal(run.code, 2, `exit code; stderr: ${run.stderr}`);
  assert.equal(run.stdout, '');
  const lines = linesOf(run.stderr);
  assert.equal(lines.length, 1, `exactly one stderr line: ${JSON.stringify(run.stderr)}`);
  const line = lines[0]!;
  assert.ok(line.includes(name), `${line} names ${name}`);
  assert.ok(line.includes(value), `${line} names the value ${value}`);
  assert.match(line, /expected/);
  return line;
}

describe('--version and --help', { concurrency: 2 }, () => {
  test('--version prints the version of package.json and exits 0', async () => {
    const run = await runCli(['--version']);
    assert.deepEqual(run, { code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  test('-v prints the version too, whatever the environment holds', async () => {
    const run = await runCli(['-v'], { UPSTREAM_URL: 'ftp://bad' });
    assert.deepEqual(run, { code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  test('--help prints the settings table and exits 0', async () => {
    const run = await runCli(['--help']);
    assert.equal(run.code, 0);
    assert.equal(run.stderr, '');
    assert.ok(run.stdout.includes(renderSettingsTable()), run.stdout);
    assert.ok(run.stdout.includes(VERSION));
    for (const s of SETTINGS) assert.ok(run.stdout.includes(s.env) && run.stdout.includes(s.flag), s.env);
  });

  test('-h prints the same help', async () => {
    const [short, long] = await Promise.all([runCli(['-h']), runCli(['--help'])]);
    assert.equal(short.code, 0);
    assert.equal(short.stdout, long.stdout);
  });
});

describe('a bad value exits 2 with one stderr line naming it (SPEC §2)', { concurrency: 2 }, () => {
  const CASES: readonly { readonly what: string; readonly args: readonly string[]; readonly env: Record<string, string>; readonly name: string; readonly value: string }[] = [
    { what: 'a URL with another scheme', args: [], env: { UPSTREAM_URL: 'ftp://files.example/v1' }, name: 'UPSTREAM_URL', value: 'ftp://files.example/v1' },
    { what: 'an unparsable URL', args: ['--upstream', 'not a url'], env: {}, name: '--upstream', value: 'not a url' },
    { what: 'a URL with a query', args: ['--upstream=http://h.example/v1?'], env: {}, name: '--upstream', value: 'http://h.example/v1?' },
    { what: 'a port out of range', args: ['--listen', '127.0.0.1:65536'], env: {}, name: '--listen', value: '127.0.0.1:65536' },
    { what: 'an unbracketed IPv6 address', args: [], env: { LISTEN_ADDR: '::1:80' }, name: 'LISTEN_ADDR', value: '::1:80' },
    { what: 'a bad metrics address', args: ['--metrics=[notip]:9090'], env: {}, name: '--metrics', value: '[notip]:9090' },
    { what: 'a non-boolean', args: [], env: { INJECT_STREAM_USAGE: 'maybe' }, name: 'INJECT_STREAM_USAGE', value: 'maybe' },
    { what: 'a negative duration after a separate flag', args: ['--upstream-timeout', '-1'], env: {}, name: '--upstream-timeout', value: '-1' },
    { what: 'a fractional duration', args: [], env: { SHUTDOWN_GRACE_MS: '1.5' }, name: 'SHUTDOWN_GRACE_MS', value: '1.5' },
    { what: 'an unknown log format', args: [], env: { LOG_FORMAT: 'xml' }, name: 'LOG_FORMAT', value: 'xml' },
    { what: 'an unknown flag', args: ['--bogus'], env: {}, name: '--bogus', value: '--bogus' },
    { what: 'an unknown flag with a value', args: ['--upstream-url=http://h.example'], env: {}, name: '--upstream-url', value: '--upstream-url' },
  ];

  for (const c of CASES) {
    test(`${c.what}: ${c.name} ${JSON.stringify(c.value)}`, async () => {
      assertUsageError(await runCli(c.args, c.env), c.name, c.value);
    });
  }

  test('a flag wins over a bad variable, so the bad variable is not an error', async () => {
    const run = await runCli(['--upstream-timeout', '-1'], { UPSTREAM_TIMEOUT_MS: '5' });
    assertUsageError(run, '--upstream-timeout', '-1');
  });

  test('several bad values give one line each', async () => {
    const run = await runCli(['--listen', '99999'], { UPSTREAM_URL: 'gopher://x', TRACK_USAGE: 'sometimes' });
    assert.equal(run.code, 2);
    const lines = linesOf(run.stderr);
    assert.equal(lines.length, 3, run.stderr);
    for (const [name, value] of [['--listen', '99999'], ['UPSTREAM_URL', 'gopher://x'], ['TRACK_USAGE', 'sometimes']] as const) {
      assert.equal(lines.filter((line) => line.includes(name) && line.includes(value)).length, 1, name);
    }
  });

  test('with LOG_FORMAT=json the error line is a JSON object', async () => {
    const run = await runCli(['--listen', '70000'], { LOG_FORMAT: 'json' });
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    const lines = linesOf(run.stderr);
    assert.equal(lines.length, 1, run.stderr);
    const event = JSON.parse(lines[0]!) as { level: string; time: string; msg: string };
    assert.equal(event.level, 'error');
    assert.ok(!Number.isNaN(Date.parse(event.time)));
    assert.ok(event.msg.includes('--listen') && event.msg.includes('70000'), event.msg);
  });

  test('with --log-format=json even an unknown flag is reported as JSON', async () => {
    const run = await runCli(['--log-format=json', '--bogus']);
    assert.equal(run.code, 2);
    const lines = linesOf(run.stderr);
    assert.equal(lines.length, 1, run.stderr);
    const event = JSON.parse(lines[0]!) as { level: string; msg: string };
    assert.equal(event.level, 'error');
    assert.ok(event.msg.includes('--bogus'));
  });
});

/** A loopback port held by this test process, for the "already in use" cases. */
async function occupyPort(): Promise<{ occupier: net.Server; port: number }> {
  const occupier = net.createServer();
  occupier.listen(0, '127.0.0.1');
  await once(occupier, 'listening');
  return { occupier, port: (occupier.address() as net.AddressInfo).port };
}

describe('start-up and shutdown', () => {
  test('a port already in use exits 1 and says so', async () => {
    const { occupier, port } = await occupyPort();
    try {
      const run = await runCli(['--listen', `127.0.0.1:${port}`, '--upstream', 'http://127.0.0.1:9/v1']);
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /already in use/);
      assert.ok(run.stderr.includes(`127.0.0.1:${port}`), run.stderr);
    } finally {
      occupier.close();
    }
  });

  test('a USAGE_LOG that cannot be opened for appending exits 2 naming it, before starting', async () => {
    const missing = join(tmpdir(), `lm-proxy-missing-${process.pid}`, 'ledger.jsonl');
    const run = await runCli(['--listen', '127.0.0.1:0', '--upstream', 'http://127.0.0.1:9/v1'], { USAGE_LOG: missing });
    assertUsageError(run, 'USAGE_LOG', missing);
  });

  test('a metrics port already in use exits 1 and says so', async () => {
    const { occupier, port } = await occupyPort();
    try {
      const run = await runCli(['--listen', '127.0.0.1:0', '--metrics', `127.0.0.1:${port}`, '--upstream', 'http://127.0.0.1:9/v1']);
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /already in use/);
      assert.ok(run.stderr.includes(`127.0.0.1:${port}`), run.stderr);
    } finally {
      occupier.close();
    }
  });

  test('start-up prints the SPEC §7 lines with the real port, and SIGTERM with nothing in flight exits 0', async () => {
    const proxy = await startProxy({ upstream: 'http://127.0.0.1:9/v1', env: { LOG_FORMAT: 'text' } });
    try {
      assert.ok(proxy.port > 0);
      assert.deepEqual(proxy.stdout.slice(0, 3), [
        '[INFO] Starting lm-proxy...',
        '[INFO] Proxy configured: upstream=http://127.0.0.1:9/v1 listen=127.0.0.1:0',
        `[INFO] Listening on 127.0.0.1:${proxy.port}`,
      ]);
      const socket = net.connect(proxy.port, '127.0.0.1');
      await once(socket, 'connect');
      socket.destroy();
      assert.equal(await proxy.stop('SIGTERM'), 0);
    } finally {
      await proxy.stop('SIGKILL');
    }
  });

  test('with LOG_FORMAT=json every start-up line is a JSON object', async () => {
    const proxy = await startProxy({ upstream: 'http://127.0.0.1:9/v1', env: { LOG_FORMAT: 'json' } });
    try {
      const events = proxy.stdout.slice(0, 3).map((line) => JSON.parse(line) as { level: string; msg: string; time: string });
      assert.deepEqual(events.map((e) => e.level), ['info', 'info', 'info']);
      assert.equal(events[0]!.msg, 'Starting lm-proxy...');
      assert.match(events[1]!.msg, /^Proxy configured/);
      assert.equal(events[2]!.msg, `Listening on 127.0.0.1:${proxy.port}`);
      assert.equal(await proxy.stop('SIGTERM'), 0);
      for (const line of [...proxy.stdout, ...proxy.stderr].filter((l) => l !== '')) JSON.parse(line);
    } finally {
      await proxy.stop('SIGKILL');
    }
  });
});
