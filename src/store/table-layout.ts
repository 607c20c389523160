/**
 * The shared memory of one shard's table (docs/shared-store.md): four SharedArrayBuffers that the
 * owning shard writes and every shard thread of the node may read.
 *
 * - meta (fixed, Int32): the index generation (odd while the index is rehashed), the index capacity,
 *   the key count, and the stripe sequence locks (a writer makes a key's stripe odd while it changes
 *   anything a reader of that key could look at).
 * - index (growable, Uint32): open addressing with linear probing, slots of (hash, id + 1); 0 is empty.
 *   A key's slot never changes once written (keys are never removed: a delete is a tombstone) until a
 *   rehash, which runs under an odd generation.
 * - directory (growable, Uint32): id -> byte offset of the key's entry in the arena. Ids are handed
 *   out in insertion order, so iterating ids is the store's insertion order.
 * - arena (growable, bytes): entries in blocks of the size classes of src/store/size-classes.ts.
 *
 * An entry, at an 8-aligned offset: u32 class | flags, u32 key length, u32 value length, u32 counter,
 * f64 wall, u32 node, then the key's UTF-8 bytes and the value's UTF-8 bytes.
 */

export interface SharedTableBuffers {
  readonly meta: SharedArrayBuffer;
  readonly index: SharedArrayBuffer;
  readonly directory: SharedArrayBuffer;
  readonly arena: SharedArrayBuffer;
}

/** Int32 positions in meta. */
export const GENERATION = 0;
export const CAPACITY = 1;
export const COUNT = 2;
/** Bumped after every growth of the index, directory or arena: views of the old lengths are remade. */
export const RESIZES = 3;
export const STRIPES = 16;
export const STRIPE_BITS = 12;
export const STRIPE_COUNT = 1 << STRIPE_BITS;
const META_INTS = STRIPES + STRIPE_COUNT;

/** The stripe (meta position) of a table hash: the top bits, as the index uses the low ones. */
export function stripeOf(hash: number): number {
  return STRIPES + (hash >>> (32 - STRIPE_BITS));
}

/** Entry header: u32 words from the block's start, and the f64 position of the wall. */
export const W_CLASS = 0;
export const W_KEY_LENGTH = 1;
export const W_VALUE_LENGTH = 2;
export const W_COUNTER = 3;
export const F_WALL = 2; // byte 16
export const W_NODE = 6;
export const HEADER_BYTES = 28;
export const CLASS_MASK = 0xff;
export const TOMBSTONE = 0x100;
/** Set on a block in a free list; its W_KEY_LENGTH word then holds the next free block. */
export const FREE = 0x200;
/**
 * Set, with TOMBSTONE, on a collected tombstone (tombstone collection, src/shard/tombstone-sweep.ts):
 * the store then has no entry for the key, while its slot and block stay (keys never leave the index);
 * readers in other threads see a tombstone, that is a missing key. The next write clears it.
 */
export const FORGOTTEN = 0x400;

/** Largest SharedArrayBuffer V8 lets grow (4 GiB). */
export const MAX_BUFFER_BYTES = 2 ** 32;

export const INITIAL_CAPACITY = 1024;
const INITIAL_DIRECTORY_BYTES = INITIAL_CAPACITY * 4;
const INITIAL_ARENA_BYTES = 1 << 20;

/** `maxArenaBytes`: the arena's bound (4 GiB; smaller in tests that fill it). */
export function allocateTableBuffers(maxArenaBytes = MAX_BUFFER_BYTES): SharedTableBuffers {
  const meta = new SharedArrayBuffer(META_INTS * 4);
  Atomics.store(new Int32Array(meta), CAPACITY, INITIAL_CAPACITY);
  return {
    meta,
    index: new SharedArrayBuffer(INITIAL_CAPACITY * 8, { maxByteLength: MAX_BUFFER_BYTES }),
    directory: new SharedArrayBuffer(INITIAL_DIRECTORY_BYTES, { maxByteLength: MAX_BUFFER_BYTES }),
    arena: new SharedArrayBuffer(Math.min(INITIAL_ARENA_BYTES, maxArenaBytes), {
      maxByteLength: maxArenaBytes,
    }),
  };
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * The table's hash of a key's UTF-8 bytes: FNV-1a (the shard hash) then murmur3's finalizer, because
 * keys of one shard share `hash % shards`, which would crowd the index's low bits. The key is
 * `bytes[start, start + length)`.
 */
export function tableHash(bytes: Uint8Array, length: number, start = 0): number {
  let h = FNV_OFFSET;
  for (let i = start, end = start + length; i < end; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, FNV_PRIME);
  }
  return tableHashOf(h);
}

/**
 * The table hash from the key's shard hash (`hashKeyBytes`, the FNV-1a part): a caller that needs
 * both, to route a key and to look it up, hashes its bytes once.
 */
export function tableHashOf(keyHash: number): number {
  let h = keyHash;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Keys up to this many UTF-16 units are encoded by a loop when they are ASCII: 22 against 88-107 ns
 * for a 5-character key (Buffer#write and utf8Write, measured); past about 20 characters the native
 * encoder is the faster.
 */
const ASCII_LOOP_MAX = 16;

/** A reusable UTF-8 encoding buffer (grown, never truncating). */
export class Utf8Buffer {
  bytes: ArenaBytes = Buffer.allocUnsafeSlow(1024) as ArenaBytes;
  length = 0;

  /** Encodes `text` into the buffer; the bytes are bytes[0, length). */
  encode(text: string): this {
    const n = text.length;
    if (n * 3 > this.bytes.length) {
      let size = this.bytes.length;
      while (size < n * 3) size *= 2;
      this.bytes = Buffer.allocUnsafeSlow(size) as ArenaBytes;
    }
    const bytes = this.bytes;
    if (n <= ASCII_LOOP_MAX) {
      let i = 0;
      for (; i < n; i++) {
        const c = text.charCodeAt(i);
        if (c >= 0x80) break;
        bytes[i] = c;
      }
      if (i === n) {
        this.length = n;
        return this;
      }
    }
    this.length = bytes.utf8Write(text, 0, bytes.length);
    return this;
  }

  /** Copies key bytes that are UTF-8 already, `source[start, end)`; the bytes are bytes[0, length). */
  copyFrom(source: Uint8Array, start: number, end: number): this {
    const n = end - start;
    if (n > this.bytes.length) {
      let size = this.bytes.length;
      while (size < n) size *= 2;
      this.bytes = Buffer.allocUnsafeSlow(size) as ArenaBytes;
    }
    const bytes = this.bytes;
    if (n <= ASCII_LOOP_MAX) for (let i = 0; i < n; i++) bytes[i] = source[start + i]!;
    else bytes.set(source.subarray(start, end));
    this.length = n;
    return this;
  }
}

/**
 * Node's Buffer methods under toString and write, without their argument checks (present since Node
 * 0.x, undocumented): a GET of a 100-byte value spends a good part of its time in those checks.
 */
export interface ArenaBytes extends Buffer {
  utf8Write(text: string, offset: number, length: number): number;
  utf8Slice(start: number, end: number): string;
}

/**
 * Fixed-length views over a table's growable buffers, remade when RESIZES changes: in Node 20 an
 * element access through a length-tracking view of a growable SharedArrayBuffer is about 20 times
 * slower than through a fixed-length one (bench figures in docs/shared-store.md).
 */
export class TableViews {
  readonly #buffers: SharedTableBuffers;
  readonly #meta: Int32Array;
  #resizes = -1;
  index!: Uint32Array;
  directory!: Uint32Array;
  words!: Uint32Array;
  walls!: Float64Array;
  bytes!: ArenaBytes;

  constructor(buffers: SharedTableBuffers) {
    this.#buffers = buffers;
    this.#meta = new Int32Array(buffers.meta);
    this.refresh();
  }

  /** Remakes the views if a buffer grew since they were made (one atomic load when none did). */
  refresh(): void {
    const resizes = Atomics.load(this.#meta, RESIZES);
    if (resizes === this.#resizes) return;
    this.#resizes = resizes;
    const { index, directory, arena } = this.#buffers;
    // Division, not >>>: a buffer at its 4 GiB bound has a byteLength of 2^32, which >>> turns into 0.
    this.index = new Uint32Array(index, 0, Math.floor(index.byteLength / 4));
    this.directory = new Uint32Array(directory, 0, Math.floor(directory.byteLength / 4));
    this.words = new Uint32Array(arena, 0, Math.floor(arena.byteLength / 4));
    this.walls = new Float64Array(arena, 0, Math.floor(arena.byteLength / 8));
    this.bytes = Buffer.from(arena, 0, arena.byteLength) as ArenaBytes;
  }
}

/** Grows `buffer` to `length` bytes and tells every thread's views (owner only). */
export function growBuffer(meta: Int32Array, buffer: SharedArrayBuffer, length: number): void {
  buffer.grow(length);
  Atomics.add(meta, RESIZES, 1);
}
