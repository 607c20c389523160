/**
 * The requesting side of hops, shared by the shards' router and the main thread's endpoint: request
 * ids, the table of hops waiting for an answer, how many wait on each thread (the in-flight cap), and
 * their deadlines. A timer advances a tick counter several times per timeout and fails the hops that
 * are older than one timeout; adding a hop reads the counter, so the hot path makes no timer and reads
 * no clock.
 */
import { ErrorCodes, LallyError } from '../errors.js';
import { PendingTable } from './pending-table.js';

/** Deadline checks per hop timeout: a hop times out between 1 and 1 + 1/TICKS timeouts after it left. */
const TICKS_PER_TIMEOUT = 8;

export interface PendingHopsOptions<T> {
  /** Thread ids that hops may wait on are 0..threads-1. */
  readonly threads: number;
  readonly timeoutMs: number;
  /** Hops that may wait on one thread before `full` says so. */
  readonly maxInFlightPerThread: number;
  /** Called with each hop that passed its deadline (its answer, if it ever comes, is then ignored). */
  readonly onTimeout: (waiting: T, thread: number, error: LallyError) => void;
}

export class PendingHops<T> {
  readonly timeoutMs: number;
  readonly maxInFlightPerThread: number;
  readonly #table = new PendingTable<T>();
  readonly #inFlight: Int32Array;
  readonly #onTimeout: (waiting: T, thread: number, error: LallyError) => void;
  #tick = 0;
  #nextId = 1;
  readonly #ticker: NodeJS.Timeout;

  constructor(opts: PendingHopsOptions<T>) {
    this.timeoutMs = opts.timeoutMs;
    this.maxInFlightPerThread = opts.maxInFlightPerThread;
    this.#inFlight = new Int32Array(opts.threads);
    this.#onTimeout = opts.onTimeout;
    this.#ticker = setInterval(this.#onTick, Math.max(1, Math.ceil(this.timeoutMs / TICKS_PER_TIMEOUT)));
    this.#ticker.unref();
  }

  /** Hops waiting for an answer, on every thread. */
  get size(): number {
    return this.#table.size;
  }

  /** Hops waiting on `thread`. */
  inFlightTo(thread: number): number {
    return this.#inFlight[thread] ?? 0;
  }

  /** True when `thread` already has the most hops that may wait on it. */
  full(thread: number): boolean {
    return this.#inFlight[thread]! >= this.maxInFlightPerThread;
  }

  /** The id for the next hop (ids wrap, and are never 0). */
  nextId(): number {
    const id = this.#nextId;
    this.#nextId = id === 0xffffffff ? 1 : id + 1;
    return id;
  }

  /** Records a hop that was sent to `thread` under `id`. */
  add(id: number, waiting: T, thread: number): void {
    this.#inFlight[thread]!++;
    this.#table.add(id, waiting, thread, this.#tick);
  }

  /** The hop `thread` answered, or undefined when it already timed out (or was failed). */
  take(id: number, thread: number): T | undefined {
    const waiting = this.#table.take(id);
    if (waiting !== undefined) this.#inFlight[thread]!--;
    return waiting;
  }

  /** Removes every waiting hop (to fail them: shutdown). */
  drain(): T[] {
    this.#inFlight.fill(0);
    return this.#table.drain();
  }

  /** Stops the deadline timer (it is unref'd: a thread may also exit without this). */
  close(): void {
    clearInterval(this.#ticker);
  }

  readonly #onTick = (): void => {
    this.#tick++;
    if (this.#table.size === 0) return;
    this.#table.expire(this.#tick - TICKS_PER_TIMEOUT - 1, (waiting, thread) => {
      this.#inFlight[thread]!--;
      this.#onTimeout(
        waiting,
        thread,
        new LallyError(
          ErrorCodes.TIMEOUT,
          `shard ${thread} did not answer within ${this.timeoutMs} ms (a write may or may not have been applied)`,
        ),
      );
    });
  };
}
