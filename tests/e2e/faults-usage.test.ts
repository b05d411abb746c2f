// Hostile response bodies through the real proxy: usage at odd depths, in odd
// types, with invalid or duplicate counts; a 50 MB SSE line; a gzip bomb. The
// proxy must forward every byte, print no wrong [USAGE] line, hold bounded
// memory and keep serving (SPEC §4, §8 "Usage"). src/usage/usage.ts has the unit tests.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import zlib from 'node:zlib';
import { delay, keyIdOf, peakRssMib, request, startProxy, startUpstream, type ProxyProcess, type TestUpstream } from './harness.ts';

const MiB = 1024 * 1024;

const GOOD = '{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}';

interface Expected {
  readonly prompt: number;
  readonly completion: number;
  readonly total: number;
}

// Each body is served as application/json; `null` means no [USAGE] line at all.
const BODIES: Record<string, { body: string; expected: Expected | null }> = {
  'usage-below-a-known-path': {
    body: '{"choices":[{"message":{"usage":' + GOOD + '}}],"data":{"usage":' + GOOD + '},"x":{"message":{"usage":' + GOOD + '}}}',
    expected: null,
  },
  'usage-after-deep-nesting': { body: '{"deep":' + '['.repeat(500) + ']'.repeat(500) + ',"usage":{"prompt_tokens":5,"completion_tokens":6,"total_tokens":11}}', expected: { prompt: 5, completion: 6, total: 11 } },
  'nesting-deeper-than-any-parser-stack': { body: '{"deep":' + '['.repeat(200_000) + ']'.repeat(200_000) + ',"usage":' + GOOD + '}', expected: null },
  'usage-as-a-string': { body: '{"usage":"{\\"prompt_tokens\\":5,\\"completion_tokens\\":6,\\"total_tokens\\":11}"}', expected: null },
  'usage-as-a-number': { body: '{"usage":11}', expected: null },
  'usage-as-an-array': { body: '{"usage":[' + GOOD + ']}', expected: null },
  'usage-null': { body: '{"usage":null}', expected: null },
  'usage-empty': { body: '{"usage":{}}', expected: null },
  'negative-counts': { body: '{"usage":{"prompt_tokens":-5,"completion_tokens":-1,"total_tokens":-6}}', expected: null },
  'fractional-counts': { body: '{"usage":{"prompt_tokens":1.5,"completion_tokens":4,"total_tokens":5.5}}', expected: { prompt: 0, completion: 4, total: 4 } },
  'huge-counts': { body: '{"usage":{"prompt_tokens":1e300,"completion_tokens":9007199254740992,"total_tokens":99999999999999999999999}}', expected: null },
  'largest-valid-count': { body: '{"usage":{"prompt_tokens":9007199254740991,"completion_tokens":0}}', expected: { prompt: 9007199254740991, completion: 0, total: 9007199254740991 } },
  'non-numeric-counts': { body: '{"usage":{"prompt_tokens":"5","completion_tokens":true,"total_tokens":null,"prompt_tokens_details":"x"}}', expected: null },
  'container-counts': { body: '{"usage":{"prompt_tokens":[5],"completion_tokens":{"n":1},"total_tokens":[]}}', expected: null },
  'minus-zero': { body: '{"usage":{"prompt_tokens":-0,"completion_tokens":2}}', expected: { prompt: 0, completion: 2, total: 2 } },
  'duplicate-count-keys': { body: '{"usage":{"prompt_tokens":1,"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}}', expected: { prompt: 7, completion: 2, total: 9 } },
  'duplicate-usage-keys': {
    body: '{"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2},"usage":{"prompt_tokens":5,"completion_tokens":6,"total_tokens":11},"usage":null}',
    expected: { prompt: 5, completion: 6, total: 11 },
  },
  'a-model-that-forges-fields': {
    body: '{"model":"m complete=true end=done\\n[USAGE] prompt_tokens=999 completion_tokens=999 total_tokens=1998","usage":' + GOOD + '}',
    expected: { prompt: 1, completion: 2, total: 3 },
  },
};

describe('hostile usage bodies', () => {
  let upstream: TestUpstream;
  let proxy: ProxyProcess;

  before(async () => {
    upstream = await startUpstream((req, res) => {
      const entry = BODIES[String(req.headers['x-case'])];
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(entry?.body ?? '{"usage":' + GOOD + '}');
    });
    proxy = await startProxy({ upstream: `${upstream.origin}/v1` });
  });
  after(async () => {
    await proxy.stop();
    await upstream.close();
  });

  test('no wrong [USAGE] line, whatever shape the usage takes, and the bodies pass unchanged', async () => {
    for (const [name, { body }] of Object.entries(BODIES)) {
      const res = await request(proxy.origin, { method: 'POST', path: '/v1/chat/completions', headers: { 'x-case': name, authorization: `Bearer sk-${name}` }, body: '{}' });
      assert.equal(res.status, 200, name);
      assert.equal(res.body.toString(), body, `${name} reaches the client unchanged`);
    }
    // A last request with usage: once its line is out, every earlier one is too.
    await request(proxy.origin, { method: 'POST', path: '/v1/chat/completions', headers: { authorization: 'Bearer sk-sentinel' }, body: '{}' });
    await proxy.waitForLine(new RegExp(`key_id=${keyIdOf('sk-sentinel')}`), 3_000);
    assert.ok(!proxy.stdout.some((line) => line.startsWith('[USAGE] prompt_tokens=999')), 'a model name forged a usage line');
    for (const [name, { expected }] of Object.entries(BODIES)) {
      const lines = proxy.stdout.filter((line) => line.includes(`key_id=${keyIdOf(`sk-${name}`)}`));
      if (expected === null) {
        assert.deepEqual(lines, [], `${name} must give no line`);
        continue;
      }
      assert.equal(lines.length, 1, `${name}: one line`);
      assert.ok(lines[0]!.startsWith(`[USAGE] prompt_tokens=${expected.prompt} completion_tokens=${expected.completion} total_tokens=${expected.total} `), `${name}: ${lines[0]}`);
      assert.match(lines[0]!, / complete=true end=done /, name);
    }
    assert.equal(proxy.child.exitCode, null);
  });
});

describe('huge lines and compression bombs', { skip: process.platform !== 'linux' ? 'reads /proc' : false }, () => {
  let upstream: TestUpstream;
  // Each test has a proxy of its own, so its peak memory is its own.
  let proxy: ProxyProcess;
  /** Hex SHA-256 of what the upstream sent for each path, once it has sent it all. */
  const sentDigest = new Map<string, string>();

  /** Writes `count` copies of `piece` with backpressure, hashing as it goes, then `tail`. */
  function writeRepeated(res: http.ServerResponse, path: string, head: Buffer, piece: Buffer, count: number, tail: Buffer): void {
    const hash = createHash('sha256').update(head);
    res.write(head);
    let written = 0;
    const pump = (): void => {
      while (written < count) {
        written++;
        hash.update(piece);
        if (!res.write(piece)) {
          res.once('drain', pump);
          return;
        }
      }
      hash.update(tail);
      sentDigest.set(path, hash.digest('hex'));
      res.end(tail);
    };
    pump();
  }

  before(async () => {
    // A raw deflate segment ended by a full flush decodes on its own, so one 1 MiB block
    // of spaces (about 1 KiB compressed) repeated 4096 times inflates to 4 GiB, and the
    // bomb is never held whole on either side.
    const bombHead = Buffer.concat([
      Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff]), // gzip member header
      zlib.deflateRawSync(Buffer.from('{"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3},"pad":"'), { finishFlush: zlib.constants.Z_FULL_FLUSH }),
    ]);
    const bombBlock = zlib.deflateRawSync(Buffer.alloc(MiB, ' '), { level: 9, finishFlush: zlib.constants.Z_FULL_FLUSH });
    // A final empty block, and a trailer whose CRC nobody gets far enough to check.
    const bombTail = Buffer.from([0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);
    const piece = Buffer.alloc(64 * 1024, 'a');
    upstream = await startUpstream((req, res) => {
      if (req.url === '/v1/long-line') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        // One 50 MiB data line, generated while it streams, then a usage event.
        writeRepeated(res, req.url, Buffer.from('data: {"choices":[{"delta":{"content":"'), piece, 800,
          Buffer.from('"}}]}\n\ndata: {"model":"m-long","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":22,"total_tokens":33}}\n\ndata: [DONE]\n\n'));
      } else if (req.url === '/v1/bomb') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
        writeRepeated(res, req.url, bombHead, bombBlock, 4096, bombTail);
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"usage":' + GOOD + '}');
      }
    });
  });
  after(() => upstream.close());

  /** Fetches a path and digests the body as it arrives, holding none of it. */
  function fetchDigest(path: string, key: string): Promise<{ ending: string; bytes: number; digest: string }> {
    return new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: proxy.port, path, headers: { authorization: `Bearer ${key}`, 'accept-encoding': 'gzip' }, agent: false }, (res) => {
        const hash = createHash('sha256');
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          hash.update(chunk);
        });
        res.on('end', () => resolve({ ending: 'end', bytes, digest: hash.digest('hex') }));
        res.on('error', () => resolve({ ending: 'error', bytes, digest: '' }));
      });
      req.on('error', reject);
    });
  }

  test('an SSE line of 50 MiB reaches the client byte for byte with bounded proxy memory, and the usage event after it is read', async (t) => {
    proxy = await startProxy({ upstream: `${upstream.origin}/v1` });
    t.after(() => proxy.stop());
    const startPeak = peakRssMib(proxy.child.pid!);
    const got = await fetchDigest('/v1/long-line', 'sk-long-line');
    assert.equal(got.ending, 'end');
    assert.ok(got.bytes > 50 * MiB);
    assert.equal(got.digest, sentDigest.get('/v1/long-line'));
    const line = await proxy.waitForLine(new RegExp(`key_id=${keyIdOf('sk-long-line')}`), 5_000);
    assert.match(line, /^\[USAGE\] prompt_tokens=11 completion_tokens=22 total_tokens=33 /);
    assert.match(line, / model=m-long /);
    assert.match(line, / complete=true end=done /);
    // Streaming 50 MiB in 64 KiB chunks alone lifts the peak by some 40 MiB before the
    // garbage collector catches up; holding the line (and joining it) would add 80 more.
    const growth = peakRssMib(proxy.child.pid!) - startPeak;
    assert.ok(growth < 90, `the proxy's peak RSS grew by ${growth.toFixed(1)} MiB for a 50 MiB line`);
  });

  test('a gzip bomb reaches the client as the original compressed bytes, gives no usage line, costs bounded memory, and the proxy keeps serving', async (t) => {
    proxy = await startProxy({ upstream: `${upstream.origin}/v1` });
    t.after(() => proxy.stop());
    const startPeak = peakRssMib(proxy.child.pid!);
    const got = await fetchDigest('/v1/bomb', 'sk-bomb');
    assert.equal(got.ending, 'end');
    assert.equal(got.digest, sentDigest.get('/v1/bomb'), 'the compressed bytes pass unchanged');
    const growth = peakRssMib(proxy.child.pid!) - startPeak;
    assert.ok(growth < 64, `the proxy's peak RSS grew by ${growth.toFixed(1)} MiB for a 4 GiB bomb`);
    // The next request is served and gives its line; by then the bomb's would be out too.
    const next = await request(proxy.origin, { path: '/v1/after', headers: { authorization: 'Bearer sk-after-bomb' } });
    assert.equal(next.status, 200);
    await proxy.waitForLine(new RegExp(`key_id=${keyIdOf('sk-after-bomb')}`), 5_000);
    await delay(100);
    const bombLines = proxy.stdout.filter((line) => line.includes(`key_id=${keyIdOf('sk-bomb')}`));
    assert.deepEqual(bombLines, [], 'SPEC §8: a compression bomb gives no usage line');
  });
});
