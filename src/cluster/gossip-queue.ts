/**
 * The updates waiting to be piggybacked, as memberlist's TransmitLimitedQueue: at most one update per
 * member (a newer one replaces an older), the least retransmitted first, and each dropped after
 * `retransmitMult * ceil(log10(n + 1))` sends. Infection-style dissemination reaches all n members in
 * O(log n) rounds with high probability, so that many sends suffice and the queue stays bounded.
 */
import type { MemberUpdate } from './member.js';

interface Entry {
  readonly update: MemberUpdate;
  transmits: number;
  /** Insertion order: among equally sent updates the newest goes first. */
  readonly order: number;
}

export function retransmitLimit(retransmitMult: number, clusterSize: number): number {
  return retransmitMult * Math.ceil(Math.log10(Math.max(1, clusterSize) + 1));
}

export class GossipQueue {
  readonly #retransmitMult: number;
  readonly #entries = new Map<number, Entry>();
  #order = 0;

  constructor(retransmitMult: number) {
    this.#retransmitMult = retransmitMult;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Queues an update, replacing any queued one about the same member. */
  enqueue(update: MemberUpdate): void {
    this.#entries.set(update.id, { update, transmits: 0, order: this.#order++ });
  }

  /** The queued update about a member, if any. */
  peek(id: number): MemberUpdate | undefined {
    return this.#entries.get(id)?.update;
  }

  /** Up to `max` updates for one message; each counts as sent once, and retires at the limit. */
  take(max: number, clusterSize: number): MemberUpdate[] {
    if (max <= 0 || this.#entries.size === 0) return [];
    const limit = retransmitLimit(this.#retransmitMult, clusterSize);
    const chosen = [...this.#entries.values()]
      .sort((a, b) => a.transmits - b.transmits || b.order - a.order)
      .slice(0, max);
    for (const entry of chosen) {
      entry.transmits++;
      if (entry.transmits >= limit) this.#entries.delete(entry.update.id);
    }
    return chosen.map((e) => e.update);
  }
}
