import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LineSplitter, type LineSink } from '../../src/report/line-splitter.ts';
import { prng } from '../helpers/prng.ts';

interface Seen {
  readonly lines: string[];
  readonly last: string[];
  overlong: number;
}

function collect(): { sink: LineSink; seen: Seen } {
  const seen: Seen = { lines: [], last: [], overlong: 0 };
  const check = (bytes: Buffer, end: number): void => assert.equal(bytes[end], 0x0a, 'a line is handed over with its newline at its end');
  const sink: LineSink = {
    line(bytes, start, end) {
      check(bytes, end);
      seen.lines.push(bytes.toString('latin1', start, end));
    },
    lastLine(bytes, start, end) {
      check(bytes, end);
      seen.last.push(bytes.toString('latin1', start, end));
    },
    overlong() {
      seen.overlong++;
    },
  };
  return { sink, seen };
}

function split(chunks: readonly Buffer[], maxLineBytes?: number): Seen {
  const { sink, seen } = collect();
  const splitter = new LineSplitter(sink, maxLineBytes);
  for (const chunk of chunks) splitter.push(chunk);
  splitter.end();
  return seen;
}

function cutAt(text: Buffer, cuts: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let from = 0;
  for (const at of [...cuts, text.length]) {
    chunks.push(text.subarray(from, at));
    from = at;
  }
  return chunks;
}

describe('line splitter', () => {
  const text = Buffer.from('{"a":1}\n\n{"b":"zoë"}\r\n' + 'x'.repeat(40) + '\n{"cut":');

  test('hands over every line and the unfinished last one', () => {
    assert.deepEqual(split([text]), { lines: ['{"a":1}', '', '{"b":"zoë"}\r', 'x'.repeat(40)].map((s) => Buffer.from(s).toString('latin1')), last: ['{"cut":'], overlong: 0 });
  });

  test('the same bytes cut at every boundary, and at every pair of boundaries, give the same lines', () => {
    const whole = split([text]);
    for (let i = 0; i <= text.length; i++) {
      assert.deepEqual(split(cutAt(text, [i])), whole, `cut at ${i}`);
      for (let j = i; j <= text.length; j += 3) assert.deepEqual(split(cutAt(text, [i, j])), whole, `cut at ${i} and ${j}`);
    }
  });

  test('a chunk of one byte at a time gives the same lines, and so do random cuts', () => {
    const whole = split([text]);
    assert.deepEqual(split([...text].map((b) => Buffer.from([b]))), whole);
    const rand = prng(3);
    for (let k = 0; k < 200; k++) {
      const cuts = Array.from({ length: Math.floor(rand() * 8) }, () => Math.floor(rand() * text.length)).sort((a, b) => a - b);
      assert.deepEqual(split(cutAt(text, cuts)), whole, `cuts ${cuts.join(',')}`);
    }
  });

  test('a source ending with its newline has no last line', () => {
    assert.deepEqual(split([Buffer.from('a\nb\n')]), { lines: ['a', 'b'], last: [], overlong: 0 });
    assert.deepEqual(split([]), { lines: [], last: [], overlong: 0 });
  });

  test('a line over the cap is dropped as one overlong line, wherever the chunks cut it', () => {
    const long = Buffer.from(`ok\n${'y'.repeat(25)}\nafter\n${'z'.repeat(11)}`);
    const expected = { lines: ['ok', 'after'], last: [], overlong: 2 };
    for (let i = 0; i <= long.length; i++) assert.deepEqual(split(cutAt(long, [i]), 10), expected, `cut at ${i}`);
    // Exactly the cap is still a line.
    assert.deepEqual(split([Buffer.from(`${'w'.repeat(10)}\n${'v'.repeat(10)}`)], 10), { lines: ['w'.repeat(10)], last: ['v'.repeat(10)], overlong: 0 });
  });

  test('holds no more than the cap, however long a line without a newline runs', () => {
    const { sink, seen } = collect();
    const splitter = new LineSplitter(sink, 1000);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    for (let i = 0; i < 64; i++) splitter.push(chunk); // 4 MiB of one line
    splitter.push(Buffer.from('\nnext\n'));
    splitter.end();
    assert.deepEqual(seen, { lines: ['next'], last: [], overlong: 1 });
  });
});
