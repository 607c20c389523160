import type { AofRecord } from '../aof/types.js';
import type { HybridLogicalClock, Version } from '../clock/hlc.js';
import { supersedes } from '../clock/last-writer-wins.js';
import { hashKey } from '../hash/key-hash.js';
import { placementOf } from '../placement/placement.js';
import { RangeDigest } from '../store/range-digest.js';
import type { Entry, ShardStore, WriteOutcome } from '../store/shard-store.js';
import type { CommittedWriteListener, WriteOrigin } from './committed-write.js';

/** What the engine needs of the shard's AOF (src/aof/shard-aof.ts implements it). */
export interface WriteAheadLog {
  append(record: AofRecord): void;
  readonly waitsForSync: boolean;
  flushed(): Promise<void>;
  /** A promise to wait for when too much is buffered for the disk (back-pressure), else undefined. */
  backlogged?(): Promise<void> | undefined;
}

export interface WriteResult {
  readonly version: Version;
  /** The live value the key had before the write, if any. */
  readonly previous: string | undefined;
}

export interface EngineCounters {
  gets: number;
  hits: number;
  puts: number;
  removes: number;
}

/**
 * The data path of one shard: versions every local write with the shard's clock, appends it to the
 * AOF, applies it to the store, then emits one committed-write event (hooks and, later, the
 * replication feed listen; see onCommitted). A write's result is ready at once unless
 * the AOF syncs each write (fsync always), in which case it resolves once the record is on disk.
 *
 * Order. The AOF refuses a record while its disk fails (append throws), before anything changed (no
 * listener sees a refused write). With
 * fsync always the store is changed only once the record is synced: a write whose sync fails is
 * answered with the error and was never visible. The alternative, applying at once and undoing on a
 * failed sync, would have to restore the previous entry exactly while later writes to the same key
 * may already sit behind it in the same group commit, and readers would still have seen the value
 * for the length of the sync; applying after the sync has nothing to undo (etcd applies only
 * committed entries for the same reason). The cost: a concurrent reader sees the old value until the
 * sync, which is right, as the write is not acknowledged yet. With everysec/no a write is
 * acknowledged at once, so it is applied at once; its record stays buffered through a disk outage and
 * is written once the disk takes it again (src/aof/shard-aof.ts).
 */
export class ShardEngine {
  readonly counters: EngineCounters = { gets: 0, hits: 0, puts: 0, removes: 0 };
  readonly shard: number;
  readonly store: ShardStore;
  readonly clock: HybridLogicalClock;
  /** The anti-entropy leaf digests of the store, kept up to date by every change (range-digest.ts). */
  readonly digest = new RangeDigest();
  /** Tombstones collected (dropped past the grace period, src/shard/tombstone-sweep.ts). */
  tombstonesCollected = 0;
  /** Listeners that threw (they are meant to catch their own errors, as the hook runner does). */
  listenerFailures = 0;
  readonly #wal: WriteAheadLog | undefined;
  /** A plain array, not an EventEmitter: with nobody listening a write pays one length check. */
  #listeners: CommittedWriteListener[] = [];

  constructor(opts: {
    shard: number;
    store: ShardStore;
    clock: HybridLogicalClock;
    wal: WriteAheadLog | undefined;
  }) {
    this.shard = opts.shard;
    this.store = opts.store;
    this.clock = opts.clock;
    this.#wal = opts.wal;
  }

  /**
   * Calls `listener` after every committed write, in commit order, synchronously, before the write is
   * answered. Returns a function that unsubscribes it. Writes replayed from the AOF are not emitted.
   */
  onCommitted(listener: CommittedWriteListener): () => void {
    this.#listeners = [...this.#listeners, listener];
    return () => {
      this.#listeners = this.#listeners.filter((other) => other !== listener);
    };
  }

  get(key: string): Entry | undefined {
    this.counters.gets++;
    const entry = this.store.get(key);
    if (entry !== undefined) this.counters.hits++;
    return entry;
  }

  put(key: string, value: string): WriteResult | Promise<WriteResult> {
    this.counters.puts++;
    return this.#write('ADD', key, value);
  }

  remove(key: string): WriteResult | Promise<WriteResult> {
    this.counters.removes++;
    return this.#write('REMOVE', key, '');
  }

  #write(op: 'ADD' | 'REMOVE', key: string, value: string): WriteResult | Promise<WriteResult> {
    // A write the store could not take is refused before the AOF logs it (it would fail every replay).
    this.store.assertRoom(key, value);
    const version = this.clock.tick();
    const wal = this.#wal;
    wal?.append({ op, key, value, version });
    if (wal?.waitsForSync === true) {
      return wal.flushed().then(() => ({
        version,
        previous: this.#commit(op, key, value, version, 'client').previous,
      }));
    }
    const result = { version, previous: this.#commit(op, key, value, version, 'client').previous };
    const wait = wal?.backlogged?.();
    return wait === undefined ? result : wait.then(() => result);
  }

  /**
   * Applies a write a peer made (replication, repair, a join's transfer). It is a write like any
   * other (AOF, store, clock, committed-write event marked `peer`) unless it loses last-writer-wins
   * against what the store holds, in which case nothing at all happens. Resolves to whether it
   * applied. With fsync always, a local write newer than it may commit during its sync: it then
   * loses at the store and is not emitted (its AOF record replays to the same loss).
   */
  applyReplicated(record: AofRecord): boolean | Promise<boolean> {
    const { op, key, version } = record;
    const value = op === 'ADD' ? record.value : '';
    if (!this.#wins(key, op === 'REMOVE', value, version)) return false;
    this.store.assertRoom(key, value);
    this.clock.observe(version);
    const wal = this.#wal;
    wal?.append(value === record.value ? record : { op, key, value, version });
    if (wal?.waitsForSync === true) {
      return wal.flushed().then(() => this.#commit(op, key, value, version, 'peer').applied);
    }
    const applied = this.#commit(op, key, value, version, 'peer').applied;
    const wait = wal?.backlogged?.();
    return wait === undefined ? applied : wait.then(() => applied);
  }

  #wins(key: string, tombstone: boolean, value: string, version: Version): boolean {
    const current = this.store.getWithTombstone(key);
    return (
      current === undefined ||
      supersedes(version, tombstone, value, current, current.tombstone, current.value)
    );
  }

  /** Applies a write the AOF took to the store, then tells the listeners. */
  #commit(
    op: 'ADD' | 'REMOVE',
    key: string,
    value: string,
    version: Version,
    origin: WriteOrigin,
  ): WriteOutcome {
    const outcome = this.#change(op, key, value, version);
    if (outcome.applied && this.#listeners.length !== 0) this.#emit(op, key, value, version, origin);
    return outcome;
  }

  /** Every store change goes through here: the store, then the digest (old entry out, new one in). */
  #change(op: 'ADD' | 'REMOVE', key: string, value: string, version: Version): WriteOutcome {
    const store = this.store;
    const current = store.getWithTombstone(key);
    // The old stamp is copied before the store overwrites the entry in place.
    const before =
      current === undefined
        ? undefined
        : { wall: current.wall, counter: current.counter, node: current.node, tombstone: current.tombstone };
    const outcome = op === 'ADD' ? store.put(key, value, version) : store.remove(key, version);
    if (outcome.applied) {
      const keyHash = hashKey(key);
      this.digest.replace(keyHash, placementOf(keyHash), before, version, op === 'REMOVE');
    }
    return outcome;
  }

  /**
   * Drops a tombstone from the store and the digest (tombstone collection), if the key still holds
   * exactly that delete. Nothing goes to the AOF: compaction drops the record by the same rule.
   */
  collectTombstone(key: string, version: Version): boolean {
    const current = this.store.getWithTombstone(key);
    if (current === undefined || !current.tombstone) return false;
    if (current.wall !== version.wall || current.counter !== version.counter || current.node !== version.node)
      return false;
    const before = { wall: current.wall, counter: current.counter, node: current.node, tombstone: true };
    if (!this.store.forgetTombstone(key)) return false;
    const keyHash = hashKey(key);
    this.digest.remove(keyHash, placementOf(keyHash), before);
    this.tombstonesCollected++;
    return true;
  }

  #emit(op: 'ADD' | 'REMOVE', key: string, value: string, version: Version, origin: WriteOrigin): void {
    const write = { op, key, value, version, origin, shard: this.shard };
    for (const listener of this.#listeners) {
      try {
        listener(write);
      } catch {
        // The write is committed and must be answered as such; a listener's failure is its own.
        this.listenerFailures++;
      }
    }
  }

  /** Applies a record read back from the AOF: last writer wins, and the clock moves above it. */
  applyRecord(record: AofRecord): void {
    this.clock.observe(record.version);
    this.#change(record.op, record.key, record.value, record.version);
  }
}
