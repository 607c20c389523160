import { HOP_HEADER_BYTES } from '../hop/hop-messages.js';
import { Doorbell } from '../ring/doorbell.js';
import { MPSC_HEADER_BYTES, MpscRing } from '../ring/mpsc-ring.js';
import type { ShardRings } from '../shard/control-messages.js';

const MIN_RING_BYTES = 1 << 20;
/** The largest ring `MpscRing.allocate` accepts. */
const MAX_RING_BYTES = 2 ** 30;

/**
 * Ring capacity for a node: the largest hop message (a header, a key and a value at their limits) must
 * fit twice, so that one large message never waits for the ring to be completely empty. Past 1 GiB
 * (max_value_bytes above about 512 MiB) it is capped: the largest message then fits once.
 */
export function ringCapacity(maxKeyBytes: number, maxValueBytes: number): number {
  const largest = HOP_HEADER_BYTES + maxKeyBytes + maxValueBytes + 64;
  let capacity = MIN_RING_BYTES;
  while (capacity < largest * 2 && capacity < MAX_RING_BYTES) capacity *= 2;
  return capacity;
}

/**
 * Shared memory of the rings of a node with `shards` shards and rings of `capacityBytes`: one inbound
 * ring and one doorbell per thread (the shards and the main thread), so linear in the shard count.
 * (One ring per directed pair, before, held (shards + 1) * shards rings: 1 GiB at 16 shards.)
 */
export function ringMemoryBytes(shards: number, capacityBytes: number): number {
  const threads = shards + 1;
  return threads * (MPSC_HEADER_BYTES + capacityBytes + Doorbell.BYTES);
}

/**
 * Allocates the shared memory of a node's threads: one inbound ring per thread (shards 0..shards-1
 * and the main thread, whose id is `shards`), which every other thread writes into, and one doorbell
 * per thread.
 */
export class ThreadRings {
  readonly threads: number;
  readonly doorbells: SharedArrayBuffer[];
  /** inbound[t]: thread t's ring. */
  readonly #inbound: SharedArrayBuffer[];

  constructor(shards: number, capacityBytes: number) {
    this.threads = shards + 1;
    this.doorbells = Array.from({ length: this.threads }, () => Doorbell.allocate());
    this.#inbound = Array.from({ length: this.threads }, () => MpscRing.allocate(capacityBytes));
  }

  /** Thread `thread`'s inbound ring; undefined out of range. */
  inbound(thread: number): SharedArrayBuffer | undefined {
    return this.#inbound[thread];
  }

  /** The shared memory held, in bytes: rings (headers and data) and doorbells. */
  get totalBytes(): number {
    let total = 0;
    for (const ring of this.#inbound) total += ring.byteLength;
    for (const doorbell of this.doorbells) total += doorbell.byteLength;
    return total;
  }

  /**
   * What thread `thread` needs: its inbound ring (as inbound[t] for every other thread t), the other
   * threads' inbound rings, every doorbell.
   */
  forThread(thread: number): ShardRings {
    const inbound = this.#inbound[thread];
    if (inbound === undefined) throw new RangeError(`no thread ${thread} of ${this.threads}`);
    return {
      inbound: this.#inbound.map((_, from) => (from === thread ? undefined : inbound)),
      outbound: this.#inbound.map((ring, to) => (to === thread ? undefined : ring)),
      doorbells: this.doorbells,
    };
  }
}
