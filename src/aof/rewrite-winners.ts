/**
 * The compaction's table of winners (src/aof/rewrite-job.ts): for every key of the sealed files, where
 * its newest record is (input file, offset) and that record's version, in typed arrays rather than a
 * Map of strings to objects. A Map cost about 330 bytes per key of the compaction thread's heap (the
 * key string, the Winner object, the Map's entry and the heap's growth slack), so that each shard's
 * compaction held as much memory again as its table; this table holds about 70 bytes per key:
 *
 * - an open-addressing index, linear probing, slots of (hash, id + 1), grown at 3/4 full;
 * - per id, columns in chunks of 64 Ki entries (no copy when they grow): the key's address and length
 *   in the key chunks, its input file and tombstone flag, its record's file offset, and its version;
 * - the keys' bytes, appended to 1 MiB chunks (a longer key gets a chunk of its own).
 *
 * Ids are handed out in first-seen order; a key keeps its id. One compaction thread owns it.
 */

import { tableHash } from '../store/table-layout.js';

const COLUMN_BITS = 16;
const COLUMN_CHUNK = 1 << COLUMN_BITS;
const COLUMN_MASK = COLUMN_CHUNK - 1;
const KEY_CHUNK_BYTES = 1 << 20;
const INITIAL_SLOTS = 1 << 12;
const TWO_TO_32 = 2 ** 32;
const TOMBSTONE_BIT = 1;
/** Set on a winner left out of the new base (a tombstone past its grace period). */
const DROPPED_BIT = 2;

type ColumnArray = Float64Array | Uint32Array;

/** A column of numbers by id, in fixed chunks: growing it never copies. */
class Column<T extends ColumnArray> {
  readonly chunks: T[] = [];
  readonly #make: (length: number) => T;

  constructor(make: (length: number) => T) {
    this.#make = make;
  }

  get(id: number): number {
    return this.chunks[id >>> COLUMN_BITS]![id & COLUMN_MASK]!;
  }

  set(id: number, value: number): void {
    const chunk = id >>> COLUMN_BITS;
    while (this.chunks.length <= chunk) this.chunks.push(this.#make(COLUMN_CHUNK));
    this.chunks[chunk]![id & COLUMN_MASK] = value;
  }

  get bytes(): number {
    return this.chunks.reduce((sum, c) => sum + c.byteLength, 0);
  }
}

/** The key's hash: the store's (FNV-1a then murmur3's finalizer; keys of a shard share their FNV low bits). */
export function keyHash(buf: Uint8Array, start: number, length: number): number {
  return tableHash(buf, length, start);
}

export interface WinnerVersion {
  wall: number;
  counter: number;
  node: number;
}

export class WinnerTable {
  #slots = new Uint32Array(INITIAL_SLOTS * 2);
  #capacity = INITIAL_SLOTS;
  #count = 0;
  readonly #keyAt = new Column((n) => new Float64Array(n));
  readonly #keyLength = new Column((n) => new Uint32Array(n));
  /** input << 2 | DROPPED_BIT | TOMBSTONE_BIT. */
  readonly #inputFlags = new Column((n) => new Uint32Array(n));
  readonly #fileOffset = new Column((n) => new Float64Array(n));
  readonly #wall = new Column((n) => new Float64Array(n));
  readonly #counter = new Column((n) => new Uint32Array(n));
  readonly #node = new Column((n) => new Uint32Array(n));
  readonly #keyChunks: Buffer[] = [];
  /** Bytes used in the last key chunk. */
  #keyTop = 0;

  /** Keys held. */
  get size(): number {
    return this.#count;
  }

  /** Bytes of typed arrays and key chunks held (the table's memory, but for the JS objects). */
  get bytes(): number {
    const columns = [this.#keyAt, this.#keyLength, this.#inputFlags, this.#fileOffset, this.#wall];
    const keys = this.#keyChunks.reduce((sum, c) => sum + c.byteLength, 0);
    return (
      this.#slots.byteLength +
      columns.reduce((sum, c) => sum + c.bytes, 0) +
      this.#counter.bytes +
      this.#node.bytes +
      keys
    );
  }

  /**
   * Forgets every key for the next part of a compaction (rewrite-job.ts). The index (at its capacity)
   * and the columns' chunks are kept and overwritten; the key chunks are let go and allocated again.
   */
  clear(): void {
    this.#slots.fill(0);
    this.#count = 0;
    this.#keyChunks.length = 0;
    this.#keyTop = 0;
  }

  /** The id of the key `buf[start, start + length)`, or -1. `hash` is keyHash of those bytes. */
  find(buf: Uint8Array, start: number, length: number, hash: number): number {
    const slots = this.#slots;
    const mask = this.#capacity - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const idPlusOne = slots[slot * 2 + 1]!;
      if (idPlusOne === 0) return -1;
      if (slots[slot * 2] === hash && this.#keyEquals(idPlusOne - 1, buf, start, length))
        return idPlusOne - 1;
    }
  }

  /** Adds a key that find() did not find, with its first record; returns its id. */
  add(
    buf: Uint8Array,
    start: number,
    length: number,
    hash: number,
    input: number,
    fileOffset: number,
    version: WinnerVersion,
    tombstone: boolean,
  ): number {
    if ((this.#count + 1) * 4 > this.#capacity * 3) this.#grow();
    const id = this.#count++;
    this.#storeKey(id, buf, start, length);
    this.set(id, input, fileOffset, version, tombstone);
    this.#place(hash, id + 1);
    return id;
  }

  /** Makes the record at (input, fileOffset) the key's winner. */
  set(id: number, input: number, fileOffset: number, version: WinnerVersion, tombstone: boolean): void {
    this.#inputFlags.set(id, input * 4 + (tombstone ? TOMBSTONE_BIT : 0));
    this.#fileOffset.set(id, fileOffset);
    this.#wall.set(id, version.wall);
    this.#counter.set(id, version.counter);
    this.#node.set(id, version.node);
  }

  input(id: number): number {
    return Math.floor(this.#inputFlags.get(id) / 4);
  }

  fileOffset(id: number): number {
    return this.#fileOffset.get(id);
  }

  tombstone(id: number): boolean {
    return (this.#inputFlags.get(id) & TOMBSTONE_BIT) !== 0;
  }

  dropped(id: number): boolean {
    return (this.#inputFlags.get(id) & DROPPED_BIT) !== 0;
  }

  /** Leaves the key's winner out of the new base (the key stays known, so its older records are too). */
  drop(id: number): void {
    this.#inputFlags.set(id, this.#inputFlags.get(id) | DROPPED_BIT);
  }

  /** The winner's version, into `out` (no allocation per record). */
  version(id: number, out: WinnerVersion): WinnerVersion {
    out.wall = this.#wall.get(id);
    out.counter = this.#counter.get(id);
    out.node = this.#node.get(id);
    return out;
  }

  /** Whether the record at (input, fileOffset) is the winner of key `id` and stays in the new base. */
  keeps(id: number, input: number, fileOffset: number): boolean {
    const flags = this.#inputFlags.get(id);
    return (flags & DROPPED_BIT) === 0 && flags >>> 2 === input && this.#fileOffset.get(id) === fileOffset;
  }

  #keyEquals(id: number, buf: Uint8Array, start: number, length: number): boolean {
    if (this.#keyLength.get(id) !== length) return false;
    const at = this.#keyAt.get(id);
    const chunk = this.#keyChunks[Math.floor(at / TWO_TO_32)]!;
    const pos = at % TWO_TO_32;
    for (let i = 0; i < length; i++) if (chunk[pos + i] !== buf[start + i]) return false;
    return true;
  }

  #storeKey(id: number, buf: Uint8Array, start: number, length: number): void {
    let chunkIndex = this.#keyChunks.length - 1;
    if (chunkIndex < 0 || this.#keyTop + length > this.#keyChunks[chunkIndex]!.length) {
      this.#keyChunks.push(Buffer.allocUnsafeSlow(Math.max(KEY_CHUNK_BYTES, length)));
      chunkIndex++;
      this.#keyTop = 0;
    }
    const chunk = this.#keyChunks[chunkIndex]!;
    chunk.set(buf.subarray(start, start + length), this.#keyTop);
    this.#keyAt.set(id, chunkIndex * TWO_TO_32 + this.#keyTop);
    this.#keyLength.set(id, length);
    this.#keyTop += length;
  }

  #place(hash: number, idPlusOne: number): void {
    const slots = this.#slots;
    const mask = this.#capacity - 1;
    let slot = hash & mask;
    while (slots[slot * 2 + 1] !== 0) slot = (slot + 1) & mask;
    slots[slot * 2] = hash;
    slots[slot * 2 + 1] = idPlusOne;
  }

  #grow(): void {
    const old = this.#slots;
    this.#capacity *= 2;
    this.#slots = new Uint32Array(this.#capacity * 2);
    for (let slot = 0; slot < old.length; slot += 2) {
      if (old[slot + 1] !== 0) this.#place(old[slot]!, old[slot + 1]!);
    }
  }
}
