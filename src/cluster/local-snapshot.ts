/**
 * This node's records as snapshot pages (the Snapshot rpc's ReadPage, and the handoff's reader): the
 * shards' SNAPSHOT pages (src/shard/snapshot-sessions.ts), shard 0 to n-1, filtered by ring ranges,
 * tombstones included, cut into pages of at most `maxRecords` records and about `maxBytes` bytes.
 *
 * The wire cursor is the shard and that shard's cursor (session, position), so a broken transfer
 * resumes where its last page ended, on this process or (by skipping `position` entries) after the
 * shard's iterator was evicted. A wire page may end inside a shard page: the rest of that shard
 * page is kept here for a while (a few, least recently used first out), so the next page usually
 * needs no re-read.
 */
import { ErrorCodes, LallyError } from '../errors.js';
import { hashKeyBytes } from '../hash/key-hash.js';
import { SNAPSHOT_START, type SnapshotCursor, type SnapshotRecordBytes } from '../hop/hop-messages.js';
import { placementOf, RING_SIZE } from '../placement/placement.js';
import type { ReplicaRecord } from '../rpc/codec.js';
import type { PageQuery, ReadPage, RingRange, SnapshotPage } from '../rpc/snapshot-transfer.js';

/** The part of MainEndpoint the reader uses (a fake in tests). */
export interface ShardSnapshots {
  readonly shards: number;
  snapshotBytes(
    shard: number,
    cursor: SnapshotCursor,
    callback: (
      page: { records: SnapshotRecordBytes[]; next: SnapshotCursor | undefined } | undefined,
      error: LallyError | undefined,
    ) => void,
    maxBytes?: number,
  ): void;
}

/** Where a transfer goes on: a shard and that shard's own cursor. */
export interface TransferCursor {
  readonly shard: number;
  readonly session: number;
  readonly position: number;
}

const CURSOR_VERSION = 1;
const CURSOR_BYTES = 17;
const TWO_TO_32 = 2 ** 32;
/** Shard pages asked for: the shards' upper bound, so that a transfer takes few hops. */
const SHARD_PAGE_BYTES = 256 * 1024;
/** Per-record bytes on the wire besides key and value (as the replication stream counts them). */
const RECORD_OVERHEAD = 24;
/** Shard pages kept (read ahead, or the rest of a cut one), least recently used out first. */
const MAX_KEPT_REMAINDERS = 16;
const EMPTY = new Uint8Array(0);

/** Layout: version u8, shard u32, session u32, position low u32, high u32 (big-endian). */
export function encodeTransferCursor(cursor: TransferCursor): Uint8Array {
  const bytes = Buffer.alloc(CURSOR_BYTES);
  bytes.writeUInt8(CURSOR_VERSION, 0);
  bytes.writeUInt32BE(cursor.shard, 1);
  bytes.writeUInt32BE(cursor.session, 5);
  bytes.writeUInt32BE(cursor.position % TWO_TO_32, 9);
  bytes.writeUInt32BE(Math.floor(cursor.position / TWO_TO_32), 13);
  return bytes;
}

/** The cursor of a request: empty bytes start at shard 0; anything malformed is LALLY_ERR_INVALID_FIELD. */
export function decodeTransferCursor(bytes: Uint8Array, shards: number): TransferCursor {
  if (bytes.length === 0) return { shard: 0, ...SNAPSHOT_START };
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length !== CURSOR_BYTES || b.readUInt8(0) !== CURSOR_VERSION) {
    throw new LallyError(
      ErrorCodes.INVALID_FIELD,
      `a snapshot cursor of ${b.length} bytes is not this node's`,
    );
  }
  const shard = b.readUInt32BE(1);
  const position = b.readUInt32BE(13) * TWO_TO_32 + b.readUInt32BE(9);
  if (shard > shards || !Number.isSafeInteger(position)) {
    throw new LallyError(
      ErrorCodes.INVALID_FIELD,
      `the snapshot cursor names shard ${shard} of a node with ${shards}`,
    );
  }
  return { shard, session: b.readUInt32BE(5), position };
}

/** Whether a ring position is in any of some ranges: sorted, merged, binary-searched. */
export class RangeFilter {
  readonly #starts: number[];
  readonly #ends: number[];
  /** Share of the ring covered (1 without ranges). */
  readonly coverage: number;

  /** No ranges: every position. */
  constructor(ranges: readonly RingRange[]) {
    const sorted = [...ranges].sort((a, b) => a.start - b.start);
    const starts: number[] = [];
    const ends: number[] = [];
    for (const r of sorted) {
      const last = ends.length - 1;
      if (last >= 0 && r.start <= ends[last]!) ends[last] = Math.max(ends[last]!, r.end);
      else {
        starts.push(r.start);
        ends.push(r.end);
      }
    }
    this.#starts = starts;
    this.#ends = ends;
    let covered = 0;
    for (let i = 0; i < starts.length; i++) covered += ends[i]! - starts[i]!;
    this.coverage = starts.length === 0 ? 1 : covered / RING_SIZE;
  }

  get all(): boolean {
    return this.#starts.length === 0;
  }

  contains(position: number): boolean {
    const starts = this.#starts;
    if (starts.length === 0) return true;
    // The last range starting at or before the position.
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (starts[mid]! <= position) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 && position < this.#ends[lo - 1]!;
  }

  /** Whether a key's ring position is in the ranges (the key as UTF-8 bytes). */
  holdsKey(key: Uint8Array): boolean {
    return this.all || this.contains(placementOf(hashKeyBytes(key)));
  }
}

interface Remainder {
  readonly records: SnapshotRecordBytes[];
  readonly next: SnapshotCursor | undefined;
}

function shardPage(source: ShardSnapshots, shard: number, cursor: SnapshotCursor): Promise<Remainder> {
  return new Promise((resolve, reject) => {
    source.snapshotBytes(
      shard,
      cursor,
      (page, error) => {
        if (error !== undefined || page === undefined) reject(error);
        else resolve(page);
      },
      SHARD_PAGE_BYTES,
    );
  });
}

/**
 * A record as the wire carries it. Records imported from an upstream log have no writer (version
 * node 0), which the wire refuses: they travel as written by this node at their imported time (the
 * wall and counter are kept, so last-writer-wins orders them as before against every real write).
 */
function toReplicaRecord(r: SnapshotRecordBytes, nodeId: number): ReplicaRecord {
  if (r.version.node !== 0 && !(r.tombstone && r.value.length > 0)) return r;
  const v = r.version;
  return {
    key: r.key,
    value: r.tombstone ? EMPTY : r.value,
    version: v.node === 0 ? { wall: v.wall, counter: v.counter, node: nodeId } : v,
    tombstone: r.tombstone,
  };
}

export interface LocalPageReaderOptions {
  /** This node's id: the writer of records that have none (imported from an upstream log). */
  readonly nodeId: number;
  /** An estimate of the records in all shards (keys and tombstones), for `total`; none: 0 (unknown). */
  readonly countEntries?: () => Promise<number>;
}

/** A ReadPage over the node's shards (see the module comment). */
export function localPageReader(source: ShardSnapshots, options: LocalPageReaderOptions): ReadPage {
  // Shard pages read ahead, and the rests of cut ones, by where they start.
  const kept = new Map<string, Promise<Remainder>>();
  const keyOf = (shard: number, c: SnapshotCursor) => `${shard}/${c.session}/${c.position}`;
  const keep = (key: string, page: Promise<Remainder>) => {
    page.catch(() => {}); // a read-ahead nobody asks for again must not be an unhandled rejection
    kept.set(key, page);
    while (kept.size > MAX_KEPT_REMAINDERS) kept.delete(kept.keys().next().value as string);
  };
  return async (query: PageQuery): Promise<SnapshotPage> => {
    const filter = new RangeFilter(query.ranges);
    const start = decodeTransferCursor(query.cursor, source.shards);
    let shard = start.shard;
    let cursor: SnapshotCursor = { session: start.session, position: start.position };
    const records: ReplicaRecord[] = [];
    let bytes = 0;
    let full = false;
    while (shard < source.shards && !full) {
      const key = keyOf(shard, cursor);
      const page = await (kept.get(key) ?? shardPage(source, shard, cursor));
      kept.delete(key);
      // The shard reads its next page while this one is filtered and sent.
      const ahead = page.next === undefined ? undefined : keyOf(shard, page.next);
      if (ahead !== undefined && !kept.has(ahead)) keep(ahead, shardPage(source, shard, page.next!));
      let i = 0;
      for (; i < page.records.length; i++) {
        const r = page.records[i]!;
        if (!filter.holdsKey(r.key)) continue;
        const record = toReplicaRecord(r, options.nodeId);
        const size = record.key.length + record.value.length + RECORD_OVERHEAD;
        if (records.length >= query.maxRecords || (records.length > 0 && bytes + size > query.maxBytes)) {
          full = true;
          break;
        }
        records.push(record);
        bytes += size;
      }
      if (full) {
        // Cut inside the shard page: the next page starts at its i-th entry.
        cursor = { session: page.next?.session ?? 0, position: cursor.position + i };
        keep(keyOf(shard, cursor), Promise.resolve({ records: page.records.slice(i), next: page.next }));
      } else if (page.next !== undefined) {
        cursor = page.next;
      } else {
        shard++;
        cursor = SNAPSHOT_START;
      }
    }
    const last = shard >= source.shards;
    let total = 0;
    if (query.cursor.length === 0 && options.countEntries !== undefined) {
      total = Math.round((await options.countEntries().catch(() => 0)) * filter.coverage);
    }
    return {
      records,
      cursor: last ? EMPTY : encodeTransferCursor({ shard, ...cursor }),
      last,
      total,
    };
  };
}
