/**
 * A full garbage collection when a shard thread falls idle after its heap grew (docs/perf-notes/memory.md).
 *
 * A burst of requests (a /batch load of a million keys) leaves the shard's heap at tens of MiB of
 * garbage: V8 collects only when allocating, so once the requests stop nothing collects it, and the
 * daemon keeps that memory resident for as long as it stays idle (measured: 2 x 35-78 MiB of heap for
 * 2 x 7.5 MiB live after such a load, 60 bytes per key of the daemon's RSS). This collector looks every
 * few seconds at the thread's event-loop utilization and its heap: when the thread was nearly idle over
 * the last period and the heap is well above what the last collection left, it asks V8 for a full GC,
 * which also releases the emptied pages. Under load it never runs (the utilization is high), so it
 * adds no pause to requests; when idle, a pause of a few ms on a small live heap delays nothing.
 *
 * V8 exposes gc() only behind --expose-gc; that flag can be set at run time, and a new context made
 * after it has the function (Node documents v8.setFlagsFromString for such flags, with the caveat that
 * flags set after start may be ignored: if gc() does not appear, the collector does nothing).
 */
import { performance } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export const IDLE_CHECK_MS = 2000;
/** Event-loop utilization under which a period counts as idle. */
const IDLE_UTILIZATION = 0.05;
/** Heap growth over the last collection's result that is worth a collection. */
const GROWTH_BYTES = 8 * 1024 * 1024;

/** Collections past the first two in one check, while each still shrinks the heap. */
const EXTRA_COLLECTIONS = 3;

/** Collections after a growth, while the heap holds twice what it uses. */
const SHRINK_TRIES = 6;

type Collect = () => void;

let exposed: Collect | null | undefined;

/** V8's gc(), or null if this V8 does not expose it. */
export function exposedGc(): Collect | null {
  if (exposed !== undefined) return exposed;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    exposed = typeof gc === 'function' ? (gc as Collect) : null;
  } catch {
    exposed = null;
  }
  return exposed;
}

export class IdleHeapCollector {
  readonly #collect: Collect | null;
  readonly #release: (() => void) | undefined;
  readonly #timer: NodeJS.Timeout | undefined;
  #utilization = performance.eventLoopUtilization();
  /** Heap in use, and heap held, after the last collection (or at start). */
  #baseline = getHeapStatistics().used_heap_size;
  #baselineTotal = getHeapStatistics().total_heap_size;
  collections = 0;
  #shrinkTries = 0;
  /** The next collection of a check in progress (one per turn of the event loop). */
  #pending: NodeJS.Immediate | undefined;

  /**
   * `release` runs once the collections of a check are done: the shard passes malloc_trim, so that the
   * native memory the load's garbage held (array buffers' backing stores) goes back to the kernel too.
   */
  constructor(options: { everyMs?: number; collect?: Collect | null; release?: () => void } = {}) {
    this.#collect = options.collect === undefined ? exposedGc() : options.collect;
    this.#release = options.release;
    if (this.#collect === null) return;
    this.#timer = setInterval(() => this.check(), options.everyMs ?? IDLE_CHECK_MS);
    this.#timer.unref();
  }

  /** One check (the timer calls it; tests may too). Returns whether it collected. */
  check(): boolean {
    const now = performance.eventLoopUtilization();
    const period = performance.eventLoopUtilization(now, this.#utilization);
    this.#utilization = now;
    if (this.#collect === null || this.#pending !== undefined || period.utilization > IDLE_UTILIZATION) {
      return false;
    }
    const heap = getHeapStatistics();
    // Used or held: after a burst the garbage may be collected already (by V8, under load) while the
    // pages it filled are still held (measured: a shard at 29 MiB held for 10 MiB used, never collected).
    const grown =
      heap.used_heap_size >= this.#baseline + GROWTH_BYTES ||
      heap.total_heap_size >= this.#baselineTotal + GROWTH_BYTES;
    // V8 returns emptied pages over several collections: while idle and still holding far more than it
    // uses, a few more (bounded, as some V8 versions may keep the pages whatever is done).
    const slack = heap.total_heap_size > heap.used_heap_size * 2 + GROWTH_BYTES;
    if (grown) this.#shrinkTries = SHRINK_TRIES;
    else if (!slack || this.#shrinkTries === 0) return false;
    else this.#shrinkTries--;
    // Twice: the first one's sweeping frees the dead pages, the second gives the empty ones back (one
    // left heapTotal at 30-65 MiB for 8-13 MiB used; two, as a GC per second did, brought it to 11).
    // Then again while that still shrinks the heap, a few times at most. One per turn of the event
    // loop: a request that arrives meanwhile waits for one collection, not for all of them (five in a
    // row stalled an idle shard for 52 ms, measured with the bench's keycount scenario).
    this.#collect();
    this.collections++;
    this.#pending = setImmediate(() => this.#again(EXTRA_COLLECTIONS, heap.total_heap_size));
    return true;
  }

  /** The second collection, then up to `extra` more while each still shrinks the heap. */
  #again(extra: number, before: number): void {
    this.#pending = undefined;
    this.#collect!();
    const now = getHeapStatistics();
    if (extra > 0 && now.total_heap_size < before) {
      this.#pending = setImmediate(() => this.#again(extra - 1, now.total_heap_size));
      return;
    }
    this.#baseline = now.used_heap_size;
    this.#baselineTotal = now.total_heap_size;
    this.#release?.();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (this.#pending !== undefined) clearImmediate(this.#pending);
  }
}
