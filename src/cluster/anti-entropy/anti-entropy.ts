/**
 * Anti-entropy rounds on the main thread (docs/convergence.md). Every `intervalMs`, one peer that
 * shares ring ranges with this node (round-robin over the live members): the two trees are compared
 * top-down over the shared ranges (the root first, then only the children of differing nodes, down to
 * the 2^16 leaves), the (key, version, tombstone) listings of the differing leaves are exchanged, and
 * only the entries one side holds newer are moved: pulled with the Read rpc and applied here, or
 * pushed with the Tree rpc and applied there, both by last-writer-wins through LocalReplica. A round
 * repairs at most `maxKeys` keys; what it leaves is found by the next one.
 */
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { compareVersions } from '../../clock/hlc.js';
import { asLallyError } from '../../errors.js';
import type { TreeEntry } from '../../hop/tree-messages.js';
import { LEAF_MASK_BYTES } from '../../hop/tree-messages.js';
import { type HashRange, RING_SIZE } from '../../placement/placement.js';
import type { Topology } from '../../placement/topology.js';
import type { ReplicaRecord } from '../../rpc/codec.js';
import type { PeerPool } from '../../rpc/peer-pool.js';
import { MAX_READ_KEYS, readReplica } from '../../rpc/replica-read.js';
import { TREE_DEPTH } from '../../store/range-digest.js';
import type { LocalReplica } from '../local-replica.js';
import type { LocalTree } from './local-tree.js';
import { childrenOf, RemoteTree } from './tree-service.js';

export interface AntiEntropyOptions {
  readonly selfId: number;
  readonly topology: Topology;
  readonly pool: PeerPool;
  readonly local: LocalTree;
  readonly replica: LocalReplica;
  /** Between two rounds; 0: no background rounds (catch-up rounds still run). */
  readonly intervalMs: number;
  /** Keys one round repairs at most (pulled plus pushed). */
  readonly maxKeys: number;
  /** Tombstones older than this are not moved (each node collects them itself). */
  readonly tombstoneGraceMs: number;
  readonly callTimeoutMs: number;
  readonly logger: Logger;
  readonly now?: () => number;
}

export interface RoundResult {
  readonly peer: string;
  readonly inSync: boolean;
  readonly leavesDiffering: number;
  /** Records pulled from the peer that won here (last-writer-wins). */
  readonly pulled: number;
  /** Records pushed to the peer that won there. */
  readonly pushed: number;
  /** Repairs left for a later round (the key bound, or a truncated listing). */
  readonly more: boolean;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly ms: number;
}

/** The ranges where both members are among a key's home replicas, merged, sorted. */
export function sharedRanges(topology: Topology, self: number, peer: number): HashRange[] {
  const ring = topology.ring;
  const factor = topology.factor;
  if (!ring.members.includes(peer) || !ring.members.includes(self)) return [];
  if (ring.replicaCount(factor) >= ring.members.length) return [{ start: 0, end: RING_SIZE }];
  const out: { start: number; end: number }[] = [];
  for (const arc of ring.arcs()) {
    const replicas = ring.replicasAt(arc.range.start, factor);
    if (!replicas.includes(self) || !replicas.includes(peer)) continue;
    const last = out[out.length - 1];
    if (last !== undefined && last.end === arc.range.start) last.end = arc.range.end;
    else out.push({ start: arc.range.start, end: arc.range.end });
  }
  return out.sort((a, b) => a.start - b.start);
}

/**
 * The key hashes (ascending, unique) of the fingerprints (key hash, entry hash low lane; interleaved)
 * that one side has and the other has not: the keys whose entries differ or that only one side holds.
 */
export function differingKeyHashes(mine: Uint32Array, theirs: Uint32Array): Uint32Array {
  const seen = new Map<string, number>();
  const count = (prints: Uint32Array, sign: number) => {
    for (let i = 0; i < prints.length; i += 2) {
      const id = `${prints[i]}:${prints[i + 1]}`;
      seen.set(id, (seen.get(id) ?? 0) + sign);
    }
  };
  count(mine, 1);
  count(theirs, -1);
  const out = new Set<number>();
  for (const [id, n] of seen) if (n !== 0) out.add(Number(id.slice(0, id.indexOf(':'))));
  return Uint32Array.from([...out].sort((a, b) => a - b));
}

function differs(a: Uint32Array, b: Uint32Array, i: number): boolean {
  return a[2 * i] !== b[2 * i] || a[2 * i + 1] !== b[2 * i + 1];
}

export class AntiEntropy {
  readonly #o: AntiEntropyOptions;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  #next = 0;
  #stopped = false;
  /** When each peer last asked this node for tree nodes (it was running a round with it). */
  readonly #askedBy = new Map<number, number>();
  readonly counters = {
    rounds: 0,
    roundsFailed: 0,
    roundsInSync: 0,
    rangesCompared: 0,
    leavesDiffering: 0,
    keysReceived: 0,
    keysSent: 0,
    bytesSent: 0,
    bytesReceived: 0,
    lastRoundMs: 0,
    lastRoundAt: '',
  };

  constructor(opts: AntiEntropyOptions) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
  }

  stats(): Record<string, unknown> {
    return { ...this.counters, intervalMs: this.#o.intervalMs, maxKeysPerRound: this.#o.maxKeys };
  }

  /** Starts the background rounds. */
  start(): void {
    if (this.#o.intervalMs <= 0 || this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.#tick(), this.#o.intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#running?.catch(() => undefined);
  }

  /** Live peers sharing ranges with this node, in id order. */
  peers(): number[] {
    const { topology, selfId } = this.#o;
    return topology.ring.members.filter(
      (id) => id !== selfId && topology.isLive(id) && topology.addressOf(id) !== undefined,
    );
  }

  /**
   * A peer's round with this node asked for tree nodes: this node leaves that peer out of its own
   * rounds for a while, since both rounds would find and move the same keys.
   */
  askedBy(peer: number): void {
    this.#askedBy.set(peer, this.#now());
  }

  #tick(): void {
    if (this.#running !== undefined || this.#stopped) return;
    const recent = this.#now() - Math.max(2 * this.#o.intervalMs, 1000);
    const peers = this.peers().filter((id) => (this.#askedBy.get(id) ?? 0) < recent);
    if (peers.length === 0) return;
    const peer = peers[this.#next++ % peers.length]!;
    this.#running = this.round(peer, this.#o.maxKeys)
      .catch((error: unknown) => {
        this.#o.logger.debug({ err: error, peer }, 'anti-entropy round failed');
      })
      .finally(() => {
        this.#running = undefined;
      });
  }

  /**
   * Until this node agrees with every live peer or `passes` rounds each (the catch-up of a restarted
   * node): returns the rounds' results; a peer that fails is skipped.
   */
  async syncAll(passes: number, signal?: AbortSignal): Promise<RoundResult[]> {
    const results: RoundResult[] = [];
    for (const peer of this.peers()) {
      for (let pass = 0; pass < passes && signal?.aborted !== true; pass++) {
        try {
          const result = await this.round(peer, Number.POSITIVE_INFINITY);
          results.push(result);
          if (result.inSync || !result.more) break;
        } catch (error) {
          this.#o.logger.warn(
            { err: asLallyError(error), peer: this.#o.topology.addressOf(peer) },
            'anti-entropy catch-up with a member failed',
          );
          break;
        }
      }
    }
    return results;
  }

  /** One round with `peerId` over the ranges the two share. */
  async round(peerId: number, maxKeys: number): Promise<RoundResult> {
    const { topology, selfId, local } = this.#o;
    const address = topology.addressOf(peerId);
    if (address === undefined) throw new Error(`member ${peerId} has no address`);
    const started = this.#now();
    const traffic = { bytesSent: 0, bytesReceived: 0 };
    const remote = new RemoteTree(this.#o.pool.get(address), this.#o.callTimeoutMs, selfId, traffic);
    const ranges = sharedRanges(topology, selfId, peerId);
    const round = randomInt(1, 0xffffffff);
    this.counters.rounds++;
    const finish = (
      partial: Omit<RoundResult, 'peer' | 'bytesSent' | 'bytesReceived' | 'ms'>,
    ): RoundResult => {
      const ms = this.#now() - started;
      this.counters.bytesSent += traffic.bytesSent;
      this.counters.bytesReceived += traffic.bytesReceived;
      this.counters.lastRoundMs = ms;
      this.counters.lastRoundAt = new Date(started).toISOString();
      if (partial.inSync) this.counters.roundsInSync++;
      return { peer: address, ...partial, ...traffic, ms };
    };
    try {
      if (ranges.length === 0)
        return finish({ inSync: true, leavesDiffering: 0, pulled: 0, pushed: 0, more: false });
      this.counters.rangesCompared += ranges.length;
      // Top-down: the root, then the children of every node that differs.
      let frontier: number[] = [0];
      let parents: number[] | undefined;
      for (let level = 0; ; level++) {
        const [mine, theirs] = await Promise.all([
          local.nodes(round, ranges, level, frontier),
          remote.nodes(round, ranges, level, frontier, parents),
        ]);
        const differing = frontier.filter((_, i) => differs(mine, theirs, i));
        if (differing.length === 0) {
          return finish({ inSync: true, leavesDiffering: 0, pulled: 0, pushed: 0, more: false });
        }
        if (level === TREE_DEPTH) {
          frontier = differing;
          break;
        }
        parents = differing;
        frontier = childrenOf(differing);
      }
      this.counters.leavesDiffering += frontier.length;
      const mask = new Uint8Array(LEAF_MASK_BYTES);
      for (const leaf of frontier) mask[leaf >>> 3]! |= 1 << (leaf & 7);
      // The differing leaves hold mostly entries that agree: first 8-byte fingerprints of every entry
      // in them, then the full listing of only the keys whose fingerprints differ.
      const maxEntries = Number.isFinite(maxKeys) ? Math.max(1024, maxKeys * 16) : 4_000_000;
      const [myPrints, theirPrints] = await Promise.all([
        local.prints(round, ranges, mask, maxEntries),
        remote.prints(round, ranges, mask, maxEntries),
      ]);
      const keyHashes = differingKeyHashes(myPrints.prints, theirPrints.prints);
      if (keyHashes.length === 0) {
        return finish({ inSync: false, leavesDiffering: frontier.length, pulled: 0, pushed: 0, more: true });
      }
      const [mine, theirs] = await Promise.all([
        local.list(round, ranges, mask, maxEntries, keyHashes),
        remote.list(round, ranges, mask, maxEntries, keyHashes),
      ]);
      const truncated = myPrints.truncated || theirPrints.truncated || mine.truncated || theirs.truncated;
      const { pull, push } = this.#compare(mine.entries, theirs.entries, truncated);
      let more = truncated;
      const budget = Number.isFinite(maxKeys) ? maxKeys : Number.POSITIVE_INFINITY;
      if (pull.length + push.length > budget) {
        more = true;
        const half = Math.ceil(budget / 2);
        const pulls = Math.min(pull.length, Math.max(half, budget - push.length));
        pull.length = pulls;
        push.length = Math.min(push.length, budget - pulls);
      }
      const pulled = await this.#pull(remote, address, pull, traffic);
      const pushed = await this.#push(remote, push);
      this.counters.keysReceived += pulled;
      this.counters.keysSent += pushed;
      return finish({ inSync: false, leavesDiffering: frontier.length, pulled, pushed, more });
    } catch (error) {
      this.counters.roundsFailed++;
      this.counters.bytesSent += traffic.bytesSent;
      this.counters.bytesReceived += traffic.bytesReceived;
      throw error;
    }
  }

  /**
   * Which keys to pull (the peer's entry is newer, or only the peer has one) and push (the reverse).
   * With a truncated listing a key absent from one side may just be past the cut: only keys on both
   * sides are compared then. A tombstone past the grace period is moved nowhere (each node collects
   * its own); one newer than the other side's value still is.
   */
  #compare(
    mine: readonly TreeEntry[],
    theirs: readonly TreeEntry[],
    truncated: boolean,
  ): { pull: string[]; push: string[] } {
    const expired = this.#now() - this.#o.tombstoneGraceMs;
    const gone = (e: TreeEntry) => e.tombstone && e.wall < expired;
    const remote = new Map<string, TreeEntry>();
    for (const e of theirs) remote.set(e.key, e);
    const pull: string[] = [];
    const push: string[] = [];
    for (const e of mine) {
      const r = remote.get(e.key);
      if (r === undefined) {
        if (!truncated && !gone(e)) push.push(e.key);
        continue;
      }
      remote.delete(e.key);
      const order = compareVersions(e, r);
      if (order > 0 || (order === 0 && e.tombstone && !r.tombstone)) push.push(e.key);
      else if (order < 0 || (order === 0 && r.tombstone && !e.tombstone)) pull.push(e.key);
    }
    if (!truncated) for (const r of remote.values()) if (!gone(r)) pull.push(r.key);
    return { pull, push };
  }

  async #pull(
    remote: RemoteTree,
    address: string,
    keys: readonly string[],
    traffic: { bytesSent: number; bytesReceived: number },
  ): Promise<number> {
    let received = 0;
    const channel = this.#o.pool.get(address);
    for (let start = 0; start < keys.length; start += MAX_READ_KEYS) {
      const chunk = keys.slice(start, start + MAX_READ_KEYS).map((k) => Buffer.from(k, 'utf8'));
      for (const k of chunk) traffic.bytesSent += k.length + 2;
      const records = await readReplica(channel, chunk, this.#o.callTimeoutMs);
      const found = records.filter((r): r is ReplicaRecord => r !== undefined);
      for (const r of found) traffic.bytesReceived += r.key.length + r.value.length + 24;
      // Applied, not merely received: a record that a concurrent write or the peer's own push
      // already brought loses last-writer-wins and is not counted.
      received += (await this.#o.replica.apply(found, remote.address)).applied;
    }
    return received;
  }

  async #push(remote: RemoteTree, keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    let sent = 0;
    for (let start = 0; start < keys.length; start += MAX_READ_KEYS) {
      const chunk = keys.slice(start, start + MAX_READ_KEYS).map((k) => Buffer.from(k, 'utf8'));
      const records = (await this.#o.replica.lookup(chunk)).filter(
        (r): r is ReplicaRecord => r !== undefined,
      );
      sent += await remote.push(records);
    }
    return sent;
  }
}
