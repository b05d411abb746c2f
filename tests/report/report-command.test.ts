import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { runReport } from '../../src/report/report-command.ts';
import { reportHelp } from '../../src/report/report-help.ts';
import { prng } from '../helpers/prng.ts';
import { ledgerLine, randomLedgerLine } from './ledger-lines.ts';

const dir = mkdtempSync(join(tmpdir(), 'lm-proxy-report-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function sink(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

async function run(argv: readonly string[], stdin: readonly Buffer[] = []): Promise<Run> {
  const out = sink();
  const err = sink();
  const code = await runReport(argv, { stdin: Readable.from(stdin), stdout: out.stream, stderr: err.stream });
  return { code, stdout: out.text(), stderr: err.text() };
}

function json(r: Run): { groups: Record<string, unknown>[]; total: Record<string, number> } {
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { groups: Record<string, unknown>[]; total: Record<string, number> };
}

const A = ledgerLine({ time: '2026-03-01T10:00:00.000Z', model: 'a', prompt_tokens: 1, completion_tokens: 0 });
const B = ledgerLine({ time: '2026-03-01T11:00:00.000Z', model: 'b', prompt_tokens: 10, completion_tokens: 0 });
const C = ledgerLine({ time: '2026-03-02T11:00:00.000Z', model: 'a', prompt_tokens: 100, completion_tokens: 0 });
const LEDGER = `${A}\n${B}\n${C}\n`;

const rand = prng(99);
const BIG = Array.from({ length: 12_000 }, () => randomLedgerLine(rand)).join('\n') + '\n'; // about 5 MB: several 1 MiB reads

describe('report command', () => {
  test('prints the report of a file as a table, exit 0, nothing on stderr', async () => {
    const r = await run([file('one.jsonl', LEDGER)]);
    assert.deepEqual([r.code, r.stderr], [0, '']);
    assert.match(r.stdout, /^day +model +requests/);
    assert.match(r.stdout, /\ntotal +3 +111 /);
  });

  test('reads gzip by its first bytes, not by its name', async () => {
    const plain = json(await run(['--format', 'json', file('big.jsonl', BIG)]));
    const gzipNamedPlain = json(await run(['--format', 'json', file('gzip-inside.jsonl', gzipSync(BIG))]));
    const plainNamedGzip = json(await run(['--format', 'json', file('plain-inside.jsonl.gz', BIG)]));
    assert.deepEqual(gzipNamedPlain, plain);
    assert.deepEqual(plainNamedGzip, plain);
    assert.equal(plain.total.requests, 12_000);
  });

  test('reads several files as one, and a file’s unfinished last line never runs into the next file', async () => {
    const first = file('first.jsonl', `${A}\n${B.slice(0, 30)}`);
    const second = file('second.jsonl.gz', gzipSync(`${C}\n`));
    const r = json(await run(['--format', 'json', '--by', 'model', first, second]));
    assert.deepEqual(r.groups.map((g) => [g.model, g.requests]), [['a', 2]]);
    assert.equal(r.total.total_tokens, 101);
  });

  test('reads standard input when there is no file, and where `-` stands among files', async () => {
    const fromStdin = json(await run(['--format', 'json', '--by', 'model'], [Buffer.from(LEDGER)]));
    assert.equal(fromStdin.total.requests, 3);
    const mixed = json(await run(['--format', 'json', '--by', 'model', file('a.jsonl', `${A}\n`), '-'], [Buffer.from(`${B}\n`)]));
    assert.equal(mixed.total.total_tokens, 11);
  });

  test('reads gzip on standard input, even when it arrives a byte at a time', async () => {
    const expected = json(await run(['--format', 'json', file('again.jsonl', BIG)]));
    const zipped = gzipSync(BIG);
    assert.deepEqual(json(await run(['--format', 'json'], [zipped])), expected);
    const bytes = [...zipped.subarray(0, 64)].map((b) => Buffer.from([b]));
    assert.deepEqual(json(await run(['--format', 'json'], [...bytes, zipped.subarray(64)])), expected);
  });

  test('skips and counts lines that are not records: one line on stderr, exit 0', async () => {
    const r = await run(['--format', 'csv', file('bad.jsonl', `${A}\nnot json\n\n{"no":"time"}\n${B}\n`)]);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, 'lm-proxy report: skipped 2 lines that are not ledger records\n');
    assert.equal(r.stdout.split('\r\n').length - 2, 2, 'two groups');
  });

  test('an unfinished last line (a ledger still being written) is ignored quietly, plain or gzip', async () => {
    const cut = `${LEDGER}${A.slice(0, 50)}`;
    const plain = await run(['--format', 'json', file('cut.jsonl', cut)]);
    assert.deepEqual([plain.code, plain.stderr], [0, '']);
    assert.equal(json(plain).total.requests, 3);
    // A gzip file cut short, as while the compressor is still writing it.
    const zipped = gzipSync(BIG);
    const short = await run(['--format', 'json', file('cut.jsonl.gz', zipped.subarray(0, Math.floor(zipped.length / 2)))]);
    assert.deepEqual([short.code, short.stderr], [0, '']);
    const requests = json(short).total.requests!;
    assert.ok(requests > 1000 && requests < 12_000, `${requests} records from half a gzip file`);
  });

  test('a file that cannot be read exits 1 naming it, and prints no report', async () => {
    const good = file('good.jsonl', LEDGER);
    const missing = join(dir, 'missing.jsonl');
    const r = await run([good, missing]);
    assert.deepEqual([r.code, r.stdout], [1, '']);
    assert.equal(r.stderr, `lm-proxy report: cannot read ${JSON.stringify(missing)}: ENOENT (no such file)\n`);
    const folder = join(dir, 'a-folder');
    mkdirSync(folder);
    const d = await run([folder]);
    assert.deepEqual([d.code, d.stdout], [1, '']);
    assert.match(d.stderr, /cannot read ".*a-folder": EISDIR/);
    const corrupt = Buffer.concat([gzipSync(LEDGER).subarray(0, 10), Buffer.from('this is not deflate data at all, not at all')]);
    const z = await run([file('corrupt.gz', corrupt)]);
    assert.deepEqual([z.code, z.stdout], [1, '']);
    assert.match(z.stderr, /cannot read ".*corrupt\.gz": /);
  });

  test('a bad option exits 2 with one line naming it, and reads nothing', async () => {
    const r = await run(['--tz', 'Nowhere/Special', join(dir, 'missing.jsonl')]);
    assert.deepEqual([r.code, r.stdout], [2, '']);
    assert.equal(r.stderr.split('\n').length, 2);
    assert.match(r.stderr, /--tz "Nowhere\/Special"/);
  });

  test('--prices fills in costs from a LiteLLM price file; an unreadable or bad one exits 2 naming it', async () => {
    const prices = fileURLToPath(new URL('../fixtures/prices/litellm-model-prices-2025-09.json', import.meta.url));
    const unpriced = file('unpriced.jsonl', `${ledgerLine({ model: 'gpt-4o', prompt_tokens: 1000, completion_tokens: 0, cost: null })}\n`);
    const r = json(await run(['--format', 'json', '--prices', prices, unpriced]));
    assert.equal(r.total.cost, 0.0025);
    assert.equal(r.total.unpriced, 0);
    const missing = await run(['--prices', join(dir, 'nope.json'), unpriced]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^lm-proxy report: invalid --prices ".*nope\.json": cannot read it \(ENOENT/);
    const bad = await run(['--prices', file('bad-prices.json', '[1,2,3]'), unpriced]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /invalid --prices ".*bad-prices\.json": expected a LiteLLM price file \(not a JSON object\)/);
  });

  test('a reader that goes away (report | head) ends the output quietly, exit 0', async () => {
    let writes = 0;
    const gone = new Writable({
      write(_chunk, _encoding, done) {
        writes++;
        const error = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
        done(error);
      },
    });
    const err = sink();
    const code = await runReport(['--by', 'key,user', '--format', 'csv', file('many.jsonl', BIG)], { stdin: Readable.from([]), stdout: gone, stderr: err.stream });
    assert.equal(code, 0);
    assert.equal(writes, 1, 'no more writes after the first failed');
  });

  test('--help prints the help, exit 0', async () => {
    const r = await run(['--help']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, reportHelp(), '']);
    for (const option of ['--by', '--since', '--until', '--tz', '--prices', '--reprice', '--format', '--metric']) assert.ok(r.stdout.includes(option), option);
  });

  test('as a process: reads a pipe on standard input and sets the exit status', async () => {
    const script = fileURLToPath(new URL('./report-cli.ts', import.meta.url));
    const spawned = (argv: readonly string[], input: Buffer): Promise<Run> =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', script, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
        child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
        child.stdin.end(input);
      });
    const ok = await spawned(['--format', 'csv', '--by', 'model'], gzipSync(`${LEDGER}junk\n`));
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.split('\r\n')[0], 'model,requests,prompt_tokens,completion_tokens,total_tokens,cached_tokens,reasoning_tokens,cost,unpriced,incomplete');
    assert.match(ok.stdout, /\r\na,2,101,0,101,/);
    assert.equal(ok.stderr, 'lm-proxy report: skipped 1 line that is not a ledger record\n');
    const bad = await spawned(['--format', 'yaml'], Buffer.alloc(0));
    assert.deepEqual([bad.code, bad.stdout], [2, '']);
    assert.match(bad.stderr, /^lm-proxy report: invalid --format "yaml"/);
  });
});
