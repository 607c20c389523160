import { compareVersions, type Version, versionToRfc3339 } from '../clock/hlc.js';
import { supersedesEncoded } from '../clock/last-writer-wins.js';
import { type ValueInput, valueByteLength } from '../kv/value-input.js';
import { SharedTable } from './shared-table.js';
import { storeFull } from './table-arena.js';
import { HEADER_BYTES, type SharedTableBuffers, tableHash, Utf8Buffer } from './table-layout.js';

/**
 * One key's latest write, as read from the store: a copy made on read (the store keeps bytes in shared
 * memory, src/store/shared-table.ts), so a later write does not change an Entry already handed out.
 * A tombstone (a delete) is kept so that the delete can replicate. An Entry is itself a Version.
 */
export class Entry implements Version {
  value: string;
  wall: number;
  counter: number;
  node: number;
  tombstone: boolean;

  constructor(value: string, version: Version, tombstone: boolean) {
    this.value = value;
    this.wall = version.wall;
    this.counter = version.counter;
    this.node = version.node;
    this.tombstone = tombstone;
  }

  /** A copy of the version stamp. The hot path passes the entry itself where a Version is wanted. */
  get version(): Version {
    return { wall: this.wall, counter: this.counter, node: this.node };
  }

  /**
   * RFC 3339 of the version's wall part. Not cached per entry: a cached string would cost every key
   * that was ever read about 50 bytes, and versionToRfc3339 is cheap (it reuses the text of the second).
   */
  get timestamp(): string {
    return versionToRfc3339(this);
  }

  /** Overwrites this copy (the store is not changed). */
  assign(value: string, version: Version, tombstone: boolean): void {
    this.value = value;
    this.wall = version.wall;
    this.counter = version.counter;
    this.node = version.node;
    this.tombstone = tombstone;
  }
}

export interface WriteOutcome {
  /** False when the store already held a newer version (the write lost last-writer-wins). */
  readonly applied: boolean;
  /** The live value the key had before, if any. */
  readonly previous: string | undefined;
}

const LOST: WriteOutcome = Object.freeze({ applied: false, previous: undefined });

/** What ShardStore.write did. */
export const WriteCode = { LOST: 0, NEW: 1, REPLACED: 2 } as const;
export type WriteCode = (typeof WriteCode)[keyof typeof WriteCode];

/**
 * The data of one shard: key -> latest entry, last writer wins by version. The entries live in a
 * SharedTable (shared memory that other shard threads read with TableReader, docs/shared-store.md);
 * only the shard's own thread writes, so there are no locks. Keys and values are kept as UTF-8 bytes
 * and turned back into strings on read.
 */
export class ShardStore {
  readonly table: SharedTable;
  readonly #key = new Utf8Buffer();
  /** A value's bytes, only when two writes tie on their version (the content tiebreak). */
  readonly #value = new Utf8Buffer();
  readonly #stored = { wall: 0, counter: 0, node: 0 };
  /** The stamp of the entry the last REPLACED write overwrote (reused: read it before the next write). */
  readonly replaced = { wall: 0, counter: 0, node: 0, tombstone: false };
  /** The live value the last write with keepPrevious overwrote, if any. */
  previous: string | undefined;
  #live = 0;
  #tombstones = 0;

  /** A store over fresh buffers, or over `buffers` (empty) allocated where other threads get them. */
  constructor(buffers?: SharedTableBuffers) {
    this.table = new SharedTable(buffers);
  }

  /** The live entry of a key: undefined when missing or deleted. */
  get(key: string): Entry | undefined {
    const entry = this.getWithTombstone(key);
    return entry === undefined || entry.tombstone ? undefined : entry;
  }

  /** The entry including tombstones (for replication and repair). */
  getWithTombstone(key: string): Entry | undefined {
    const bytes = this.#key.encode(key);
    const id = this.table.find(bytes.bytes, bytes.length, tableHash(bytes.bytes, bytes.length));
    if (id < 0) return undefined;
    const offset = this.table.offsetOf(id);
    return this.table.forgottenAt(offset) ? undefined : this.#entryAt(offset);
  }

  #entryAt(offset: number): Entry {
    const table = this.table;
    const tombstone = table.tombstoneAt(offset);
    return new Entry(
      tombstone ? '' : table.valueAt(offset),
      table.versionAt(offset, this.#stored),
      tombstone,
    );
  }

  /** Writes `value` (a string, or its UTF-8 bytes) unless the store holds a newer version. */
  put(key: string, value: ValueInput, version: Version): WriteOutcome {
    return this.#outcome(this.#key.encode(key), value, version, false);
  }

  remove(key: string, version: Version): WriteOutcome {
    return this.#outcome(this.#key.encode(key), '', version, true);
  }

  #outcome(k: Utf8Buffer, value: ValueInput, version: Version, tombstone: boolean): WriteOutcome {
    const code = this.write(k.bytes, k.length, value, version, tombstone, true);
    return code === WriteCode.LOST ? LOST : { applied: true, previous: this.previous };
  }

  /**
   * The write path's one store call, on bytes: the key is `key[0, keyLength)` (UTF-8), the value a
   * string or its UTF-8 bytes (all of the view; '' for a tombstone). Last writer wins. Returns
   * WriteCode.LOST (nothing changed), NEW (the key had no entry) or REPLACED, when `replaced` holds the
   * stamp of the entry it overwrote; with `keepPrevious`, `previous` is then that entry's live value
   * (decoded only when asked: a PUT's answer does not show it). `hash` is the key's table hash when
   * the caller has it (tableHashOf of its shard hash), so that the key's bytes are hashed once.
   */
  write(
    key: Uint8Array,
    keyLength: number,
    value: ValueInput,
    version: Version,
    tombstone: boolean,
    keepPrevious = false,
    hash = tableHash(key, keyLength),
  ): WriteCode {
    const table = this.table;
    const valueLength = valueByteLength(value);
    const id = table.find(key, keyLength, hash);
    this.previous = undefined;
    if (id < 0 || table.forgottenAt(table.offsetOf(id))) {
      // A new key, or one whose tombstone was collected: no entry to win against.
      table.write(id, key, keyLength, hash, value, valueLength, version, tombstone);
      if (tombstone) this.#tombstones++;
      else this.#live++;
      return WriteCode.NEW;
    }
    const offset = table.offsetOf(id);
    const stored = table.versionAt(offset, this.#stored);
    const wasTombstone = table.tombstoneAt(offset);
    const order = compareVersions(version, stored);
    // The one rule (src/clock/last-writer-wins.ts); its content tiebreak only on equal versions.
    const wins =
      order !== 0
        ? order > 0
        : supersedesEncoded(
            version,
            tombstone,
            typeof value === 'string' ? this.#value.encode(value).bytes.subarray(0, valueLength) : value,
            stored,
            wasTombstone,
            table.valueBytesAt(offset),
          );
    if (!wins) return WriteCode.LOST;
    const replaced = this.replaced;
    replaced.wall = stored.wall;
    replaced.counter = stored.counter;
    replaced.node = stored.node;
    replaced.tombstone = wasTombstone;
    if (keepPrevious && !wasTombstone) this.previous = table.valueAt(offset);
    if (wasTombstone !== tombstone) {
      this.#live += tombstone ? -1 : 1;
      this.#tombstones += tombstone ? 1 : -1;
    }
    table.write(id, key, keyLength, hash, value, valueLength, version, tombstone);
    return WriteCode.REPLACED;
  }

  /** Removes a key whose entry is a tombstone (tombstone collection); false when it is not one. */
  forgetTombstone(key: string): boolean {
    const table = this.table;
    const k = this.#key.encode(key);
    const hash = tableHash(k.bytes, k.length);
    const id = table.find(k.bytes, k.length, hash);
    if (id < 0) return false;
    const offset = table.offsetOf(id);
    if (!table.tombstoneAt(offset) || table.forgottenAt(offset)) return false;
    table.forget(id, hash);
    this.#tombstones--;
    return true;
  }

  /**
   * Throws LALLY_ERR_STORE_FULL when the table could not take this write; the engine asks before it
   * appends the write to the AOF. One comparison while the arena is far from its bound.
   */
  assertRoom(key: string, value: ValueInput): void {
    const arena = this.table.arena;
    if (arena.roomy) return;
    const needed = HEADER_BYTES + Buffer.byteLength(key, 'utf8') + valueByteLength(value);
    if (!arena.canAllocate(needed)) throw storeFull(needed);
  }

  /** Live keys (tombstones not counted). */
  get size(): number {
    return this.#live;
  }

  get tombstones(): number {
    return this.#tombstones;
  }

  /** Every key with its entry, tombstones included, in the order the keys were first written. */
  *entries(): IterableIterator<[string, Entry]> {
    const table = this.table;
    // The count is read on each step: keys written during the iteration come at its end.
    for (let id = 0; id < table.count; id++) {
      const offset = table.offsetOf(id);
      if (!table.forgottenAt(offset)) yield [table.keyAt(offset), this.#entryAt(offset)];
    }
  }

  /**
   * The arena offset of the key's live entry, or -1 (missing or deleted): a GET reads the value's
   * bytes and the version there (table.valueBytesAt, table.versionAt) with no Entry and no string.
   */
  liveOffset(key: string): number {
    const bytes = this.#key.encode(key);
    return this.liveOffsetOf(bytes.bytes, bytes.length, tableHash(bytes.bytes, bytes.length));
  }

  /** Makes room in the table's index for `keys` keys (SharedTable.reserve). */
  reserve(keys: number): void {
    this.table.reserve(keys);
  }

  /** liveOffset of the key whose UTF-8 bytes are key[0, length), of table hash `hash`. */
  liveOffsetOf(key: Uint8Array, length: number, hash: number): number {
    const id = this.table.find(key, length, hash);
    if (id < 0) return -1;
    const offset = this.table.offsetOf(id);
    return this.table.tombstoneAt(offset) ? -1 : offset;
  }
}
