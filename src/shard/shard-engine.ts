import { emptyRecordSpans, readRecordAt } from '../aof/format.js';
import type { AofRecord, AofWrite } from '../aof/types.js';
import type { HybridLogicalClock, Version } from '../clock/hlc.js';
import { supersedes } from '../clock/last-writer-wins.js';
import { hashKey, hashKeyBytes } from '../hash/key-hash.js';
import { copyValue, type ValueInput, valueText } from '../kv/value-input.js';
import { placementOf } from '../placement/placement.js';
import { RangeDigest } from '../store/range-digest.js';
import { type Entry, type ShardStore, WriteCode } from '../store/shard-store.js';
import { tableHashOf, Utf8Buffer } from '../store/table-layout.js';
import type { CommittedWriteListener, WriteOrigin } from './committed-write.js';

/** What the engine needs of the shard's AOF (src/aof/shard-aof.ts implements it). */
export interface WriteAheadLog {
  /** Encodes the record at once: value bytes need to live only during the call. */
  append(record: AofWrite): void;
  readonly waitsForSync: boolean;
  flushed(): Promise<void>;
  /** A promise to wait for when too much is buffered for the disk (back-pressure), else undefined. */
  backlogged?(): Promise<void> | undefined;
}

export interface WriteResult {
  readonly version: Version;
  /** The live value the key had before the write, if any (a PUT made without keepPrevious: undefined). */
  readonly previous: string | undefined;
}

const EMPTY = new Uint8Array(0);

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
  /** The key's UTF-8 bytes, encoded once per write for the store and the digest. */
  readonly #key = new Utf8Buffer();
  /** Reused per replayed record (the store copies what it keeps). */
  readonly #spans = emptyRecordSpans();
  readonly #replayVersion = { wall: 0, counter: 0, node: 0 };
  /** The replay scan's buffer last seen, and its ArrayBuffer (applyEncodedRecord). */
  #replayBuf: Buffer | undefined;
  #replayArrayBuffer: ArrayBufferLike = new ArrayBuffer(0);

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

  /**
   * `value`: a string or its UTF-8 bytes (only read during the call: copied if the write waits for a
   * sync). `keepPrevious` false skips decoding the value it replaces (a PUT's answer does not show it).
   */
  put(key: string, value: ValueInput, keepPrevious = true): WriteResult | Promise<WriteResult> {
    this.counters.puts++;
    return this.#write('ADD', key, value, keepPrevious);
  }

  remove(key: string): WriteResult | Promise<WriteResult> {
    this.counters.removes++;
    return this.#write('REMOVE', key, '', true);
  }

  #write(
    op: 'ADD' | 'REMOVE',
    key: string,
    value: ValueInput,
    keepPrevious: boolean,
  ): WriteResult | Promise<WriteResult> {
    // A write the store could not take is refused before the AOF logs it (it would fail every replay).
    this.store.assertRoom(key, value);
    const version = this.clock.tick();
    const wal = this.#wal;
    if (wal?.waitsForSync === true) {
      // The store takes the value after the sync, when the caller's bytes may be gone.
      const kept = copyValue(value);
      wal.append({ op, key, value: kept, version });
      return wal.flushed().then(() => ({
        version,
        previous: this.#commit(op, key, kept, version, 'client', keepPrevious),
      }));
    }
    wal?.append({ op, key, value, version });
    const result = { version, previous: this.#commit(op, key, value, version, 'client', keepPrevious) };
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
      return wal.flushed().then(() => this.#applied(op, key, value, version));
    }
    const applied = this.#applied(op, key, value, version);
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

  /** A peer's write, committed: whether it applied (it may lose to a local write made meanwhile). */
  #applied(op: 'ADD' | 'REMOVE', key: string, value: string, version: Version): boolean {
    this.#commit(op, key, value, version, 'peer', false);
    return this.#changed;
  }

  /** Whether the last #commit changed the store. */
  #changed = false;

  /**
   * Applies a write the AOF took to the store, then tells the listeners (decoding the value for
   * them: only then is it a string). Returns the live value replaced, when `keepPrevious`.
   */
  #commit(
    op: 'ADD' | 'REMOVE',
    key: string,
    value: ValueInput,
    version: Version,
    origin: WriteOrigin,
    keepPrevious: boolean,
  ): string | undefined {
    const k = this.#key.encode(key);
    const applied = this.#change(k.bytes, k.length, value, version, op === 'REMOVE', keepPrevious);
    this.#changed = applied;
    if (!applied) return undefined;
    const previous = this.store.previous;
    if (this.#listeners.length !== 0) this.#emit(op, key, valueText(value), version, origin);
    return previous;
  }

  /**
   * Every store change goes through here: the store, then the digest (the replaced entry's stamp out,
   * the new one in). The key is `key[0, keyLength)` (UTF-8).
   */
  #change(
    key: Uint8Array,
    keyLength: number,
    value: ValueInput,
    version: Version,
    tombstone: boolean,
    keepPrevious: boolean,
  ): boolean {
    const store = this.store;
    const keyHash = hashKeyBytes(key, 0, keyLength);
    const code = store.write(key, keyLength, value, version, tombstone, keepPrevious, tableHashOf(keyHash));
    if (code === WriteCode.LOST) return false;
    const before = code === WriteCode.REPLACED ? store.replaced : undefined;
    this.digest.replace(keyHash, placementOf(keyHash), before, version, tombstone);
    return true;
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

  /** After the replay: lets the scan's last buffer go (applyEncodedRecord kept it to spot a new one). */
  endReplay(): void {
    this.#replayBuf = undefined;
    this.#replayArrayBuffer = new ArrayBuffer(0);
  }

  /** Applies a record read back from the AOF: last writer wins, and the clock moves above it. */
  applyRecord(record: AofRecord): void {
    this.clock.observe(record.version);
    const k = this.#key.encode(record.key);
    const tombstone = record.op === 'REMOVE';
    this.#change(k.bytes, k.length, tombstone ? '' : record.value, record.version, tombstone, false);
  }

  /**
   * applyRecord for a record still encoded at `buf[offset]` (one that checkRecordAt accepted): the
   * store takes its key and value bytes as they are, nothing is decoded. `buf` is read during the call only.
   */
  applyEncodedRecord(buf: Buffer, offset: number): void {
    const r = readRecordAt(buf, offset, this.#spans);
    const version = this.#replayVersion;
    version.wall = r.wall;
    version.counter = r.counter;
    version.node = r.node;
    this.clock.observe(version);
    // The key into the engine's own buffer (a short loop); the value as a plain Uint8Array view, since
    // Buffer's subarray costs about twice as much. The scan's buffer changes only when it grows, so
    // its ArrayBuffer (a getter that calls into C++) is read once per buffer.
    const k = this.#key.copyFrom(buf, r.keyStart, r.keyEnd);
    if (buf !== this.#replayBuf) {
      this.#replayBuf = buf;
      this.#replayArrayBuffer = buf.buffer;
    }
    const value = r.tombstone
      ? EMPTY
      : new Uint8Array(this.#replayArrayBuffer, buf.byteOffset + r.keyEnd, r.valueEnd - r.keyEnd);
    this.#change(k.bytes, k.length, value, version, r.tombstone, false);
  }
}
