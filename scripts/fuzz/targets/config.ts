/**
 * Fuzz target: src/config/config.ts parseConfig on random argv and environments (SPEC §2, §8). It never
 * throws; every error is one line that names a variable or a flag; a config it accepts holds values in
 * their ranges (ports, whole milliseconds, at most 16 tags, http/https upstreams without query or
 * credentials). The input's bytes are a small script: argv and env entries separated by NUL bytes.
 */
import { Buffer } from 'node:buffer';
import { parseConfig, SETTINGS } from '../../../src/config/config.ts';
import { expect, type FuzzTarget } from '../engine.ts';
import { int, pick, type Rand } from '../mutate.ts';

const FLAGS = SETTINGS.map((s) => s.flag);
const NAMES = SETTINGS.map((s) => s.env);
const VALUES = [
  'http://127.0.0.1:8080/v1', 'https://api.openai.com/v1/', 'ftp://x', 'http://u:p@h/', 'http://@h/', 'http://h/?q', 'http://h/#f',
  'http://[::1]:0/', 'http://h:65536/', 'http:/h', '127.0.0.1:0', ':3000', '3000', '[::1]:80', '[zz]:1', '::1:80', 'h:-1', '0.0.0.0:99999',
  'true', 'FALSE', 'yes', 'On', '2', '', ' ', '0', '600000', '-1', '1.5', '99999999999999999999', 'text', 'json', 'JSON',
  'team=a,env=prod', 'a', 'a=b\nc=d', 'x'.repeat(300), '\u0000', 'é', '\r\n', '/tmp/ledger.jsonl', '--upstream',
];
const EXTRA_ARGS = ['-h', '--help', '-v', '--version', '--', '-x', '--nope', '--help=1', 'positional', '-', '--=', '---upstream'];

function randomScript(rand: Rand): Buffer {
  const parts: string[] = [];
  for (let n = int(rand, 6); n > 0; n--) {
    const roll = rand();
    if (roll < 0.4) parts.push(`A${pick(rand, FLAGS)}`, `A${pick(rand, VALUES)}`);
    else if (roll < 0.6) parts.push(`A${pick(rand, FLAGS)}=${pick(rand, VALUES)}`);
    else if (roll < 0.7) parts.push(`A${pick(rand, EXTRA_ARGS)}`);
    else parts.push(`E${pick(rand, NAMES)}=${pick(rand, VALUES)}`);
  }
  return Buffer.from(parts.join('\u0000'));
}

/** "A…" is an argument, "E NAME=value" an environment entry. */
function readScript(input: Buffer): { argv: string[]; env: Record<string, string> } {
  const argv: string[] = [];
  const env: Record<string, string> = {};
  for (const part of input.toString('utf8').split('\u0000')) {
    if (part.startsWith('A')) argv.push(part.slice(1));
    else if (part.startsWith('E')) {
      const eq = part.indexOf('=');
      if (eq > 1) env[part.slice(1, eq)] = part.slice(eq + 1);
    }
  }
  return { argv, env };
}

export const configTarget: FuzzTarget = {
  name: 'config',
  description: 'src/config/config.ts parseConfig: never throws; one line per error, naming a variable or flag; accepted values in range',
  seeds(rand) {
    const seeds: Buffer[] = [Buffer.from('A--upstream\u0000Ahttp://127.0.0.1:8080/v1\u0000A--listen=127.0.0.1:0'), Buffer.from('EUPSTREAM_URL=http://h\u0000A--tags=a=b')];
    for (let n = 0; n < 30; n++) seeds.push(randomScript(rand));
    return seeds;
  },
  generate: randomScript,
  check(input) {
    const { argv, env } = readScript(input);
    const outcome = parseConfig(argv, env);
    const label = JSON.stringify({ argv, env }).slice(0, 300);
    if (outcome.kind === 'error') {
      expect(outcome.errors.length > 0, 'error-without-line', () => label);
      for (const line of outcome.errors) {
        expect(!/[\r\n]/.test(line), 'error-not-one-line', () => `${JSON.stringify(line)} from ${label}`);
        const names = [...NAMES, ...FLAGS, '--help', '-h', '--version', '-v', ...argv.filter((a) => a.startsWith('-')).map((a) => JSON.stringify(a.split('=')[0]))];
        // An unknown flag or a stray argument is named by quoting what was typed.
        const quotesInput = /^lm-proxy: (unknown flag|unexpected argument) "/.test(line);
        expect(names.some((name) => line.includes(name)) || quotesInput, 'error-names-nothing', () => `${JSON.stringify(line)} from ${label}`);
        expect(line.length < 2000, 'error-too-long', () => `${line.length} characters from ${label}`);
      }
      return;
    }
    if (outcome.kind !== 'run') return;
    const c = outcome.config;
    const port = (p: number): boolean => Number.isSafeInteger(p) && p >= 0 && p <= 65_535;
    const ms = (v: number): boolean => Number.isSafeInteger(v) && v >= 0 && v <= 2_147_483_647;
    expect(port(c.listen.port) && (c.metrics === null || port(c.metrics.port)), 'bad-port', () => label);
    expect(c.upstream.port >= 1 && port(c.upstream.port), 'bad-port', () => label);
    expect(ms(c.upstreamTimeoutMs) && ms(c.shutdownGraceMs) && ms(c.upstreamIdleMs), 'bad-duration', () => label);
    expect(c.upstream.protocol === 'http:' || c.upstream.protocol === 'https:', 'bad-scheme', () => label);
    const href = new URL(c.upstream.href);
    expect(!c.upstream.basePath.endsWith('/') && href.username === '' && href.password === '' && href.search === '' && href.host === c.upstream.authority, 'bad-upstream', () => `${c.upstream.href} from ${label}`);
    expect(Object.keys(c.tags).length <= 16 && Object.isFrozen(c), 'bad-config', () => label);
  },
};
