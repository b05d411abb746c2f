// Configuration: environment variables and command-line flags → one frozen,
// typed Config, or a list of one-line errors naming the variable or flag, the
// value and what was expected (SPEC §2 and §8 "Configuration"). A flag wins over
// its variable. Pure: it reads only the argv and env it is given.

import { parseArgs } from 'node:util';
import { parseTagsSetting, type Tags } from '../shared/tags.ts';

export interface ListenAddress {
  /** undefined: all interfaces, as Node's default (`::` dual-stack, else 0.0.0.0). */
  readonly host: string | undefined;
  readonly port: number;
}

export interface Upstream {
  readonly protocol: 'http:' | 'https:';
  /** Host name or IP literal without brackets, for connecting and for TLS SNI. */
  readonly hostname: string;
  readonly port: number;
  /** The authority as sent in `Host`: the default port is left out (RFC 9110 §7.2). */
  readonly authority: string;
  /** The base path without a trailing slash: '' or '/v1'. */
  readonly basePath: string;
  /** The URL as configured, normalised (no trailing slash), for logs. */
  readonly href: string;
}

export type LogFormat = 'text' | 'json';

export interface Config {
  readonly upstream: Upstream;
  readonly listen: ListenAddress;
  readonly usageLog: string | null;
  readonly logFormat: LogFormat;
  readonly metrics: ListenAddress | null;
  readonly injectStreamUsage: boolean;
  readonly upstreamTimeoutMs: number;
  readonly shutdownGraceMs: number;
  readonly accessLog: boolean;
  readonly trackUsage: boolean;
  /** Longest time an idle upstream connection is kept for reuse (SPEC §8). */
  readonly upstreamIdleMs: number;
  /** The price table's path (SPEC §9): the command line reads it, this module only names it. */
  readonly pricesFile: string | null;
  /** Tags on every usage record (SPEC §10). */
  readonly tags: Tags;
}

export type ConfigOutcome =
  | { readonly kind: 'run'; readonly config: Config }
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'error'; readonly errors: readonly string[]; readonly logFormat: LogFormat };

interface Setting {
  readonly env: string;
  readonly flag: string;
  readonly default: string;
  readonly meaning: string;
}

/** The one table that `--help` prints and the README shows (a test keeps them equal). */
export const SETTINGS: readonly Setting[] = [
  { env: 'UPSTREAM_URL', flag: '--upstream', default: 'https://api.openai.com/v1', meaning: 'base URL that requests are forwarded to (http or https)' },
  { env: 'LISTEN_ADDR', flag: '--listen', default: '0.0.0.0:3000', meaning: '`host:port`, `[ipv6]:port`, `:port` or `port`' },
  { env: 'USAGE_LOG', flag: '--usage-log', default: 'none', meaning: 'append one JSON line per response with usage to this file (the ledger)' },
  { env: 'LOG_FORMAT', flag: '--log-format', default: 'text', meaning: '`text` or `json` (one JSON object per line)' },
  { env: 'METRICS_ADDR', flag: '--metrics', default: 'none (off)', meaning: 'admin listener serving `GET /metrics`, `/healthz`, `/readyz` and the dashboard (`/`)' },
  { env: 'INJECT_STREAM_USAGE', flag: '--inject-stream-usage', default: 'true', meaning: 'ask OpenAI-style streams for usage and hide the added usage chunk' },
  { env: 'UPSTREAM_TIMEOUT_MS', flag: '--upstream-timeout', default: '600000', meaning: 'longest wait for the upstream\'s response headers, then 504 (`0`: no limit)' },
  { env: 'SHUTDOWN_GRACE_MS', flag: '--shutdown-grace', default: '30000', meaning: 'on SIGTERM/SIGINT: stop accepting, let requests in flight finish this long, then exit' },
  { env: 'UPSTREAM_IDLE_MS', flag: '--upstream-idle', default: '60000', meaning: 'longest time an idle upstream connection is kept for reuse (shorter where the upstream says so)' },
  { env: 'PRICES_FILE', flag: '--prices', default: 'none', meaning: 'a LiteLLM-format price table; responses are then priced in USD (`SIGHUP` reads it again)' },
  { env: 'TAGS', flag: '--tags', default: 'none', meaning: 'tags added to every usage record, `name=value,name=value`' },
  { env: 'ACCESS_LOG', flag: '--access-log', default: 'true', meaning: 'one log line per request: method, path, status, duration, bytes' },
  { env: 'TRACK_USAGE', flag: '--track-usage', default: 'true', meaning: 'read token usage from responses (`false` makes a plain proxy)' },
];

export function renderSettingsTable(): string {
  const rows = SETTINGS.map((s) => `| \`${s.env}\` | \`${s.flag}\` | \`${s.default}\` | ${s.meaning} |`);
  return ['| variable | flag | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

export function renderHelp(version: string): string {
  return [
    `lm-proxy ${version} — a usage-tracking reverse proxy for OpenAI-compatible APIs`,
    '',
    'Usage: lm-proxy [--flag value | --flag=value]...',
    '       lm-proxy report [options] [FILE ...]   (totals from ledgers: lm-proxy report --help)',
    '',
    'Each setting is an environment variable or a flag; the flag wins.',
    '',
    renderSettingsTable(),
    '',
    'Booleans: true/false, 1/0, yes/no, on/off. Durations: whole milliseconds.',
    '  -h, --help     print this help',
    '  -v, --version  print the version',
    '',
  ].join('\n');
}

const BOOLEAN_WORDS: ReadonlyMap<string, boolean> = new Map([
  ['true', true], ['1', true], ['yes', true], ['on', true],
  ['false', false], ['0', false], ['no', false], ['off', false],
]);

// setTimeout() cannot wait longer than 2^31-1 ms (about 24.8 days). SPEC §8 takes any
// whole number of milliseconds, so a longer one means the longest wait Node has.
const MAX_DURATION_MS = 2_147_483_647;

type Parse<T> = { ok: true; value: T } | { ok: false; expected: string };

function parseBoolean(raw: string): Parse<boolean> {
  const value = BOOLEAN_WORDS.get(raw.trim().toLowerCase());
  return value === undefined
    ? { ok: false, expected: 'a boolean (true, false, 1, 0, yes, no, on, off)' }
    : { ok: true, value };
}

function parseDuration(raw: string): Parse<number> {
  if (!/^[0-9]+$/.test(raw)) return { ok: false, expected: 'a whole number of milliseconds (0 or more)' };
  return { ok: true, value: Math.min(Number(raw), MAX_DURATION_MS) };
}

function parseLogFormat(raw: string): Parse<LogFormat> {
  return raw === 'text' || raw === 'json' ? { ok: true, value: raw } : { ok: false, expected: '`text` or `json`' };
}

function parsePort(raw: string): number | null {
  if (!/^[0-9]{1,5}$/.test(raw)) return null;
  const port = Number(raw);
  return port <= 65_535 ? port : null;
}

// WHATWG URL parsing validates IPv6 literals; it keeps this module free of node:net.
function isIpv6Literal(text: string): boolean {
  if (!text.includes(':')) return false;
  try {
    return new URL(`http://[${text}]/`).hostname !== '';
  } catch {
    return false;
  }
}

export function parseListenAddress(raw: string): Parse<ListenAddress> {
  const expected = '`host:port`, `[ipv6]:port`, `:port` or `port`, with a port from 0 to 65535';
  let host: string | undefined;
  let portText: string;
  if (raw.startsWith('[')) {
    const close = raw.indexOf(']');
    if (close < 0 || raw[close + 1] !== ':') return { ok: false, expected };
    host = raw.slice(1, close);
    if (!isIpv6Literal(host)) return { ok: false, expected };
    portText = raw.slice(close + 2);
  } else {
    const colon = raw.lastIndexOf(':');
    if (colon < 0) {
      portText = raw;
    } else {
      host = raw.slice(0, colon) || undefined;
      portText = raw.slice(colon + 1);
      // An IPv6 literal must be bracketed, or its colons are ambiguous with the port's.
      if (host !== undefined && host.includes(':')) return { ok: false, expected };
    }
  }
  const port = parsePort(portText);
  if (port === null) return { ok: false, expected };
  if (host !== undefined && !/^[A-Za-z0-9.\-:%]+$/.test(host)) return { ok: false, expected };
  return { ok: true, value: { host, port } };
}

// Userinfo is any `@` before the end of the authority; WHATWG URL parsing drops an empty
// one (`http://@h/`, `http://:@h/`), so the text is looked at too.
const USERINFO = /^\s*[A-Za-z][A-Za-z0-9+.-]*:[/\\]*[^/\\?#]*@/;

export function parseUpstream(raw: string): Parse<Upstream> {
  const expected = 'an http:// or https:// URL';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, expected };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, expected };
  if (url.hostname === '') return { ok: false, expected };
  // `new URL` drops an empty `?` or `#`, so look at the text as well (SPEC §8).
  if (url.search !== '' || url.hash !== '' || raw.includes('?') || raw.includes('#')) {
    return { ok: false, expected: 'a base URL without query or fragment' };
  }
  if (url.username !== '' || url.password !== '' || USERINFO.test(raw)) {
    return { ok: false, expected: 'a base URL without credentials (clients send their own keys)' };
  }
  // Port 0 parses but can never be connected to: better said at start-up than on every request.
  if (url.port === '0') return { ok: false, expected: 'a port from 1 to 65535' };
  const basePath = url.pathname.replace(/\/+$/, '');
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  return {
    ok: true,
    value: {
      protocol: url.protocol,
      hostname,
      port,
      authority: url.host,
      basePath,
      href: `${url.protocol}//${url.host}${basePath}`,
    },
  };
}

function parseOptionalPath(raw: string): Parse<string | null> {
  return raw === '' ? { ok: true, value: null } : { ok: true, value: raw };
}

function parseTags(raw: string): Parse<Tags> {
  const result = parseTagsSetting(raw);
  return result.ok ? { ok: true, value: result.tags } : { ok: false, expected: `name=value pairs separated by commas: ${result.message}` };
}

function parseOptionalListen(raw: string): Parse<ListenAddress | null> {
  return raw === '' ? { ok: true, value: null } : parseListenAddress(raw);
}

type Env = Readonly<Record<string, string | undefined>>;

const FLAG_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  upstream: { type: 'string' },
  listen: { type: 'string' },
  'usage-log': { type: 'string' },
  'log-format': { type: 'string' },
  metrics: { type: 'string' },
  'inject-stream-usage': { type: 'string' },
  'upstream-timeout': { type: 'string' },
  'shutdown-grace': { type: 'string' },
  'access-log': { type: 'string' },
  'track-usage': { type: 'string' },
  'upstream-idle': { type: 'string' },
  prices: { type: 'string' },
  tags: { type: 'string' },
} as const;

function quote(value: string): string {
  return JSON.stringify(value);
}

type Flags = Partial<Record<keyof typeof FLAG_OPTIONS, string | true>>;

// parseArgs' strict mode stops at the first problem and refuses `--upstream-timeout -1`
// as "ambiguous" without naming the value, so argv is split leniently and judged here:
// every problem gets its own line naming the flag and the value (SPEC §2).
function readFlags(argv: readonly string[], errors: string[]): Flags {
  const { tokens } = parseArgs({ args: [...argv], options: FLAG_OPTIONS, strict: false, allowPositionals: true, tokens: true });
  const flags: Flags = {};
  // The argument right after an unknown `--flag` is taken as its value: one mistake, one line.
  let valueOfUnknownAt = -1;
  for (const token of tokens) {
    if (token.kind === 'positional' && token.index === valueOfUnknownAt) continue;
    if (token.kind === 'positional') {
      errors.push(`lm-proxy: unexpected argument ${quote(token.value)}: expected --flag value or --flag=value (see --help)`);
    } else if (token.kind === 'option') {
      const name = token.name as keyof typeof FLAG_OPTIONS;
      if (!Object.hasOwn(FLAG_OPTIONS, name)) {
        errors.push(`lm-proxy: unknown flag ${quote(token.rawName)}: expected one of the flags that --help lists`);
        if (token.value === undefined) valueOfUnknownAt = token.index + 1;
      } else if (FLAG_OPTIONS[name].type === 'boolean' && token.value !== undefined) {
        errors.push(`lm-proxy: invalid ${token.rawName} ${quote(token.value)}: expected no value`);
      } else if (FLAG_OPTIONS[name].type === 'string' && token.value === undefined) {
        errors.push(`lm-proxy: missing value for ${token.rawName}: expected ${token.rawName} value or ${token.rawName}=value`);
      } else {
        flags[name] = token.value ?? true;
      }
    }
  }
  return flags;
}

export function parseConfig(argv: readonly string[], env: Env): ConfigOutcome {
  const errors: string[] = [];
  const flags = readFlags(argv, errors);
  if (errors.length === 0 && flags.help === true) return { kind: 'help' };
  if (errors.length === 0 && flags.version === true) return { kind: 'version' };
  // The settings are read even after a bad flag: every bad value gets its line, and the
  // errors come out in the log format asked for (SPEC §8: in json every stderr line is JSON).

  function read<T>(envName: string, flag: keyof typeof FLAG_OPTIONS, fallback: string, parse: (raw: string) => Parse<T>): T | undefined {
    const fromFlag = flags[flag];
    const fromEnv = env[envName];
    const [source, raw] =
      typeof fromFlag === 'string' ? [`--${flag}`, fromFlag] : fromEnv !== undefined ? [envName, fromEnv] : [null, fallback];
    const result = parse(raw);
    if (result.ok) return result.value;
    errors.push(`lm-proxy: invalid ${source ?? envName} ${quote(raw)}: expected ${result.expected}`);
    return undefined;
  }

  const logFormat = read('LOG_FORMAT', 'log-format', 'text', parseLogFormat);
  const upstream = read('UPSTREAM_URL', 'upstream', 'https://api.openai.com/v1', parseUpstream);
  const listen = read('LISTEN_ADDR', 'listen', '0.0.0.0:3000', parseListenAddress);
  const usageLog = read('USAGE_LOG', 'usage-log', '', parseOptionalPath);
  const metrics = read('METRICS_ADDR', 'metrics', '', parseOptionalListen);
  const injectStreamUsage = read('INJECT_STREAM_USAGE', 'inject-stream-usage', 'true', parseBoolean);
  const upstreamTimeoutMs = read('UPSTREAM_TIMEOUT_MS', 'upstream-timeout', '600000', parseDuration);
  const shutdownGraceMs = read('SHUTDOWN_GRACE_MS', 'shutdown-grace', '30000', parseDuration);
  const accessLog = read('ACCESS_LOG', 'access-log', 'true', parseBoolean);
  const trackUsage = read('TRACK_USAGE', 'track-usage', 'true', parseBoolean);
  const upstreamIdleMs = read('UPSTREAM_IDLE_MS', 'upstream-idle', '60000', parseDuration);
  const pricesFile = read('PRICES_FILE', 'prices', '', parseOptionalPath);
  const tags = read('TAGS', 'tags', '', parseTags);

  if (
    errors.length > 0 ||
    logFormat === undefined || upstream === undefined || listen === undefined || usageLog === undefined ||
    metrics === undefined || injectStreamUsage === undefined || upstreamTimeoutMs === undefined ||
    shutdownGraceMs === undefined || accessLog === undefined || trackUsage === undefined ||
    upstreamIdleMs === undefined || pricesFile === undefined || tags === undefined
  ) {
    return { kind: 'error', errors, logFormat: logFormat ?? 'text' };
  }
  return {
    kind: 'run',
    config: Object.freeze({
      upstream, listen, usageLog, logFormat, metrics, injectStreamUsage,
      upstreamTimeoutMs, shutdownGraceMs, accessLog, trackUsage, upstreamIdleMs, pricesFile, tags,
    }),
  };
}

export function formatListenAddress(address: ListenAddress): string {
  if (address.host === undefined) return `:${address.port}`;
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
