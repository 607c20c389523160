/**
 * The pull side over real gRPC on 127.0.0.1: a catch-up applies every record, resumes a broken
 * stream from the last page applied, goes to another holder when a source keeps failing, and reports
 * what nobody could serve. Sources serve pages of an in-memory list (cursor: the next index).
 */
import { pino } from 'pino';
import t from 'tap';
import { applyInChunks, catchUp } from '../../src/cluster/data-transfer.js';
import { ErrorCodes, LallyError } from '../../src/errors.js';
import type { ReplicaRecord } from '../../src/rpc/codec.js';
import { ReplicationService } from '../../src/rpc/services.js';
import { type PageQuery, type ReadPage, snapshotHandler } from '../../src/rpc/snapshot-transfer.js';
import { startPool, startServer } from '../fixtures/rpc-node.js';

const silent = pino({ level: 'silent' });

const DATA: ReplicaRecord[] = Array.from({ length: 5000 }, (_, i) => ({
  key: Buffer.from(`k${i}`),
  value: i % 11 === 0 ? Buffer.alloc(0) : Buffer.from(`v${i}`),
  version: { wall: 1000 + i, counter: 0, node: 3 },
  tombstone: i % 11 === 0,
}));

/** Pages over DATA; fails once with `failure` when asked for page `failAt` (counted from 1). */
function reader(queries: PageQuery[], failAt?: number, failure?: LallyError): ReadPage {
  let failed = false;
  return async (query) => {
    queries.push(query);
    if (failAt !== undefined && queries.length === failAt && !failed) {
      failed = true;
      throw failure ?? new LallyError(ErrorCodes.PEER_UNAVAILABLE, 'cut');
    }
    const from = query.cursor.length === 4 ? Buffer.from(query.cursor).readUInt32BE(0) : 0;
    const end = Math.min(DATA.length, from + query.maxRecords);
    const cursor = Buffer.alloc(4);
    cursor.writeUInt32BE(end, 0);
    return { records: DATA.slice(from, end), cursor, last: end >= DATA.length, total: DATA.length };
  };
}

async function source(t: { teardown(fn: () => unknown): void }, readPage: ReadPage): Promise<string> {
  const none = () => {};
  const server = await startServer(t, [
    [ReplicationService, { replicate: none, read: none, snapshot: snapshotHandler(readPage), tree: none }],
  ]);
  return server.address;
}

/** A local replica in memory: last-writer-wins on the wall. */
function memoryReplica() {
  const store = new Map<string, ReplicaRecord>();
  const apply = async (records: readonly ReplicaRecord[]) => {
    let applied = 0;
    for (const r of records) {
      const key = Buffer.from(r.key).toString();
      const old = store.get(key);
      if (old !== undefined && old.version.wall >= r.version.wall) continue;
      store.set(key, r);
      applied++;
    }
    return { applied, superseded: records.length - applied };
  };
  return { store, apply };
}

const member = (id: number, address: string, state: 'alive' | 'dead' = 'alive') => ({ id, address, state });

t.test('a catch-up resumes a broken stream from the last page applied', async (t) => {
  const queries: PageQuery[] = [];
  const address = await source(t, reader(queries, 3));
  const replica = memoryReplica();
  const result = await catchUp({
    self: 1,
    members: [member(1, '127.0.0.1:1'), member(2, address)],
    factor: undefined,
    timeoutMs: 10_000,
    pool: startPool(t),
    apply: replica.apply,
    logger: silent,
    pageRecords: 1000,
  });
  t.equal(replica.store.size, DATA.length, 'every record arrived');
  t.ok(
    [...replica.store.values()].some((r) => r.tombstone),
    'tombstones too',
  );
  t.same(result.sources, [address]);
  t.same(result.missed, []);
  t.equal(queries.length, 6, 'two pages, the failure, then the three pages left');
  t.equal(
    Buffer.from(queries[3]!.cursor).readUInt32BE(0),
    2000,
    'the retry started after the two pages applied',
  );
  t.equal(result.applied, DATA.length);
});

t.test('a source that keeps failing: its ranges go to the next holder; none left: missed', async (t) => {
  const broken: ReadPage = async () => {
    throw new LallyError(ErrorCodes.AOF_IO, 'disk gone');
  };
  const bad = await source(t, broken);
  const good = await source(t, reader([]));
  const replica = memoryReplica();
  const pool = startPool(t);
  const base = {
    self: 1,
    factor: undefined,
    timeoutMs: 10_000,
    pool,
    apply: replica.apply,
    logger: silent,
    retries: 1,
  };
  const result = await catchUp({
    ...base,
    members: [member(1, '127.0.0.1:1'), member(2, bad), member(3, good)],
    preferred: bad,
  });
  t.same(result.sources, [good], 'the seed failed, the other member served');
  t.equal(replica.store.size, DATA.length);
  const alone = await catchUp({ ...base, members: [member(1, '127.0.0.1:1'), member(2, bad)] });
  t.same(alone.missed, 'all', 'nobody could serve: the whole ring is missed');
  t.same(alone.sources, []);
  const nobody = await catchUp({ ...base, members: [member(1, '127.0.0.1:1'), member(2, bad, 'dead')] });
  t.equal(nobody.needed, false, 'no live member: nothing to ask');
});

t.test('the catch-up stops at its deadline and when the node stops', async (t) => {
  const slow: ReadPage = async (query) => {
    await new Promise((r) => setTimeout(r, 200));
    return reader([])(query);
  };
  const address = await source(t, slow);
  const replica = memoryReplica();
  const base = {
    self: 1,
    members: [member(1, '127.0.0.1:1'), member(2, address)],
    factor: undefined,
    pool: startPool(t),
    apply: replica.apply,
    logger: silent,
    pageRecords: 100,
  };
  await t.rejects(catchUp({ ...base, timeoutMs: 500 }), {
    code: ErrorCodes.PEER_TIMEOUT,
    message: /transfer-timeout-ms/,
  });
  const stop = new AbortController();
  setTimeout(() => stop.abort(), 300);
  await t.rejects(catchUp({ ...base, timeoutMs: 10_000, signal: stop.signal }), {
    code: ErrorCodes.SHUTTING_DOWN,
  });
});

t.test('records are applied in bounded chunks; BUSY chunks are applied again', async (t) => {
  let inFlight = 0;
  let most = 0;
  let busy = 2;
  const applied: number[] = [];
  const apply = async (records: readonly ReplicaRecord[]) => {
    inFlight += records.length;
    most = Math.max(most, inFlight);
    await new Promise((r) => setTimeout(r, 1));
    inFlight -= records.length;
    if (busy-- > 0) throw new LallyError(ErrorCodes.BUSY, 'full');
    applied.push(records.length);
    return { applied: records.length, superseded: 0 };
  };
  const result = await applyInChunks(apply, DATA);
  t.equal(result.applied, DATA.length);
  t.equal(
    applied.reduce((a, b) => a + b, 0),
    DATA.length,
  );
  t.ok(most <= 8192, `at most 4 chunks of 2048 records in flight (${most})`);
  t.ok(
    applied.every((n) => n <= 2048),
    'in chunks of at most 2048 records',
  );
  await t.rejects(
    applyInChunks(
      async () => {
        throw new LallyError(ErrorCodes.AOF_IO, 'broken');
      },
      DATA.slice(0, 10),
    ),
    { code: ErrorCodes.AOF_IO },
  );
});

t.test(
  'a failed apply is retried from the last page applied, the next page meanwhile on its way',
  async (t) => {
    const queries: PageQuery[] = [];
    const address = await source(t, reader(queries));
    const replica = memoryReplica();
    let calls = 0;
    const apply = async (records: readonly ReplicaRecord[]) => {
      calls++;
      if (calls === 3) {
        await new Promise((r) => setTimeout(r, 50)); // fails while the next page is being received
        throw new LallyError(ErrorCodes.AOF_IO, 'disk hiccup');
      }
      return replica.apply(records);
    };
    const result = await catchUp({
      self: 1,
      members: [member(1, '127.0.0.1:1'), member(2, address)],
      factor: undefined,
      timeoutMs: 10_000,
      pool: startPool(t),
      apply,
      logger: silent,
      pageRecords: 1000,
    });
    t.equal(replica.store.size, DATA.length, 'every record arrived');
    t.same(result.sources, [address]);
    t.ok(queries.length >= 2, 'the transfer was asked again');
    // Chunks of 512: the third apply is in the second page, so the first page (1000 records) is the last applied.
    t.equal(Buffer.from(queries[1]!.cursor).readUInt32BE(0), 1000, 'from the last page applied');
  },
);
