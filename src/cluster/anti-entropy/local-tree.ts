/**
 * This node's anti-entropy tree, seen from the main thread: every shard answers TREE hops over its own
 * entries (src/shard/tree-requests.ts) and the node's answer is the XOR of theirs (node hashes) or
 * their concatenation (leaf listings), so a node's tree does not depend on its shard count.
 */
import type { LallyError } from '../../errors.js';
import {
  decodeNodeHashes,
  decodeTreeList,
  decodeTreePrints,
  encodeTreeRequest,
  MAX_TREE_NODES_PER_HOP,
  type TreeEntry,
  TreeMode,
} from '../../hop/tree-messages.js';
import type { HashRange } from '../../placement/placement.js';

/** The part of MainEndpoint this uses (a fake in tests). */
export interface TreeHops {
  readonly shards: number;
  tree(
    shard: number,
    request: Uint8Array,
    callback: (answer: Uint8Array | undefined, error: LallyError | undefined) => void,
  ): void;
}

/** A LIST page per shard hop, about this many bytes. */
const LIST_PAGE_BYTES = 128 * 1024;

function hop(hops: TreeHops, shard: number, request: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    hops.tree(shard, request, (answer, error) => {
      if (error !== undefined || answer === undefined) reject(error);
      else resolve(answer);
    });
  });
}

export class LocalTree {
  readonly #hops: TreeHops;

  constructor(hops: TreeHops) {
    this.#hops = hops;
  }

  /** The hashes (lo, hi lanes per node) of `nodes` at `level` within `ranges`. */
  async nodes(
    round: number,
    ranges: readonly HashRange[],
    level: number,
    nodes: readonly number[],
  ): Promise<Uint32Array> {
    const out = new Uint32Array(nodes.length * 2);
    for (let start = 0; start < nodes.length; start += MAX_TREE_NODES_PER_HOP) {
      const chunk = nodes.slice(start, start + MAX_TREE_NODES_PER_HOP);
      const request = encodeTreeRequest({ mode: TreeMode.NODES, round, ranges, level, nodes: chunk });
      const answers = await Promise.all(
        Array.from({ length: this.#hops.shards }, (_, s) => hop(this.#hops, s, request)),
      );
      for (const answer of answers) {
        const lanes = decodeNodeHashes(answer);
        for (let i = 0; i < lanes.length; i++) out[2 * start + i] = (out[2 * start + i]! ^ lanes[i]!) >>> 0;
      }
    }
    return out;
  }

  /**
   * The entries of the leaves set in `leaves` (a bitmask) within `ranges`, only those of `keyHashes`
   * (ascending) if given, at most `maxEntries` (`truncated` says there were more).
   */
  async list(
    round: number,
    ranges: readonly HashRange[],
    leaves: Uint8Array,
    maxEntries: number,
    keyHashes?: Uint32Array,
  ): Promise<{ entries: TreeEntry[]; truncated: boolean }> {
    const entries: TreeEntry[] = [];
    for (let shard = 0; shard < this.#hops.shards; shard++) {
      let session = 0;
      do {
        const request = encodeTreeRequest({
          mode: TreeMode.LIST,
          round,
          ranges,
          session,
          maxBytes: LIST_PAGE_BYTES,
          leaves,
          keyHashes,
        });
        const page = decodeTreeList(await hop(this.#hops, shard, request));
        for (const e of page.entries) entries.push(e);
        session = page.next;
        if (entries.length >= maxEntries) return { entries: entries.slice(0, maxEntries), truncated: true };
      } while (session !== 0);
    }
    return { entries, truncated: false };
  }

  /**
   * The fingerprints (key hash, low lane of the entry hash; interleaved) of the entries of the leaves
   * set in `leaves` within `ranges`, at most `maxEntries`.
   */
  async prints(
    round: number,
    ranges: readonly HashRange[],
    leaves: Uint8Array,
    maxEntries: number,
  ): Promise<{ prints: Uint32Array; truncated: boolean }> {
    const parts: Uint32Array[] = [];
    let count = 0;
    let truncated = false;
    outer: for (let shard = 0; shard < this.#hops.shards; shard++) {
      let session = 0;
      do {
        const request = encodeTreeRequest({
          mode: TreeMode.PRINTS,
          round,
          ranges,
          session,
          maxBytes: LIST_PAGE_BYTES,
          leaves,
        });
        const page = decodeTreePrints(await hop(this.#hops, shard, request));
        parts.push(page.prints);
        count += page.prints.length / 2;
        session = page.next;
        if (count >= maxEntries) {
          truncated = true;
          break outer;
        }
      } while (session !== 0);
    }
    const prints = new Uint32Array(Math.min(count, maxEntries) * 2);
    let at = 0;
    for (const part of parts) {
      const take = Math.min(part.length, prints.length - at);
      prints.set(part.subarray(0, take), at);
      at += take;
    }
    return { prints, truncated };
  }
}
