// The usage ledger (USAGE_LOG): one JSON line per response with usage, appended
// to a file. Lines are queued and written in order, whole, with O_APPEND, so
// concurrent records never interleave and other writers' lines stay intact.
// A failing ledger (disk full, file gone, no permission) is reported on stderr
// and never stops proxying (SPEC §4, §8). close() writes every accepted line.

import fs from 'node:fs';

export interface Ledger {
  append(line: string): void;
  /** Writes everything accepted so far, then closes the file. */
  close(): Promise<void>;
}

export class LedgerOpenError extends Error {}

// How often the ledger checks that its path still names the file it writes to:
// a removed or rotated file is reopened (created anew) instead of writing into
// an unlinked inode nobody can read.
const REOPEN_CHECK_MS = 1_000;

/** Opens the ledger for appending now, so a bad path stops the start (exit 2), not the first request. */
export function openLedger(path: string, report: (message: string) => void): Ledger {
  let fd: number;
  try {
    fd = fs.openSync(path, 'a', 0o600);
  } catch (err) {
    throw new LedgerOpenError(`lm-proxy: invalid USAGE_LOG ${JSON.stringify(path)}: cannot open it for appending (${(err as NodeJS.ErrnoException).code ?? String(err)}); expected a file in an existing, writable folder`);
  }
  let fdIno = fs.fstatSync(fd).ino;
  let queue: string[] = [];
  let writing = false;
  let lastCheck = Date.now();
  // One report per kind of failure, not one per line or per check: a full disk or a
  // path that stays unopenable would flood stderr. Writing and reopening are tracked
  // apart: a write that works through the old descriptor while the path cannot be
  // reopened must not re-arm the reopening report (it flip-flopped once a second).
  const lastError: { writing: string | null; reopening: string | null } = { writing: null, reopening: null };
  let idle: (() => void) | null = null;

  function fail(what: 'writing' | 'reopening', err: unknown): void {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    if (lastError[what] !== code) report(`usage ledger ${JSON.stringify(path)}: ${what} failed (${code}); proxying continues`);
    lastError[what] = code;
  }

  function reopenIfMoved(): void {
    lastCheck = Date.now();
    let pathIno: number | null;
    try {
      pathIno = fs.statSync(path).ino;
    } catch {
      pathIno = null;
    }
    if (pathIno === fdIno) return;
    try {
      const next = fs.openSync(path, 'a', 0o600);
      fs.closeSync(fd);
      fd = next;
      fdIno = fs.fstatSync(fd).ino;
      lastError.reopening = null;
    } catch (err) {
      fail('reopening', err);
    }
  }

  function pump(): void {
    if (queue.length === 0) {
      writing = false;
      idle?.();
      idle = null;
      return;
    }
    writing = true;
    if (Date.now() - lastCheck >= REOPEN_CHECK_MS) reopenIfMoved();
    const batch = Buffer.from(queue.join(''));
    queue = [];
    writeAll(batch, 0);
  }

  function writeAll(batch: Buffer, offset: number): void {
    fs.write(fd, batch, offset, batch.length - offset, null, (err, written) => {
      if (err) {
        fail('writing', err);
      } else {
        if (lastError.writing !== null) report(`usage ledger ${JSON.stringify(path)}: writing works again`);
        lastError.writing = null;
        if (offset + written < batch.length) {
          writeAll(batch, offset + written);
          return;
        }
      }
      pump();
    });
  }

  let closed = false;
  return {
    append(line) {
      // After close() the fd may already belong to another file: a late line is dropped, and said so.
      if (closed) {
        report(`usage ledger ${JSON.stringify(path)}: a record arrived after the ledger was closed; it is not written`);
        return;
      }
      queue.push(line.endsWith('\n') ? line : line + '\n');
      if (!writing) {
        writing = true;
        // Gather the lines of this turn of the event loop into one write.
        setImmediate(pump);
      }
    },
    async close() {
      closed = true;
      if (writing || queue.length > 0) {
        await new Promise<void>((resolve) => {
          idle = resolve;
          if (!writing) pump();
        });
      }
      fs.closeSync(fd);
    },
  };
}
