/**
 * Where each key's replicas are, as one node sees its cluster now: the hash ring of every member that
 * has not left, who of them is live (alive or suspect: a suspect may yet refute, and a write to it
 * costs at most the quorum timeout), the replication factor, and this node's id. The main thread's
 * coordinator and every shard build the same topology from the same member table, so both sides
 * agree on which keys this node holds; a ring is rebuilt only when the set of members changes.
 */
import { HashRing, type ReplicationFactor } from './placement.js';

export type TopologyMemberState = 'alive' | 'suspect' | 'dead' | 'left';

/** What a topology needs of a member (a SWIM member or the MemberView the shards receive). */
export interface TopologyMember {
  readonly id: number;
  readonly address: string;
  readonly state: TopologyMemberState;
  /** Raised by the member itself when it restarts or refutes a suspicion (SWIM). */
  readonly incarnation?: number;
}

export class Topology {
  readonly selfId: number;
  readonly factor: ReplicationFactor;
  #ring: HashRing;
  #ringKey = '';
  readonly #live = new Set<number>();
  readonly #addresses = new Map<number, string>();
  readonly #incarnations = new Map<number, number>();
  readonly #isLive = (id: number): boolean => this.#live.has(id);
  /** With every node holding every key: the live members but this one, the same for every key. */
  #livePeers: readonly number[] = [];

  constructor(selfId: number, factor: ReplicationFactor | undefined) {
    this.selfId = selfId;
    this.factor = factor ?? 'all';
    this.#ring = new HashRing([selfId]);
    this.#ringKey = String(selfId);
    this.#live.add(selfId);
  }

  get ring(): HashRing {
    return this.#ring;
  }

  /** Members on the ring (this node included). */
  get size(): number {
    return this.#ring.size;
  }

  /** Live members (this node included). */
  get liveCount(): number {
    return this.#live.size;
  }

  /** True when another member shares the ring: the single node's fast paths are off. */
  get clustered(): boolean {
    return this.#ring.size > 1;
  }

  /** Takes the member table as it is now (this node's entry included or not: it is always live). */
  update(members: Iterable<TopologyMember>): void {
    const ids: number[] = [this.selfId];
    this.#live.clear();
    this.#live.add(this.selfId);
    this.#addresses.clear();
    this.#incarnations.clear();
    for (const m of members) {
      if (m.id === this.selfId) continue;
      this.#addresses.set(m.id, m.address);
      this.#incarnations.set(m.id, m.incarnation ?? 0);
      if (m.state === 'left') continue;
      ids.push(m.id);
      if (m.state === 'alive' || m.state === 'suspect') this.#live.add(m.id);
    }
    this.#livePeers = Object.freeze([...this.#live].filter((id) => id !== this.selfId).sort((a, b) => a - b));
    ids.sort((a, b) => a - b);
    const key = ids.join(',');
    if (key !== this.#ringKey) {
      this.#ringKey = key;
      this.#ring = new HashRing(ids);
    }
  }

  isLive(id: number): boolean {
    return this.#live.has(id);
  }

  incarnationOf(id: number): number | undefined {
    return this.#incarnations.get(id);
  }

  addressOf(id: number): string | undefined {
    return this.#addresses.get(id);
  }

  /** The key's live replicas, first N distinct live members clockwise (a sloppy quorum past the dead). */
  replicas(keyHash: number): number[] {
    return this.#ring.preferenceList(keyHash, this.factor, this.#isLive);
  }

  /**
   * The key's live replicas other than this node (read-only; with every node holding every key, one
   * shared array: the write path asks for it on every write).
   */
  peerReplicas(keyHash: number): readonly number[] {
    if (this.factor === 'all') return this.#livePeers;
    return this.replicas(keyHash).filter((id) => id !== this.selfId);
  }

  /**
   * The key's home replicas: the first N distinct members clockwise, live or not (with every node
   * holding every key, every member on the ring). A write one of them misses is kept as a hint for it.
   */
  homeReplicas(keyHash: number): readonly number[] {
    if (this.factor === 'all') return this.#ring.members;
    return this.#ring.preferenceList(keyHash, this.factor);
  }

  /** True when every member on the ring is live (no home replica is skipped). */
  get allLive(): boolean {
    return this.#live.size === this.#ring.size;
  }

  /** True when this node is one of the key's live replicas (always, when every node holds every key). */
  holds(keyHash: number): boolean {
    if (this.factor === 'all' || !this.clustered) return true;
    return this.replicas(keyHash).includes(this.selfId);
  }
}
