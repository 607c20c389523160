/**
 * The receiving end of a thread: every ring that points into this thread, plus its one doorbell.
 *
 * The loop drains every ring, and yields to the event loop (setImmediate) between passes so that
 * uWS, timers and I/O keep running under load. When a pass finds nothing, it announces sleep,
 * re-checks the rings (see doorbell.ts for why no wake-up is lost) and parks on `Atomics.waitAsync`,
 * which costs no CPU and does not block the event loop.
 */
import { Doorbell } from './doorbell.js';
import { MpscRing } from './mpsc-ring.js';
import { SpscRing } from './spsc-ring.js';

/** Called once per message; `message` is valid only during the call. `from` is the sender's thread id. */
export type InboxHandler = (message: Uint8Array, from: number) => void;

export interface InboxOptions {
  /**
   * Messages taken from one ring per pass, so that the event loop gets a turn under load (and, with
   * one ring per sender, one busy sender cannot starve the others; a shared ring is FIFO anyway).
   */
  maxBatch?: number;
  /**
   * Empty passes (event-loop turns) to make before parking. 0 parks at once: no CPU burnt when idle.
   * A few turns keep a busy thread off the doorbell between close bursts, at the cost of spinning
   * that long after the last message (docs/rings.md has the figures).
   */
  idleTurnsBeforeSleep?: number;
  /**
   * Called when the handler throws. The default rethrows outside the loop (an uncaught exception in
   * this thread: a handler that throws is a bug), and the loop itself keeps going.
   */
  onError?: (error: unknown, from: number) => void;
}

export interface InboxStats {
  messagesReceived: number;
  /** Passes that found at least one message (messages / batches = the batching factor). */
  batches: number;
  /** Times the loop parked on the doorbell. */
  sleeps: number;
  handlerErrors: number;
}

/** One ring into this thread: a pair's SpscRing (one sender) or the thread's shared MpscRing. */
interface IncomingRing {
  /** Drains up to `maxMessages`; the number handled. */
  drain(maxMessages: number): number;
  readonly isEmpty: boolean;
}

/** A pending `Atomics.waitAsync` does not keep a thread alive; this interval does, while the inbox is open. */
const KEEP_ALIVE_MS = 2 ** 30;

export class Inbox {
  readonly #doorbell: Doorbell;
  readonly #handler: InboxHandler;
  readonly #maxBatch: number;
  readonly #idleTurnsBeforeSleep: number;
  #idleTurns = 0;
  readonly #onError: (error: unknown, from: number) => void;
  readonly #rings: IncomingRing[] = [];
  readonly #stats: InboxStats = { messagesReceived: 0, batches: 0, sleeps: 0, handlerErrors: 0 };
  #keepAlive: NodeJS.Timeout | undefined;
  #started = false;
  #closed = false;
  #scheduled = false;
  #inPass = false;
  #stopped: Promise<void> | undefined;
  #resolveStopped: (() => void) | undefined;

  constructor(doorbellSab: SharedArrayBuffer, handler: InboxHandler, options: InboxOptions = {}) {
    this.#doorbell = new Doorbell(doorbellSab);
    this.#handler = handler;
    this.#maxBatch = options.maxBatch ?? 1024;
    this.#idleTurnsBeforeSleep = options.idleTurnsBeforeSleep ?? 0;
    this.#onError = options.onError ?? rethrowLater;
  }

  /** Adds the ring that thread `from` writes into. Allowed before or after `start`. */
  addRing(from: number, ringSab: SharedArrayBuffer): void {
    const ring = new SpscRing(ringSab);
    const deliver = (message: Uint8Array): void => this.#deliver(message, from);
    this.#add({
      drain: (maxMessages) => ring.drain(deliver, maxMessages),
      get isEmpty() {
        return ring.isEmpty;
      },
    });
  }

  /** Adds this thread's shared inbound ring (MpscRing): every sender writes into it, ids in the records. */
  addSharedRing(ringSab: SharedArrayBuffer): void {
    const ring = new MpscRing(ringSab);
    const deliver = this.#deliver;
    this.#add({
      drain: (maxMessages) => ring.drain(deliver, maxMessages),
      get isEmpty() {
        return ring.isEmpty;
      },
    });
  }

  #add(incoming: IncomingRing): void {
    this.#rings.push(incoming);
    // A ring added while parked may already hold messages whose producer saw us awake.
    if (this.#started && !this.#closed) this.#doorbell.wakeSelf();
  }

  readonly #deliver = (message: Uint8Array, from: number): void => {
    this.#stats.messagesReceived++;
    try {
      this.#handler(message, from);
    } catch (error) {
      this.#stats.handlerErrors++;
      this.#onError(error, from);
    }
  };

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#keepAlive = setInterval(noop, KEEP_ALIVE_MS);
    this.#stopped = new Promise((resolve) => {
      this.#resolveStopped = resolve;
    });
    this.#schedule();
  }

  /**
   * Stops the loop; resolves once it has stopped, after which no handler runs. Messages still in the
   * rings stay there. Lets the thread exit (the keep-alive handle is released).
   */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      clearInterval(this.#keepAlive);
      this.#keepAlive = undefined;
      // Producers that see us sleeping would ring for nothing; and a parked loop must wake to stop.
      this.#doorbell.markAwake();
      this.#doorbell.wakeSelf();
      // Otherwise the pending pass (or the one running now, if a handler closed us) stops the loop.
      if (!this.#scheduled && !this.#inPass) this.#stop();
    }
    return this.#stopped ?? Promise.resolve();
  }

  get stats(): Readonly<InboxStats> {
    return this.#stats;
  }

  /** One pass over every ring; the number of messages handled. Public for callers that poll. */
  drainOnce(): number {
    let total = 0;
    for (const incoming of this.#rings) {
      total += incoming.drain(this.#maxBatch);
    }
    if (total > 0) this.#stats.batches++;
    return total;
  }

  #schedule(): void {
    this.#scheduled = true;
    setImmediate(this.#pass);
  }

  readonly #pass = (): void => {
    this.#scheduled = false;
    if (this.#closed) {
      this.#stop();
      return;
    }
    let handled: number;
    this.#inPass = true;
    try {
      handled = this.drainOnce();
    } finally {
      this.#inPass = false;
    }
    if (handled > 0) this.#idleTurns = 0;
    if (handled > 0 || this.#closed || this.#idleTurns++ < this.#idleTurnsBeforeSleep) {
      this.#schedule();
    } else {
      this.#idleTurns = 0;
      this.#park();
    }
  };

  /** Sleeps until a producer rings, unless the re-check after announcing sleep finds work. */
  #park(): void {
    const sequence = this.#doorbell.prepareToSleep();
    const woken = this.#hasPending() ? undefined : this.#doorbell.sleep(sequence);
    if (woken === undefined) {
      // Work arrived between the last pass and the announcement, or a ring already moved the sequence.
      this.#doorbell.markAwake();
      this.#schedule();
      return;
    }
    this.#stats.sleeps++;
    this.#scheduled = true;
    woken.then(this.#wake, this.#wake);
  }

  readonly #wake = (): void => {
    this.#doorbell.markAwake();
    // Drain right here (a microtask after the wake) rather than a macrotask later: lower latency.
    this.#pass();
  };

  #hasPending(): boolean {
    for (const incoming of this.#rings) {
      if (!incoming.isEmpty) return true;
    }
    return false;
  }

  #stop(): void {
    this.#resolveStopped?.();
  }
}

function noop(): void {}

function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}
