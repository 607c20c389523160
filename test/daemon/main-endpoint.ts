import { pino } from 'pino';
import t, { type Test } from 'tap';
import type { AofRecord } from '../../src/aof/types.js';
import { compareVersions, HybridLogicalClock, type Version } from '../../src/clock/hlc.js';
import { LocalReplica } from '../../src/cluster/local-replica.js';
import { MainEndpoint, type ShardEntry } from '../../src/daemon/main-endpoint.js';
import { ringCapacity, ThreadRings } from '../../src/daemon/thread-rings.js';
import { ErrorCodes, type LallyError } from '../../src/errors.js';
import {
  SNAPSHOT_START,
  type SnapshotCursor,
  type SnapshotPage,
  type SnapshotRecord,
} from '../../src/hop/hop-messages.js';
import type { CommittedWrite } from '../../src/shard/committed-write.js';
import { RingTransport } from '../../src/shard/ring-transport.js';
import { ShardEngine } from '../../src/shard/shard-engine.js';
import { ShardRouter } from '../../src/shard/shard-router.js';
import { SNAPSHOT_PAGE_BOUNDS } from '../../src/shard/snapshot-sessions.js';
import { ShardStore } from '../../src/store/shard-store.js';

const silent = pino({ level: 'silent' });
const NOW = 1_700_000_000_000;

interface Shard {
  engine: ShardEngine;
  router: ShardRouter;
  transport: RingTransport;
  events: CommittedWrite[];
}

/**
 * Two shards and the main thread on this thread, joined by the node's real rings (ThreadRings, one
 * Inbox per thread, doorbells): the same wiring the daemon uses, without the workers.
 */
function buildNode(
  t: Test,
  opts: { startShards?: boolean; hopTimeoutMs?: number; maxInFlight?: number } = {},
) {
  const shards = 2;
  const rings = new ThreadRings(shards, ringCapacity(64, 64 * 1024));
  const nodes: Shard[] = [];
  for (let shard = 0; shard < shards; shard++) {
    const engine = new ShardEngine({
      shard,
      store: new ShardStore(),
      clock: new HybridLogicalClock(10 + shard, () => NOW),
      wal: undefined,
    });
    const events: CommittedWrite[] = [];
    engine.onCommitted((write) => void events.push(write));
    const transport = new RingTransport(shard, rings.forThread(shard));
    const router = new ShardRouter({ engine, shard, shards, links: transport.links, logger: silent });
    if (opts.startShards !== false) transport.start((from, message) => router.receive(from, message));
    nodes.push({ engine, router, transport, events });
  }
  const mainTransport = new RingTransport(shards, rings.forThread(shards));
  const endpoint = new MainEndpoint({
    self: shards,
    shards,
    links: mainTransport.links,
    logger: silent,
    hopTimeoutMs: opts.hopTimeoutMs,
    maxInFlightPerShard: opts.maxInFlight,
  });
  mainTransport.start((from, message) => endpoint.receive(from, message));
  t.teardown(async () => {
    endpoint.close();
    for (const node of nodes) {
      node.router.close();
      await node.transport.close();
    }
    await mainTransport.close();
  });
  const startShards = () => {
    for (const node of nodes) node.transport.start((from, message) => node.router.receive(from, message));
  };
  return { nodes, endpoint, startShards };
}

const apply = (endpoint: MainEndpoint, record: AofRecord) =>
  new Promise<{ applied: boolean; error: LallyError | undefined }>((resolve) =>
    endpoint.apply(record, (applied, error) => resolve({ applied, error })),
  );

const readEntry = (endpoint: MainEndpoint, key: string) =>
  new Promise<{ entry: ShardEntry | undefined; error: LallyError | undefined }>((resolve) =>
    endpoint.readEntry(key, (entry, error) => resolve({ entry, error })),
  );

const snapshot = (endpoint: MainEndpoint, shard: number, cursor: SnapshotCursor, maxBytes?: number) =>
  new Promise<{ page: SnapshotPage | undefined; error: LallyError | undefined }>((resolve) =>
    endpoint.snapshot(shard, cursor, (page, error) => resolve({ page, error }), maxBytes),
  );

const stamp = (v: Version): Version => ({ wall: v.wall, counter: v.counter, node: v.node });

t.test(
  'APPLY over the rings: a winning record is applied on the owner, a losing one changes nothing',
  async (t) => {
    const { nodes, endpoint } = buildNode(t);
    const key = 'replicated ✓';
    const owner = nodes[endpoint.ownerOf(key)]!;
    const future: Version = { wall: NOW + 60_000, counter: 3, node: 99 };
    t.same(await apply(endpoint, { op: 'ADD', key, value: 'from a peer', version: future }), {
      applied: true,
      error: undefined,
    });
    t.equal(owner.engine.store.get(key)?.value, 'from a peer');
    t.same(stamp(owner.engine.store.get(key)!), future, 'stored with the peer version');
    t.same(
      owner.events.map((e) => [e.key, e.origin]),
      [[key, 'peer']],
    );
    t.ok(compareVersions(owner.engine.clock.tick(), future) > 0, 'the owner clock moved above it');

    const older: Version = { wall: NOW, counter: 0, node: 99 };
    t.same(await apply(endpoint, { op: 'ADD', key, value: 'stale', version: older }), {
      applied: false,
      error: undefined,
    });
    t.equal(owner.engine.store.get(key)?.value, 'from a peer', 'the losing record changed nothing');
    t.equal(owner.events.length, 1, 'and fired no event');

    const deleted: Version = { wall: NOW + 120_000, counter: 0, node: 99 };
    t.same(await apply(endpoint, { op: 'REMOVE', key, value: '', version: deleted }), {
      applied: true,
      error: undefined,
    });
    t.equal(
      owner.engine.store.getWithTombstone(key)?.tombstone,
      true,
      'a replicated delete leaves a tombstone',
    );
    const other = nodes[1 - endpoint.ownerOf(key)]!;
    t.equal(other.engine.store.getWithTombstone(key), undefined, 'only the owner holds the key');
  },
);

t.test('APPLY_BATCH: pages of records per shard, winners counted, tombstones kept', async (t) => {
  const { nodes, endpoint } = buildNode(t);
  const local = new LocalReplica(endpoint, 0x5eed);
  const v = (wall: number, node = 99): Version => ({ wall, counter: 0, node });
  const bytes = (text: string) => Buffer.from(text, 'utf8');
  // 3000 records over both shards: more than one page per shard (1024 records a page).
  const records = Array.from({ length: 3000 }, (_, i) => ({
    key: bytes(`batch-${i} ✓`),
    value: bytes(`value ${i}`),
    version: v(NOW + 1000),
    tombstone: false,
  }));
  t.same(await local.apply(records), { applied: 3000, superseded: 0 }, 'every record applied');
  const held = nodes.map((n) => n.engine.store.size);
  t.equal(held[0]! + held[1]!, 3000, 'each on its own shard');
  t.ok(
    held.every((n) => n > 1024),
    'more than one page per shard',
  );
  const again = await local.apply([
    { key: bytes('batch-1 ✓'), value: bytes('older'), version: v(NOW), tombstone: false },
    { key: bytes('batch-2 ✓'), value: new Uint8Array(0), version: v(NOW + 2000), tombstone: true },
    { key: bytes('batch-3 ✓'), value: bytes('newer'), version: v(NOW + 2000), tombstone: false },
  ]);
  t.same(again, { applied: 2, superseded: 1 }, 'the older record lost');
  const entry = (key: string) => nodes[endpoint.ownerOf(key)]!.engine.store.getWithTombstone(key);
  t.equal(entry('batch-1 ✓')?.value, 'value 1');
  t.equal(entry('batch-2 ✓')?.tombstone, true, 'a delete leaves a tombstone');
  t.equal(entry('batch-3 ✓')?.value, 'newer');
  t.same(await local.apply([]), { applied: 0, superseded: 0 });
  // A large value takes a page of its own.
  const large = {
    key: bytes('large'),
    value: Buffer.alloc(40 * 1024, 120),
    version: v(NOW + 3000),
    tombstone: false,
  };
  t.same(await local.apply([large, ...records.slice(0, 10)]), { applied: 1, superseded: 10 });
  t.equal(entry('large')?.value.length, 40 * 1024);
});

t.test('READ_ENTRY answers value, version and tombstone, or nothing', async (t) => {
  const { nodes, endpoint } = buildNode(t);
  t.same(await readEntry(endpoint, 'never'), { entry: undefined, error: undefined });
  const key = 'k-ü';
  const owner = nodes[endpoint.ownerOf(key)]!;
  const put = owner.engine.put(key, 'värde 🙂');
  if (put instanceof Promise) throw new Error('no WAL: a plain result');
  t.same(await readEntry(endpoint, key), {
    entry: { value: 'värde 🙂', version: put.version, tombstone: false },
    error: undefined,
  });
  const removed = owner.engine.remove(key);
  if (removed instanceof Promise) throw new Error('no WAL: a plain result');
  t.same(await readEntry(endpoint, key), {
    entry: { value: '', version: removed.version, tombstone: true },
    error: undefined,
  });
});

t.test('SNAPSHOT pages: bounded, every entry once, tombstones included, resumable', async (t) => {
  const { nodes, endpoint } = buildNode(t);
  const expected = new Map<string, SnapshotRecord>();
  for (let i = 0; i < 600; i++) {
    const key = `key-${i}-ключ`;
    const owner = nodes[endpoint.ownerOf(key)]!;
    if (owner.engine.shard !== 0) continue;
    const value = i % 7 === 0 ? 'x'.repeat(5000) : `value ${i} 🙂`;
    const put = owner.engine.put(key, value);
    if (put instanceof Promise) throw new Error('no WAL');
    expected.set(key, { key, value, version: put.version, tombstone: false });
    if (i % 5 === 0) {
      const removed = owner.engine.remove(key);
      if (removed instanceof Promise) throw new Error('no WAL');
      expected.set(key, { key, value: '', version: removed.version, tombstone: true });
    }
  }
  const seen = new Map<string, SnapshotRecord>();
  let cursor: SnapshotCursor | undefined = SNAPSHOT_START;
  let pages = 0;
  while (cursor !== undefined) {
    const { page, error } = await snapshot(endpoint, 0, cursor, 1);
    t.equal(error, undefined);
    pages++;
    const bytes = page!.records.reduce(
      (sum, r) => sum + 28 + Buffer.byteLength(r.key) + Buffer.byteLength(r.value),
      20,
    );
    t.ok(bytes <= SNAPSHOT_PAGE_BOUNDS.minBytes || page!.records.length === 1, 'a page keeps its bound');
    for (const record of page!.records) {
      t.notOk(seen.has(record.key), 'no entry twice');
      seen.set(record.key, record);
    }
    cursor = page!.next;
    if (pages > 10_000) throw new Error('the snapshot does not end');
  }
  t.ok(pages > 10, `many small pages (${pages})`);
  t.same(seen, expected, 'every entry, with its version and tombstone');

  // A reader whose session the shard no longer has resumes by position.
  const first = (await snapshot(endpoint, 0, SNAPSHOT_START, 1)).page!;
  const lost: SnapshotCursor = { session: 0xfffffff0, position: first.next!.position };
  const resumed = (await snapshot(endpoint, 0, lost, 1)).page!;
  const continued = (await snapshot(endpoint, 0, first.next!, 1)).page!;
  t.same(
    resumed.records.map((r) => r.key),
    continued.records.map((r) => r.key),
    'the same page whether the iterator was kept or rebuilt',
  );

  const empty = (await snapshot(endpoint, 1, SNAPSHOT_START)).page!;
  t.same(empty, { records: [], next: undefined }, 'an empty shard answers one empty last page');
});

t.test('hops from the main thread have deadlines; a late answer is ignored', async (t) => {
  const { endpoint, startShards } = buildNode(t, { startShards: false, hopTimeoutMs: 40 });
  const started = Date.now();
  const { entry, error } = await readEntry(endpoint, 'k');
  t.equal(entry, undefined);
  t.equal(error?.code, ErrorCodes.TIMEOUT, 'a shard that does not listen times out');
  t.ok(Date.now() - started >= 40, 'not before the deadline');
  t.equal(endpoint.pendingCount, 0);
  startShards(); // the shard now serves the old request; its answer comes after the deadline
  const second = await readEntry(endpoint, 'k');
  t.same(second, { entry: undefined, error: undefined }, 'later hops are answered');
  t.equal(endpoint.counters.lateAnswers, 1, 'the late answer was counted and dropped');
  t.equal(endpoint.counters.timeouts, 1);
});

t.test('hops waiting on one shard are bounded; a bad shard is an error, not a throw', async (t) => {
  const { endpoint } = buildNode(t, { startShards: false, hopTimeoutMs: 40, maxInFlight: 1 });
  const key = 'bounded';
  const waiting = readEntry(endpoint, key);
  const refused = await readEntry(endpoint, key);
  t.equal(refused.error?.code, ErrorCodes.BUSY);
  t.equal((await waiting).error?.code, ErrorCodes.TIMEOUT);
  const nowhere = await snapshot(endpoint, 2, SNAPSHOT_START);
  t.equal(nowhere.error?.code, ErrorCodes.INTERNAL, 'the main thread has no link to itself');
  endpoint.failPending(ErrorCodes.SHUTTING_DOWN, 'stopping');
});
