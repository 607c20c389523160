import { type Version, versionToRfc3339 } from '../clock/hlc.js';
import { supersedes } from '../clock/last-writer-wins.js';

/**
 * One key's latest write. A tombstone (a delete) is kept so that the delete can replicate. The version
 * stamp is stored inline (an Entry is itself a Version): a separate object per key cost about 50 bytes
 * of a million-key store's 300.
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

  /** Overwrites this entry with a newer write (no new object per write). */
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

/**
 * The data of one shard: key -> latest entry, last writer wins by version. Only the shard's own thread
 * touches it, so there are no locks.
 */
export class ShardStore {
  readonly #entries = new Map<string, Entry>();
  #live = 0;
  #tombstones = 0;

  /** The live entry of a key: undefined when missing or deleted. */
  get(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    return entry === undefined || entry.tombstone ? undefined : entry;
  }

  /** The entry including tombstones (for replication and repair). */
  getWithTombstone(key: string): Entry | undefined {
    return this.#entries.get(key);
  }

  put(key: string, value: string, version: Version): WriteOutcome {
    return this.#write(key, value, version, false);
  }

  remove(key: string, version: Version): WriteOutcome {
    return this.#write(key, '', version, true);
  }

  #write(key: string, value: string, version: Version, tombstone: boolean): WriteOutcome {
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      this.#entries.set(key, new Entry(value, version, tombstone));
      if (tombstone) this.#tombstones++;
      else this.#live++;
      return { applied: true, previous: undefined };
    }
    if (!supersedes(version, tombstone, value, entry, entry.tombstone, entry.value)) return LOST;
    const previous = entry.tombstone ? undefined : entry.value;
    if (entry.tombstone !== tombstone) {
      this.#live += tombstone ? -1 : 1;
      this.#tombstones += tombstone ? 1 : -1;
    }
    entry.assign(value, version, tombstone);
    return { applied: true, previous };
  }

  /** Removes a key whose entry is a tombstone (tombstone collection); false when it is not one. */
  forgetTombstone(key: string): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined || !entry.tombstone) return false;
    this.#entries.delete(key);
    this.#tombstones--;
    return true;
  }

  /** Live keys (tombstones not counted). */
  get size(): number {
    return this.#live;
  }

  get tombstones(): number {
    return this.#tombstones;
  }

  entries(): IterableIterator<[string, Entry]> {
    return this.#entries.entries();
  }
}
