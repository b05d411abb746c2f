import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as zlib from 'node:zlib';
import { canDecode, createBodyDecoder } from '../../src/usage/body-decoder.ts';
import type { BodyDecoderOptions, DecodedSink, DecodeProblem } from '../../src/usage/body-decoder.ts';

// ---- helpers -------------------------------------------------------------------------------

interface Outcome {
  data: Buffer;
  chunks: number;
  problems: Array<[DecodeProblem, string]>;
  ends: number;
  /** onData or onProblem calls that came after onEnd: must stay 0. */
  eventsAfterEnd: number;
}

function recorder(): { sink: DecodedSink; outcome: () => Outcome; ended: Promise<void> } {
  const parts: Buffer[] = [];
  const problems: Array<[DecodeProblem, string]> = [];
  let ends = 0;
  let eventsAfterEnd = 0;
  let resolveEnded!: () => void;
  const ended = new Promise<void>((resolve) => (resolveEnded = resolve));
  const sink: DecodedSink = {
    onData(chunk) {
      if (ends > 0) eventsAfterEnd++;
      parts.push(Buffer.from(chunk));
    },
    onProblem(problem, detail) {
      if (ends > 0) eventsAfterEnd++;
      problems.push([problem, detail]);
    },
    onEnd() {
      ends++;
      resolveEnded();
    },
  };
  const outcome = (): Outcome => ({ data: Buffer.concat(parts), chunks: parts.length, problems, ends, eventsAfterEnd });
  return { sink, outcome, ended };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/** Long enough for any stray zlib event (a second onEnd, late data) to show up. */
const settle = async (): Promise<void> => {
  for (let turn = 0; turn < 3; turn++) await nextTurn();
};

async function decode(encoding: string | undefined, chunks: readonly Buffer[], options?: BodyDecoderOptions): Promise<Outcome> {
  const { sink, outcome, ended } = recorder();
  const decoder = createBodyDecoder(encoding, sink, options);
  for (const chunk of chunks) decoder.write(chunk);
  decoder.end();
  await ended;
  await settle();
  const result = outcome();
  assert.equal(result.ends, 1, 'onEnd exactly once');
  assert.equal(result.eventsAfterEnd, 0, 'nothing after onEnd');
  assert.ok(result.problems.length <= 1, 'at most one problem');
  return result;
}

/** Seeded PRNG (mulberry32) so a failing cut pattern reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function cutAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const sorted = [...cuts].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const cut of [...sorted, bytes.length]) {
    pieces.push(bytes.subarray(from, cut)); // empty pieces on purpose: they must be harmless
    from = cut;
  }
  return pieces;
}

function randomCuts(bytes: Buffer, random: () => number): Buffer[] {
  const pieces: Buffer[] = [];
  for (let at = 0; at < bytes.length; ) {
    const size = random() < 0.3 ? 1 : Math.floor(random() * 64);
    pieces.push(bytes.subarray(at, at + size));
    at += size;
  }
  return pieces;
}

/** SSE text like a chat completion stream, with multibyte characters. */
function sseBody(events: number, seed = 1): Buffer {
  const random = prng(seed);
  const words = ['the', ' model', ' token', 'ing', ' café', ' 東京', ' 🚀', ' usage', ',', '.'];
  let text = '';
  for (let i = 0; i < events; i++) {
    const word = words[Math.floor(random() * words.length)] ?? '';
    text += `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"${word}"}}]}\n\n`;
  }
  text += 'data: {"id":"chatcmpl-1","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21}}\n\ndata: [DONE]\n\n';
  return Buffer.from(text);
}

function noiseBytes(length: number, seed: number): Buffer {
  const random = prng(seed);
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(random() * 256);
  return bytes;
}

const brotli = (bytes: Buffer): Buffer => zlib.brotliCompressSync(bytes);

/** Each encoding with how to produce it (codings applied left to right, as the header lists them). */
const ENCODINGS: ReadonlyArray<[header: string | undefined, encode: (bytes: Buffer) => Buffer]> = [
  [undefined, (b) => b],
  ['identity', (b) => b],
  ['gzip', (b) => zlib.gzipSync(b)],
  ['x-gzip', (b) => zlib.gzipSync(b)],
  ['deflate', (b) => zlib.deflateSync(b)],
  ['deflate', (b) => zlib.deflateRawSync(b)],
  ['br', brotli],
  ['gzip, br', (b) => brotli(zlib.gzipSync(b))],
  ['deflate, gzip', (b) => zlib.gzipSync(zlib.deflateSync(b))],
  ['deflate, gzip', (b) => zlib.gzipSync(zlib.deflateRawSync(b))],
  [' GZip ,  BR ', (b) => brotli(zlib.gzipSync(b))],
];

const hasZstd = typeof (zlib as { createZstdDecompress?: unknown }).createZstdDecompress === 'function';

// ---- behaviour -----------------------------------------------------------------------------

describe('decoding', () => {
  const body = sseBody(300);

  for (const [header, encode] of ENCODINGS) {
    test(`decodes ${JSON.stringify(header)} (${encode(Buffer.from('x'))[0]?.toString(16)}…) byte for byte`, async () => {
      const result = await decode(header, [encode(body)]);
      assert.deepEqual(result.problems, []);
      assert.ok(result.data.equals(body));
    });
  }

  test('hands identity chunks on synchronously, as the same buffers, with no zlib in between', () => {
    const received: Buffer[] = [];
    let ends = 0;
    const decoder = createBodyDecoder('Identity', { onData: (c) => received.push(c), onEnd: () => ends++, onProblem: () => assert.fail() });
    const chunk = Buffer.from('data: {}\n\n');
    decoder.write(chunk);
    assert.equal(received[0], chunk);
    decoder.end();
    decoder.end();
    decoder.write(Buffer.from('late'));
    assert.equal(ends, 1);
    assert.equal(received.length, 1);
  });

  test('treats an empty or identity-only header as no coding', async () => {
    for (const header of ['', ' , ', 'identity, IDENTITY']) {
      const result = await decode(header, [body]);
      assert.ok(result.data.equals(body));
    }
  });

  test('decodes a chain of three gzips, the default limit', async () => {
    const encoded = zlib.gzipSync(zlib.gzipSync(zlib.gzipSync(body)));
    const result = await decode('gzip,gzip,gzip', [encoded]);
    assert.deepEqual(result.problems, []);
    assert.ok(result.data.equals(body));
  });

  test('an empty compressed body decodes to nothing and ends cleanly', async () => {
    for (const header of ['gzip', 'deflate', 'br', 'gzip, deflate']) {
      const result = await decode(header, [Buffer.alloc(0)]);
      assert.deepEqual(result.problems, [], header);
      assert.equal(result.data.length, 0);
    }
  });
});

describe('chunking does not change the result', () => {
  const small = sseBody(8);

  for (const [header, encode] of ENCODINGS) {
    const encoded = encode(small);

    test(`${JSON.stringify(header)}: the same bytes cut at every single position`, async () => {
      for (let cut = 0; cut <= encoded.length; cut++) {
        const result = await decode(header, cutAt(encoded, [cut]));
        assert.ok(result.data.equals(small), `cut at ${cut}`);
      }
    });

    test(`${JSON.stringify(header)}: one byte at a time and at seeded random positions`, async () => {
      const oneByte = await decode(header, cutAt(encoded, Array.from({ length: encoded.length }, (_, i) => i)));
      assert.ok(oneByte.data.equals(small));
      const big = encode(sseBody(200, 7));
      const expected = sseBody(200, 7);
      for (let seed = 1; seed <= 40; seed++) {
        const result = await decode(header, randomCuts(big, prng(seed)));
        assert.ok(result.data.equals(expected), `seed ${seed}`);
      }
    });
  }

  // The deflate sniff reads two bytes that may arrive in separate chunks, after empty ones.
  for (const [name, encode] of [['zlib-wrapped', zlib.deflateSync], ['raw', zlib.deflateRawSync]] as const) {
    test(`deflate (${name}): every pair of cuts around the header decodes the same`, async () => {
      const encoded = encode(small);
      for (let first = 0; first <= 3; first++) {
        for (let second = first; second <= encoded.length; second++) {
          const result = await decode('deflate', cutAt(encoded, [first, second]));
          assert.ok(result.data.equals(small), `cuts ${first}, ${second}`);
        }
      }
    });
  }
});

describe('truncated and corrupt input', () => {
  const body = sseBody(400);
  const truncatable: ReadonlyArray<[string, Buffer]> = [
    ['gzip', zlib.gzipSync(body)],
    ['deflate', zlib.deflateSync(body)],
    ['deflate', zlib.deflateRawSync(body)],
    ['br', brotli(body)],
    ['gzip, br', brotli(zlib.gzipSync(body))],
  ];

  for (const [header, encoded] of truncatable) {
    test(`a truncated ${header} body (first byte ${encoded[0]?.toString(16)}) yields the prefix it holds and ends cleanly`, async () => {
      const result = await decode(header, randomCuts(encoded.subarray(0, Math.floor(encoded.length / 2)), prng(3)));
      assert.deepEqual(result.problems, []);
      assert.ok(result.data.length > 0, 'something was decoded');
      assert.ok(result.data.length < body.length);
      assert.ok(body.subarray(0, result.data.length).equals(result.data), 'a prefix of the original');
    });
  }

  test('a body cut after one deflate byte ends cleanly', async () => {
    const result = await decode('deflate', [zlib.deflateSync(body).subarray(0, 1)]);
    assert.equal(result.ends, 1);
    assert.equal(result.data.length, 0);
  });

  const corrupt: ReadonlyArray<[string, Buffer]> = [
    ['gzip', Buffer.concat([zlib.gzipSync(body).subarray(0, 12), Buffer.alloc(64, 0xff)])],
    ['gzip', Buffer.from('not gzip at all')],
    ['deflate', Buffer.concat([Buffer.from([0x78, 0x9c]), Buffer.alloc(64, 0xff)])],
    ['br', Buffer.alloc(64, 0xff)],
    ['gzip, br', brotli(Buffer.from('plain text where gzip was promised'))],
  ];
  for (const [header, encoded] of corrupt) {
    test(`corrupt ${header} data reports decode_error and ends once (${encoded.subarray(0, 4).toString('hex')})`, async () => {
      const result = await decode(header, [encoded]);
      assert.equal(result.problems.length, 1);
      assert.equal(result.problems[0]?.[0], 'decode_error');
      assert.ok((result.problems[0]?.[1] ?? '').length > 0, 'the problem carries zlib’s message');
    });
  }

  test('valid output before corruption in a later chunk has been delivered as a prefix', async () => {
    const encoded = zlib.gzipSync(body);
    const garbage = Buffer.alloc(256, 0xff);
    const result = await decode('gzip', [encoded.subarray(0, encoded.length - 8), garbage]);
    assert.equal(result.problems[0]?.[0], 'decode_error');
    assert.ok(body.subarray(0, result.data.length).equals(result.data));
  });
});

describe('codings it cannot decode', () => {
  test(`zstd ${hasZstd ? 'decodes on this Node' : 'is unsupported_coding on this Node, and nothing is decoded'}`, async () => {
    const body = sseBody(50);
    if (hasZstd) {
      const compress = (zlib as unknown as { zstdCompressSync: (b: Buffer) => Buffer }).zstdCompressSync;
      const result = await decode('zstd', [compress(body)]);
      assert.ok(result.data.equals(body));
    } else {
      const result = await decode('zstd', [Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), body]);
      assert.deepEqual(result.problems, [['unsupported_coding', 'zstd']]);
      assert.equal(result.data.length, 0);
    }
  });

  test('an unknown coding anywhere in the list is unsupported_coding, named, and nothing is decoded', async () => {
    for (const [header, name] of [['compress', 'compress'], ['gzip, Foo', 'foo'], ['x-custom ,gzip', 'x-custom']]) {
      const result = await decode(header, [zlib.gzipSync(Buffer.from('hello'))]);
      assert.deepEqual(result.problems, [['unsupported_coding', name]]);
      assert.equal(result.data.length, 0);
    }
  });

  test('more codings than the limit are unsupported_coding', async () => {
    const four = await decode('gzip, gzip, gzip, gzip', [Buffer.from('x')]);
    assert.equal(four.problems[0]?.[0], 'unsupported_coding');
    assert.match(four.problems[0]?.[1] ?? '', /4 codings/);
    const two = await decode('gzip, gzip', [zlib.gzipSync(zlib.gzipSync(Buffer.from('x')))], { maxCodings: 1 });
    assert.equal(two.problems[0]?.[0], 'unsupported_coding');
  });

  test('the problem is reported at the first call, never inside createBodyDecoder', async () => {
    for (const call of ['write', 'end', 'destroy'] as const) {
      const { sink, outcome } = recorder();
      const decoder = createBodyDecoder('zstd, foo', sink);
      assert.equal(outcome().ends, 0);
      if (call === 'write') decoder.write(Buffer.from('x'));
      else decoder[call]();
      decoder.end();
      decoder.destroy();
      await settle();
      assert.equal(outcome().ends, 1, call);
      assert.equal(outcome().problems.length, 1, call);
    }
  });

  test('canDecode says which Content-Encoding values this Node can decode', () => {
    for (const header of [undefined, '', 'identity', 'gzip', 'X-GZIP', 'deflate', 'br', 'gzip, br', ' br , gzip ']) {
      assert.equal(canDecode(header), true, String(header));
    }
    for (const header of ['compress', 'gzip, foo', 'gzip, gzip, gzip, gzip']) {
      assert.equal(canDecode(header), false, header);
    }
    assert.equal(canDecode('zstd'), hasZstd);
    assert.equal(canDecode('gzip, zstd'), hasZstd);
  });
});

describe('caps', () => {
  /** Raw deflate of 1 MiB of zeros closed by a full flush: the compressor is reset, so the bytes repeat. */
  async function zeroSegment(): Promise<Buffer> {
    const deflate = zlib.createDeflateRaw({ level: 9 });
    const parts: Buffer[] = [];
    deflate.on('data', (part: Buffer) => parts.push(part));
    deflate.write(Buffer.alloc(1024 * 1024));
    await new Promise<void>((resolve) => deflate.flush(zlib.constants.Z_FULL_FLUSH, () => resolve()));
    deflate.destroy();
    return Buffer.concat(parts);
  }

  /** A gzip stream of `bytes` compressed bytes that inflates ~1000:1, built without inflating anything. */
  async function gzipBomb(bytes: number): Promise<Buffer> {
    const segment = await zeroSegment();
    const header = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
    // No trailer: the decoder must stop long before where it would be.
    return Buffer.concat([header, ...Array<Buffer>(Math.ceil(bytes / segment.length)).fill(segment)]);
  }

  /**
   * Feeds a bomb the way a network would, 16 KiB per millisecond, until the decoder gives up. (Fed
   * faster than zlib's thread pool round trips, it would end in backlog_limit instead: also a stop.)
   */
  async function detonate(header: string, bomb: Buffer, options?: BodyDecoderOptions) {
    const { sink, outcome, ended } = recorder();
    let peakRss = process.memoryUsage().rss;
    const startRss = peakRss;
    const decoder = createBodyDecoder(header, {
      ...sink,
      onData(chunk) {
        sink.onData(chunk);
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
      },
    }, options);
    let written = 0;
    while (outcome().ends === 0 && written < bomb.length) {
      const chunk = bomb.subarray(written, written + 16 * 1024);
      decoder.write(chunk);
      written += chunk.length;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    decoder.end();
    await ended;
    await settle();
    return { result: outcome(), written, rssGrowth: peakRss - startRss };
  }

  const MiB = 1024 * 1024;
  const ZLIB_CHUNK = 16 * 1024;

  test('a 10 MB gzip bomb (≈10 GiB of zeros) stops with expansion_limit near the first MiB, in bounded memory', async () => {
    const bomb = await gzipBomb(10 * 1000 * 1000);
    const { result, written, rssGrowth } = await detonate('gzip', bomb);
    assert.equal(result.ends, 1);
    assert.equal(result.eventsAfterEnd, 0);
    assert.equal(result.problems[0]?.[0], 'expansion_limit');
    assert.ok(result.data.length <= MiB + 100 * written + ZLIB_CHUNK, `decoded ${result.data.length} within the cap`);
    assert.ok(result.data.length < 2 * MiB, `decoded ${result.data.length}: stopped early`);
    assert.ok(written < bomb.length, 'gave up before the input ran out');
    assert.ok(rssGrowth < 64 * MiB, `rss grew ${rssGrowth}`);
  });

  test('the cap follows the options', async () => {
    const bomb = await gzipBomb(200 * 1000);
    const { result, written } = await detonate('gzip', bomb, { freeBytes: 64 * 1024, expansionRatio: 10 });
    assert.equal(result.problems[0]?.[0], 'expansion_limit');
    assert.ok(result.data.length <= 64 * 1024 + 10 * written + ZLIB_CHUNK);
  });

  test('deflate (raw and zlib-wrapped) and brotli bombs stop with expansion_limit', async () => {
    const gzip = await gzipBomb(2 * 1000 * 1000);
    const raw = gzip.subarray(10);
    const wrapped = Buffer.concat([Buffer.from([0x78, 0x9c]), raw]);
    const br = zlib.brotliCompressSync(Buffer.alloc(16 * MiB), { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 } });
    for (const [header, bomb] of [['deflate', raw], ['deflate', wrapped], ['br', br]] as const) {
      const { result, written } = await detonate(header, bomb);
      assert.equal(result.problems[0]?.[0], 'expansion_limit', `${header} ${bomb[0]}`);
      assert.ok(result.data.length <= MiB + 100 * written + ZLIB_CHUNK);
    }
  });

  test('a bomb in the inner layer of a chain is stopped before the next layer gets it all', async () => {
    const inner = await gzipBomb(10 * 1000 * 1000); // ≈10 GiB of zeros
    const outer = zlib.gzipSync(inner); // the 10 MB inner stream itself compresses ~1000:1
    const { result, written } = await detonate('gzip, gzip', outer);
    assert.equal(result.problems[0]?.[0], 'expansion_limit');
    assert.ok(result.data.length <= MiB + 100 * written + ZLIB_CHUNK);
  });

  test('a realistic 3.6 MB event stream compressed ~80:1 decodes completely under the default cap', async () => {
    const body = sseBody(30_000, 11);
    const encoded = zlib.gzipSync(body, { level: 9 });
    assert.ok(body.length / encoded.length > 50, 'the fixture really is highly compressible');
    const result = await decode('gzip', cutAt(encoded, Array.from({ length: Math.floor(encoded.length / 1400) }, (_, i) => i * 1400)));
    assert.deepEqual(result.problems, []);
    assert.ok(result.data.equals(body));
  });

  test('input piling up faster than zlib consumes it gives backlog_limit instead of buffering without bound', async () => {
    const noise = noiseBytes(256 * 1024, 5);
    const encoded = zlib.gzipSync(noise, { level: 0 });
    const chunks = cutAt(encoded, Array.from({ length: 16 }, (_, i) => i * 16 * 1024));
    const result = await decode('gzip', chunks, { maxBacklogBytes: 64 * 1024 });
    assert.equal(result.problems[0]?.[0], 'backlog_limit');
  });

  test('the default backlog cap is 8 MiB of pending input', async () => {
    const noise = noiseBytes(9 * MiB, 6);
    const under = zlib.gzipSync(noise.subarray(0, 7 * MiB), { level: 0 });
    const underResult = await decode('gzip', [under]);
    assert.deepEqual(underResult.problems, []);
    assert.ok(underResult.data.equals(noise.subarray(0, 7 * MiB)));
    const over = await decode('gzip', [zlib.gzipSync(noise, { level: 0 })]);
    assert.equal(over.problems[0]?.[0], 'backlog_limit');
  });
});

describe('destroy', () => {
  const body = sseBody(20_000);
  const encoded = zlib.gzipSync(body);

  test('mid-stream: onEnd fires at once, exactly once, and no data follows', async () => {
    const { sink, outcome } = recorder();
    const decoder = createBodyDecoder('gzip', sink);
    decoder.write(encoded.subarray(0, encoded.length >> 1));
    while (outcome().chunks === 0) await nextTurn();
    decoder.destroy();
    assert.equal(outcome().ends, 1);
    const before = outcome().data.length;
    decoder.write(encoded.subarray(encoded.length >> 1));
    decoder.end();
    decoder.destroy();
    await settle();
    assert.equal(outcome().ends, 1);
    assert.equal(outcome().data.length, before);
    assert.ok(before < body.length);
    assert.deepEqual(outcome().problems, []);
  });

  test('after end() but before zlib finished: onEnd once, nothing after it', async () => {
    const { sink, outcome } = recorder();
    const decoder = createBodyDecoder('br, gzip', sink);
    decoder.write(zlib.gzipSync(zlib.brotliCompressSync(body, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } })));
    decoder.end();
    decoder.destroy();
    await settle();
    assert.equal(outcome().ends, 1);
    assert.equal(outcome().eventsAfterEnd, 0);
  });

  test('before any input, for every kind of decoder, onEnd fires once', async () => {
    for (const header of [undefined, 'gzip', 'deflate', 'gzip, br']) {
      const { sink, outcome } = recorder();
      const decoder = createBodyDecoder(header, sink);
      decoder.destroy();
      decoder.destroy();
      await settle();
      assert.equal(outcome().ends, 1, String(header));
      assert.deepEqual(outcome().problems, []);
    }
  });

  test('called from inside onData, it stops the decoder cleanly', async () => {
    let ends = 0;
    let chunks = 0;
    const decoder = createBodyDecoder('gzip', {
      onData: () => {
        chunks++;
        decoder.destroy();
      },
      onEnd: () => ends++,
      onProblem: () => assert.fail('no problem expected'),
    });
    decoder.write(encoded);
    decoder.end();
    // zlib runs on the thread pool: on a loaded machine its first output can take more
    // than a few turns of the event loop, so wait for the end (bounded), then settle.
    for (const deadline = Date.now() + 2_000; ends === 0 && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await settle();
    assert.equal(chunks, 1);
    assert.equal(ends, 1);
  });
});
