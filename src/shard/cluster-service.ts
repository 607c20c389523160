/**
 * The key-value service a shard's HTTP layer uses in a cluster. It wraps the shard router (the single
 * node's service) and adds the replicas:
 *
 * - a write to a key this node holds runs here first (the owning shard stamps its version, appends
 *   and applies it), then goes to the main thread as REPLICATE, which sends it to the key's other
 *   replicas and answers with their acknowledgements: `achieved` = 1 (this node) + theirs;
 * - a read at read_quorum 1 of a key this node holds stays local, as on a single node;
 * - anything else (a read at read_quorum > 1, any operation on a key this node holds no replica of)
 *   goes to the main thread whole (COORDINATE), which asks the replicas.
 *
 * With no other member on the ring every call is the router's own, at the single node's cost.
 */
import type { Version } from '../clock/hlc.js';
import { hashKey, hashKeyBytes } from '../hash/key-hash.js';
import { HopFlag, HopKind, MAX_FLAG_ACHIEVED } from '../hop/hop-messages.js';
import type {
  KeyValueService,
  OpCallback,
  OpKind,
  OpResult,
  Quorum,
  ReadSink,
} from '../kv/key-value-service.js';
import type { MemberView } from '../kv/member-view.js';
import { copyValue, type ValueInput } from '../kv/value-input.js';
import type { ReplicationFactor } from '../placement/placement.js';
import { Topology, type TopologyMember } from '../placement/topology.js';
import type { ShardRouter } from './shard-router.js';

/** Frozen quorum objects by (required, achieved): the JSON builder caches its texts by identity. */
class QuorumTable {
  readonly #table = new Map<number, Quorum>();

  get(required: number, achieved: number): Quorum {
    const id = required * 0x10000 + achieved;
    let quorum = this.#table.get(id);
    if (quorum === undefined) {
      quorum = Object.freeze({ required, achieved });
      this.#table.set(id, quorum);
    }
    return quorum;
  }
}

const OPERATION: Record<OpKind, number> = { get: HopKind.GET, put: HopKind.PUT, remove: HopKind.REMOVE };

export interface ClusterServiceOptions {
  readonly router: ShardRouter;
  readonly selfId: number;
  readonly replicationFactor: ReplicationFactor | undefined;
  readonly readQuorum: number;
  readonly writeQuorum: number;
}

export class ClusterService implements KeyValueService {
  readonly #router: ShardRouter;
  readonly #topology: Topology;
  readonly #readQuorum: number;
  readonly #writeQuorum: number;
  readonly #quorums = new QuorumTable();
  /** replicated: writes sent on as REPLICATE; coordinated: operations handed to the main thread whole. */
  readonly counters = { replicated: 0, coordinated: 0, replicationFailures: 0 };

  constructor(opts: ClusterServiceOptions) {
    this.#router = opts.router;
    this.#topology = new Topology(opts.selfId, opts.replicationFactor);
    this.#readQuorum = opts.readQuorum;
    this.#writeQuorum = opts.writeQuorum;
  }

  get topology(): Topology {
    return this.#topology;
  }

  /** The member table as the main thread sent it. */
  setMembers(members: readonly MemberView[]): void {
    this.#topology.update(members.map(toTopologyMember));
  }

  execute(op: OpKind, key: string, value: ValueInput | undefined, callback: OpCallback): void {
    const topology = this.#topology;
    if (!topology.clustered) {
      this.#router.execute(op, key, value, callback);
      return;
    }
    const holds = topology.holds(hashKey(key));
    if (op === 'get') {
      if (holds && this.#readQuorum <= 1) this.#router.execute(op, key, value, callback);
      else this.#coordinate(op, key, value, this.#readQuorum, callback);
      return;
    }
    if (!holds) {
      this.#coordinate(op, key, value, this.#writeQuorum, callback);
      return;
    }
    // REPLICATE sends the value after the local write, which may answer later than this call.
    const kept = value === undefined ? undefined : copyValue(value);
    this.#router.execute(op, key, kept, (result) => {
      if (result.error !== undefined || result.version === undefined) {
        callback(result);
        return;
      }
      this.#replicate(op, key, kept, result, callback);
    });
  }

  /** A GET answered now: only where execute would read locally (no cluster, or a held key at read_quorum 1). */
  readNow(key: string, sink: ReadSink): boolean {
    const topology = this.#topology;
    if (topology.clustered && !(this.#readQuorum <= 1 && topology.holds(hashKey(key)))) return false;
    return this.#router.readNow(key, sink);
  }

  /** readNow of a key given as its UTF-8 bytes, `source[start, end)`. */
  readNowBytes(source: Uint8Array, start: number, end: number, sink: ReadSink): boolean {
    const topology = this.#topology;
    if (topology.clustered && !(this.#readQuorum <= 1 && topology.holds(hashKeyBytes(source, start, end)))) {
      return false;
    }
    return this.#router.readNowBytes(source, start, end, sink);
  }

  /** Sends a write this node committed to the other replicas; answers with their count. */
  #replicate(
    op: OpKind,
    key: string,
    value: ValueInput | undefined,
    local: OpResult,
    callback: OpCallback,
  ): void {
    this.counters.replicated++;
    // The local result's version is the store's entry, which the next write to the key updates in
    // place: keep a copy for the answer, which comes later.
    const v = local.version!;
    const version: Version = { wall: v.wall, counter: v.counter, node: v.node };
    const tombstone = op === 'remove';
    this.#router.requestMain(
      HopKind.REPLICATE,
      0,
      version,
      tombstone ? HopFlag.TOMBSTONE : 0,
      key,
      tombstone ? undefined : value,
      (answer) => {
        // The write is durable here whatever the peers did: a failed hand-over (a timeout, a busy main
        // thread) is a partial answer, not an error.
        if (answer.error !== undefined) this.counters.replicationFailures++;
        const peers = answer.error === undefined ? answer.quorum.achieved : 0;
        callback({
          found: local.found,
          value: local.value,
          version,
          error: undefined,
          quorum: this.#quorums.get(this.#writeQuorum, Math.min(1 + peers, MAX_FLAG_ACHIEVED)),
        });
      },
    );
  }

  #coordinate(
    op: OpKind,
    key: string,
    value: ValueInput | undefined,
    required: number,
    callback: OpCallback,
  ): void {
    this.counters.coordinated++;
    this.#router.requestMain(HopKind.COORDINATE, OPERATION[op], undefined, 0, key, value, (answer) => {
      if (answer.error !== undefined) {
        callback(answer);
        return;
      }
      callback({
        found: answer.found,
        value: op === 'put' ? undefined : answer.value,
        version: answer.version,
        error: undefined,
        quorum: this.#quorums.get(required, answer.quorum.achieved),
      });
    });
  }
}

function toTopologyMember(m: MemberView): TopologyMember {
  return { id: Number.parseInt(m.id, 16), address: m.address, state: m.state };
}
