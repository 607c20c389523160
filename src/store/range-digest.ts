/**
 * Incremental digests of a shard's entries by ring position, for anti-entropy (docs/convergence.md).
 *
 * The 32-bit ring (placementOf(keyHash), src/placement/placement.ts) is cut into LEAVES equal leaves
 * (the top LEAF_BITS bits of a position). A leaf's digest is the XOR of a 64-bit hash of (key,
 * version, tombstone) of every entry in it, kept as two 32-bit lanes. XOR is its own inverse, so a
 * change costs two hashes: the old entry's out, the new one's in; no leaf is ever recomputed. Because
 * the digest of a set is the XOR of its parts, the digests of all shards of a node XOR into the node's
 * digest whatever its shard count, and a tree node is the XOR of the leaves under it: interior nodes
 * are computed on demand (a fan-out of FANOUT, TREE_DEPTH levels below the root).
 *
 * The key's part of the hash is its 32-bit FNV-1a hash (the one that routes it): two keys collide in a
 * leaf only with the same hash and the same version, that is (but for imports) never. This module is
 * called by the engine on every store change (src/shard/shard-engine.ts), not by the store itself, so
 * that it survives a rewrite of the store's internals.
 */
import type { Version } from '../clock/hlc.js';

export const LEAF_BITS = 16;
export const LEAVES = 1 << LEAF_BITS;
export const FANOUT_BITS = 4;
export const FANOUT = 1 << FANOUT_BITS;
/** Levels below the root: level 0 is the root, level TREE_DEPTH the leaves. */
export const TREE_DEPTH = LEAF_BITS / FANOUT_BITS;

const TWO_TO_32 = 2 ** 32;

/** The leaf of a ring position. */
export function leafOf(position: number): number {
  return position >>> (32 - LEAF_BITS);
}

/** The ring positions of a leaf: [start, end). */
export function leafRange(leaf: number): { start: number; end: number } {
  const width = 2 ** (32 - LEAF_BITS);
  return { start: leaf * width, end: (leaf + 1) * width };
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Lanes of the last entryHash call (no allocation per write). */
export const hashOut = { lo: 0, hi: 0 };

/**
 * The 64-bit hash of one entry into `hashOut`: two independent 32-bit chains over the key hash, the
 * version's words and the tombstone flag.
 */
export function entryHash(
  keyHash: number,
  wall: number,
  counter: number,
  node: number,
  tombstone: boolean,
): void {
  const wallLo = wall >>> 0;
  const wallHi = Math.floor(wall / TWO_TO_32) >>> 0;
  const t = tombstone ? 0x5bd1e995 : 0;
  let a = fmix32(keyHash ^ 0x9e3779b9);
  a = fmix32(a ^ wallLo);
  a = fmix32((a + wallHi) ^ counter);
  a = fmix32(a ^ node ^ t);
  let b = fmix32(keyHash ^ 0x7f4a7c15);
  b = fmix32(b ^ Math.imul(wallLo, 0x27d4eb2f));
  b = fmix32((b ^ wallHi) + Math.imul(counter, 0x165667b1));
  b = fmix32((b + node) ^ (t >>> 1) ^ 0xd3a2646c);
  hashOut.lo = a;
  hashOut.hi = b;
}

export class RangeDigest {
  /** Leaf i's lanes at 2i (lo) and 2i + 1 (hi). */
  readonly leaves = new Uint32Array(2 * LEAVES);
  /** Store changes folded in (for the figures). */
  changes = 0;

  /** Folds an entry in, or out (the same call: XOR). */
  toggle(keyHash: number, position: number, version: Version, tombstone: boolean): void {
    entryHash(keyHash, version.wall, version.counter, version.node, tombstone);
    const at = leafOf(position) * 2;
    this.leaves[at] = (this.leaves[at]! ^ hashOut.lo) >>> 0;
    this.leaves[at + 1] = (this.leaves[at + 1]! ^ hashOut.hi) >>> 0;
  }

  /**
   * One store change: `before` (the entry the key had, if any) out, the new one in. The key's ring
   * position and hash are passed in so that the caller computes them once.
   */
  replace(
    keyHash: number,
    position: number,
    before: { wall: number; counter: number; node: number; tombstone: boolean } | undefined,
    after: Version,
    tombstone: boolean,
  ): void {
    this.changes++;
    if (before !== undefined) this.toggle(keyHash, position, before, before.tombstone);
    this.toggle(keyHash, position, after, tombstone);
  }

  /** A key left the store (a collected tombstone). */
  remove(
    keyHash: number,
    position: number,
    before: { wall: number; counter: number; node: number; tombstone: boolean },
  ): void {
    this.changes++;
    this.toggle(keyHash, position, before, before.tombstone);
  }

  clear(): void {
    this.leaves.fill(0);
  }
}
