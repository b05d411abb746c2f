// SPEC §5's held request body: a streaming-candidate POST (`…/completions`) is held until
// its end, because whether it streams is only known from the body, then sent edited (usage
// asked for) or as it came. Bodies above 8 MiB are never edited: once over, the caller
// sends what it holds and streams the rest. Holds only what the exchange gives it.

import { MAX_INJECT_BODY_BYTES } from '../injection/include-usage.ts';
import { injectStreamUsage } from '../injection/stream-usage-injection.ts';

/** What goes upstream once the held body is released. */
export interface ReleasedBody {
  readonly headers: string[];
  readonly body: Buffer;
  /** The body was edited: the response's usage-only chunk is the proxy's to remove. */
  readonly injected: boolean;
}

export class HeldBody {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;

  /** Holds a chunk; false once the body is too large to edit, and must go as it came. */
  add(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    return this.bytes <= MAX_INJECT_BODY_BYTES;
  }

  /**
   * The body to send: edited when it is `complete` and the edit applies, else as it came.
   * @param headers  the upstream request's headers, as they would go without an edit.
   */
  release(headers: string[], complete: boolean): ReleasedBody {
    const chunks = this.chunks;
    // Most bodies arrive in one chunk: no copy then.
    const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    const edited = complete ? injectStreamUsage(headers, body) : null;
    if (edited === null) return { headers, body, injected: false };
    return { headers: edited.headers, body: edited.body, injected: true };
  }
}
