/**
 * This node as one replica, seen from the main thread: applies peers' records on the owning shards
 * and reads entries from them, over the main thread's ring endpoint (src/daemon/main-endpoint.ts).
 * The replication service (incoming batches), replica reads, join transfers and read repair all
 * write and read the local data through it, so they share one definition of "applied".
 */
import type { SkewGuard } from '../clock/skew-guard.js';
import type { MainEndpoint } from '../daemon/main-endpoint.js';
import type { LallyError } from '../errors.js';
import { encodeRecordPage, pageRecordBytes } from '../hop/hop-messages.js';
import type { ReplicaRecord } from '../rpc/codec.js';
import type { ApplyResult } from '../rpc/replication-service.js';

const EMPTY = new Uint8Array(0);
/** A page of records for one shard: small enough to share a ring with other traffic. */
const PAGE_RECORDS = 1024;
const PAGE_BYTES = 256 * 1024;

export class LocalReplica {
  readonly #endpoint: MainEndpoint;
  readonly #nodeId: number;
  /** Refuses records stamped too far ahead of this node's clock (src/clock/skew-guard.ts). */
  readonly skew: SkewGuard | undefined;

  /**
   * `nodeId`: this node's id, the writer of entries that have none (imported from an upstream log,
   * version node 0, which the wire refuses): they are read as written by this node at their time, as
   * the join transfer sends them (src/cluster/local-snapshot.ts).
   */
  constructor(endpoint: MainEndpoint, nodeId: number, skew?: SkewGuard) {
    this.#endpoint = endpoint;
    this.#nodeId = nodeId;
    this.skew = skew;
  }

  /**
   * Applies the records by last-writer-wins on their shards: grouped by shard into pages of at most
   * `PAGE_RECORDS` records or about `PAGE_BYTES` bytes, one APPLY_BATCH hop each, all at once (the
   * endpoint bounds what waits on one shard and answers BUSY past it, which fails the batch: the
   * sender sends it again). Resolves once every record is durable as the fsync policy says; rejects
   * with the first error.
   * With `from` (a peer's batch, a read repair), a batch with a record stamped too far ahead is
   * refused whole, before anything is applied (LALLY_ERR_CLOCK_SKEW; `from` is named in the warning).
   * Without it (this node's own writes, a join's transfer of what the members hold) nothing is checked.
   */
  apply(records: readonly ReplicaRecord[], from?: string): Promise<ApplyResult> {
    if (records.length === 0) return Promise.resolve({ applied: 0, superseded: 0 });
    try {
      if (from !== undefined) this.skew?.check(records, from);
    } catch (error) {
      return Promise.reject(error);
    }
    const endpoint = this.#endpoint;
    const byShard: ReplicaRecord[][] = Array.from({ length: endpoint.shards }, () => []);
    for (const r of records) byShard[endpoint.ownerOfBytes(r.key)]!.push(r);
    return new Promise((resolve, reject) => {
      let waiting = 0;
      let applied = 0;
      let failure: LallyError | undefined;
      const done = (count: number, error: LallyError | undefined) => {
        if (error !== undefined) failure ??= error;
        else applied += count;
        if (--waiting > 0) return;
        if (failure !== undefined) reject(failure);
        else resolve({ applied, superseded: records.length - applied });
      };
      const pages: [number, Uint8Array][] = [];
      byShard.forEach((group, shard) => {
        let start = 0;
        while (start < group.length) {
          let end = start;
          let bytes = 0;
          while (end < group.length && end - start < PAGE_RECORDS) {
            const size = pageRecordBytes(group[end]!);
            if (end > start && bytes + size > PAGE_BYTES) break;
            bytes += size;
            end++;
          }
          pages.push([shard, encodeRecordPage(group, start, end)]);
          start = end;
        }
      });
      waiting = pages.length;
      for (const [shard, page] of pages) endpoint.applyBatch(shard, page, done);
    });
  }

  /** The entry of one key (tombstones included), or undefined when this node never had the key. */
  readEntry(key: string): Promise<ReplicaRecord | undefined> {
    return new Promise((resolve, reject) => {
      this.#endpoint.readEntry(key, (entry, error) => {
        if (error !== undefined) reject(error);
        else if (entry === undefined) resolve(undefined);
        else {
          resolve({
            key: Buffer.from(key, 'utf8'),
            value: entry.tombstone ? EMPTY : Buffer.from(entry.value, 'utf8'),
            version: {
              wall: entry.version.wall,
              counter: entry.version.counter,
              node: entry.version.node === 0 ? this.#nodeId : entry.version.node,
            },
            tombstone: entry.tombstone,
          });
        }
      });
    });
  }

  /** The entries of some keys, in order (the Read service's lookup). */
  lookup(keys: readonly Uint8Array[]): Promise<(ReplicaRecord | undefined)[]> {
    return Promise.all(
      keys.map((k) => this.readEntry(Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString('utf8'))),
    );
  }
}
