import { copyBytes } from '../bytes/byte-copy.js';
import { CLASS_BYTES } from './size-classes.js';
import {
  CAPACITY,
  CLASS_MASK,
  F_WALL,
  FREE,
  GENERATION,
  HEADER_BYTES,
  type SharedTableBuffers,
  stripeOf,
  TableViews,
  TOMBSTONE,
  W_COUNTER,
  W_KEY_LENGTH,
  W_NODE,
  W_VALUE_LENGTH,
} from './table-layout.js';

/** What a validated read found. */
export const ReadStatus = {
  FOUND: 0,
  MISSING: 1,
  /** The owner kept changing the key (or rehashing) through every attempt: ask the owner instead. */
  CONTENDED: 2,
} as const;
export type ReadStatus = (typeof ReadStatus)[keyof typeof ReadStatus];

/** Attempts before a read gives up (CONTENDED); each fails only if the owner wrote meanwhile. */
const ATTEMPTS = 16;

/**
 * Reads another shard's table from any thread, without locks, validated by sequence locks
 * (docs/shared-store.md): a read takes the index generation and the key's stripe (Atomics.load),
 * does plain reads of the index, the directory and the entry, copies what it found (the value's
 * bytes into a buffer of its own), and takes both again; it keeps the copy only if neither changed and
 * neither was odd (a failed attempt's copy is overwritten by the next). Every offset and length read
 * is bounds-checked before use, as a torn read may see anything. After a FOUND the fields below hold
 * the entry, until the next read.
 */
export class TableReader {
  readonly #meta: Int32Array;
  readonly #v: TableViews;
  /** The value's UTF-8 bytes are #copy[0, #valueLength). */
  #copy: Buffer = Buffer.allocUnsafeSlow(1024);
  /** #copy's ArrayBuffer, kept: a view made over it costs less than Buffer#subarray (no FastBuffer). */
  #copyBuffer = this.#copy.buffer;
  #valueLength = 0;
  wall = 0;
  counter = 0;
  node = 0;
  tombstone = false;
  /** Reads that had to try again, and reads that gave up. */
  retries = 0;
  contended = 0;

  constructor(buffers: SharedTableBuffers) {
    this.#meta = new Int32Array(buffers.meta);
    this.#v = new TableViews(buffers);
  }

  /** This reader's copy: after a FOUND, the value's UTF-8 bytes are copy[0, valueLength). */
  get copy(): Uint8Array {
    return this.#copy;
  }

  get valueLength(): number {
    return this.#valueLength;
  }

  /** The found value's UTF-8 bytes: a view of this reader's copy, valid until its next read. */
  get valueBytes(): Uint8Array {
    return new Uint8Array(this.#copyBuffer, 0, this.#valueLength);
  }

  /** The found value, decoded. */
  get value(): string {
    return this.#valueLength === 0 ? '' : this.#copy.toString('utf8', 0, this.#valueLength);
  }

  /** Looks up the key whose UTF-8 bytes are key[0, length) and whose table hash is `hash`. */
  read(key: Uint8Array, length: number, hash: number): ReadStatus {
    const meta = this.#meta;
    const stripe = stripeOf(hash);
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      if (attempt > 0) this.retries++;
      // Before the generation: a buffer grown before it was read is then seen at its new length.
      this.#v.refresh();
      const generation = Atomics.load(meta, GENERATION);
      const sequence = Atomics.load(meta, stripe);
      if ((generation & 1) !== 0 || (sequence & 1) !== 0) continue;
      const status = this.#attempt(key, length, hash, Atomics.load(meta, CAPACITY));
      if (Atomics.load(meta, stripe) !== sequence || Atomics.load(meta, GENERATION) !== generation) continue;
      if (status !== ReadStatus.CONTENDED) return status;
    }
    this.contended++;
    return ReadStatus.CONTENDED;
  }

  /** One unvalidated pass; CONTENDED when something read cannot be right (a torn read). */
  #attempt(key: Uint8Array, length: number, hash: number, capacity: number): ReadStatus {
    const index = this.#v.index;
    if (capacity <= 0 || (capacity & (capacity - 1)) !== 0 || capacity * 2 > index.length) {
      return ReadStatus.CONTENDED;
    }
    const mask = capacity - 1;
    let slot = hash & mask;
    for (let probes = 0; probes < capacity; probes++, slot = (slot + 1) & mask) {
      // Atomic: the owner stores a new slot's id last (Atomics.store), after its hash and directory entry.
      const id = Atomics.load(index, slot * 2 + 1);
      if (id === 0) return ReadStatus.MISSING;
      if (index[slot * 2] !== hash) continue;
      const offset = this.#v.directory[id - 1];
      if (offset === undefined) return ReadStatus.CONTENDED;
      const match = this.#match(offset, key, length);
      if (match !== ReadStatus.MISSING) return match;
    }
    return ReadStatus.CONTENDED;
  }

  /** FOUND (fields copied) when the entry at `offset` is the key's, MISSING when it is another key's. */
  #match(offset: number, key: Uint8Array, length: number): ReadStatus {
    const { bytes, words } = this.#v;
    if ((offset & 7) !== 0 || offset + HEADER_BYTES > bytes.length) return ReadStatus.CONTENDED;
    const word = offset >>> 2;
    const flags = words[word]!;
    const c = flags & CLASS_MASK;
    const keyLength = words[word + W_KEY_LENGTH]!;
    const valueLength = words[word + W_VALUE_LENGTH]!;
    const size = CLASS_BYTES[c];
    if (
      (flags & FREE) !== 0 ||
      size === undefined ||
      offset + size > bytes.length ||
      HEADER_BYTES + keyLength + valueLength > size
    ) {
      return ReadStatus.CONTENDED;
    }
    if (keyLength !== length) return ReadStatus.MISSING;
    const start = offset + HEADER_BYTES;
    for (let i = 0; i < length; i++) if (bytes[start + i] !== key[i]) return ReadStatus.MISSING;
    const valueStart = start + keyLength;
    this.#copyValue(bytes, valueStart, valueLength);
    this.wall = this.#v.walls[(offset >>> 3) + F_WALL]!;
    this.counter = words[word + W_COUNTER]!;
    this.node = words[word + W_NODE]!;
    this.tombstone = (flags & TOMBSTONE) !== 0;
    return ReadStatus.FOUND;
  }

  /** Copies bytes[start, start + length) (bounds-checked by the caller) into #copy. */
  #copyValue(bytes: Uint8Array, start: number, length: number): void {
    if (length > this.#copy.length) {
      let size = this.#copy.length * 2;
      while (size < length) size *= 2;
      this.#copy = Buffer.allocUnsafeSlow(size);
      this.#copyBuffer = this.#copy.buffer;
    }
    const copy = this.#copy;
    // A loop for short values (a subarray costs an object and a call); copyBytes for the others, as
    // V8's own copy out of a SharedArrayBuffer goes byte by byte when the two sides are not aligned
    // alike (src/bytes/byte-copy.ts).
    if (length <= 64) for (let i = 0; i < length; i++) copy[i] = bytes[start + i]!;
    else copyBytes(copy, 0, bytes.subarray(start, start + length));
    this.#valueLength = length;
  }
}
