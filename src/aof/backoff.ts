/**
 * An exponential back-off: the first delay, then each one twice the last, up to a cap. ShardAof retries
 * a failing disk (50 ms up to 2 s) and a failing compaction (1 s up to 5 minutes) with it, so that a
 * fault that lasts is probed less and less often while a short one is over quickly.
 */
export class ExponentialBackoff {
  readonly firstMs: number;
  readonly maxMs: number;
  #delayMs = 0;

  constructor(firstMs: number, maxMs: number) {
    this.firstMs = firstMs;
    this.maxMs = maxMs;
  }

  /** The delay last returned by next(); 0 before the first failure and after reset(). */
  get delayMs(): number {
    return this.#delayMs;
  }

  /** The delay before the next attempt, one step longer than the last one. */
  next(): number {
    this.#delayMs = Math.min(Math.max(this.firstMs, this.#delayMs * 2), this.maxMs);
    return this.#delayMs;
  }

  /** After a success: the next failure starts again from the first delay. */
  reset(): void {
    this.#delayMs = 0;
  }
}
