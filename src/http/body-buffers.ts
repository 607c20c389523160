/**
 * Buffers for request bodies that arrive in more than one chunk, reused from one body to the next
 * (one pool per HTTP app, so per shard thread).
 *
 * Why not a fresh buffer per body: glibc serves a buffer of 128 KiB or more with its own mmap, but
 * freeing one raises its mmap threshold to that size, and from then on every such buffer is carved
 * from the thread's malloc heap. Between bodies that heap also takes small, longer-lived allocations,
 * so it fragments and glibc cannot give it back: after a load of 1M keys through `/batch` bodies of
 * 512 KiB the daemon held about 40 bytes per key more at rest (215 against 174 B/key with
 * MALLOC_MMAP_THRESHOLD_ fixed, which stops the threshold moving; docs/performance.md). A pooled buffer
 * is allocated once and never freed, so the threshold stays where it is.
 *
 * Capacities are powers of two from MIN_BYTES; bodies larger than `maxPooledBytes` get a buffer of
 * their own, dropped afterwards. At most `perClass` free buffers are kept of each capacity, so the
 * pool holds at most about 2 * perClass * maxPooledBytes.
 */
export class BodyBuffers {
  static readonly MIN_BYTES = 16 * 1024;
  readonly #maxPooledBytes: number;
  readonly #perClass: number;
  /** #free[c]: free buffers of MIN_BYTES << c bytes. */
  readonly #free: Uint8Array[][] = [];

  constructor(maxPooledBytes = 1 << 20, perClass = 4) {
    this.#maxPooledBytes = maxPooledBytes;
    this.#perClass = perClass;
  }

  /** A buffer of at least `bytes` bytes; its contents are whatever the last body left. */
  take(bytes: number): Uint8Array {
    if (bytes > this.#maxPooledBytes) return new Uint8Array(bytes);
    const c = classOf(bytes);
    return this.#free[c]?.pop() ?? new Uint8Array(BodyBuffers.MIN_BYTES * 2 ** c);
  }

  /** Hands `buffer` (from take) back; nothing may use it afterwards. */
  give(buffer: Uint8Array): void {
    const bytes = buffer.byteLength;
    if (bytes > this.#maxPooledBytes || bytes < BodyBuffers.MIN_BYTES) return;
    const c = classOf(bytes);
    if (BodyBuffers.MIN_BYTES * 2 ** c !== bytes) return; // not one of ours
    let free = this.#free[c];
    if (free === undefined) {
      free = [];
      this.#free[c] = free;
    }
    if (free.length < this.#perClass && !free.includes(buffer)) free.push(buffer);
  }

  /** Bytes held in free buffers. */
  get freeBytes(): number {
    let total = 0;
    for (const free of this.#free) for (const buffer of free ?? []) total += buffer.byteLength;
    return total;
  }
}

/** The smallest c with MIN_BYTES << c >= bytes. */
function classOf(bytes: number): number {
  let c = 0;
  while (BodyBuffers.MIN_BYTES * 2 ** c < bytes) c++;
  return c;
}
