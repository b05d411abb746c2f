// The proxy's log lines: `[LEVEL] message key=value…` text (SPEC §7), or one JSON
// object per line with `level`, `time`, `msg` and the event's fields. Info and
// usage go to stdout, warnings and errors to stderr. Lines are gathered and
// written once per turn of the event loop, so a busy proxy makes one write
// syscall per batch, not per line; flush() writes what is pending at once.
// It never sees a credential: callers pass only the fields meant to be logged.

import type { LogFormat } from '../config/config.ts';
import { isoTimeNow } from '../shared/iso-time.ts';

/** A flat value, or a flat map of strings (a record's tags, in the JSON form). */
export type FieldValue = string | number | boolean | null | Readonly<Record<string, string>>;
export type Fields = Readonly<Record<string, FieldValue>>;

export interface Logger {
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  /** `[USAGE] prompt_tokens=… completion_tokens=… total_tokens=…` then the other fields. */
  usage(fields: Fields): void;
  /** Writes every pending line now (before exit). */
  flush(): void;
}

export interface LineSink {
  write(text: string): unknown;
}

type Level = 'info' | 'warn' | 'error' | 'usage';

// The text form writes fields as key=value; a value that holds a space, a quote
// or an equals sign is JSON-quoted so the line stays splittable.
function textValue(value: FieldValue): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return JSON.stringify(JSON.stringify(value));
  if (typeof value !== 'string') return String(value);
  // Control bytes (an ESC from a hostile model name) are quoted too, so they are escaped.
  return value === '' || /[\s"=\x00-\x1f\x7f]/.test(value) ? JSON.stringify(value) : value;
}

// SPEC §4: a usage line starts exactly `[USAGE] prompt_tokens=… completion_tokens=…
// total_tokens=…`, whatever order the caller built its fields in.
const USAGE_FIRST: readonly string[] = ['prompt_tokens', 'completion_tokens', 'total_tokens'];

function startsWithUsageCounts(keys: readonly string[]): boolean {
  return keys[0] === USAGE_FIRST[0] && keys[1] === USAGE_FIRST[1] && keys[2] === USAGE_FIRST[2];
}

const TAGS: Readonly<Record<Level, string>> = { info: '[INFO]', warn: '[WARN]', error: '[ERROR]', usage: '[USAGE]' };

function textLine(level: Level, msg: string, fields: Fields | undefined): string {
  let line = TAGS[level];
  // A line break in a message (an error's text) would forge a second log line.
  if (msg !== '') line += ' ' + (msg.includes('\r') || msg.includes('\n') ? msg.replace(/\r/g, '\\r').replace(/\n/g, '\\n') : msg);
  if (fields !== undefined) {
    const keys = Object.keys(fields);
    // Reordered only when the caller did not already put the three counts first.
    const ordered = level === 'usage' && !startsWithUsageCounts(keys)
      ? [...USAGE_FIRST.filter((k) => k in fields), ...keys.filter((k) => !USAGE_FIRST.includes(k))]
      : keys;
    for (const key of ordered) line += ` ${key}=${textValue(fields[key] as FieldValue)}`;
  }
  return line + '\n';
}

function jsonLine(level: Level, msg: string, fields: Fields | undefined): string {
  return JSON.stringify({ level, time: isoTimeNow(), msg, ...fields }) + '\n';
}

export function createLogger(format: LogFormat, stdout: LineSink, stderr: LineSink): Logger {
  const render = format === 'json' ? jsonLine : textLine;
  let pendingOut = '';
  let pendingErr = '';
  let scheduled = false;

  function flush(): void {
    scheduled = false;
    if (pendingOut !== '') {
      const text = pendingOut;
      pendingOut = '';
      stdout.write(text);
    }
    if (pendingErr !== '') {
      const text = pendingErr;
      pendingErr = '';
      stderr.write(text);
    }
  }

  function emit(level: Level, msg: string, fields: Fields | undefined): void {
    const line = render(level, msg, fields);
    if (level === 'warn' || level === 'error') pendingErr += line;
    else pendingOut += line;
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  }

  return {
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    // SPEC §7: the text line starts exactly `[USAGE] prompt_tokens=`; the JSON event
    // carries the ledger's field names at the top level (SPEC §8).
    usage: (fields) => emit('usage', format === 'json' ? 'usage' : '', fields),
    flush,
  };
}
