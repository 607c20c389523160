/**
 * The sending end of one ring: writes messages into it and rings the target thread's doorbell, only
 * when that thread sleeps (under load, about once per batch of the consumer, not per message).
 *
 * Back-pressure: when the ring is full, a message is copied into a bounded overflow queue and retried
 * from the event loop; once anything is queued, later messages queue behind it so that order holds.
 * When the queue is full too, `send` returns false and the caller answers 503 (LALLY_ERR_BUSY).
 *
 * Answers take a reserved path (`sendAnswer`): they are never refused, they overtake queued requests
 * (an answer is owed to a thread that is waiting; a request can still be refused), and they wait in a
 * queue of their own. Its memory is bounded by the caller: the answering router checks
 * `answerBacklogBytes` before it serves a request whose answer may be large (docs/rings.md).
 */
import { ErrorCodes, LallyError } from '../errors.js';
import { Doorbell } from './doorbell.js';
import { isMpscRing, MpscProducer } from './mpsc-ring.js';
import { OverflowQueue } from './overflow-queue.js';
import { SpscRing } from './spsc-ring.js';

/** What an outbox writes into: an SpscRing of its own, or its sender's end of the target's MpscRing. */
interface RingWriter {
  readonly maxMessageBytes: number;
  tryWrite(message: Uint8Array): boolean;
  tryWriteParts(first: Uint8Array, second?: Uint8Array, third?: Uint8Array): boolean;
}

export interface OutboxOptions {
  /** Messages the overflow queue may hold before `send` refuses. */
  maxQueuedMessages?: number;
  /** Bytes the overflow queue may hold before `send` refuses. */
  maxQueuedBytes?: number;
  /** Delay between retries that made no progress (the consumer is slow or stalled), in ms. */
  retryDelayMs?: number;
  /**
   * This thread's id, written into every record: required when the ring is the target's shared
   * inbound ring (MpscRing), where the consumer learns the sender from the record.
   */
  sender?: number;
}

export interface OutboxStats {
  /** Messages written into the ring (directly or from the overflow queue). */
  messagesSent: number;
  /** Messages that went through the overflow queue. */
  messagesQueued: number;
  /** Messages refused because the overflow queue was full. */
  messagesRejected: number;
  /** Answers that went through the answer queue (the ring was full). */
  answersQueued: number;
  doorbellsRung: number;
  /** The most messages (and bytes) the overflow queue ever held at once. */
  overflowHighWaterMessages: number;
  overflowHighWaterBytes: number;
  /** The most bytes the answer queue ever held at once. */
  answerHighWaterBytes: number;
}

const EMPTY = new Uint8Array(0);

export class Outbox {
  readonly #ring: RingWriter;
  readonly #doorbell: Doorbell;
  readonly #queue: OverflowQueue;
  /** Answers that did not fit the ring: unbounded here, bounded by the router's answer budget. */
  readonly #answers = new OverflowQueue(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY);
  readonly #retryDelayMs: number;
  readonly #stats: OutboxStats = {
    messagesSent: 0,
    messagesQueued: 0,
    messagesRejected: 0,
    answersQueued: 0,
    doorbellsRung: 0,
    overflowHighWaterMessages: 0,
    overflowHighWaterBytes: 0,
    answerHighWaterBytes: 0,
  };
  /** At most one of these is pending: the next attempt to flush the overflow queue. */
  #retryImmediate: NodeJS.Immediate | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(ringSab: SharedArrayBuffer, doorbellSab: SharedArrayBuffer, options: OutboxOptions = {}) {
    this.#ring = openWriter(ringSab, options.sender);
    this.#doorbell = new Doorbell(doorbellSab);
    this.#queue = new OverflowQueue(
      options.maxQueuedMessages ?? 4096,
      options.maxQueuedBytes ?? 8 * 1024 * 1024,
    );
    this.#retryDelayMs = options.retryDelayMs ?? 1;
  }

  /** The largest message this outbox can ever carry; `send` throws LALLY_ERR_VALUE_TOO_LARGE above it. */
  get maxMessageBytes(): number {
    return this.#ring.maxMessageBytes;
  }

  /** Messages waiting in the overflow queue. */
  get queuedMessages(): number {
    return this.#queue.length;
  }

  /** Bytes of answers waiting outside the ring (what the answering router budgets). */
  get answerBacklogBytes(): number {
    return this.#answers.bytes;
  }

  get stats(): Readonly<OutboxStats> {
    return this.#stats;
  }

  send(message: Uint8Array): boolean {
    return this.sendParts(message);
  }

  /**
   * Sends one message made of up to three parts, written without concatenation when the ring has room.
   * True when the message is in the ring or queued behind it (the caller may reuse its buffers at
   * once); false when the overflow queue is full: the message was not taken.
   */
  sendParts(first: Uint8Array, second: Uint8Array = EMPTY, third: Uint8Array = EMPTY): boolean {
    if (
      this.#queue.length === 0 &&
      this.#answers.length === 0 &&
      this.#ring.tryWriteParts(first, second, third)
    ) {
      this.#stats.messagesSent++;
      if (this.#doorbell.ring()) this.#stats.doorbellsRung++;
      return true;
    }
    return this.#enqueue(first, second, third);
  }

  /**
   * Sends an answer: into the ring when the answer queue is empty and the ring has room (queued
   * requests do not hold it up), else into the answer queue. Never refuses while open: false only
   * after `close`. Throws LALLY_ERR_VALUE_TOO_LARGE for a message that can never fit.
   */
  sendAnswer(first: Uint8Array, second: Uint8Array = EMPTY): boolean {
    if (this.#answers.length === 0 && this.#ring.tryWriteParts(first, second)) {
      this.#stats.messagesSent++;
      if (this.#doorbell.ring()) this.#stats.doorbellsRung++;
      return true;
    }
    if (first.length + second.length > this.#ring.maxMessageBytes) this.#ring.tryWriteParts(first, second);
    if (this.#closed) return false;
    this.#answers.tryPush(first, second, EMPTY);
    const stats = this.#stats;
    stats.answersQueued++;
    stats.answerHighWaterBytes = Math.max(stats.answerHighWaterBytes, this.#answers.bytes);
    if (!this.#retryPending) this.#retryImmediate = setImmediate(this.#flush);
    return true;
  }

  /** Stops retrying; returns how many queued messages are dropped. Lets the thread exit. */
  close(): number {
    this.#closed = true;
    this.#cancelRetry();
    const dropped = this.#queue.length + this.#answers.length;
    while (this.#queue.length > 0) this.#queue.shift();
    while (this.#answers.length > 0) this.#answers.shift();
    return dropped;
  }

  #enqueue(first: Uint8Array, second: Uint8Array, third: Uint8Array): boolean {
    const size = first.length + second.length + third.length;
    if (size > this.#ring.maxMessageBytes) {
      // Let the ring raise the error: a message that can never fit must not sit in the queue forever.
      this.#ring.tryWriteParts(first, second, third);
    }
    if (this.#closed || !this.#queue.tryPush(first, second, third)) {
      this.#stats.messagesRejected++;
      return false;
    }
    const stats = this.#stats;
    stats.messagesQueued++;
    stats.overflowHighWaterMessages = Math.max(stats.overflowHighWaterMessages, this.#queue.length);
    stats.overflowHighWaterBytes = Math.max(stats.overflowHighWaterBytes, this.#queue.bytes);
    if (!this.#retryPending) this.#retryImmediate = setImmediate(this.#flush);
    return true;
  }

  /**
   * Moves queued messages into the ring, oldest first, until it is full or the queues are empty:
   * answers first (the reserved share: requests never starve an answer), then requests.
   */
  readonly #flush = (): void => {
    this.#retryImmediate = undefined;
    this.#retryTimer = undefined;
    const written = this.#move(this.#answers) + (this.#answers.length === 0 ? this.#move(this.#queue) : 0);
    if (written > 0) {
      this.#stats.messagesSent += written;
      if (this.#doorbell.ring()) this.#stats.doorbellsRung++;
    }
    if ((this.#queue.length === 0 && this.#answers.length === 0) || this.#closed) return;
    // Progress means the consumer is keeping up: retry on the next turn. None: back off a little.
    if (written > 0) {
      this.#retryImmediate = setImmediate(this.#flush);
    } else {
      this.#retryTimer = setTimeout(this.#flush, this.#retryDelayMs);
    }
  };

  #move(queue: OverflowQueue): number {
    let written = 0;
    for (let message = queue.peek(); message !== undefined; message = queue.peek()) {
      if (!this.#ring.tryWrite(message)) break;
      queue.shift();
      written++;
    }
    return written;
  }

  get #retryPending(): boolean {
    return this.#retryImmediate !== undefined || this.#retryTimer !== undefined;
  }

  #cancelRetry(): void {
    clearImmediate(this.#retryImmediate);
    clearTimeout(this.#retryTimer);
    this.#retryImmediate = undefined;
    this.#retryTimer = undefined;
  }
}

function openWriter(ringSab: SharedArrayBuffer, sender: number | undefined): RingWriter {
  if (!isMpscRing(ringSab)) return new SpscRing(ringSab);
  if (sender === undefined || !Number.isInteger(sender) || sender < 0) {
    throw new LallyError(ErrorCodes.INTERNAL, 'an outbox into a shared ring needs its sender thread id');
  }
  return new MpscProducer(ringSab, sender);
}
