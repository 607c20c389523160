import { copyBytes } from '../bytes/byte-copy.js';
import type { Version } from '../clock/hlc.js';
import { classOf } from './size-classes.js';
import { TableArena } from './table-arena.js';
import {
  allocateTableBuffers,
  CAPACITY,
  CLASS_MASK,
  COUNT,
  F_WALL,
  FORGOTTEN,
  GENERATION,
  growBuffer,
  HEADER_BYTES,
  MAX_BUFFER_BYTES,
  type SharedTableBuffers,
  stripeOf,
  TableViews,
  TOMBSTONE,
  W_CLASS,
  W_COUNTER,
  W_KEY_LENGTH,
  W_NODE,
  W_VALUE_LENGTH,
} from './table-layout.js';

/** The index is rehashed to twice its capacity before it is more than this full. */
const MAX_LOAD = 0.75;

/**
 * One shard's table, the owner's side: the only writer (docs/shared-store.md). Keys are UTF-8 bytes
 * with their table hash (tableHash); a key gets an id on its first write and keeps it (deletes are
 * tombstones). Readers in other threads use TableReader over the same buffers.
 */
export class SharedTable {
  readonly buffers: SharedTableBuffers;
  readonly arena: TableArena;
  readonly #meta: Int32Array;
  /** Fixed-length views, remade after each growth (TableViews). */
  readonly #v: TableViews;
  #capacity: number;
  #count = 0;

  constructor(buffers: SharedTableBuffers = allocateTableBuffers()) {
    this.buffers = buffers;
    this.#meta = new Int32Array(buffers.meta);
    this.#v = new TableViews(buffers);
    this.arena = new TableArena(buffers.arena, this.#meta, this.#v);
    this.#capacity = Atomics.load(this.#meta, CAPACITY);
    if (Atomics.load(this.#meta, COUNT) !== 0) throw new Error('a SharedTable must start on empty buffers');
  }

  /** Keys held, tombstones included. */
  get count(): number {
    return this.#count;
  }

  get capacity(): number {
    return this.#capacity;
  }

  /**
   * Sizes the index for `keys` keys now, to the capacity that writing that many new keys would have
   * doubled it to (so no more memory than they would take): a replay that knows how many keys come
   * saves the rehashes on the way (40 to 90 ms per 500k keys, profiled).
   */
  reserve(keys: number): void {
    let capacity = this.#capacity;
    while (keys > capacity * MAX_LOAD && capacity * 8 < MAX_BUFFER_BYTES) capacity *= 2;
    if (capacity !== this.#capacity) this.#rehash(capacity);
  }

  /** The id of the key whose UTF-8 bytes are key[0, length), or -1. */
  find(key: Uint8Array, length: number, hash: number): number {
    const { index, directory, bytes } = this.#v;
    const mask = this.#capacity - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const id = index[slot * 2 + 1]!;
      if (id === 0) return -1;
      if (index[slot * 2] === hash && this.#sameKey(directory[id - 1]!, bytes, key, length)) {
        return id - 1;
      }
    }
  }

  #sameKey(offset: number, bytes: Uint8Array, key: Uint8Array, length: number): boolean {
    if (this.#v.words[(offset >>> 2) + W_KEY_LENGTH] !== length) return false;
    const start = offset + HEADER_BYTES;
    for (let i = 0; i < length; i++) if (bytes[start + i] !== key[i]) return false;
    return true;
  }

  // ---- reading one's own entries (no validation: only this thread writes) ----

  offsetOf(id: number): number {
    return this.#v.directory[id]!;
  }

  tombstoneAt(offset: number): boolean {
    return (this.#v.words[offset >>> 2]! & TOMBSTONE) !== 0;
  }

  /** A collected tombstone (FORGOTTEN): the key has no entry. */
  forgottenAt(offset: number): boolean {
    return (this.#v.words[offset >>> 2]! & FORGOTTEN) !== 0;
  }

  /** Marks the tombstone of key `id` (of table hash `hash`) collected, under its stripe's lock. */
  forget(id: number, hash: number): void {
    const stripe = stripeOf(hash);
    const word = this.#v.directory[id]! >>> 2;
    Atomics.add(this.#meta, stripe, 1);
    this.#v.words[word] = this.#v.words[word]! | TOMBSTONE | FORGOTTEN;
    Atomics.add(this.#meta, stripe, 1);
  }

  /** Writes the entry's version into `into` and returns it. */
  versionAt(offset: number, into: { wall: number; counter: number; node: number }): Version {
    const word = offset >>> 2;
    into.wall = this.#v.walls[(offset >>> 3) + F_WALL]!;
    into.counter = this.#v.words[word + W_COUNTER]!;
    into.node = this.#v.words[word + W_NODE]!;
    return into;
  }

  keyAt(offset: number): string {
    const length = this.#v.words[(offset >>> 2) + W_KEY_LENGTH]!;
    const start = offset + HEADER_BYTES;
    return length === 0 ? '' : this.#v.bytes.utf8Slice(start, start + length);
  }

  valueAt(offset: number): string {
    const word = offset >>> 2;
    const length = this.#v.words[word + W_VALUE_LENGTH]!;
    if (length === 0) return '';
    const start = offset + HEADER_BYTES + this.#v.words[word + W_KEY_LENGTH]!;
    return this.#v.bytes.utf8Slice(start, start + length);
  }

  /** The arena's bytes as this thread sees them now (its view is remade when the arena grows). */
  get arenaBytes(): Uint8Array {
    return this.#v.bytes;
  }

  /** Where the entry's value starts in arenaBytes. */
  valueStartAt(offset: number): number {
    return offset + HEADER_BYTES + this.#v.words[(offset >>> 2) + W_KEY_LENGTH]!;
  }

  /** The entry's value length in bytes. */
  valueLengthAt(offset: number): number {
    return this.#v.words[(offset >>> 2) + W_VALUE_LENGTH]!;
  }

  /** The stored value's bytes (a view into the arena, valid until the next write). */
  valueBytesAt(offset: number): Uint8Array {
    const word = offset >>> 2;
    const start = offset + HEADER_BYTES + this.#v.words[word + W_KEY_LENGTH]!;
    // A plain view of the arena (whose Buffer starts at 0): Buffer#subarray would make a FastBuffer,
    // about 2.5 times the cost (measured), once per GET.
    return new Uint8Array(this.buffers.arena, start, this.#v.words[word + W_VALUE_LENGTH]!);
  }

  // ---- writing ----

  /**
   * Writes the key's entry: over its block when the new entry is of the block's size class, else
   * into a new block (the old one freed). `id` is the key's id from find(), or -1 for a new key (whose
   * UTF-8 bytes and hash are given; the value is written from its string, `valueLength` being its
   * UTF-8 length). Everything that can fail (the arena or the directory cannot grow) happens before
   * the stripe turns odd, so a failed write changes nothing and leaves no reader spinning.
   */
  write(
    id: number,
    key: Uint8Array,
    keyLength: number,
    hash: number,
    value: string | Uint8Array,
    valueLength: number,
    version: Version,
    tombstone: boolean,
  ): void {
    const needed = HEADER_BYTES + keyLength + valueLength;
    const meta = this.#meta;
    const stripe = stripeOf(hash);
    if (id >= 0) {
      const old = this.#v.directory[id]!;
      const inPlace = (this.#v.words[old >>> 2]! & CLASS_MASK) === classOf(needed);
      const offset = inPlace ? old : this.arena.allocate(needed);
      Atomics.add(meta, stripe, 1);
      if (!inPlace) {
        const start = old + HEADER_BYTES;
        this.#v.bytes.copyWithin(offset + HEADER_BYTES, start, start + keyLength);
      }
      this.#writeEntry(offset, keyLength, value, valueLength, version, tombstone);
      if (!inPlace) {
        this.#v.directory[id] = offset;
        this.arena.free(old);
      }
      Atomics.add(meta, stripe, 1);
      return;
    }
    if (this.#count + 1 > this.#capacity * MAX_LOAD) this.#rehash(this.#capacity * 2);
    this.#ensureDirectory(this.#count + 1);
    const offset = this.arena.allocate(needed);
    const newId = this.#count;
    Atomics.add(meta, stripe, 1);
    const bytes = this.#v.bytes;
    const start = offset + HEADER_BYTES;
    for (let i = 0; i < keyLength; i++) bytes[start + i] = key[i]!;
    this.#writeEntry(offset, keyLength, value, valueLength, version, tombstone);
    this.#v.directory[newId] = offset;
    this.#place(hash, newId + 1);
    this.#count = newId + 1;
    Atomics.store(meta, COUNT, this.#count);
    Atomics.add(meta, stripe, 1);
  }

  /** The header and the value (the key's bytes are in place already). */
  #writeEntry(
    offset: number,
    keyLength: number,
    value: string | Uint8Array,
    valueLength: number,
    version: Version,
    tombstone: boolean,
  ): void {
    const word = offset >>> 2;
    const words = this.#v.words;
    const c = words[word + W_CLASS]! & CLASS_MASK;
    words[word + W_CLASS] = tombstone ? c | TOMBSTONE : c;
    words[word + W_KEY_LENGTH] = keyLength;
    words[word + W_VALUE_LENGTH] = valueLength;
    words[word + W_COUNTER] = version.counter;
    words[word + W_NODE] = version.node;
    this.#v.walls[(offset >>> 3) + F_WALL] = version.wall;
    if (valueLength === 0) return;
    if (typeof value === 'string')
      this.#v.bytes.utf8Write(value, offset + HEADER_BYTES + keyLength, valueLength);
    else copyBytes(this.#v.bytes, offset + HEADER_BYTES + keyLength, value); // valueLength UTF-8 bytes
  }

  #place(hash: number, idPlusOne: number): void {
    const index = this.#v.index;
    const mask = this.#capacity - 1;
    let slot = hash & mask;
    while (index[slot * 2 + 1] !== 0) slot = (slot + 1) & mask;
    index[slot * 2] = hash;
    // Last and atomic: a reader that sees the id sees the hash and the directory entry written before.
    Atomics.store(index, slot * 2 + 1, idPlusOne);
  }

  #ensureDirectory(ids: number): void {
    // The view's length, not the buffer's byteLength (a call into C++): the owner remakes its views
    // after each growth.
    if (ids <= this.#v.directory.length) return;
    const buffer = this.buffers.directory;
    growBuffer(this.#meta, buffer, Math.min(buffer.byteLength * 2, MAX_BUFFER_BYTES));
    this.#v.refresh();
  }

  /**
   * Doubles the index in place under an odd generation: readers that overlap it retry or fall back to
   * a hop. The old slots are copied out, the index cleared and every key placed again.
   */
  #rehash(capacity: number): void {
    const buffer = this.buffers.index;
    if (capacity * 8 > MAX_BUFFER_BYTES) return; // past 512 Mi slots the index just fills up further
    const old = this.#v.index.slice(0, this.#capacity * 2);
    if (buffer.byteLength < capacity * 8) {
      growBuffer(this.#meta, buffer, capacity * 8);
      this.#v.refresh();
    }
    Atomics.add(this.#meta, GENERATION, 1);
    this.#v.index.fill(0, 0, capacity * 2);
    this.#capacity = capacity;
    for (let slot = 0; slot < old.length; slot += 2) {
      const id = old[slot + 1]!;
      if (id !== 0) this.#place(old[slot]!, id);
    }
    Atomics.store(this.#meta, CAPACITY, capacity);
    Atomics.add(this.#meta, GENERATION, 1);
  }

  /** Bytes of shared memory held (the arena up to its top; the index; the directory in use). */
  memory(): { arenaBytes: number; usedBytes: number; freeBytes: number; indexBytes: number } {
    return {
      arenaBytes: this.arena.topBytes,
      usedBytes: this.arena.usedBytes,
      freeBytes: this.arena.freeBytes,
      indexBytes: this.#capacity * 8 + this.#count * 4,
    };
  }
}
