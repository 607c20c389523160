/**
 * The Tree rpc (proto/lally.proto): the serving side over this node's LocalTree and LocalReplica, and
 * the asking side (RemoteTree) that a round of anti-entropy uses for its peer. Every call is unary with
 * a deadline; the asker counts the bytes of what it sends and receives (GET /stats).
 */
import type { handleUnaryCall } from '@grpc/grpc-js';
import { ErrorCodes, LallyError } from '../../errors.js';
import type { TreeEntry } from '../../hop/tree-messages.js';
import { LEAF_MASK_BYTES } from '../../hop/tree-messages.js';
import type { HashRange } from '../../placement/placement.js';
import { checkRecord, type ReplicaRecord, wire } from '../../rpc/codec.js';
import type { lally } from '../../rpc/generated/lally.js';
import { unaryHandler } from '../../rpc/grpc-server.js';
import type { PeerChannel } from '../../rpc/peer-channel.js';
import { toSafeNumber } from '../../rpc/protobuf-numbers.js';
import type { ApplyResult } from '../../rpc/replication-service.js';
import { ReplicationService } from '../../rpc/services.js';
import { FANOUT, LEAVES, TREE_DEPTH } from '../../store/range-digest.js';
import type { LocalTree } from './local-tree.js';

const TWO_TO_32 = 2 ** 32;
/** Entries one LIST answer may hold; a round asks for fewer. */
export const MAX_LIST_ENTRIES = 1_000_000;
/** Records one PUSH may carry. */
export const MAX_PUSH_RECORDS = 4096;

const Mode = wire.TreeMode;

/** The FANOUT children of each node, in order. */
export function childrenOf(parents: readonly number[]): number[] {
  const out: number[] = [];
  for (const p of parents) for (let c = 0; c < FANOUT; c++) out.push(p * FANOUT + c);
  return out;
}

/** u32 values as little-endian bytes (the wire's `prints` and `key_hashes`). */
export function u32Bytes(values: Uint32Array): Buffer {
  const bytes = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) bytes.writeUInt32LE(values[i]!, i * 4);
  return bytes;
}

export function u32sOf(bytes: Uint8Array): Uint32Array {
  if (bytes.length % 4 !== 0) throw invalid(`${bytes.length} bytes are not a list of u32`);
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Uint32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = b.readUInt32LE(i * 4);
  return out;
}

function invalid(message: string): LallyError {
  return new LallyError(ErrorCodes.INVALID_FIELD, message);
}

function rangesOf(request: lally.v1.TreeRequest): HashRange[] {
  const ranges: HashRange[] = [];
  let last = -1;
  for (const r of request.ranges ?? []) {
    const start = r.start ?? 0;
    const end = toSafeNumber(r.end ?? 0);
    if (!(start >= 0 && end <= TWO_TO_32 && start < end && start >= last)) {
      throw invalid(`tree ranges must be sorted, disjoint and within the ring, not [${start}, ${end})`);
    }
    ranges.push({ start, end });
    last = end;
  }
  return ranges;
}

/** Serves Tree: node hashes and leaf listings from the local shards; pushed records applied. */
export function treeHandler(
  local: LocalTree,
  apply: (records: readonly ReplicaRecord[], peer: string) => Promise<ApplyResult>,
  /** Told the asker's node id on each NODES request (a round with this node runs). */
  onRound?: (from: number) => void,
): handleUnaryCall<lally.v1.TreeRequest, lally.v1.TreeResponse.$Properties> {
  return unaryHandler(async (request: lally.v1.TreeRequest, call) => {
    const round = request.round ?? 0;
    if (request.mode === Mode.TREE_MODE_NODES && (request.from ?? 0) !== 0) onRound?.(request.from!);
    if (request.mode === Mode.TREE_MODE_PUSH) {
      const records = (request.records ?? []) as unknown as ReplicaRecord[];
      if (records.length > MAX_PUSH_RECORDS) throw invalid(`a push of ${records.length} records`);
      for (let i = 0; i < records.length; i++) checkRecord(records[i]!, i);
      const result = await apply(records, call.getPeer());
      return { applied: result.applied };
    }
    const ranges = rangesOf(request);
    if (request.mode === Mode.TREE_MODE_NODES) {
      const level = request.level ?? 0;
      let nodes = request.nodes ?? [];
      if (request.children === true) {
        if (level < 1 || level > TREE_DEPTH || nodes.some((n) => n >= FANOUT ** (level - 1))) {
          throw invalid(`tree parents out of level ${level - 1}`);
        }
        nodes = childrenOf(nodes);
      }
      if (level > TREE_DEPTH || nodes.length > LEAVES || nodes.some((n) => n >= FANOUT ** level)) {
        throw invalid(`tree nodes out of level ${level}`);
      }
      const lanes = await local.nodes(round, ranges, level, nodes);
      return { hashes: Buffer.from(lanes.buffer, lanes.byteOffset, lanes.byteLength) };
    }
    if (request.mode === Mode.TREE_MODE_LIST || request.mode === Mode.TREE_MODE_PRINTS) {
      const leaves = request.leaves ?? new Uint8Array(0);
      if (leaves.length !== LEAF_MASK_BYTES) throw invalid(`a leaf mask of ${leaves.length} bytes`);
      const max = Math.min(MAX_LIST_ENTRIES, Math.max(1, request.maxEntries ?? 0));
      if (request.mode === Mode.TREE_MODE_PRINTS) {
        const { prints, truncated } = await local.prints(round, ranges, leaves, max);
        return { prints: u32Bytes(prints), truncated };
      }
      const filter = u32sOf(request.keyHashes ?? new Uint8Array(0));
      for (let i = 1; i < filter.length; i++) {
        if (filter[i]! <= filter[i - 1]!) throw invalid('the key hashes of a listing must ascend');
      }
      const { entries, truncated } = await local.list(
        round,
        ranges,
        leaves,
        max,
        filter.length === 0 ? undefined : filter,
      );
      return {
        truncated,
        entries: entries.map((e) => ({
          key: Buffer.from(e.key, 'utf8'),
          version: { wall: e.wall, counter: e.counter, node: e.node },
          tombstone: e.tombstone,
        })),
      };
    }
    throw invalid(`an unknown tree mode ${request.mode}`);
  });
}

export interface TreeTraffic {
  bytesSent: number;
  bytesReceived: number;
}

/** One peer's tree, asked over its channel. */
export class RemoteTree {
  readonly #channel: PeerChannel;
  readonly #timeoutMs: number;
  readonly #from: number;
  readonly #traffic: TreeTraffic;

  constructor(channel: PeerChannel, timeoutMs: number, from: number, traffic: TreeTraffic) {
    this.#channel = channel;
    this.#timeoutMs = timeoutMs;
    this.#from = from;
    this.#traffic = traffic;
  }

  get address(): string {
    return this.#channel.address;
  }

  async #call(request: lally.v1.ITreeRequest): Promise<lally.v1.TreeResponse.$Properties> {
    this.#traffic.bytesSent += wire.TreeRequest.encode(request).finish().length;
    const response = await this.#channel.unary(
      ReplicationService.tree,
      request as lally.v1.TreeRequest,
      this.#timeoutMs,
    );
    this.#traffic.bytesReceived += wire.TreeResponse.encode(response).finish().length;
    return response;
  }

  #ranges(ranges: readonly HashRange[]): lally.v1.IRingRange[] {
    return ranges.map((r) => ({ start: r.start, end: r.end }));
  }

  /**
   * The hashes of `nodes` at `level`; with `parents` (whose children `nodes` are, in order), only the
   * parents travel (a 16th of the ids).
   */
  async nodes(
    round: number,
    ranges: readonly HashRange[],
    level: number,
    nodes: readonly number[],
    parents?: readonly number[],
  ): Promise<Uint32Array> {
    const response = await this.#call({
      mode: Mode.TREE_MODE_NODES,
      round,
      from: this.#from,
      ranges: this.#ranges(ranges),
      level,
      ...(parents === undefined ? { nodes: [...nodes] } : { nodes: [...parents], children: true }),
    });
    const bytes = response.hashes ?? new Uint8Array(0);
    if (bytes.length !== nodes.length * 8) {
      throw new LallyError(
        ErrorCodes.INTERNAL,
        `${this.address} answered ${bytes.length} hash bytes for ${nodes.length} tree nodes`,
      );
    }
    const copy = new Uint8Array(bytes); // aligned for the Uint32Array view
    return new Uint32Array(copy.buffer, 0, nodes.length * 2);
  }

  async prints(
    round: number,
    ranges: readonly HashRange[],
    leaves: Uint8Array,
    maxEntries: number,
  ): Promise<{ prints: Uint32Array; truncated: boolean }> {
    const response = await this.#call({
      mode: Mode.TREE_MODE_PRINTS,
      round,
      from: this.#from,
      ranges: this.#ranges(ranges),
      leaves,
      maxEntries,
    });
    const prints = u32sOf(response.prints ?? new Uint8Array(0));
    if (prints.length % 2 !== 0)
      throw new LallyError(ErrorCodes.INTERNAL, `${this.address}: odd fingerprints`);
    return { prints, truncated: response.truncated === true };
  }

  async list(
    round: number,
    ranges: readonly HashRange[],
    leaves: Uint8Array,
    maxEntries: number,
    keyHashes?: Uint32Array,
  ): Promise<{ entries: TreeEntry[]; truncated: boolean }> {
    const response = await this.#call({
      mode: Mode.TREE_MODE_LIST,
      round,
      from: this.#from,
      ranges: this.#ranges(ranges),
      leaves,
      maxEntries,
      ...(keyHashes === undefined ? {} : { keyHashes: u32Bytes(keyHashes) }),
    });
    const entries: TreeEntry[] = (response.entries ?? []).map((e) => {
      const key = e.key ?? new Uint8Array(0);
      return {
        key: Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('utf8'),
        wall: toSafeNumber(e.version?.wall ?? 0),
        counter: e.version?.counter ?? 0,
        node: e.version?.node ?? 0,
        tombstone: e.tombstone === true,
      };
    });
    return { entries, truncated: response.truncated === true };
  }

  async push(records: readonly ReplicaRecord[]): Promise<number> {
    let applied = 0;
    for (let start = 0; start < records.length; start += MAX_PUSH_RECORDS) {
      const response = await this.#call({
        mode: Mode.TREE_MODE_PUSH,
        from: this.#from,
        records: records.slice(start, start + MAX_PUSH_RECORDS) as lally.v1.IRecord[],
      });
      applied += response.applied ?? 0;
    }
    return applied;
  }
}
