import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { ErrorCodes, LallyError } from '../../src/errors.js';
import type { ReplicaRecord } from '../../src/rpc/codec.js';
import { ReplicationService } from '../../src/rpc/services.js';
import {
  type PageQuery,
  type ReadPage,
  type SnapshotPage,
  snapshotHandler,
  snapshotPages,
} from '../../src/rpc/snapshot-transfer.js';
import { startPool, startServer } from '../fixtures/rpc-node.js';

const DATA: ReplicaRecord[] = Array.from({ length: 10_000 }, (_, i) => ({
  key: Buffer.from(`k${String(i).padStart(5, '0')}`),
  value: i % 7 === 0 ? Buffer.alloc(0) : Buffer.from([i & 0xff, 0, 255, (i >> 8) & 0xff]),
  version: { wall: 1000 + i, counter: 0, node: 3 },
  tombstone: i % 7 === 0,
}));

/** Pages over DATA; the cursor is the index of the next record, 4 bytes. */
function reader(queries: PageQuery[], fail?: LallyError): ReadPage {
  return async (query) => {
    queries.push(query);
    if (fail !== undefined && queries.length === 3) throw fail;
    const from = query.cursor.length === 4 ? Buffer.from(query.cursor).readUInt32BE(0) : 0;
    const records: ReplicaRecord[] = [];
    let bytes = 0;
    let i = from;
    while (i < DATA.length && records.length < query.maxRecords && bytes < query.maxBytes) {
      const r = DATA[i++]!;
      records.push(r);
      bytes += r.key.length + r.value.length;
    }
    const cursor = Buffer.alloc(4);
    cursor.writeUInt32BE(i, 0);
    return { records, cursor, last: i >= DATA.length, total: DATA.length };
  };
}

function replication(readPage: ReadPage) {
  const none = () => {};
  return { replicate: none, read: none, snapshot: snapshotHandler(readPage), tree: none };
}

async function collect(pages: AsyncGenerator<SnapshotPage>, delayMs = 0): Promise<SnapshotPage[]> {
  const out: SnapshotPage[] = [];
  for await (const page of pages) {
    out.push(page);
    if (delayMs > 0) await sleep(delayMs);
  }
  return out;
}

t.test(
  'a snapshot streams in bounded pages, in order, tombstones included, and resumes from a cursor',
  async (t) => {
    const queries: PageQuery[] = [];
    const server = await startServer(t, [[ReplicationService, replication(reader(queries))]]);
    const channel = startPool(t).get(server.address);
    // A slow reader (a joiner applying each page): the pages still arrive whole and in order.
    const pages = await collect(snapshotPages(channel, { pageRecords: 1000 }, 10_000), 5);
    t.equal(pages.length, 10);
    t.ok(pages.every((p) => p.records.length === 1000 && p.total === 10_000));
    t.same(
      pages.map((p) => p.last),
      [...Array(9).fill(false), true],
    );
    const keys = pages.flatMap((p) => p.records.map((r) => Buffer.from(r.key).toString()));
    t.same(
      keys,
      DATA.map((r) => r.key.toString()),
      'every record once, in order',
    );
    const seventh = pages[0]!.records[7]!;
    t.equal(seventh.tombstone, true);
    t.equal(seventh.value.length, 0);
    t.same([...pages[0]!.records[1]!.value], [1, 0, 255, 0], 'binary values intact');

    // Resume after page 4.
    const rest = await collect(
      snapshotPages(channel, { cursor: pages[3]!.cursor, pageRecords: 3000 }, 10_000),
    );
    t.same(
      rest.map((p) => p.records.length),
      [3000, 3000],
    );
    t.equal(Buffer.from(rest[0]!.records[0]!.key).toString(), 'k04000');

    // The server caps what a client asks for.
    queries.length = 0;
    await collect(snapshotPages(channel, { pageRecords: 1_000_000, pageBytes: 1 << 30 }, 10_000));
    t.equal(queries[0]!.maxRecords, 16_384);
    t.equal(queries[0]!.maxBytes, 4 * 1024 * 1024);
    t.same(queries[0]!.ranges, []);
  },
);

t.test('a failed page read or a bad range ends the transfer with its code', async (t) => {
  const queries: PageQuery[] = [];
  const server = await startServer(t, [
    [ReplicationService, replication(reader(queries, new LallyError(ErrorCodes.AOF_IO, 'read failed')))],
  ]);
  const channel = startPool(t).get(server.address);
  const received: SnapshotPage[] = [];
  await t.rejects(
    (async () => {
      for await (const page of snapshotPages(channel, { pageRecords: 100 }, 10_000)) received.push(page);
    })(),
    { code: ErrorCodes.AOF_IO, message: /read failed/ },
  );
  t.equal(received.length, 2, 'the pages before the failure arrived');
  await t.rejects(collect(snapshotPages(channel, { ranges: [{ start: 5, end: 5 }] }, 10_000)), {
    code: ErrorCodes.INVALID_FIELD,
  });
  const ranges = [{ start: 0, end: 2 ** 32 }];
  queries.length = 0;
  await collect(snapshotPages(channel, { ranges, pageRecords: 10_000 }, 10_000));
  t.same(queries[0]!.ranges, ranges, 'a range up to 2^32 travels');
});

t.test('a snapshot is bounded by its deadline', async (t) => {
  const server = await startServer(t, [[ReplicationService, replication(() => new Promise(() => {}))]]);
  const channel = startPool(t).get(server.address);
  await t.rejects(collect(snapshotPages(channel, {}, 300)), { code: ErrorCodes.PEER_TIMEOUT });
});

t.test('a slow client holds the server back: pages are not read far ahead of it', async (t) => {
  const queries: PageQuery[] = [];
  const server = await startServer(t, [[ReplicationService, replication(reader(queries))]]);
  const channel = startPool(t).get(server.address);
  let consumed = 0;
  let readAhead = 0;
  for await (const page of snapshotPages(channel, { pageRecords: 10 }, 30_000)) {
    consumed++;
    if (consumed === 20) {
      await sleep(300); // the client stalls: the server must stop at the flow-control window
      readAhead = queries.length - consumed;
    }
    if (page.last) break;
  }
  t.equal(consumed, 1000, 'every page arrived');
  t.ok(readAhead < 900, `the server read ${readAhead} pages ahead of a stalled client, not all 1000`);
});
