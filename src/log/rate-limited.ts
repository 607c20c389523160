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

/**
 * One `RateLimitedLog` per key (an error code, say), made on first use: a flood of one kind of
 * failure is summarised without hiding a different failure that happens meanwhile.
 */
export class RateLimitedLogs {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #logs = new Map<string, RateLimitedLog>();

  constructor(logger: Logger, intervalMs = 1000) {
    this.#logger = logger;
    this.#intervalMs = intervalMs;
  }

  log(level: Level, key: string, fields: Record<string, unknown>, msg: string): void {
    const id = `${level}\n${key}\n${msg}`;
    let log = this.#logs.get(id);
    if (log === undefined) {
      // Keys are error codes (a closed set); the bound only guards against a caller passing free text.
      if (this.#logs.size >= 256) this.flush();
      log = new RateLimitedLog(this.#logger, level, msg, this.#intervalMs);
      this.#logs.set(id, log);
    }
    log.log(fields);
  }

  /** Writes every pending summary and forgets the keys. */
  flush(): void {
    for (const log of this.#logs.values()) log.flush();
    this.#logs.clear();
  }
}
