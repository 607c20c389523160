/**
 * Exponential back-off with jitter, for what the library does not retry itself (a replication stream
 * that broke): 100 ms, then 1.6x per failure up to a cap, each delay +-20% so that the streams of many
 * nodes to a restarted peer do not reconnect in lockstep. The same curve as grpc-js's reconnects.
 */
export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly multiplier: number;
  readonly jitter: number;
  /** Uniform in [0, 1). */
  readonly random: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = Object.freeze({
  initialMs: 100,
  maxMs: 5000,
  multiplier: 1.6,
  jitter: 0.2,
  random: Math.random,
});

export class Backoff {
  readonly #options: BackoffOptions;
  #failures = 0;

  constructor(options: Partial<BackoffOptions> = {}) {
    this.#options = { ...DEFAULT_BACKOFF, ...options };
  }

  get failures(): number {
    return this.#failures;
  }

  /** The delay before the next attempt, after one more failure. */
  next(): number {
    const o = this.#options;
    const base = Math.min(o.maxMs, o.initialMs * o.multiplier ** this.#failures);
    this.#failures++;
    const spread = base * o.jitter * (2 * o.random() - 1);
    return Math.max(0, Math.round(Math.min(o.maxMs, base + spread)));
  }

  /** A success: the next failure starts from the initial delay again. */
  reset(): void {
    this.#failures = 0;
  }
}
