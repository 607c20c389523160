import { HOP_HEADER_BYTES } from '../hop/hop-messages.js';
import { Doorbell } from '../ring/doorbell.js';
import { SpscRing } from '../ring/spsc-ring.js';
import type { ShardRings } from '../shard/control-messages.js';

const MIN_RING_BYTES = 1 << 20;

/**
 * Ring capacity for a node: the largest hop message (a header, a key and a value at their limits) must
 * fit twice, so that one large message never waits for the ring to be completely empty.
 */
export function ringCapacity(maxKeyBytes: number, maxValueBytes: number): number {
  const largest = HOP_HEADER_BYTES + maxKeyBytes + maxValueBytes + 64;
  let capacity = MIN_RING_BYTES;
  while (capacity < largest * 2) capacity *= 2;
  return capacity;
}

/**
 * Allocates the shared memory of a node's threads: one ring per directed pair of threads (shards
 * 0..shards-1 and the main thread, whose id is `shards`) and one doorbell per thread.
 */
export class ThreadRings {
  readonly threads: number;
  readonly doorbells: SharedArrayBuffer[];
  /** rings[from][to]. */
  readonly #rings: (SharedArrayBuffer | undefined)[][];

  constructor(shards: number, capacityBytes: number) {
    this.threads = shards + 1;
    this.doorbells = Array.from({ length: this.threads }, () => Doorbell.allocate());
    this.#rings = Array.from({ length: this.threads }, (_, from) =>
      Array.from({ length: this.threads }, (_, to) =>
        from === to ? undefined : SpscRing.allocate(capacityBytes),
      ),
    );
  }

  ring(from: number, to: number): SharedArrayBuffer | undefined {
    return this.#rings[from]?.[to];
  }

  /** What thread `thread` needs: the rings into it, the rings out of it, and every doorbell. */
  forThread(thread: number): ShardRings {
    const ids = Array.from({ length: this.threads }, (_, t) => t);
    return {
      inbound: ids.map((from) => this.ring(from, thread)),
      outbound: ids.map((to) => this.ring(thread, to)),
      doorbells: this.doorbells,
    };
  }
}
