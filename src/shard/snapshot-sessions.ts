import { type SnapshotCursor, SnapshotPageWriter } from '../hop/hop-messages.js';
import type { Entry, ShardStore } from '../store/shard-store.js';

/** Pages are bounded here whatever the request asks: a page must fit a ring twice. */
export const SNAPSHOT_PAGE_BOUNDS = { minBytes: 4 * 1024, maxBytes: 256 * 1024 } as const;

/** Open iterators kept at once; the least recently used goes first (its reader resumes by skipping). */
const MAX_SESSIONS = 8;

interface Session {
  readonly iterator: Iterator<[string, Entry]>;
  /** Entries handed out so far. */
  position: number;
  /** An entry taken from the iterator that did not fit the last page. */
  held: [string, Entry] | undefined;
}

/**
 * The shard side of SNAPSHOT: pages of the store's entries, tombstones included, in the store's
 * order. An open iterator per reader makes each page cost its own size; a reader whose iterator is
 * gone (evicted) gets a new one advanced past `position` entries, which is right because the store
 * removes a key only when it collects a tombstone (past the grace period, rare), so positions
 * hardly shift: a resumed reader may then skip a few entries, which anti-entropy repairs.
 *
 * A snapshot is not a point in time: a key written during the transfer is sent with whatever value it
 * has when its page is built, and keys added meanwhile come at the end. The reader merges by
 * last-writer-wins and replication carries the writes made meanwhile (docs/cluster-design.md).
 */
export class SnapshotSessions {
  readonly #store: ShardStore;
  readonly #sessions = new Map<number, Session>();
  #nextSession = 1;

  constructor(store: ShardStore) {
    this.#store = store;
  }

  get open(): number {
    return this.#sessions.size;
  }

  /** Builds the page after `cursor`, at most `maxBytes` (within SNAPSHOT_PAGE_BOUNDS) long. */
  page(cursor: SnapshotCursor, maxBytes: number): Uint8Array {
    const bound = Math.min(SNAPSHOT_PAGE_BOUNDS.maxBytes, Math.max(SNAPSHOT_PAGE_BOUNDS.minBytes, maxBytes));
    const id = cursor.session === 0 ? this.#newId() : cursor.session;
    let session = this.#sessions.get(id);
    if (session === undefined || session.position !== cursor.position) {
      session = this.#resume(cursor.position);
    }
    this.#sessions.delete(id); // re-inserted below: Map order is the LRU order
    const writer = new SnapshotPageWriter(bound);
    for (;;) {
      const next = session.held ?? session.iterator.next().value;
      session.held = undefined;
      if (next === undefined) break;
      const [key, entry] = next;
      const size = SnapshotPageWriter.recordBytes(key, entry.value);
      if (!writer.fits(size)) {
        session.held = next;
        break;
      }
      writer.add(key, entry.value, entry, entry.tombstone);
      session.position++;
    }
    if (session.held === undefined) return writer.finish(undefined); // done: the session is dropped
    this.#sessions.set(id, session);
    while (this.#sessions.size > MAX_SESSIONS) {
      this.#sessions.delete(this.#sessions.keys().next().value as number);
    }
    return writer.finish({ session: id, position: session.position });
  }

  #newId(): number {
    const id = this.#nextSession;
    this.#nextSession = id === 0xffffffff ? 1 : id + 1;
    return id;
  }

  #resume(position: number): Session {
    const iterator = this.#store.entries();
    let skipped = 0;
    while (skipped < position && iterator.next().done !== true) skipped++;
    return { iterator, position: skipped, held: undefined };
  }
}
