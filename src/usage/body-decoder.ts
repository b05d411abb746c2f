/**
 * Decodes a COPY of a compressed response body so usage can be read from it (SPEC §3 "Compressed
 * responses … usage is read from a decompressed copy"; SPEC §8 several codings, expansion cap).
 * It never touches the forwarded bytes, never throws, never blocks or backpressures the caller:
 * every problem it meets only ends usage reading for that response. node:zlib only; no sockets, no
 * files. Facts behind the choices: research/style-and-ecosystem.md §4.11 (verified on Node 20).
 */
import { Buffer } from 'node:buffer';
import * as zlib from 'node:zlib';
import type { Transform } from 'node:stream';

export type DecodeProblem = 'unsupported_coding' | 'decode_error' | 'expansion_limit' | 'backlog_limit';

/**
 * Receives the decoded bytes. Callbacks must not throw (a throw inside a zlib event would be
 * uncaught). onData may still be called after BodyDecoder.end() returns, because zlib works
 * asynchronously; onEnd marks the real end and is called exactly once in every path.
 */
export interface DecodedSink {
  onData(chunk: Buffer): void;
  /** All decoded bytes were delivered (after truncated input too: what it held was delivered). */
  onEnd(): void;
  /** Usage reading should stop; at most one per decoder, and onEnd follows exactly once. */
  onProblem(problem: DecodeProblem, detail: string): void;
}

export interface BodyDecoder {
  /** Never throws, never blocks. The chunk is read (maybe later) but never modified. */
  write(chunk: Buffer): void;
  /** Input finished, cleanly or not: decode what can be decoded, then onEnd. */
  end(): void;
  /** Abandon: frees zlib at once; onEnd fires now if it has not already, onData never again. */
  destroy(): void;
}

export interface BodyDecoderOptions {
  /** Decoded bytes allowed per compressed byte past freeBytes (SPEC §8: "say 100:1"). */
  expansionRatio?: number;
  /** Decoded bytes allowed before the ratio applies. */
  freeBytes?: number;
  /** Longest chain of content codings decoded; longer chains are unsupported_coding. */
  maxCodings?: number;
  /** Compressed bytes allowed to wait for zlib; writes are never backpressured. */
  maxBacklogBytes?: number;
}

const DEFAULT_EXPANSION_RATIO = 100; // SPEC §8: "say 100:1 past the first MiB"
const DEFAULT_FREE_BYTES = 1024 * 1024; // 1 MiB
// Unbounded chains exhaust resources (CVE-2026-22036, fixed in undici by capping the chain).
const DEFAULT_MAX_CODINGS = 3;
const DEFAULT_MAX_BACKLOG_BYTES = 8 * 1024 * 1024; // 8 MiB

type Coding = 'gzip' | 'deflate' | 'br' | 'zstd';

/** A zlib decompression stream; bytesWritten counts the input the engine has consumed. */
type Engine = Transform & { readonly bytesWritten: number };

// zstd arrived in Node 22.15 / 23.8; Node 20's zlib has no createZstdDecompress (§4.11).
const createZstdDecompress = (zlib as { createZstdDecompress?: () => Engine }).createZstdDecompress;

// Z_SYNC_FLUSH at the end makes a truncated stream yield what it holds instead of
// "unexpected end of file" (§4.11): the client may have been sent a cut body; usage may be in it.
const ZLIB_OPTIONS: zlib.ZlibOptions = { finishFlush: zlib.constants.Z_SYNC_FLUSH };
const BROTLI_OPTIONS: zlib.BrotliOptions = { finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH };

type Plan =
  | { readonly kind: 'identity' }
  | { readonly kind: 'decode'; readonly codings: readonly Coding[] }
  | { readonly kind: 'unsupported'; readonly detail: string };

/** Codings this Node can decode (gzip, x-gzip, deflate, br, identity; zstd only where zlib has it). */
export function canDecode(contentEncoding: string | undefined): boolean {
  return planDecoding(contentEncoding, DEFAULT_MAX_CODINGS).kind !== 'unsupported';
}

/** `contentEncoding` is the raw Content-Encoding header value (undefined or "identity" → pass-through). */
export function createBodyDecoder(
  contentEncoding: string | undefined,
  sink: DecodedSink,
  options: BodyDecoderOptions = {},
): BodyDecoder {
  const plan = planDecoding(contentEncoding, options.maxCodings ?? DEFAULT_MAX_CODINGS);
  if (plan.kind === 'identity') return passThrough(sink);
  if (plan.kind === 'unsupported') return refuse(sink, plan.detail);
  return decodeChain(plan.codings, sink, {
    expansionRatio: options.expansionRatio ?? DEFAULT_EXPANSION_RATIO,
    freeBytes: options.freeBytes ?? DEFAULT_FREE_BYTES,
    maxBacklogBytes: options.maxBacklogBytes ?? DEFAULT_MAX_BACKLOG_BYTES,
  });
}

// RFC 9110 §8.4: codings are listed in the order they were applied, so they are decoded in
// reverse. Names are case-insensitive (§8.4.1); empty list elements are allowed (§5.6.1);
// "identity" means no coding and is skipped wherever it appears.
function planDecoding(contentEncoding: string | undefined, maxCodings: number): Plan {
  const codings: Coding[] = [];
  for (const token of (contentEncoding ?? '').split(',')) {
    const name = token.trim().toLowerCase();
    if (name === '' || name === 'identity') continue;
    const coding = toCoding(name);
    if (coding === undefined) return { kind: 'unsupported', detail: name };
    codings.push(coding);
  }
  if (codings.length === 0) return { kind: 'identity' };
  if (codings.length > maxCodings) {
    return { kind: 'unsupported', detail: `${codings.length} codings (at most ${maxCodings}): ${codings.join(', ')}` };
  }
  return { kind: 'decode', codings: codings.reverse() };
}

function toCoding(name: string): Coding | undefined {
  switch (name) {
    case 'gzip':
    case 'x-gzip': // RFC 9110 §8.4.1.3: a recipient SHOULD treat x-gzip as gzip
      return 'gzip';
    case 'deflate':
    case 'br':
      return name;
    case 'zstd':
      return createZstdDecompress === undefined ? undefined : 'zstd';
    default:
      return undefined;
  }
}

/** The common case on the hot path: no zlib object, chunks handed on synchronously. */
function passThrough(sink: DecodedSink): BodyDecoder {
  let ended = false;
  const finish = (): void => {
    if (ended) return;
    ended = true;
    sink.onEnd();
  };
  return {
    write(chunk) {
      if (!ended && chunk.length > 0) sink.onData(chunk);
    },
    end: finish,
    destroy: finish,
  };
}

/**
 * A coding we cannot decode: nothing is decoded. The problem is reported on the first call to
 * write(), end() or destroy(), never inside createBodyDecoder, so the caller holds the decoder first.
 */
function refuse(sink: DecodedSink, detail: string): BodyDecoder {
  let ended = false;
  const finish = (): void => {
    if (ended) return;
    ended = true;
    sink.onProblem('unsupported_coding', detail);
    sink.onEnd();
  };
  return { write: finish, end: finish, destroy: finish };
}

interface Limits {
  readonly expansionRatio: number;
  readonly freeBytes: number;
  readonly maxBacklogBytes: number;
}

function decodeChain(codings: readonly Coding[], sink: DecodedSink, limits: Limits): BodyDecoder {
  let done = false;
  let inputEnded = false;
  const produced = codings.map(() => 0);
  const stages: Stage[] = codings.map((coding, i) =>
    openStage(coding, {
      output: (chunk) => onOutput(i, chunk),
      end: () => {
        const next = stages[i + 1];
        if (next === undefined) finish();
        else next.end();
      },
      error: (err) => finish('decode_error', err.message),
    }),
  );
  const first = stages[0] as Stage; // planDecoding never returns an empty chain

  function finish(problem?: DecodeProblem, detail = ''): void {
    if (done) return;
    done = true;
    for (const stage of stages) stage.destroy();
    if (problem !== undefined) sink.onProblem(problem, detail);
    sink.onEnd();
  }

  // The cap is measured against the compressed bytes zlib has CONSUMED, not those written to us:
  // output can only come from consumed input, and a bomb written in one go would otherwise buy
  // itself ratio × its whole size before zlib reaches the end. Zlib pushes output 16 KiB at a
  // time and checks `destroyed` after each push, so finishing here stops inflation within one
  // chunk. Every stage is capped, so a bomb in an inner layer of a chain is caught as well.
  function onOutput(i: number, chunk: Buffer): void {
    if (done) return;
    const total = (produced[i] ?? 0) + chunk.length;
    produced[i] = total;
    const cap = limits.freeBytes + limits.expansionRatio * first.consumed();
    if (total > cap) {
      finish('expansion_limit', `decoding would exceed ${cap} bytes from ${first.consumed()} compressed bytes`);
      return;
    }
    const next = stages[i + 1];
    if (next === undefined) {
      sink.onData(chunk);
    } else {
      next.write(chunk);
      checkBacklog();
    }
  }

  function checkBacklog(): void {
    let waiting = 0;
    for (const stage of stages) waiting += stage.backlog();
    if (waiting > limits.maxBacklogBytes) {
      finish('backlog_limit', `${waiting} bytes waiting to be decoded (at most ${limits.maxBacklogBytes})`);
    }
  }

  return {
    write(chunk) {
      if (done || inputEnded || chunk.length === 0) return;
      first.write(chunk);
      checkBacklog();
    },
    end() {
      if (done || inputEnded) return;
      inputEnded = true;
      first.end();
    },
    destroy() {
      finish();
    },
  };
}

interface StageEvents {
  output(chunk: Buffer): void;
  end(): void;
  error(err: Error): void;
}

/** One decoding step of the chain; for deflate the engine is chosen once the stream's head is seen. */
interface Stage {
  write(chunk: Buffer): void;
  end(): void;
  destroy(): void;
  /** Bytes written but not yet consumed by zlib. */
  backlog(): number;
  /** Compressed bytes zlib has consumed. */
  consumed(): number;
}

function openStage(coding: Coding, events: StageEvents): Stage {
  let engine: Engine | undefined = coding === 'deflate' ? undefined : startEngine(createEngine(coding), events);
  // Deflate only: the first bytes, held until there are two to tell zlib-wrapped from raw.
  let head: Buffer | undefined;

  function startDeflate(bytes: Buffer): Engine {
    engine = startEngine(hasZlibHeader(bytes) ? zlib.createInflate(ZLIB_OPTIONS) : zlib.createInflateRaw(ZLIB_OPTIONS), events);
    return engine;
  }

  return {
    write(chunk) {
      if (engine !== undefined) {
        engine.write(chunk);
        return;
      }
      const bytes = head === undefined ? chunk : Buffer.concat([head, chunk]);
      if (bytes.length < 2) head = bytes;
      else {
        head = undefined;
        startDeflate(bytes).write(bytes);
      }
    },
    end() {
      if (engine !== undefined) engine.end();
      else if (head !== undefined) startDeflate(head).end(head);
      else events.end(); // an empty deflate body decodes to nothing
    },
    destroy() {
      engine?.destroy();
    },
    backlog: () => engine?.writableLength ?? head?.length ?? 0,
    consumed: () => engine?.bytesWritten ?? 0,
  };
}

function createEngine(coding: Exclude<Coding, 'deflate'>): Engine {
  switch (coding) {
    case 'gzip':
      return zlib.createGunzip(ZLIB_OPTIONS);
    case 'br':
      return zlib.createBrotliDecompress(BROTLI_OPTIONS);
    case 'zstd':
      // toCoding only yields 'zstd' where the factory exists.
      return (createZstdDecompress as () => Engine)();
  }
}

function startEngine(engine: Engine, events: StageEvents): Engine {
  engine.on('data', events.output);
  engine.on('end', events.end);
  // Always listened to: an 'error' without a listener would crash the process (§4.1).
  engine.on('error', events.error);
  return engine;
}

// Servers send raw deflate under "deflate" too, which zlib.createInflate rejects (§4.11).
// RFC 1950 §2.2: CM = 8 in the low nibble of CMF, CINFO ≤ 7 in its high nibble (0x78 for the
// usual 32 KiB window), and CMF·256 + FLG a multiple of 31. A raw stream matches by chance
// only if it starts with a stored block whose padding bits are not zero.
function hasZlibHeader(bytes: Buffer): boolean {
  const cmf = bytes[0] ?? 0;
  const flg = bytes[1] ?? 0;
  return (cmf & 0x0f) === 8 && cmf >> 4 <= 7 && (cmf * 256 + flg) % 31 === 0;
}
