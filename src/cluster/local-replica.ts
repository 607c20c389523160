/**
 * This node as one replica, seen from the main thread: applies peers' records on the owning shards
 * and reads entries from them, over the main thread's ring endpoint (src/daemon/main-endpoint.ts).
 * The replication service (incoming batches), replica reads, join transfers and read repair all
 * write and read the local data through it, so they share one definition of "applied".
 */
import type { SkewGuard } from '../clock/skew-guard.js';
import type { MainEndpoint } from '../daemon/main-endpoint.js';
import type { LallyError } from '../errors.js';
import type { ReplicaRecord } from '../rpc/codec.js';
import type { ApplyResult } from '../rpc/replication-service.js';

const EMPTY = new Uint8Array(0);

export class LocalReplica {
  readonly #endpoint: MainEndpoint;
  /** Refuses records stamped too far ahead of this node's clock (src/clock/skew-guard.ts). */
  readonly skew: SkewGuard | undefined;

  constructor(endpoint: MainEndpoint, skew?: SkewGuard) {
    this.#endpoint = endpoint;
    this.skew = skew;
  }

  /**
   * Applies the records by last-writer-wins on their shards, all at once (the endpoint bounds what
   * waits on one shard and answers BUSY past it, which fails the batch: the sender retries it).
   * Resolves once every record is durable as the fsync policy says; rejects with the first error.
   * A batch with a record stamped too far ahead is refused whole, before anything is applied
   * (LALLY_ERR_CLOCK_SKEW; `from` names where it came from in the warning).
   */
  apply(records: readonly ReplicaRecord[], from = 'this node'): Promise<ApplyResult> {
    if (records.length === 0) return Promise.resolve({ applied: 0, superseded: 0 });
    try {
      this.skew?.check(records, from);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      let waiting = records.length;
      let applied = 0;
      let failure: LallyError | undefined;
      const done = (wasApplied: boolean, error: LallyError | undefined) => {
        if (error !== undefined) failure ??= error;
        else if (wasApplied) applied++;
        if (--waiting > 0) return;
        if (failure !== undefined) reject(failure);
        else resolve({ applied, superseded: records.length - applied });
      };
      for (const r of records) this.#endpoint.applyBytes(r.key, r.value, r.version, r.tombstone, done);
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
            version: { wall: entry.version.wall, counter: entry.version.counter, node: entry.version.node },
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
