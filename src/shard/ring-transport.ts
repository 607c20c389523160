import type { HopLink } from '../hop/hop-link.js';
import { Inbox } from '../ring/inbox.js';
import { isMpscRing } from '../ring/mpsc-ring.js';
import { Outbox } from '../ring/outbox.js';
import type { ShardRings } from './control-messages.js';
import type { ShardTransport } from './shard-transport.js';

/** Adapts an Outbox (one ring plus the target's doorbell) to the router's link. */
class OutboxLink implements HopLink {
  readonly outbox: Outbox;

  constructor(outbox: Outbox) {
    this.outbox = outbox;
  }

  send(first: Uint8Array, second?: Uint8Array, third?: Uint8Array): boolean {
    return this.outbox.sendParts(first, second, third);
  }

  sendAnswer(first: Uint8Array, second?: Uint8Array): boolean {
    return this.outbox.sendAnswer(first, second);
  }

  get answerBacklogBytes(): number {
    return this.outbox.answerBacklogBytes;
  }
}

/**
 * The shared-memory transport of thread `self`: an outbox into every other thread's inbound ring, and
 * one inbox over its own inbound ring (which every other thread writes into).
 */
export class RingTransport implements ShardTransport {
  readonly links: readonly (OutboxLink | undefined)[];
  readonly #self: number;
  readonly #rings: ShardRings;
  #inbox: Inbox | undefined;

  readonly #idleTurns: number;

  constructor(self: number, rings: ShardRings, idleTurns = 0) {
    this.#self = self;
    this.#idleTurns = idleTurns;
    this.#rings = rings;
    this.links = rings.outbound.map((sab, to) =>
      sab === undefined || to === self
        ? undefined
        : new OutboxLink(new Outbox(sab, rings.doorbells[to]!, { sender: self })),
    );
  }

  start(onMessage: (from: number, message: Uint8Array) => void): void {
    const inbox = new Inbox(this.#rings.doorbells[this.#self]!, (message, from) => onMessage(from, message), {
      idleTurnsBeforeSleep: this.#idleTurns,
    });
    const added = new Set<SharedArrayBuffer>();
    this.#rings.inbound.forEach((sab, from) => {
      if (sab === undefined || from === this.#self || added.has(sab)) return;
      added.add(sab);
      // A shared ring (every sender's records carry their id) is drained once, not once per sender.
      if (isMpscRing(sab)) inbox.addSharedRing(sab);
      else inbox.addRing(from, sab);
    });
    inbox.start();
    this.#inbox = inbox;
  }

  /** Ring figures for /stats: how well messages batch, how often threads had to be woken. */
  stats(): Record<string, number> {
    const inbox = this.#inbox?.stats;
    let sent = 0;
    let rung = 0;
    let queued = 0;
    let rejected = 0;
    let answersQueued = 0;
    let answerBacklog = 0;
    let answerHighWater = 0;
    for (const link of this.links) {
      if (link === undefined) continue;
      const stats = link.outbox.stats;
      sent += stats.messagesSent;
      rung += stats.doorbellsRung;
      queued += stats.messagesQueued;
      rejected += stats.messagesRejected;
      answersQueued += stats.answersQueued;
      answerBacklog += link.outbox.answerBacklogBytes;
      answerHighWater = Math.max(answerHighWater, stats.answerHighWaterBytes);
    }
    return {
      messagesSent: sent,
      doorbellsRung: rung,
      overflowQueued: queued,
      overflowRejected: rejected,
      answersQueued,
      answerBacklogBytes: answerBacklog,
      answerHighWaterBytes: answerHighWater,
      messagesReceived: inbox?.messagesReceived ?? 0,
      receiveBatches: inbox?.batches ?? 0,
      sleeps: inbox?.sleeps ?? 0,
    };
  }

  async close(): Promise<void> {
    for (const link of this.links) link?.outbox.close();
    await this.#inbox?.close();
  }
}
