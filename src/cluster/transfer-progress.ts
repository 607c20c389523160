/**
 * Progress of one transfer (a catch-up or a handoff), logged about once a second while it runs
 * (records so far, of the expected total when the sender knows it, and the rate) and once at the end.
 */
import type { Logger } from 'pino';

const LOG_EVERY_MS = 1000;

export class TransferProgress {
  readonly #logger: Logger;
  readonly #what: string;
  readonly #now: () => number;
  readonly started: number;
  #lastLog: number;
  records = 0;
  applied = 0;
  superseded = 0;
  pages = 0;
  total = 0;

  constructor(logger: Logger, what: string, now: () => number = Date.now) {
    this.#logger = logger;
    this.#what = what;
    this.#now = now;
    this.started = now();
    this.#lastLog = this.started;
  }

  /** Counts one page (or batch) done; logs when a second passed since the last line. */
  add(records: number, applied: number, superseded: number): void {
    this.pages++;
    this.records += records;
    this.applied += applied;
    this.superseded += superseded;
    const now = this.#now();
    if (now - this.#lastLog < LOG_EVERY_MS) return;
    this.#lastLog = now;
    const seconds = (now - this.started) / 1000;
    const rate = Math.round(this.records / Math.max(seconds, 0.001));
    const of = this.total > 0 ? ` of about ${this.total}` : '';
    this.#logger.info(
      { records: this.records, total: this.total || undefined, pages: this.pages, recordsPerSec: rate },
      `${this.#what}: ${this.records}${of} records so far, ${rate} records/s`,
    );
  }

  get ms(): number {
    return this.#now() - this.started;
  }

  /** The final line's fields. */
  summary(): { records: number; applied: number; superseded: number; pages: number; ms: number } {
    return {
      records: this.records,
      applied: this.applied,
      superseded: this.superseded,
      pages: this.pages,
      ms: this.ms,
    };
  }
}
