import type { Logger } from 'pino';

/**
 * Rate-limits repeated log lines: at most one line per key (an error code, say) per interval; the
 * lines held back are counted and reported, as `repeated`, with the next line that passes. A burst of
 * failing requests (a full disk fails every write) then logs a few lines a second, not one per request.
 */
export class LogThrottle {
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #last = new Map<string, { at: number; held: number }>();

  constructor(intervalMs = 1000, now: () => number = Date.now) {
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  /**
   * Calls `log(repeated)` unless a line with this key passed less than an interval ago; `repeated`
   * is how many were held back since the last line. True when it logged.
   */
  pass(key: string, log: (repeated: number) => void): boolean {
    const now = this.#now();
    const last = this.#last.get(key);
    if (last !== undefined && now - last.at < this.#intervalMs) {
      last.held++;
      return false;
    }
    const repeated = last?.held ?? 0;
    if (last === undefined) {
      // Keys are error codes (a closed set); the bound only guards against a caller passing text.
      if (this.#last.size >= 256) this.#last.clear();
      this.#last.set(key, { at: now, held: 0 });
    } else {
      last.at = now;
      last.held = 0;
    }
    log(repeated);
    return true;
  }

  /** Logs `msg` at `level` with `fields`, rate-limited by `key`. */
  log(
    logger: Logger,
    level: 'error' | 'warn',
    key: string,
    fields: Record<string, unknown>,
    msg: string,
  ): boolean {
    return this.pass(key, (repeated) => logger[level](repeated > 0 ? { ...fields, repeated } : fields, msg));
  }
}
