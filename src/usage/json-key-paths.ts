/**
 * The key-path tree the JSON sniffer walks: capture paths "usage" and "message.usage" become
 * root → {usage, message → {usage}}. Pure; never throws on input. Keys are compared as raw UTF-8
 * bytes, or — for a key written with escapes (RFC 8259 §7, `"us\u0061ge"`) — as decoded text.
 */
import { Buffer } from 'node:buffer';

export class PathNode {
  /** The configured path whose value is the value at this node, or null. */
  capture: string | null = null;
  /** UTF-8 bytes of each child's key, parallel to names and children. */
  readonly keys: Buffer[] = [];
  readonly names: string[] = [];
  readonly children: PathNode[] = [];

  /** The child whose key is bytes[from, to) as written in JSON without escapes, or null. */
  childByRawKey(bytes: Uint8Array, from: number, to: number): PathNode | null {
    const keys = this.keys;
    const len = to - from;
    next: for (let k = 0; k < keys.length; k++) {
      const key = keys[k] as Buffer;
      if (key.length !== len) continue;
      for (let j = 0; j < len; j++) if (key[j] !== bytes[from + j]) continue next;
      return this.children[k] as PathNode;
    }
    return null;
  }

  /** The child whose key is the JSON string body `written` once its escapes are decoded, or null. */
  childByEscapedKey(written: string): PathNode | null {
    let name: string;
    try {
      name = JSON.parse(`"${written}"`) as string;
    } catch {
      return null; // unreachable for keys the sniffer has validated; a non-key matches nothing
    }
    const at = this.names.indexOf(name);
    return at < 0 ? null : (this.children[at] as PathNode);
  }
}

export interface PathTree {
  readonly root: PathNode;
  /** No key longer than this, as written in JSON, can match: each byte of a key is at most 6 bytes escaped (`\u0061`). */
  readonly maxRawKeyBytes: number;
}

// A sniffer is made per response, always from one of a few constant path lists: each list's
// tree is built once. Trees are never changed after they are built.
const treeCache = new WeakMap<readonly string[], PathTree>();

/** Throws RangeError on a path with an empty key ("", "a..b"): that is a programming error, not input. */
export function buildPathTree(paths: readonly string[]): PathTree {
  let tree = treeCache.get(paths);
  if (tree === undefined) {
    tree = buildTree(paths);
    treeCache.set(paths, tree);
  }
  return tree;
}

function buildTree(paths: readonly string[]): PathTree {
  const root = new PathNode();
  let maxKeyBytes = 0;
  for (const path of paths) {
    let node = root;
    for (const name of path.split('.')) {
      if (name === '') throw new RangeError(`json-sniffer: capture path ${JSON.stringify(path)} has an empty key`);
      let at = node.names.indexOf(name);
      if (at < 0) {
        at = node.children.length;
        const key = Buffer.from(name, 'utf8');
        maxKeyBytes = Math.max(maxKeyBytes, key.length);
        node.keys.push(key);
        node.names.push(name);
        node.children.push(new PathNode());
      }
      node = node.children[at] as PathNode;
    }
    node.capture = path;
  }
  return { root, maxRawKeyBytes: 6 * maxKeyBytes };
}
