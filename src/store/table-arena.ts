import { ErrorCodes, LallyError } from '../errors.js';
import { CLASS_BYTES, classOf, MAX_BLOCK_BYTES } from './size-classes.js';
import { CLASS_MASK, FREE, growBuffer, type TableViews, W_CLASS, W_KEY_LENGTH } from './table-layout.js';

/**
 * The owner's allocator over a table's arena (a growable SharedArrayBuffer): blocks of the size
 * classes, taken from the class's free list, else from the top of the arena, which grows (doubling,
 * up to 4 GiB) when the top reaches its end. Growing never moves memory, so readers in other threads
 * keep valid views. The free lists live in the freed blocks themselves (FREE flag, next offset in the
 * key-length word) plus one head per class here: only the owner allocates.
 *
 * A freed block is reused only by a later write; a reader that still looks at it does so under a stripe
 * sequence that the write which freed it changed, so it retries (docs/shared-store.md).
 */
export class TableArena {
  readonly buffer: SharedArrayBuffer;
  /**
   * The buffer's bound, read once: `byteLength` and `maxByteLength` of a growable SharedArrayBuffer
   * are calls into C++ (1.5% of an AOF replay's samples were that one getter, once per new key).
   */
  readonly #bound: number;
  readonly #meta: Int32Array;
  readonly #views: TableViews;
  /** Byte offset of the first never-used byte (0 is never a block: it means "none"). */
  #top = 8;
  readonly #heads: number[] = new Array<number>(CLASS_BYTES.length).fill(0);
  /** Bytes in blocks handed out, and in blocks on free lists. */
  usedBytes = 0;
  freeBytes = 0;

  constructor(buffer: SharedArrayBuffer, meta: Int32Array, views: TableViews) {
    this.buffer = buffer;
    this.#bound = buffer.maxByteLength;
    this.#meta = meta;
    this.#views = views;
  }

  get topBytes(): number {
    return this.#top;
  }

  /**
   * Whether allocate(bytes) would succeed: a block on the class's free list, or room under the
   * arena's bound. Checked before a write reaches the AOF, so that a write the store cannot take is
   * refused before it is logged (a logged one would fail again at every replay).
   */
  canAllocate(bytes: number): boolean {
    if (bytes > MAX_BLOCK_BYTES) return false;
    const c = classOf(bytes);
    return this.#heads[c] !== 0 || this.#top + CLASS_BYTES[c]! <= this.#bound;
  }

  /** True while the largest block still fits under the bound: then every write fits (the fast path). */
  get roomy(): boolean {
    return this.#top + MAX_BLOCK_BYTES <= this.#bound;
  }

  /** A block of at least `bytes` bytes, its class written in its first word. Throws when full. */
  allocate(bytes: number): number {
    if (bytes > MAX_BLOCK_BYTES) throw storeFull(bytes);
    const c = classOf(bytes);
    const size = CLASS_BYTES[c]!;
    let offset = this.#heads[c]!;
    if (offset !== 0) {
      this.#heads[c] = this.#views.words[(offset >>> 2) + W_KEY_LENGTH]!;
      this.freeBytes -= size;
    } else {
      offset = this.#top;
      const end = offset + size;
      // The owner's view spans the whole arena: it is remade after every growth (#grow).
      if (end > this.#views.bytes.length) this.#grow(end);
      this.#top = end;
    }
    this.#views.words[(offset >>> 2) + W_CLASS] = c;
    this.usedBytes += size;
    return offset;
  }

  /** Puts a block on its class's free list. The caller holds the stripe of the key that owned it. */
  free(offset: number): void {
    const word = offset >>> 2;
    const words = this.#views.words;
    const c = words[word]! & CLASS_MASK;
    words[word] = c | FREE;
    words[word + W_KEY_LENGTH] = this.#heads[c]!;
    this.#heads[c] = offset;
    const size = CLASS_BYTES[c]!;
    this.usedBytes -= size;
    this.freeBytes += size;
  }

  #grow(needed: number): void {
    const bound = this.#bound;
    if (needed > bound) throw storeFull(needed - this.#top);
    let length = this.buffer.byteLength;
    while (length < needed) length *= 2;
    growBuffer(this.#meta, this.buffer, Math.min(length, bound));
    this.#views.refresh();
  }
}

export function storeFull(bytes: number): LallyError {
  return new LallyError(
    ErrorCodes.STORE_FULL,
    `this shard's store cannot take ${bytes} more bytes (its arena is bounded at 4 GiB; use more shards)`,
  );
}
