// `lm-proxy report` (SPEC §11), the I/O shell around report-engine.ts: reads the price file
// and the ledgers — plain or gzip, judged by their first bytes (1f 8b, RFC 1952 §2.3.1), not
// by their names; `-` or none is standard input; several are read as one — streamed through
// one reused buffer, then prints the report. Exit codes: 0 (skipped lines are counted on
// stderr), 1 a ledger that cannot be read (named; nothing is printed), 2 a bad option.

import type { FileHandle } from 'node:fs/promises';
import { open, readFile } from 'node:fs/promises';
import { Readable, pipeline } from 'node:stream';
import { constants as zlibConstants, createGunzip } from 'node:zlib';
import { parsePriceTable } from '../pricing/price-table.ts';
import { LineSplitter } from './line-splitter.ts';
import { createReportEngine } from './report-engine.ts';
import { reportText } from './report-formats.ts';
import { reportHelp } from './report-help.ts';
import { parseReportArgs, type ReportOptions } from './report-options.ts';
import { LEDGER_PRICING, tablePricer, type Pricing } from './report-pricing.ts';
import { createZoneClock } from './zone-clock.ts';

export { reportHelp };

export interface ReportIo {
  readonly stdin: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

const PREFIX = 'lm-proxy report';
const STDIN_NAME = 'standard input';
// 1 MiB reads: few enough system calls to keep up with the sniffer, small beside the heap.
const CHUNK_BYTES = 1024 * 1024;

class ReadFailure extends Error {
  readonly source: string;
  constructor(source: string, cause: unknown) {
    super(describe(cause));
    this.source = source;
  }
}

/** Runs `lm-proxy report` with `argv` (the arguments after `report`); resolves to the exit code. */
export async function runReport(argv: readonly string[], io: ReportIo): Promise<number> {
  const args = parseReportArgs(argv);
  if (args.kind === 'help') {
    await write(io.stdout, reportHelp());
    return 0;
  }
  if (args.kind === 'bad') {
    await write(io.stderr, `${args.message}\n`);
    return 2;
  }
  const options = args.options;
  const pricing = await loadPricing(options);
  if (typeof pricing === 'string') {
    await write(io.stderr, `${PREFIX}: ${pricing}\n`);
    return 2;
  }
  const clock = createZoneClock(options.tz)!; // parseReportArgs has checked the zone
  const engine = createReportEngine({ by: options.by, since: options.since, until: options.until, clock, pricing });

  const names = options.files.length === 0 ? ['-'] : options.files;
  const handles: (FileHandle | null)[] = [];
  try {
    // Every file is opened before any is read: a typo in the last name fails at once, not after
    // minutes spent on the first ones.
    for (const name of names) {
      try {
        handles.push(name === '-' ? null : await open(name, 'r'));
      } catch (error) {
        throw new ReadFailure(name, error);
      }
    }
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    for (let i = 0; i < names.length; i++) {
      const splitter = new LineSplitter(engine); // a source's last line never runs into the next one's first
      const handle = handles[i] ?? null;
      const name = handle === null ? STDIN_NAME : names[i]!;
      try {
        if (handle === null) await readStream(io.stdin, splitter);
        else await readFileHandle(handle, buffer, splitter);
      } catch (error) {
        throw new ReadFailure(name, error);
      }
      splitter.end();
    }
  } catch (error) {
    if (!(error instanceof ReadFailure)) throw error;
    await write(io.stderr, `${PREFIX}: cannot read ${JSON.stringify(error.source)}: ${error.message}\n`);
    return 1;
  } finally {
    await Promise.all(handles.map((handle) => handle?.close().catch(() => undefined)));
  }

  const result = engine.result();
  await writePieces(io.stdout, reportText(result, options.format, options.metric));
  if (result.skipped > 0) {
    const lines = result.skipped === 1 ? '1 line that is not a ledger record' : `${result.skipped} lines that are not ledger records`;
    await write(io.stderr, `${PREFIX}: skipped ${lines}\n`);
  }
  return 0;
}

async function loadPricing(options: ReportOptions): Promise<Pricing | string> {
  if (options.pricesFile === null) return LEDGER_PRICING;
  const flag = `--prices ${JSON.stringify(options.pricesFile)}`;
  let text: string;
  try {
    text = await readFile(options.pricesFile, 'utf8');
  } catch (error) {
    return `invalid ${flag}: cannot read it (${describe(error)})`;
  }
  const parsed = parsePriceTable(text);
  if (!parsed.ok) return `invalid ${flag}: expected a LiteLLM price file (${parsed.problem})`;
  return { mode: options.reprice ? 'reprice' : 'fill', price: tablePricer(parsed.table) };
}

/** A file read through `buffer` with positioned reads; a gzip file through a stream and gunzip. */
async function readFileHandle(handle: FileHandle, buffer: Buffer, splitter: LineSplitter): Promise<void> {
  let position = 0;
  let { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
  if (bytesRead >= 2 && isGzip(buffer)) {
    await pump(gunzipped(handle.createReadStream({ start: 0, autoClose: false, highWaterMark: CHUNK_BYTES })), splitter);
    return;
  }
  while (bytesRead > 0) {
    splitter.push(buffer.subarray(0, bytesRead));
    position += bytesRead;
    ({ bytesRead } = await handle.read(buffer, 0, buffer.length, position));
  }
}

/** Standard input, which cannot be read twice: its first bytes are held until the gzip check. */
async function readStream(stream: NodeJS.ReadableStream, splitter: LineSplitter): Promise<void> {
  const chunks = stream[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headBytes = 0;
  while (headBytes < 2) {
    const next = await chunks.next();
    if (next.done === true) break;
    const chunk = asBuffer(next.value);
    head.push(chunk);
    headBytes += chunk.length;
  }
  const first = Buffer.concat(head);
  async function* all(): AsyncGenerator<Buffer> {
    if (first.length > 0) yield first;
    for (let next = await chunks.next(); next.done !== true; next = await chunks.next()) yield asBuffer(next.value);
  }
  await pump(isGzip(first) ? gunzipped(Readable.from(all(), { objectMode: false })) : all(), splitter);
}

function gunzipped(source: NodeJS.ReadableStream): AsyncIterable<Buffer> {
  // Z_SYNC_FLUSH: a gzip file still being written (or cut short) gives what it holds so far
  // instead of "unexpected end of file"; its unfinished last line is then ignored like a plain one's.
  const gunzip = createGunzip({ finishFlush: zlibConstants.Z_SYNC_FLUSH });
  // pipeline destroys both streams on an error of either, so the loop over gunzip sees it.
  pipeline(source, gunzip, () => undefined);
  return gunzip;
}

async function pump(chunks: AsyncIterable<Buffer | string>, splitter: LineSplitter): Promise<void> {
  for await (const chunk of chunks) splitter.push(asBuffer(chunk));
}

function isGzip(bytes: Buffer): boolean {
  return bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function asBuffer(chunk: Buffer | string | Uint8Array): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  return typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

const PLAIN_WORDS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
  EPERM: 'operation not permitted',
};

function describe(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (typeof code === 'string' && code in PLAIN_WORDS) return `${code} (${PLAIN_WORDS[code]})`;
  const message = error instanceof Error ? error.message : String(error);
  return typeof code === 'string' && !message.includes(code) ? `${code} (${message})` : message;
}

// Output is written in batches of about this many characters, each awaited: a report of many
// groups never sits in memory as one string, and a slow reader (a pager) holds the report back.
const OUTPUT_BATCH = 64 * 1024;

/** Writes the pieces in batches, and stops when the reader has gone (`report | head`). */
async function writePieces(stream: NodeJS.WritableStream, pieces: Iterable<string>): Promise<void> {
  let batch = '';
  for (const piece of pieces) {
    batch += piece;
    if (batch.length >= OUTPUT_BATCH) {
      if (!(await write(stream, batch))) return;
      batch = '';
    }
  }
  if (batch !== '') await write(stream, batch);
}

// A reader that goes away (EPIPE) ends the writing quietly, as it does for other command-line
// tools, instead of an unhandled 'error' event; the listener stays on the stream, because a
// stream may report the error after the failed write's callback.
const guarded = new WeakSet<NodeJS.WritableStream>();

/** Writes and waits until the text is handed to the OS; false when the stream has failed. */
function write(stream: NodeJS.WritableStream, text: string): Promise<boolean> {
  if (!guarded.has(stream)) {
    guarded.add(stream);
    stream.on('error', () => undefined);
  }
  return new Promise((resolve) => {
    stream.write(text, (error) => resolve(error === null || error === undefined));
  });
}
