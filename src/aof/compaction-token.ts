/**
 * One AOF compaction at a time per node (docs/perf-notes/memory.md). A compaction's thread holds the
 * winners of a whole shard (about 80 bytes per key) plus its own isolate: two shards compacting at once
 * doubled the node's peak memory. The daemon allocates one token (an Int32 in a SharedArrayBuffer) and
 * hands it to every shard thread; a shard's compaction takes it before its thread starts and gives it
 * back once that thread has exited. 0 is free; a holder stores its shard number + 1.
 *
 * A shard that dies holding the token takes the node down with it (a shard crash stops the daemon), so
 * the token needs no lease.
 */

import { workerData } from 'node:worker_threads';

const FREE = 0;
/** How long one wait lasts before the waiter looks at its abort signal again. */
const WAIT_SLICE_MS = 500;

export function allocateCompactionToken(): SharedArrayBuffer {
  return new SharedArrayBuffer(4);
}

export class CompactionToken {
  readonly #word: Int32Array;

  constructor(buffer: SharedArrayBuffer) {
    this.#word = new Int32Array(buffer, 0, 1);
  }

  /** The holder's shard + 1, or 0 when free. */
  get holder(): number {
    return Atomics.load(this.#word, 0);
  }

  /** Takes the token if free; true if taken. */
  tryAcquire(shard: number): boolean {
    return Atomics.compareExchange(this.#word, 0, FREE, shard + 1) === FREE;
  }

  /**
   * Waits for the token, then takes it. Rejects with the signal's reason if `signal` aborts first
   * (a shard closing while another compacts).
   */
  async acquire(shard: number, signal?: AbortSignal): Promise<void> {
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => undefined);
    try {
      for (;;) {
        signal?.throwIfAborted();
        const seen = Atomics.load(this.#word, 0);
        if (seen === FREE) {
          if (this.tryAcquire(shard)) return;
          continue;
        }
        const wait = Atomics.waitAsync(this.#word, 0, seen, WAIT_SLICE_MS);
        if (!wait.async) continue;
        // A timer besides the wait: a pending Atomics.waitAsync alone does not keep Node's loop alive.
        let timer: NodeJS.Timeout | undefined;
        const slice = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, WAIT_SLICE_MS);
        });
        try {
          await Promise.race([wait.value, slice, aborted]);
        } finally {
          clearTimeout(timer);
        }
      }
    } finally {
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Gives the token back (only its holder calls this) and wakes the waiters. */
  release(shard: number): void {
    if (Atomics.compareExchange(this.#word, 0, shard + 1, FREE) === shard + 1) Atomics.notify(this.#word, 0);
  }
}

/**
 * The token the daemon handed this shard thread (ShardWorkerData.compactionToken), if any: read here
 * rather than passed down through the shard's runtime and its AOF, which have no other use for it.
 */
export function threadCompactionToken(): CompactionToken | undefined {
  const buffer = (workerData as { compactionToken?: unknown } | null)?.compactionToken;
  return buffer instanceof SharedArrayBuffer ? new CompactionToken(buffer) : undefined;
}
