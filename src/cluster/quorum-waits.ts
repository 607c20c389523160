/**
 * Operations waiting for their quorum: each counts its replicas' answers and finishes once `needed`
 * of them succeeded, once every replica answered, or at its deadline (quorum_timeout_ms), whichever
 * comes first; it finishes exactly once, with the successes counted by then. Every wait has the same
 * timeout, so deadlines come in the order the waits started: one timer looks at the oldest waits
 * only, and a wait costs no timer of its own (there is one per write).
 */

export type QuorumDone = (achieved: number, timedOut: boolean) => void;

export class QuorumCall {
  readonly deadline: number;
  #needed: number;
  #remaining: number;
  #achieved = 0;
  #done: QuorumDone | undefined;

  constructor(needed: number, replicas: number, deadline: number, done: QuorumDone) {
    this.#needed = needed;
    this.#remaining = replicas;
    this.deadline = deadline;
    this.#done = done;
    if (needed <= 0 || replicas <= 0) this.#finish(false);
  }

  get finished(): boolean {
    return this.#done === undefined;
  }

  get achieved(): number {
    return this.#achieved;
  }

  /** One replica answered: `ok` when it did what was asked. */
  answer(ok: boolean): void {
    if (this.#done === undefined) return;
    this.#remaining--;
    if (ok) this.#achieved++;
    if (this.#achieved >= this.#needed || this.#remaining <= 0) this.#finish(false);
  }

  expire(): void {
    this.#finish(true);
  }

  #finish(timedOut: boolean): void {
    const done = this.#done;
    if (done === undefined) return;
    this.#done = undefined;
    done(this.#achieved, timedOut);
  }
}

export class QuorumWaits {
  readonly timeoutMs: number;
  readonly #now: () => number;
  #queue: QuorumCall[] = [];
  #head = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly counters = { started: 0, timedOut: 0 };

  constructor(timeoutMs: number, now: () => number = Date.now) {
    this.timeoutMs = timeoutMs;
    this.#now = now;
  }

  get waiting(): number {
    return this.#queue.length - this.#head;
  }

  /** Starts a wait for `needed` successes out of `replicas` answers. */
  start(needed: number, replicas: number, done: QuorumDone): QuorumCall {
    this.counters.started++;
    const call = new QuorumCall(needed, replicas, this.#now() + this.timeoutMs, (achieved, timedOut) => {
      if (timedOut) this.counters.timedOut++;
      done(achieved, timedOut);
    });
    if (!call.finished) {
      this.#queue.push(call);
      this.#arm();
    }
    return call;
  }

  /** Finishes every wait that passed its deadline (the timer calls it; tests may too). */
  expire(): void {
    const now = this.#now();
    const queue = this.#queue;
    while (this.#head < queue.length) {
      const call = queue[this.#head]!;
      if (!call.finished && call.deadline > now) break;
      this.#head++;
      call.expire();
    }
    if (this.#head > 1024 && this.#head * 2 > queue.length) {
      this.#queue = queue.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Finishes every wait now, with what it reached (shutdown). */
  drain(): void {
    const queue = this.#queue;
    this.#queue = [];
    for (let i = this.#head; i < queue.length; i++) queue[i]!.expire();
    this.#head = 0;
    this.close();
  }

  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    if (this.#timer !== undefined) return;
    // A tenth of the timeout (at least 5 ms): a wait ends at most that late.
    const tick = Math.max(5, Math.floor(this.timeoutMs / 10));
    this.#timer = setInterval(() => {
      this.expire();
      if (this.waiting === 0) this.close();
    }, tick);
    this.#timer.unref();
  }
}
