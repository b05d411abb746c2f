// Reads the last 24 hours of a ledger back at start (SPEC §12: "without delaying the listeners and
// without reading the whole file when it is large"): backwards from the end in chunks, complete
// lines only, newest first, yielding to the event loop between chunks, and stopping once a whole
// chunk holds only records older than the window (the ledger is in time order but for the few
// responses that end out of order, which a chunk's slack absorbs). Never throws: a file that
// cannot be read is an error value, a line that is not a record is skipped and counted.

import { open } from 'node:fs/promises';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { parseLedgerLine } from './ledger-record.ts';
import type { DashboardUsage } from './usage-window.ts';

export const DEFAULT_CHUNK_BYTES = 1 << 20; // 1 MiB: a few thousand records per read
// A ledger line is well under 8 KiB (16 tags of ≤ 160 bytes, a 256-character user): longer is not
// one of ours, and is dropped instead of being held while it grows.
export const DEFAULT_MAX_LINE_BYTES = 1 << 20; // 1 MiB

const NEWLINE = 0x0a;
const CR = 0x0d;

export interface BackfillOptions {
  /** Records that ended before this (ms) are left out; a chunk of only those ends the read. */
  readonly since: number;
  /** Records that ended at or after this (ms) are left out: the live path counts them. */
  readonly before?: number;
  readonly chunkBytes?: number;
  readonly maxLineBytes?: number;
  /** Stops the read between chunks (shutdown). */
  readonly signal?: AbortSignal;
}

export interface BackfillResult {
  /** Records handed to the sink. */
  readonly records: number;
  /** Lines that are not ledger records (not JSON, no readable time, over the length limit). */
  readonly skipped: number;
  /** Records left out for their time (older than `since`, or not before `before`). */
  readonly outside: number;
  readonly bytesRead: number;
  /** Why reading stopped early: the error's code (`ENOENT`, `EACCES`…) or `aborted`; else null. */
  readonly error: string | null;
}

/**
 * Feeds the sink each record of the window, newest first. Resolves when done; call it without
 * awaiting at start, after the listeners are up: reads are asynchronous and each chunk's parsing
 * is followed by a turn of the event loop.
 */
export async function backfillLedger(path: string, sink: (usage: DashboardUsage) => void, options: BackfillOptions): Promise<BackfillResult> {
  const chunkBytes = Math.max(1, options.chunkBytes ?? DEFAULT_CHUNK_BYTES);
  const maxLine = Math.max(1, options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
  const before = options.before ?? Infinity;
  let records = 0;
  let skipped = 0;
  let outside = 0;
  let bytesRead = 0;
  let error: string | null = null;

  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    return { records, skipped, outside, bytesRead, error: codeOf(err) };
  }
  try {
    // Lines appended after this stat are live ones: `before` leaves them to the live path anyway.
    let end = (await handle.stat()).size;
    let carry: Buffer = Buffer.alloc(0); // the start of a line whose end was in the later chunk
    let dropping = false; // inside a line already over maxLine: drop its earlier bytes too
    while (end > 0) {
      if (options.signal?.aborted === true) {
        error = 'aborted';
        break;
      }
      const start = Math.max(0, end - chunkBytes);
      const chunk = Buffer.allocUnsafe(end - start);
      let filled = 0;
      while (filled < chunk.length) {
        const { bytesRead: n } = await handle.read(chunk, filled, chunk.length - filled, start + filled);
        if (n === 0) break; // the file shrank under us: read what is there
        filled += n;
      }
      bytesRead += filled;
      let data = chunk.subarray(0, filled);
      if (dropping) {
        // The tail of this chunk belongs to the overlong line: it ends at the chunk's last newline.
        const last = data.lastIndexOf(NEWLINE);
        if (last === -1) data = Buffer.alloc(0);
        else {
          data = data.subarray(0, last + 1);
          dropping = false;
        }
      } else if (carry.length > 0) data = Buffer.concat([data, carry]);
      // The bytes before the first newline may be the end of a line that started earlier.
      const first = start > 0 ? data.indexOf(NEWLINE) : -1;
      const complete = start > 0 ? (first === -1 ? Buffer.alloc(0) : data.subarray(first + 1)) : data;
      carry = start > 0 ? Buffer.from(first === -1 ? data : data.subarray(0, first)) : Buffer.alloc(0);
      if (carry.length > maxLine) {
        skipped++;
        carry = Buffer.alloc(0);
        dropping = true;
      }

      let recent = false;
      let old = false;
      // Newest line first; the file's last line may lack its newline.
      let lineEnd = complete.length > 0 && complete[complete.length - 1] === NEWLINE ? complete.length - 1 : complete.length;
      for (;;) {
        const newline = lineEnd > 0 ? complete.lastIndexOf(NEWLINE, lineEnd - 1) : -1;
        const lineStart = newline + 1;
        const stop = lineEnd > lineStart && complete[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd;
        if (stop > lineStart) {
          const entry = stop - lineStart > maxLine ? null : parseLedgerLine(complete.toString('utf8', lineStart, stop));
          if (entry === null) skipped++;
          else if (entry.at < options.since) {
            old = true;
            outside++;
          } else {
            recent = true;
            if (entry.at >= before) outside++;
            else {
              records++;
              sink(entry.usage);
            }
          }
        }
        if (newline === -1) break;
        lineEnd = newline;
      }
      end = start;
      // Records seen and none of them in the window: everything before is older still.
      if (old && !recent) break;
      await yieldToLoop();
    }
  } catch (err) {
    error = codeOf(err);
  } finally {
    await handle.close().catch(() => undefined);
  }
  return { records, skipped, outside, bytesRead, error };
}

function codeOf(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : String(err);
}
