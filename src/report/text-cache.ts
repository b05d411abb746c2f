// Strings of a field's values, reused by their bytes (record-sniffer.ts). A report meets the same
// few models, keys, paths and tag values on line after line; a slot holds the last string seen
// with its hash, so a value seen before costs a hash and a comparison of its bytes instead of a
// new string (measured: a tenth of the sniffer's time), and the group table's Map finds a string
// whose hash V8 has already computed. Bounded: a slot is overwritten, never added.

import { textOf } from './json-scan.ts';

const TEXT_SLOTS = 1024; // per field

interface CachedText {
  readonly hash: number;
  readonly bytes: Buffer;
  readonly text: string;
}

export class TextCache {
  readonly #slots: (CachedText | undefined)[] = new Array<CachedText | undefined>(TEXT_SLOTS).fill(undefined);

  /** The string of the bytes `buf[from, to)` of the string scanString read last. */
  text(buf: Buffer, from: number, to: number): string {
    let hash = 0x811c9dc5 ^ (to - from); // FNV-1a
    for (let i = from; i < to; i++) hash = Math.imul(hash ^ buf[i]!, 0x01000193);
    const slot = (hash >>> 0) % TEXT_SLOTS;
    const cached = this.#slots[slot];
    if (cached !== undefined && cached.hash === hash && cached.bytes.length === to - from) {
      let i = 0;
      while (i < to - from && cached.bytes[i] === buf[from + i]) i++;
      if (i === to - from) return cached.text;
    }
    const text = textOf(buf, from, to);
    this.#slots[slot] = { hash, bytes: Buffer.from(buf.subarray(from, to)), text };
    return text;
  }
}
