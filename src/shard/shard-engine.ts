import type { AofRecord } from '../aof/types.js';
import { type HybridLogicalClock, type Version, versionToRfc3339 } from '../clock/hlc.js';
import type { HookRunner } from '../hooks/hook-runner.js';
import type { Entry, ShardStore } from '../store/shard-store.js';

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
 * AOF, then passes it to the hooks and applies it to the store. A write's result is ready at once unless
 * the AOF syncs each write (fsync always), in which case it resolves once the record is on disk.
 *
 * Order. The AOF refuses a record while its disk fails (append throws), before anything changed (no
 * hook sees a refused write). With
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
  readonly #hooks: HookRunner;
  readonly #wal: WriteAheadLog | undefined;

  constructor(opts: {
    shard: number;
    store: ShardStore;
    clock: HybridLogicalClock;
    hooks: HookRunner;
    wal: WriteAheadLog | undefined;
  }) {
    this.shard = opts.shard;
    this.store = opts.store;
    this.clock = opts.clock;
    this.#hooks = opts.hooks;
    this.#wal = opts.wal;
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
    const version = this.clock.tick();
    const wal = this.#wal;
    wal?.append({ op, key, value, version });
    if (wal?.waitsForSync === true) return wal.flushed().then(() => this.#apply(op, key, value, version));
    const result = this.#apply(op, key, value, version);
    const wait = wal?.backlogged?.();
    return wait === undefined ? result : wait.then(() => result);
  }

  /** Commits a write the AOF took: hooks first (they see it before readers do), then the store. */
  #apply(op: 'ADD' | 'REMOVE', key: string, value: string, version: Version): WriteResult {
    if (this.#hooks.active) {
      this.#hooks.run({
        name: op,
        key,
        value: op === 'ADD' ? value : undefined,
        timestamp: versionToRfc3339(version),
        version,
        shard: this.shard,
      });
    }
    const outcome = op === 'ADD' ? this.store.put(key, value, version) : this.store.remove(key, version);
    return { version, previous: outcome.previous };
  }

  /** Applies a record read back from the AOF: last writer wins, and the clock moves above it. */
  applyRecord(record: AofRecord): void {
    this.clock.observe(record.version);
    if (record.op === 'ADD') this.store.put(record.key, record.value, record.version);
    else this.store.remove(record.key, record.version);
  }
}
