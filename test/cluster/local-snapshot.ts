import t from 'tap';
import {
  decodeTransferCursor,
  encodeTransferCursor,
  localPageReader,
  RangeFilter,
  type ShardSnapshots,
} from '../../src/cluster/local-snapshot.js';
import { ErrorCodes } from '../../src/errors.js';
import { hashKey } from '../../src/hash/key-hash.js';
import type { SnapshotCursor, SnapshotRecordBytes } from '../../src/hop/hop-messages.js';
import { placementOf, RING_SIZE } from '../../src/placement/placement.js';
import type { PageQuery, SnapshotPage } from '../../src/rpc/snapshot-transfer.js';

t.test('the transfer cursor round-trips and refuses what is not one', async (t) => {
  for (const c of [
    { shard: 0, session: 0, position: 0 },
    { shard: 3, session: 0xffffffff, position: 2 ** 40 + 7 },
  ]) {
    t.same(decodeTransferCursor(encodeTransferCursor(c), 4), c);
  }
  t.same(
    decodeTransferCursor(new Uint8Array(0), 4),
    { shard: 0, session: 0, position: 0 },
    'empty: the start',
  );
  t.throws(() => decodeTransferCursor(new Uint8Array(5), 4), { code: ErrorCodes.INVALID_FIELD });
  const other = Buffer.from(encodeTransferCursor({ shard: 1, session: 1, position: 1 }));
  other[0] = 9;
  t.throws(() => decodeTransferCursor(other, 4), { code: ErrorCodes.INVALID_FIELD }, 'another version');
  t.throws(
    () => decodeTransferCursor(encodeTransferCursor({ shard: 9, session: 0, position: 0 }), 4),
    { code: ErrorCodes.INVALID_FIELD },
    'a shard the node does not have',
  );
});

t.test('the range filter: merged ranges, bounds, no ranges = everything', async (t) => {
  const f = new RangeFilter([
    { start: 100, end: 200 },
    { start: 150, end: 300 },
    { start: 1000, end: RING_SIZE },
    { start: 0, end: 10 },
  ]);
  for (const [p, inside] of [
    [0, true],
    [9, true],
    [10, false],
    [99, false],
    [100, true],
    [299, true],
    [300, false],
    [999, false],
    [1000, true],
    [RING_SIZE - 1, true],
  ] as const) {
    t.equal(f.contains(p), inside, `position ${p}`);
  }
  t.equal(f.coverage, (10 + 200 + (RING_SIZE - 1000)) / RING_SIZE);
  const all = new RangeFilter([]);
  t.ok(all.all && all.contains(12345) && all.coverage === 1);
});

/** Shards in memory, each a list of records, paged like SnapshotSessions (fixed records per page). */
function fakeShards(shards: SnapshotRecordBytes[][], perPage: number) {
  const calls: { shard: number; cursor: SnapshotCursor }[] = [];
  let sessions = 0;
  const source: ShardSnapshots = {
    shards: shards.length,
    snapshotBytes(shard, cursor, callback) {
      calls.push({ shard, cursor });
      const all = shards[shard]!;
      const records = all.slice(cursor.position, cursor.position + perPage);
      const end = cursor.position + records.length;
      const session = cursor.session === 0 ? ++sessions : cursor.session;
      setImmediate(() =>
        callback({ records, next: end < all.length ? { session, position: end } : undefined }, undefined),
      );
    },
  };
  return { source, calls };
}

const record = (shard: number, i: number, tombstone = false): SnapshotRecordBytes => ({
  key: Buffer.from(`s${shard}:k${i}`),
  value: Buffer.from(tombstone ? '' : `value-${shard}-${i}`),
  version: { wall: 1000 + i, counter: 0, node: i % 5 === 0 ? 0 : 7 },
  tombstone,
});

t.test(
  'local pages: every shard in turn, bounded pages, tombstones, imported versions, resume',
  async (t) => {
    const data = [0, 1, 2].map((s) => Array.from({ length: 250 }, (_, i) => record(s, i, i % 9 === 0)));
    const { source, calls } = fakeShards(data, 64);
    const read = localPageReader(source, { nodeId: 42, countEntries: async () => 750 });
    const query = (cursor: Uint8Array): PageQuery => ({
      ranges: [],
      cursor,
      maxRecords: 100,
      maxBytes: 1 << 20,
    });
    const seen: string[] = [];
    let cursor: Uint8Array = new Uint8Array(0);
    let pages = 0;
    let first: SnapshotPage | undefined;
    for (;;) {
      const page = await read(query(cursor));
      first ??= page;
      pages++;
      t.ok(page.records.length <= 100, 'at most maxRecords per page');
      for (const r of page.records) {
        seen.push(Buffer.from(r.key).toString());
        t.not(r.version.node, 0, 'a version without a writer travels as this node');
        if (r.tombstone) t.equal(r.value.length, 0);
      }
      if (page.last) break;
      cursor = page.cursor;
    }
    t.equal(first?.total, 750, 'the first page gives the expected total');
    t.same(
      seen,
      data.flat().map((r) => r.key.toString()),
      'every record once, shard by shard, in order',
    );
    t.equal(pages, 8, '750 records in pages of 100');
    t.ok(seen.filter((k) => k.endsWith(':k0')).length === 3, 'tombstones included');
    // The rest of a cut shard page is kept: each shard page was read once (plus read-aheads).
    const positions = calls.map((c) => `${c.shard}/${c.cursor.position}`);
    t.equal(new Set(positions).size, positions.length, 'no shard page was read twice');

    // A fresh reader (another process) resumes from a cursor by the shards' positions.
    const again = localPageReader(source, { nodeId: 42 });
    const mid = await read(query(new Uint8Array(0)));
    const next = await again(query(mid.cursor));
    t.same(
      next.records.map((r) => Buffer.from(r.key).toString()),
      data
        .flat()
        .slice(100, 200)
        .map((r) => r.key.toString()),
      'a cursor resumes on a reader that never saw it',
    );
  },
);

t.test('local pages filter by ring ranges and stay bounded in bytes', async (t) => {
  const data = [0, 1].map((s) => Array.from({ length: 500 }, (_, i) => record(s, i)));
  const { source } = fakeShards(data, 128);
  const ranges = [{ start: 0, end: 2 ** 31 }];
  const inRange = data.flat().filter((r) => placementOf(hashKey(r.key.toString())) < 2 ** 31);
  t.ok(inRange.length > 300 && inRange.length < 700, 'about half the keys are in the range');
  const read = localPageReader(source, { nodeId: 1 });
  const got: string[] = [];
  let cursor: Uint8Array = new Uint8Array(0);
  for (;;) {
    const page = await read({ ranges, cursor, maxRecords: 10_000, maxBytes: 2000 });
    const bytes = page.records.reduce((s, r) => s + r.key.length + r.value.length + 24, 0);
    t.ok(page.records.length === 1 || bytes <= 2000, 'a page stays within maxBytes');
    got.push(...page.records.map((r) => Buffer.from(r.key).toString()));
    if (page.last) break;
    cursor = page.cursor;
  }
  t.same(
    got,
    inRange.map((r) => r.key.toString()),
    'exactly the keys in the ranges, in order',
  );
});
