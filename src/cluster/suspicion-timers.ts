/**
 * One timer per suspected member: when it runs out, the member is declared dead unless its state
 * changed meanwhile (the caller checks). Kept apart from the prober so that Lifeguard's accelerated
 * timeouts (shorter as independent confirmations arrive) can be added here alone.
 */
import type { Scheduler } from './scheduler.js';

export class SuspicionTimers {
  readonly #scheduler: Scheduler;
  readonly #timers = new Map<number, () => void>();

  constructor(scheduler: Scheduler) {
    this.#scheduler = scheduler;
  }

  get size(): number {
    return this.#timers.size;
  }

  /** (Re)starts the timer of a member. */
  start(id: number, timeoutMs: number, onExpire: () => void): void {
    this.cancel(id);
    const cancel = this.#scheduler.setTimeout(() => {
      this.#timers.delete(id);
      onExpire();
    }, timeoutMs);
    this.#timers.set(id, cancel);
  }

  cancel(id: number): void {
    const cancel = this.#timers.get(id);
    if (cancel === undefined) return;
    cancel();
    this.#timers.delete(id);
  }

  clear(): void {
    for (const cancel of this.#timers.values()) cancel();
    this.#timers.clear();
  }
}
