/**
 * The shard side of the TREE hop (anti-entropy, src/hop/tree-messages.ts): hashes of tree nodes over
 * some ring ranges, and listings (key, version, tombstone) of the entries in some leaves.
 *
 * A leaf wholly inside the ranges is the engine's incremental digest (src/store/range-digest.ts); a
 * leaf a range boundary cuts (only with a replication factor below the cluster's size) is computed by
 * one scan of the store per round and kept for that round. Listings scan the store too (the store has
 * no index by position), one pass per listing, resumed by session across pages.
 */
import { hashKey } from '../hash/key-hash.js';
import type { HopHeader } from '../hop/hop-messages.js';
import {
  decodeTreeRequest,
  encodeNodeHashes,
  TreeListWriter,
  TreeMode,
  TreePrintsWriter,
  type TreeRequest,
} from '../hop/tree-messages.js';
import { type HashRange, placementOf } from '../placement/placement.js';
import {
  entryHash,
  FANOUT_BITS,
  hashOut,
  LEAF_BITS,
  LEAVES,
  leafOf,
  RangeDigest,
  TREE_DEPTH,
} from '../store/range-digest.js';
import type { Entry } from '../store/shard-store.js';
import type { ShardEngine } from './shard-engine.js';

const OUT = 0;
const FULL = 1;
const PARTIAL = 2;
const LEAF_WIDTH = 2 ** (32 - LEAF_BITS);
const MAX_SESSIONS = 4;
const MAX_LIST_BYTES = 192 * 1024;

interface RoundView {
  readonly round: number;
  readonly signature: string;
  readonly classes: Uint8Array;
  /** Digests of the PARTIAL leaves, restricted to the ranges (lo at 2i, hi at 2i + 1). */
  readonly partial: Uint32Array | undefined;
}

interface ListSession {
  readonly iterator: Iterator<[string, Entry]>;
  readonly ranges: readonly HashRange[];
  readonly leaves: Uint8Array;
  readonly keyHashes: Uint32Array | undefined;
}

/** Whether `value` is in the ascending `sorted`. */
function includes(sorted: Uint32Array, value: number): boolean {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid]!;
    if (value < v) hi = mid - 1;
    else if (value > v) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Whether `position` lies in one of the sorted, disjoint `ranges`. */
export function inRanges(ranges: readonly HashRange[], position: number): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const r = ranges[mid]!;
    if (position < r.start) hi = mid - 1;
    else if (position >= r.end) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Each leaf as OUT of, FULL in, or PARTIALly in the ranges. */
export function leafClasses(ranges: readonly HashRange[]): Uint8Array {
  const classes = new Uint8Array(LEAVES);
  for (const r of ranges) {
    if (r.end <= r.start) continue;
    const first = leafOf(r.start);
    const last = leafOf(r.end - 1);
    for (let leaf = first; leaf <= last; leaf++) {
      const start = leaf * LEAF_WIDTH;
      const whole = r.start <= start && r.end >= start + LEAF_WIDTH;
      classes[leaf] = whole ? FULL : PARTIAL;
    }
  }
  return classes;
}

export class TreeRequests {
  readonly #engine: ShardEngine;
  #view: RoundView | undefined;
  readonly #sessions = new Map<number, ListSession>();
  #nextSession = 1;
  readonly counters = { nodeRequests: 0, listPages: 0, scans: 0 };

  constructor(engine: ShardEngine) {
    this.#engine = engine;
  }

  /** The answer to a TREE hop's request, or undefined when it is malformed. */
  answer(message: Uint8Array, header: HopHeader): Uint8Array | undefined {
    const request = decodeTreeRequest(message, header);
    if (request === undefined) return undefined;
    return request.mode === TreeMode.NODES ? this.#nodes(request) : this.#list(request);
  }

  #viewOf(round: number, ranges: readonly HashRange[]): RoundView {
    const signature = ranges.map((r) => `${r.start}-${r.end}`).join(',');
    const cached = this.#view;
    if (cached !== undefined && cached.round === round && cached.signature === signature) return cached;
    const classes = leafClasses(ranges);
    let partial: Uint32Array | undefined;
    if (classes.includes(PARTIAL)) {
      const digest = new RangeDigest();
      this.counters.scans++;
      for (const [key, entry] of this.#engine.store.entries()) {
        const keyHash = hashKey(key);
        const position = placementOf(keyHash);
        if (classes[leafOf(position)] !== PARTIAL || !inRanges(ranges, position)) continue;
        digest.toggle(keyHash, position, entry, entry.tombstone);
      }
      partial = digest.leaves;
    }
    const view = { round, signature, classes, partial };
    this.#view = view;
    return view;
  }

  #nodes(request: Extract<TreeRequest, { mode: 1 }>): Uint8Array {
    this.counters.nodeRequests++;
    const view = this.#viewOf(request.round, request.ranges);
    const leaves = this.#engine.digest.leaves;
    const span = 1 << (FANOUT_BITS * (TREE_DEPTH - Math.min(request.level, TREE_DEPTH)));
    const out = new Uint32Array(request.nodes.length * 2);
    for (let i = 0; i < request.nodes.length; i++) {
      const first = request.nodes[i]! * span;
      let lo = 0;
      let hi = 0;
      for (let leaf = first; leaf < first + span && leaf < LEAVES; leaf++) {
        const c = view.classes[leaf];
        if (c === OUT) continue;
        const source = c === FULL ? leaves : view.partial!;
        lo ^= source[2 * leaf]!;
        hi ^= source[2 * leaf + 1]!;
      }
      out[2 * i] = lo >>> 0;
      out[2 * i + 1] = hi >>> 0;
    }
    return encodeNodeHashes(out);
  }

  #list(request: Extract<TreeRequest, { mode: 2 | 3 }>): Uint8Array {
    this.counters.listPages++;
    let id = request.session;
    let session = id === 0 ? undefined : this.#sessions.get(id);
    if (session === undefined) {
      // A new listing (or one whose session was evicted: it starts again, the reader merges by key).
      id = this.#nextSession;
      this.#nextSession = id === 0xffffffff ? 1 : id + 1;
      this.counters.scans++;
      session = {
        iterator: this.#engine.store.entries(),
        ranges: request.ranges,
        leaves: request.leaves,
        keyHashes: request.keyHashes,
      };
    }
    this.#sessions.delete(id);
    const maxBytes = Math.min(MAX_LIST_BYTES, Math.max(4096, request.maxBytes));
    const writer =
      request.mode === TreeMode.PRINTS ? new TreePrintsWriter(maxBytes) : new TreeListWriter(maxBytes);
    const { ranges, leaves, keyHashes } = session;
    for (;;) {
      if (writer.full) {
        this.#sessions.set(id, session);
        while (this.#sessions.size > MAX_SESSIONS) {
          this.#sessions.delete(this.#sessions.keys().next().value as number);
        }
        return writer.finish(id);
      }
      const next = session.iterator.next();
      if (next.done === true) return writer.finish(0);
      const [key, entry] = next.value;
      const keyHash = hashKey(key);
      const position = placementOf(keyHash);
      const leaf = leafOf(position);
      if ((leaves[leaf >>> 3]! & (1 << (leaf & 7))) === 0 || !inRanges(ranges, position)) continue;
      if (keyHashes !== undefined && !includes(keyHashes, keyHash)) continue;
      if (writer instanceof TreePrintsWriter) {
        entryHash(keyHash, entry.wall, entry.counter, entry.node, entry.tombstone);
        writer.add(keyHash, hashOut.lo);
      } else writer.add(key, entry.wall, entry.counter, entry.node, entry.tombstone);
    }
  }
}
