/**
 * A log line for an event that may repeat fast (a failing compaction, a failing disk): the first
 * occurrence is logged at once; later ones within `intervalMs` are only counted, and one summary line
 * per interval says how many there were (with the fields of the last one). A flood of identical errors
 * costs a few lines a minute instead of one per occurrence.
 */
import type { Logger } from 'pino';

type Level = 'error' | 'warn' | 'info';

export class RateLimitedLog {
  readonly #logger: Logger;
  readonly #level: Level;
  readonly #msg: string;
  readonly #intervalMs: number;
  #windowEnds = 0;
  #suppressed = 0;
  #last: Record<string, unknown> = {};
  #timer: NodeJS.Timeout | undefined;

  constructor(logger: Logger, level: Level, msg: string, intervalMs = 60_000) {
    this.#logger = logger;
    this.#level = level;
    this.#msg = msg;
    this.#intervalMs = intervalMs;
  }

  /** How many occurrences are counted but not logged yet. */
  get suppressed(): number {
    return this.#suppressed;
  }

  log(fields: Record<string, unknown> = {}): void {
    const now = Date.now();
    if (now >= this.#windowEnds) {
      this.flush();
      this.#logger[this.#level](fields, this.#msg);
      this.#windowEnds = now + this.#intervalMs;
      return;
    }
    this.#suppressed++;
    this.#last = fields;
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.flush(), this.#windowEnds - now);
      this.#timer.unref();
    }
  }

  /** Writes the summary of what was counted (also done by a timer at the end of each interval). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#suppressed === 0) return;
    const repeated = this.#suppressed;
    this.#suppressed = 0;
    this.#logger[this.#level](
      { ...this.#last, repeated, intervalMs: this.#intervalMs },
      `${this.#msg} (${repeated} more times)`,
    );
  }
}
