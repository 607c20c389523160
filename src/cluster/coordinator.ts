/**
 * The cluster's coordinator on the main thread: it serves the shards' REPLICATE and COORDINATE
 * requests (src/hop/hop-messages.ts) with the key's replicas.
 *
 * - REPLICATE: a client write a shard committed. It goes to the key's other live replicas on their
 *   replication streams (src/cluster/peer-feed.ts) and is answered once write_quorum - 1 of them
 *   acknowledged it (the shard counts itself), all answered, or quorum_timeout_ms passed.
 * - COORDINATE GET: the key's live replicas are read in parallel (this node through its shards, peers
 *   with the Read call); the answer comes with read_quorum answers and is the newest by last-writer-
 *   wins. Once every replica answered (or the timeout), those that answered an older entry or none
 *   get the newest (read repair; a delete travels as a tombstone).
 * - COORDINATE PUT/REMOVE: a write to a key this node holds no replica of: stamped by this thread's
 *   clock and sent to every replica, answered like a REPLICATE with write_quorum.
 *
 * A replica that is down costs an operation at most the quorum timeout: its stream fails fast while
 * it backs off, and a read of it is bounded by the same deadline.
 *
 * Hinted handoff: a write that one of the key's home replicas (live or not) did not acknowledge, or
 * was not sent because membership calls it dead, is kept as a hint for it (src/cluster/hints/) and
 * delivered once membership calls it live again. A member that turns dead has its stream ended at
 * once, so what waited on it becomes hints instead of waiting for the connection's keepalive.
 */
import type { Logger } from 'pino';
import { HybridLogicalClock } from '../clock/hlc.js';
import { supersedesEncoded } from '../clock/last-writer-wins.js';
import type { MainEndpoint } from '../daemon/main-endpoint.js';
import { ErrorCodes, LallyError } from '../errors.js';
import { hashKeyBytes } from '../hash/key-hash.js';
import {
  achievedFlags,
  HOP_HEADER_BYTES,
  HopFlag,
  type HopHeader,
  HopKind,
  HopStatus,
  hopVersion,
} from '../hop/hop-messages.js';
import type { Topology } from '../placement/topology.js';
import type { ReplicaRecord } from '../rpc/codec.js';
import type { PeerChannel } from '../rpc/peer-channel.js';
import type { PeerPool } from '../rpc/peer-pool.js';
import { ReplicationStream } from '../rpc/replication-stream.js';
import { HintDelivery } from './hints/hint-delivery.js';
import type { HintStore } from './hints/hint-store.js';
import type { LocalReplica } from './local-replica.js';
import { PeerFeed, type PeerFeedOptions } from './peer-feed.js';
import { PeerReads } from './peer-reads.js';
import { QuorumWaits } from './quorum-waits.js';

const EMPTY = new Uint8Array(0);

export interface CoordinatorOptions {
  readonly endpoint: MainEndpoint;
  readonly local: LocalReplica;
  readonly topology: Topology;
  readonly pool: PeerPool;
  readonly readQuorum: number;
  readonly writeQuorum: number;
  readonly quorumTimeoutMs: number;
  readonly logger: Logger;
  readonly feed?: Partial<PeerFeedOptions>;
  /**
   * A fault for tests (LALLY_FAULT_DROP_REPLICATION=1): records are never sent to peers and count as
   * not acknowledged, so this node's writes stay on it alone, as when its peers missed them.
   */
  readonly dropReplication?: boolean;
  /** Where missed writes wait for their replica (none: they are only counted). */
  readonly hints?: HintStore;
  /** The wall clock of the stamps this coordinator makes (default Date.now; see src/clock/fault-clock.ts). */
  readonly now?: () => number;
}

/** One replica's answer to a quorum read: its record (undefined: it has none) or no answer. */
interface ReadAnswer {
  readonly id: number;
  readonly ok: boolean;
  readonly record: ReplicaRecord | undefined;
}

function copyOf(message: Uint8Array, start: number, length: number): Uint8Array {
  return length === 0 ? EMPTY : Buffer.from(message.subarray(start, start + length));
}

/** True when `a` is newer than `b` by last-writer-wins (a record beats no record). */
function newer(a: ReplicaRecord | undefined, b: ReplicaRecord | undefined): boolean {
  if (a === undefined) return false;
  if (b === undefined) return true;
  return supersedesEncoded(a.version, a.tombstone, a.value, b.version, b.tombstone, b.value);
}

export class Coordinator {
  readonly #opts: CoordinatorOptions;
  readonly #endpoint: MainEndpoint;
  readonly #topology: Topology;
  readonly #waits: QuorumWaits;
  readonly #clock: HybridLogicalClock;
  readonly #feeds = new Map<string, PeerFeed>();
  readonly #hints: HintStore | undefined;
  readonly #delivery: HintDelivery | undefined;
  readonly #peerReads = new Map<string, PeerReads>();
  /** The incarnation each member's address had at the last member change. */
  readonly #incarnations = new Map<string, number>();
  #closed = false;
  readonly counters = {
    replicated: 0,
    coordinatedReads: 0,
    coordinatedWrites: 0,
    partial: 0,
    readRepairs: 0,
    readRepairFailures: 0,
  };

  constructor(opts: CoordinatorOptions) {
    this.#opts = opts;
    this.#endpoint = opts.endpoint;
    this.#topology = opts.topology;
    this.#waits = new QuorumWaits(opts.quorumTimeoutMs);
    this.#clock = new HybridLogicalClock(opts.topology.selfId, opts.now);
    // The fault that drops replication must not have its writes repaired behind the test's back.
    this.#hints = opts.dropReplication === true ? undefined : opts.hints;
    const hints = this.#hints;
    if (hints !== undefined) {
      this.#delivery = new HintDelivery({
        store: hints,
        isLive: (id) => this.#topology.isLive(id) && this.#topology.addressOf(id) !== undefined,
        send: (id, records) => {
          const feed = this.#feed(id);
          if (feed === undefined) {
            return Promise.reject(new LallyError(ErrorCodes.PEER_UNAVAILABLE, `no stream to ${id}`));
          }
          return feed.stream.send(records);
        },
        logger: opts.logger,
      });
    }
    opts.endpoint.serveRequests((from, message, header) => this.#serve(from, message, header));
  }

  /** Figures for GET /stats: per peer, what was sent and acknowledged. */
  stats(): Record<string, unknown> {
    const peers: Record<string, unknown> = {};
    for (const [address, feed] of this.#feeds) {
      peers[address] = {
        ...feed.counters,
        backlog: feed.backlog,
        stream: feed.stream.stats,
        reads: this.#peerReads.get(address)?.counters,
      };
    }
    const hints =
      this.#hints === undefined ? undefined : { ...this.#hints.stats(), ...this.#delivery?.counters };
    return {
      ...this.counters,
      waiting: this.#waits.waiting,
      timedOut: this.#waits.counters.timedOut,
      peers,
      hints,
      clockSkew: this.#opts.local.skew?.counters,
    };
  }

  /**
   * Ends the streams of members that are gone or dead (what waits on them fails, and becomes hints)
   * and keeps the others; drops the hints of members that left; delivers hints to members live again.
   * Called on member changes, and every second by the membership refresh.
   */
  membersChanged(): void {
    const topology = this.#topology;
    const wanted = new Set<string>();
    for (const id of topology.ring.members) {
      const address = topology.addressOf(id);
      if (address !== undefined && topology.isLive(id)) wanted.add(address);
    }
    const hints = this.#hints;
    if (hints !== undefined) {
      const onRing = new Set(topology.ring.members);
      for (const id of hints.targets()) {
        // Known and off the ring: it left for good (an unknown id may be a member not heard from yet).
        if (topology.addressOf(id) !== undefined && !onRing.has(id)) hints.discard(id);
      }
      hints.expire();
    }
    // A member that restarted (or refuted a suspicion) has a higher incarnation: its stream, which may
    // be backing off after the failures of its death for up to 5 s of writes, tries again at once.
    const restarted = new Set<string>();
    for (const id of topology.ring.members) {
      const address = topology.addressOf(id);
      const incarnation = topology.incarnationOf(id);
      if (address === undefined || incarnation === undefined) continue;
      const before = this.#incarnations.get(address);
      if (before !== undefined && before !== incarnation) restarted.add(address);
      this.#incarnations.set(address, incarnation);
    }
    for (const [address, feed] of this.#feeds) {
      if (!wanted.has(address)) {
        this.#feeds.delete(address);
        feed.destroy();
      } else if (restarted.has(address)) {
        feed.stream.retryNow();
      }
    }
    for (const address of this.#peerReads.keys()) if (!wanted.has(address)) this.#peerReads.delete(address);
    this.#delivery?.poke();
  }

  /** Answers what waits with what it reached, and ends every stream. */
  close(): void {
    this.#closed = true;
    this.#delivery?.close();
    this.#waits.drain();
    for (const feed of this.#feeds.values()) feed.destroy();
    this.#feeds.clear();
  }

  #serve(from: number, message: Uint8Array, header: HopHeader): void {
    const { kind, requestId } = header;
    try {
      if (this.#closed) throw new LallyError(ErrorCodes.SHUTTING_DOWN, 'the node is shutting down');
      const keyStart = HOP_HEADER_BYTES;
      const key = copyOf(message, keyStart, header.keyLength);
      if (kind === HopKind.REPLICATE) {
        const tombstone = (header.flags & HopFlag.TOMBSTONE) !== 0;
        const value = tombstone ? EMPTY : copyOf(message, keyStart + header.keyLength, header.valueLength);
        this.#replicate(from, requestId, { key, value, version: hopVersion(header), tombstone });
        return;
      }
      if (kind === HopKind.COORDINATE) {
        const operation = header.answering;
        if (operation === HopKind.GET) {
          this.#read(from, requestId, key);
          return;
        }
        if (operation === HopKind.PUT || operation === HopKind.REMOVE) {
          const tombstone = operation === HopKind.REMOVE;
          const value = tombstone ? EMPTY : copyOf(message, keyStart + header.keyLength, header.valueLength);
          this.#write(from, requestId, { key, value, version: this.#clock.tick(), tombstone });
          return;
        }
      }
      throw new LallyError(
        ErrorCodes.INTERNAL,
        `the main thread serves no hop kind ${kind}/${header.answering}`,
      );
    } catch (error) {
      const lally =
        error instanceof LallyError
          ? error
          : new LallyError(ErrorCodes.INTERNAL, String(error), { cause: error });
      this.#endpoint.answerError(from, kind, requestId, lally);
    }
  }

  /** A write a shard committed: to the other replicas; the shard counts itself. */
  #replicate(from: number, requestId: number, record: ReplicaRecord): void {
    this.counters.replicated++;
    this.#clock.observe(record.version);
    const hash = hashKeyBytes(record.key);
    const peers = this.#topology.peerReplicas(hash);
    const needed = this.#opts.writeQuorum - 1;
    const call = this.#waits.start(needed, peers.length, (achieved) => {
      if (achieved < needed) this.counters.partial++;
      this.#endpoint.answer(
        from,
        HopKind.REPLICATE,
        requestId,
        HopStatus.OK,
        undefined,
        achievedFlags(achieved),
      );
    });
    if (this.#hints === undefined) {
      const acknowledged = (ok: boolean) => call.answer(ok);
      for (const id of peers) this.#send(id, record, acknowledged);
      return;
    }
    const home = this.#topology.factor === 'all' ? undefined : this.#topology.homeReplicas(hash);
    for (const id of peers) this.#send(id, record, this.#hintOnFailure(id, home, record, call));
    if (!this.#topology.allLive) this.#hintSkipped(home ?? this.#topology.homeReplicas(hash), record);
  }

  /** The callback of a send to `id`: answers the quorum wait, and keeps a hint if a home replica missed it. */
  #hintOnFailure(
    id: number,
    home: readonly number[] | undefined,
    record: ReplicaRecord,
    call: { answer(ok: boolean): void },
  ): (ok: boolean) => void {
    return (ok) => {
      if (!ok && (home === undefined || home.includes(id))) this.#hints?.add(id, record);
      call.answer(ok);
    };
  }

  /** Hints for the home replicas the sloppy preference list skipped (not live). */
  #hintSkipped(home: readonly number[], record: ReplicaRecord): void {
    const topology = this.#topology;
    for (const id of home) {
      if (id !== topology.selfId && !topology.isLive(id)) this.#hints?.add(id, record);
    }
  }

  /** A write of a key this node holds no replica of (or no longer does): to every replica. */
  #write(from: number, requestId: number, record: ReplicaRecord): void {
    this.counters.coordinatedWrites++;
    const self = this.#topology.selfId;
    const hash = hashKeyBytes(record.key);
    const replicas = this.#topology.replicas(hash);
    const needed = this.#opts.writeQuorum;
    const call = this.#waits.start(needed, replicas.length, (achieved) => {
      if (achieved < needed) this.counters.partial++;
      this.#endpoint.answer(
        from,
        HopKind.COORDINATE,
        requestId,
        HopStatus.OK,
        record.version,
        achievedFlags(achieved),
      );
    });
    const home = this.#topology.factor === 'all' ? undefined : this.#topology.homeReplicas(hash);
    for (const id of replicas) {
      if (id === self) {
        this.#opts.local.apply([record]).then(
          () => call.answer(true),
          () => call.answer(false),
        );
      } else if (this.#hints === undefined) {
        this.#send(id, record, (ok) => call.answer(ok));
      } else {
        this.#send(id, record, this.#hintOnFailure(id, home, record, call));
      }
    }
    if (this.#hints !== undefined && !this.#topology.allLive) {
      this.#hintSkipped(this.#topology.homeReplicas(hash), record);
    }
  }

  #read(from: number, requestId: number, key: Uint8Array): void {
    this.counters.coordinatedReads++;
    const self = this.#topology.selfId;
    const replicas = this.#topology.replicas(hashKeyBytes(key));
    const needed = this.#opts.readQuorum;
    const answers: ReadAnswer[] = [];
    let newest: ReplicaRecord | undefined;
    const call = this.#waits.start(needed, replicas.length, (achieved) => {
      if (achieved < needed) this.counters.partial++;
      const flags = achievedFlags(achieved);
      if (newest === undefined || newest.tombstone) {
        this.#endpoint.answer(from, HopKind.COORDINATE, requestId, HopStatus.MISSING, undefined, flags);
      } else {
        this.#endpoint.answer(
          from,
          HopKind.COORDINATE,
          requestId,
          HopStatus.OK,
          newest.version,
          flags,
          newest.value,
        );
      }
    });
    let outstanding = replicas.length;
    const settle = (answer: ReadAnswer) => {
      answers.push(answer);
      // Only the answers that came before the quorum's answer shape it; later ones still repair.
      if (answer.ok && !call.finished && newer(answer.record, newest)) newest = answer.record;
      call.answer(answer.ok);
      if (--outstanding === 0) this.#repair(key, answers);
    };
    const keyText = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('utf8');
    for (const id of replicas) {
      if (id === self) {
        this.#opts.local.readEntry(keyText).then(
          (record) => settle({ id, ok: true, record }),
          () => settle({ id, ok: false, record: undefined }),
        );
        continue;
      }
      const reads = this.#reads(id);
      if (reads === undefined) queueMicrotask(() => settle({ id, ok: false, record: undefined }));
      else reads.read(key, (record, error) => settle({ id, ok: error === undefined, record }));
    }
  }

  /** The peer's batched reads (one Read call for the keys of a turn), or undefined without an address. */
  #reads(id: number): PeerReads | undefined {
    const address = this.#topology.addressOf(id);
    if (address === undefined || this.#closed) return undefined;
    let reads = this.#peerReads.get(address);
    if (reads === undefined) {
      let channel: PeerChannel;
      try {
        channel = this.#opts.pool.get(address);
      } catch {
        return undefined;
      }
      reads = new PeerReads(channel, { timeoutMs: this.#opts.quorumTimeoutMs, maxOutstanding: 2 });
      this.#peerReads.set(address, reads);
    }
    return reads;
  }

  /** Read repair: replicas that answered an older entry, or none, get the newest one. */
  #repair(key: Uint8Array, answers: readonly ReadAnswer[]): void {
    let newest: ReplicaRecord | undefined;
    for (const a of answers) if (a.ok && newer(a.record, newest)) newest = a.record;
    if (newest === undefined) return;
    const record: ReplicaRecord = {
      key,
      value: newest.value,
      version: newest.version,
      tombstone: newest.tombstone,
    };
    for (const a of answers) {
      if (!a.ok || !newer(record, a.record)) continue;
      this.counters.readRepairs++;
      const done = (ok: boolean) => {
        if (!ok) this.counters.readRepairFailures++;
      };
      if (a.id === this.#topology.selfId) {
        this.#opts.local.apply([record], 'read repair').then(
          () => done(true),
          () => done(false),
        );
      } else {
        this.#send(a.id, record, done);
      }
    }
  }

  #send(id: number, record: ReplicaRecord, done: (ok: boolean) => void): void {
    const feed = this.#opts.dropReplication === true ? undefined : this.#feed(id);
    if (feed === undefined) queueMicrotask(() => done(false));
    else feed.push(record, done);
  }

  #feed(id: number): PeerFeed | undefined {
    const address = this.#topology.addressOf(id);
    if (address === undefined || this.#closed) return undefined;
    let feed = this.#feeds.get(address);
    if (feed === undefined) {
      let channel: PeerChannel;
      try {
        channel = this.#opts.pool.get(address);
      } catch (error) {
        this.#opts.logger.warn({ err: error, address }, 'cannot replicate to a member');
        return undefined;
      }
      feed = new PeerFeed(address, new ReplicationStream(channel), this.#opts.feed);
      this.#feeds.set(address, feed);
    }
    return feed;
  }
}
