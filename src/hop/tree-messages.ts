/**
 * The TREE hop (main thread -> shard, anti-entropy; docs/convergence.md): its request and answer
 * layouts, encoder and decoder side by side. All integers little-endian.
 *
 * Request (the hop's value bytes):
 *   u8 mode (TreeMode), u8 level, u16 range count, u32 round,
 *   per range: u32 start, u32 last (inclusive: a range may end at 2^32),
 *   NODES: u32 count, then count u32 node indices at `level` (0 the root, TREE_DEPTH the leaves);
 *   LIST, PRINTS: u32 session (0: a new listing), u32 max bytes, then LEAVES / 8 bytes: the leaf
 *          bitmask, then u32 filter count and that many u32 key hashes, ascending (0: no filter; else
 *          only the entries whose key hash is one of them).
 * Answer:
 *   NODES: per node u32 lo, u32 hi (the XOR of its leaves' digests within the ranges);
 *   LIST:  u32 next session (0: done), u32 count, then per entry: u32 wall low, u32 wall high,
 *          u32 counter, u32 node, u8 flags (1: tombstone), u16 key bytes, the key's UTF-8 bytes;
 *   PRINTS: u32 next session, u32 count, then per entry u32 key hash, u32 the low lane of its entry
 *          hash (8 bytes an entry instead of a listing's 30 or so: what tells the differing keys).
 */
import type { HashRange } from '../placement/placement.js';
import { LEAVES } from '../store/range-digest.js';
import { HOP_HEADER_BYTES, type HopHeader } from './hop-messages.js';

export const TreeMode = { NODES: 1, LIST: 2, PRINTS: 3 } as const;
export type TreeMode = (typeof TreeMode)[keyof typeof TreeMode];

const TWO_TO_32 = 2 ** 32;
export const LEAF_MASK_BYTES = LEAVES / 8;
/** Node indices in one NODES hop: the answer (8 bytes each) stays well within a ring. */
export const MAX_TREE_NODES_PER_HOP = 16384;
/** Per-entry bytes of a LIST answer besides the key. */
export const TREE_ENTRY_HEAD_BYTES = 19;

export interface TreeEntry {
  readonly key: string;
  readonly wall: number;
  readonly counter: number;
  readonly node: number;
  readonly tombstone: boolean;
}

export type TreeRequest =
  | {
      readonly mode: typeof TreeMode.NODES;
      readonly round: number;
      readonly ranges: readonly HashRange[];
      readonly level: number;
      readonly nodes: readonly number[];
    }
  | {
      readonly mode: typeof TreeMode.LIST | typeof TreeMode.PRINTS;
      readonly round: number;
      readonly ranges: readonly HashRange[];
      readonly session: number;
      readonly maxBytes: number;
      readonly leaves: Uint8Array;
      /** Ascending key hashes: only their entries (undefined or empty: every entry of the leaves). */
      readonly keyHashes?: Uint32Array | undefined;
    };

export function encodeTreeRequest(request: TreeRequest): Uint8Array {
  const head = 8 + request.ranges.length * 8;
  const size =
    request.mode === TreeMode.NODES
      ? head + 4 + request.nodes.length * 4
      : head + 12 + LEAF_MASK_BYTES + (request.keyHashes?.length ?? 0) * 4;
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, request.mode);
  view.setUint8(1, request.mode === TreeMode.NODES ? request.level : 0);
  view.setUint16(2, request.ranges.length, true);
  view.setUint32(4, request.round >>> 0, true);
  let at = 8;
  for (const r of request.ranges) {
    view.setUint32(at, r.start, true);
    view.setUint32(at + 4, r.end - 1, true);
    at += 8;
  }
  if (request.mode === TreeMode.NODES) {
    view.setUint32(at, request.nodes.length, true);
    at += 4;
    for (const n of request.nodes) {
      view.setUint32(at, n, true);
      at += 4;
    }
  } else {
    view.setUint32(at, request.session >>> 0, true);
    view.setUint32(at + 4, request.maxBytes >>> 0, true);
    bytes.set(request.leaves.subarray(0, LEAF_MASK_BYTES), at + 8);
    at += 8 + LEAF_MASK_BYTES;
    const filter = request.keyHashes ?? new Uint32Array(0);
    view.setUint32(at, filter.length, true);
    for (let i = 0; i < filter.length; i++) view.setUint32(at + 4 + i * 4, filter[i]!, true);
  }
  return bytes;
}

/** The request in a TREE hop; undefined when malformed. */
export function decodeTreeRequest(message: Uint8Array, header: HopHeader): TreeRequest | undefined {
  const start = HOP_HEADER_BYTES + header.keyLength;
  const bytes = message.subarray(start, start + header.valueLength);
  if (bytes.length < 8) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const mode = view.getUint8(0);
  const level = view.getUint8(1);
  const count = view.getUint16(2, true);
  const round = view.getUint32(4, true);
  let at = 8;
  if (bytes.length < at + count * 8) return undefined;
  const ranges: HashRange[] = [];
  for (let i = 0; i < count; i++) {
    ranges.push({ start: view.getUint32(at, true), end: view.getUint32(at + 4, true) + 1 });
    at += 8;
  }
  if (mode === TreeMode.NODES) {
    if (bytes.length < at + 4) return undefined;
    const n = view.getUint32(at, true);
    at += 4;
    if (bytes.length < at + n * 4) return undefined;
    const nodes: number[] = [];
    for (let i = 0; i < n; i++) nodes.push(view.getUint32(at + i * 4, true));
    return { mode, round, ranges, level, nodes };
  }
  if (mode === TreeMode.LIST || mode === TreeMode.PRINTS) {
    if (bytes.length < at + 12 + LEAF_MASK_BYTES) return undefined;
    const filterAt = at + 8 + LEAF_MASK_BYTES;
    const count = view.getUint32(filterAt, true);
    if (bytes.length < filterAt + 4 + count * 4) return undefined;
    const keyHashes = new Uint32Array(count);
    for (let i = 0; i < count; i++) keyHashes[i] = view.getUint32(filterAt + 4 + i * 4, true);
    return {
      mode,
      round,
      ranges,
      session: view.getUint32(at, true),
      maxBytes: view.getUint32(at + 4, true),
      leaves: bytes.slice(at + 8, at + 8 + LEAF_MASK_BYTES),
      keyHashes: count === 0 ? undefined : keyHashes,
    };
  }
  return undefined;
}

/** NODES answer: lanes as written by the shard. */
export function encodeNodeHashes(lanes: Uint32Array): Uint8Array {
  const bytes = new Uint8Array(lanes.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < lanes.length; i++) view.setUint32(i * 4, lanes[i]!, true);
  return bytes;
}

export function decodeNodeHashes(bytes: Uint8Array): Uint32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lanes = new Uint32Array(bytes.byteLength >>> 2);
  for (let i = 0; i < lanes.length; i++) lanes[i] = view.getUint32(i * 4, true);
  return lanes;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Builds a LIST answer up to a byte bound. */
export class TreeListWriter {
  readonly #parts: Uint8Array[] = [];
  #bytes = 8;
  #count = 0;
  readonly #maxBytes: number;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  get full(): boolean {
    return this.#bytes >= this.#maxBytes;
  }

  add(key: string, wall: number, counter: number, node: number, tombstone: boolean): void {
    const keyBytes = encoder.encode(key);
    const part = new Uint8Array(TREE_ENTRY_HEAD_BYTES + keyBytes.length);
    const view = new DataView(part.buffer);
    view.setUint32(0, wall >>> 0, true);
    view.setUint32(4, Math.floor(wall / TWO_TO_32) >>> 0, true);
    view.setUint32(8, counter >>> 0, true);
    view.setUint32(12, node >>> 0, true);
    view.setUint8(16, tombstone ? 1 : 0);
    view.setUint16(17, keyBytes.length, true);
    part.set(keyBytes, TREE_ENTRY_HEAD_BYTES);
    this.#parts.push(part);
    this.#bytes += part.length;
    this.#count++;
  }

  finish(nextSession: number): Uint8Array {
    const out = new Uint8Array(this.#bytes);
    const view = new DataView(out.buffer);
    view.setUint32(0, nextSession >>> 0, true);
    view.setUint32(4, this.#count, true);
    let at = 8;
    for (const part of this.#parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }
}

export function decodeTreeList(bytes: Uint8Array): { next: number; entries: TreeEntry[] } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const next = view.getUint32(0, true);
  const count = view.getUint32(4, true);
  const entries: TreeEntry[] = [];
  let at = 8;
  for (let i = 0; i < count; i++) {
    const keyLength = view.getUint16(at + 17, true);
    entries.push({
      wall: view.getUint32(at + 4, true) * TWO_TO_32 + view.getUint32(at, true),
      counter: view.getUint32(at + 8, true),
      node: view.getUint32(at + 12, true),
      tombstone: view.getUint8(at + 16) === 1,
      key: decoder.decode(bytes.subarray(at + TREE_ENTRY_HEAD_BYTES, at + TREE_ENTRY_HEAD_BYTES + keyLength)),
    });
    at += TREE_ENTRY_HEAD_BYTES + keyLength;
  }
  return { next, entries };
}

/** Builds a PRINTS answer: 8 bytes an entry. */
export class TreePrintsWriter {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #count = 0;

  constructor(maxBytes: number) {
    this.#bytes = new Uint8Array(8 + Math.max(8, maxBytes - (maxBytes % 8)));
    this.#view = new DataView(this.#bytes.buffer);
  }

  get full(): boolean {
    return 8 + (this.#count + 1) * 8 > this.#bytes.length;
  }

  add(keyHash: number, lo: number): void {
    const at = 8 + this.#count * 8;
    this.#view.setUint32(at, keyHash >>> 0, true);
    this.#view.setUint32(at + 4, lo >>> 0, true);
    this.#count++;
  }

  finish(nextSession: number): Uint8Array {
    this.#view.setUint32(0, nextSession >>> 0, true);
    this.#view.setUint32(4, this.#count, true);
    return this.#bytes.slice(0, 8 + this.#count * 8);
  }
}

/** A PRINTS answer: the next session and the (key hash, low lane) pairs, interleaved. */
export function decodeTreePrints(bytes: Uint8Array): { next: number; prints: Uint32Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(4, true);
  const prints = new Uint32Array(count * 2);
  for (let i = 0; i < count * 2; i++) prints[i] = view.getUint32(8 + i * 4, true);
  return { next: view.getUint32(0, true), prints };
}
