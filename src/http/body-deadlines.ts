/**
 * body_timeout_ms: how long a request may take to send its body once its head has arrived. uWS cuts a
 * connection that sends nothing for 10 s, but a body that trickles in chunks now and then keeps its
 * connection (and up to max_body_bytes of buffer) for as long as the client likes. Each body being
 * read is tracked here; a sweep (a few times per timeout, not one timer per request: a PUT pays two
 * Set operations) fails the ones past their deadline, which are answered 408 and closed.
 */
export interface TrackedBody {
  readonly deadline: number;
  readonly expire: () => void;
}

export class BodyDeadlines {
  readonly #timeoutMs: number;
  readonly #bodies = new Set<TrackedBody>();
  #sweeper: NodeJS.Timeout | undefined;

  /** `timeoutMs` 0: bodies have no deadline (uWS's idle timeout still applies). */
  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  get timeoutMs(): number {
    return this.#timeoutMs;
  }

  /** Bodies being read now. */
  get size(): number {
    return this.#bodies.size;
  }

  /** Starts the deadline of one body; `expire` runs once it passes, unless `done` came first. */
  track(expire: () => void): TrackedBody | undefined {
    if (this.#timeoutMs <= 0) return undefined;
    const body = { deadline: Date.now() + this.#timeoutMs, expire };
    this.#bodies.add(body);
    if (this.#sweeper === undefined) {
      this.#sweeper = setInterval(() => this.sweep(), Math.max(25, Math.min(1000, this.#timeoutMs / 4)));
      this.#sweeper.unref();
    }
    return body;
  }

  done(body: TrackedBody | undefined): void {
    if (body !== undefined) this.#bodies.delete(body);
  }

  /** Expires the bodies past their deadline (the sweeper calls this). */
  sweep(now: number = Date.now()): void {
    for (const body of this.#bodies) {
      if (body.deadline > now) continue;
      this.#bodies.delete(body);
      body.expire();
    }
    if (this.#bodies.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  stop(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    this.#bodies.clear();
  }
}
