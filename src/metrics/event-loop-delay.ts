import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import type { EventLoopDelay } from './node-status.js';

/** Length of one measuring window: figures cover the last one to two windows. */
export const EVENT_LOOP_WINDOW_MS = 10_000;

const NS_PER_MS = 1e6;
const round = (ms: number) => Math.round(ms * 1000) / 1000;

/**
 * This thread's event-loop delay (node:perf_hooks, sampled every `resolutionMs`): max and p99 over
 * the current window and the one before it, so that a stall stays visible for at least one window
 * and an old one drops out. One per thread (the main thread, each shard).
 */
export class EventLoopDelayMonitor {
  readonly #histogram: IntervalHistogram;
  #previous: EventLoopDelay = { maxMs: 0, p99Ms: 0 };
  #timer: NodeJS.Timeout | undefined;

  constructor(resolutionMs = 20, windowMs = EVENT_LOOP_WINDOW_MS) {
    this.#histogram = monitorEventLoopDelay({ resolution: resolutionMs });
    this.#histogram.enable();
    this.#timer = setInterval(() => this.rotate(), windowMs);
    this.#timer.unref();
  }

  /** Ends the current window (the timer calls it; tests may too). */
  rotate(): void {
    this.#previous = this.#current();
    this.#histogram.reset();
  }

  #current(): EventLoopDelay {
    const h = this.#histogram;
    // An empty histogram reports its max as 0 and its percentiles as 0 (min as a huge number).
    if (h.count === 0) return { maxMs: 0, p99Ms: 0 };
    return { maxMs: round(h.max / NS_PER_MS), p99Ms: round(h.percentile(99) / NS_PER_MS) };
  }

  read(): EventLoopDelay {
    const now = this.#current();
    return {
      maxMs: Math.max(now.maxMs, this.#previous.maxMs),
      p99Ms: Math.max(now.p99Ms, this.#previous.p99Ms),
    };
  }

  stop(): void {
    this.#histogram.disable();
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
