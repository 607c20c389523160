import { pino } from 'pino';
import t from 'tap';
import type { AofRecord } from '../../src/aof/types.js';
import { compareVersions, HybridLogicalClock, type Version } from '../../src/clock/hlc.js';
import { type HookOperation, HookRunner } from '../../src/hooks/hook-runner.js';
import { ShardEngine, type WriteAheadLog, type WriteResult } from '../../src/shard/shard-engine.js';
import { ShardStore } from '../../src/store/shard-store.js';

const silent = pino({ level: 'silent' });
const T0 = Date.UTC(2024, 11, 30, 10, 15, 0, 123);

/** A clock whose wall time the test sets. */
function manualClock(node: number): { clock: HybridLogicalClock; set(ms: number): void } {
  let now = T0;
  const set = (ms: number): void => {
    now = ms;
  };
  return { clock: new HybridLogicalClock(node, () => now), set };
}

class ManualWal implements WriteAheadLog {
  readonly records: AofRecord[] = [];
  readonly flushes: (() => void)[] = [];
  constructor(readonly waitsForSync: boolean) {}
  append(record: AofRecord): void {
    this.records.push(record);
  }
  flushed(): Promise<void> {
    return new Promise((resolve) => this.flushes.push(resolve));
  }
}

function build(opts: { hooks?: HookRunner; wal?: WriteAheadLog; shard?: number } = {}) {
  const store = new ShardStore();
  const time = manualClock(9);
  const engine = new ShardEngine({
    shard: opts.shard ?? 3,
    store,
    clock: time.clock,
    hooks: opts.hooks ?? new HookRunner([], silent),
    wal: opts.wal,
  });
  return { engine, store, time };
}

/** The result of a write that must not wait for a sync. */
function now(outcome: WriteResult | Promise<WriteResult>): WriteResult {
  if (outcome instanceof Promise) throw new Error('expected a plain result');
  return outcome;
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

t.test('versions increase with every write', async (t) => {
  const { engine, store, time } = build();
  const a = now(engine.put('k', 'one'));
  const b = now(engine.put('k', 'two'));
  const c = now(engine.remove('k'));
  time.set(T0 + 5);
  const d = now(engine.put('other', 'x'));
  time.set(T0 + 1); // the wall clock going back does not make versions go back
  const e = now(engine.put('other', 'y'));
  t.same(
    [a.version, b.version, c.version, d.version, e.version],
    [
      { wall: T0, counter: 0, node: 9 },
      { wall: T0, counter: 1, node: 9 },
      { wall: T0, counter: 2, node: 9 },
      { wall: T0 + 5, counter: 0, node: 9 },
      { wall: T0 + 5, counter: 1, node: 9 },
    ],
  );
  t.same(
    [a.previous, b.previous, c.previous, d.previous, e.previous],
    [undefined, 'one', 'two', undefined, 'x'],
  );
  t.same(store.getWithTombstone('k')?.version, c.version, 'the store holds the latest version');
  t.equal(store.get('k'), undefined);
  t.equal(store.get('other')?.value, 'y');
});

t.test('get and counters', async (t) => {
  const { engine } = build();
  t.same(engine.counters, { gets: 0, hits: 0, puts: 0, removes: 0 });
  t.equal(engine.get('k'), undefined);
  engine.put('k', 'v');
  engine.put('k', 'w');
  const entry = engine.get('k');
  t.equal(entry?.value, 'w');
  t.same(entry?.version, { wall: T0, counter: 1, node: 9 });
  t.equal(entry?.timestamp, '2024-12-30T10:15:00.123Z');
  engine.remove('k');
  engine.remove('missing');
  t.equal(engine.get('k'), undefined, 'a removed key is missing');
  t.same(engine.counters, { gets: 3, hits: 1, puts: 2, removes: 2 });
  t.equal(engine.shard, 3);
});

t.test('hooks see every write before the store is updated', async (t) => {
  const seen: { op: HookOperation; stored: string | undefined; tombstone: boolean | undefined }[] = [];
  let store: ShardStore | undefined;
  const hooks = new HookRunner(
    [
      {
        name: 'probe',
        onOperation(op) {
          seen.push({
            op,
            stored: store?.get(op.key)?.value,
            tombstone: store?.getWithTombstone(op.key)?.tombstone,
          });
        },
      },
    ],
    silent,
  );
  const built = build({ hooks, shard: 2 });
  store = built.store;
  const { engine, time } = built;
  const put1 = now(engine.put('k', 'first ✓'));
  time.set(T0 + 1000);
  const put2 = now(engine.put('k', ''));
  const removed = now(engine.remove('k'));
  t.same(seen, [
    {
      op: {
        name: 'ADD',
        key: 'k',
        value: 'first ✓',
        timestamp: '2024-12-30T10:15:00.123Z',
        version: put1.version,
        shard: 2,
      },
      stored: undefined,
      tombstone: undefined,
    },
    {
      op: {
        name: 'ADD',
        key: 'k',
        value: '',
        timestamp: '2024-12-30T10:15:01.123Z',
        version: put2.version,
        shard: 2,
      },
      stored: 'first ✓',
      tombstone: false,
    },
    {
      op: {
        name: 'REMOVE',
        key: 'k',
        value: undefined,
        timestamp: '2024-12-30T10:15:01.123Z',
        version: removed.version,
        shard: 2,
      },
      stored: '',
      tombstone: false,
    },
  ]);
  t.ok('value' in seen[2]!.op, 'REMOVE carries value: undefined');
  t.equal(removed.previous, '');
});

t.test('a failing hook does not stop the write', async (t) => {
  const hooks = new HookRunner(
    [
      {
        name: 'boom',
        onOperation() {
          throw new Error('boom');
        },
      },
    ],
    silent,
  );
  const { engine, store } = build({ hooks });
  const result = now(engine.put('k', 'v'));
  t.equal(store.get('k')?.value, 'v');
  t.equal(result.previous, undefined);
  t.equal(hooks.failures, 1);
});

t.test('the WAL gets every write in order', async (t) => {
  const wal = new ManualWal(false);
  const { engine } = build({ wal });
  const results = [
    now(engine.put('a', 'α')),
    now(engine.put('b', '')),
    now(engine.remove('a')),
    now(engine.remove('never')),
  ];
  t.same(wal.records, [
    { op: 'ADD', key: 'a', value: 'α', version: results[0]!.version },
    { op: 'ADD', key: 'b', value: '', version: results[1]!.version },
    { op: 'REMOVE', key: 'a', value: '', version: results[2]!.version },
    { op: 'REMOVE', key: 'never', value: '', version: results[3]!.version },
  ]);
  t.equal(wal.flushes.length, 0, 'flushed() is not asked when the WAL does not wait');
  t.equal(results[2]!.previous, 'α');
  t.equal(results[3]!.previous, undefined);
});

t.test('reads do not touch the WAL', async (t) => {
  const wal = new ManualWal(true);
  const { engine } = build({ wal });
  engine.get('a');
  t.equal(wal.records.length, 0);
  t.equal(wal.flushes.length, 0);
});

t.test('a WAL that waits for sync: the result resolves after flushed()', async (t) => {
  const wal = new ManualWal(true);
  const { engine, store } = build({ wal });
  const put = engine.put('k', 'v');
  t.ok(put instanceof Promise, 'a promise');
  let result: WriteResult | undefined;
  void (put as Promise<WriteResult>).then((r) => {
    result = r;
  });
  t.equal(wal.records.length, 1, 'the record is appended at once');
  await tick();
  t.equal(result, undefined, 'not resolved before the flush');
  t.equal(store.get('k'), undefined, 'not visible before its sync');
  const remove = engine.remove('k') as Promise<WriteResult>;
  t.equal(wal.flushes.length, 2);
  wal.flushes[0]!();
  await tick();
  t.same(result, { version: { wall: T0, counter: 0, node: 9 }, previous: undefined });
  t.equal(store.get('k')?.value, 'v', 'applied once synced');
  let removed: WriteResult | undefined;
  void remove.then((r) => {
    removed = r;
  });
  await tick();
  t.equal(removed, undefined);
  wal.flushes[1]!();
  t.same(await remove, { version: { wall: T0, counter: 1, node: 9 }, previous: 'v' });
});

t.test('applyRecord: last writer wins, and the clock moves above the record', async (t) => {
  const { engine, store } = build();
  const future: Version = { wall: T0 + 60_000, counter: 7, node: 1 };
  engine.applyRecord({ op: 'ADD', key: 'k', value: 'replayed', version: future });
  t.equal(store.get('k')?.value, 'replayed');
  t.same(store.get('k')?.version, future);

  const older: Version = { wall: T0 + 10, counter: 0, node: 1 };
  engine.applyRecord({ op: 'ADD', key: 'k', value: 'older', version: older });
  t.equal(store.get('k')?.value, 'replayed', 'an older record loses');
  engine.applyRecord({ op: 'REMOVE', key: 'k', value: '', version: older });
  t.equal(store.get('k')?.value, 'replayed', 'an older delete loses');

  const next = now(engine.put('k', 'live'));
  t.ok(compareVersions(next.version, future) > 0, 'the next write is newer than the replayed one');
  t.same(next.version, { wall: T0 + 60_000, counter: 8, node: 9 });
  t.equal(next.previous, 'replayed');
  t.equal(store.get('k')?.value, 'live');

  const later: Version = { wall: T0 + 120_000, counter: 0, node: 1 };
  engine.applyRecord({ op: 'REMOVE', key: 'k', value: '', version: later });
  t.equal(store.get('k'), undefined, 'a newer delete wins');
  t.equal(store.getWithTombstone('k')?.tombstone, true);
  t.same(engine.counters, { gets: 0, hits: 0, puts: 1, removes: 0 }, 'replay is not counted');
  t.same(now(engine.put('x', 'y')).version, { wall: T0 + 120_000, counter: 1, node: 9 });
});

t.test('applyRecord does not call hooks or the WAL', async (t) => {
  let calls = 0;
  const hooks = new HookRunner([{ name: 'count', onOperation: () => void calls++ }], silent);
  const wal = new ManualWal(true);
  const { engine } = build({ hooks, wal });
  engine.applyRecord({ op: 'ADD', key: 'k', value: 'v', version: { wall: T0, counter: 0, node: 1 } });
  t.equal(calls, 0);
  t.equal(wal.records.length, 0);
  t.equal(wal.flushes.length, 0);
});

t.test('a write the AOF refuses fails before the store changes: readers never see it', async (t) => {
  const failing: WriteAheadLog = {
    waitsForSync: false,
    append() {
      throw Object.assign(new Error('AOF write failed: disk full'), { code: 'LALLY_ERR_AOF_IO' });
    },
    flushed: () => Promise.resolve(),
  };
  const { engine, store } = build({ wal: failing });
  t.throws(() => engine.put('k', 'never stored'), { message: /disk full/ });
  t.equal(store.get('k'), undefined, 'not applied');
  t.throws(() => engine.remove('k'), { message: /disk full/ });
  t.equal(store.tombstones, 0, 'no tombstone either');
});

t.test('fsync always: a write is applied only once synced; one whose sync fails never', async (t) => {
  const wal = new ManualWal(true);
  let hooked = 0;
  const hooks = new HookRunner([{ name: 'count', onOperation: () => void hooked++ }], silent);
  const { engine, store } = build({ wal, hooks });
  const first = engine.put('k', 'kept') as Promise<WriteResult>;
  wal.flushes[0]!();
  await first;
  const pending = engine.put('k', 'pending') as Promise<WriteResult>;
  await tick();
  t.equal(store.get('k')?.value, 'kept', 'readers see the last synced value until the sync');
  wal.flushes[1]!();
  t.equal((await pending).previous, 'kept');
  t.equal(store.get('k')?.value, 'pending');

  const failing: WriteAheadLog = {
    waitsForSync: true,
    append: () => undefined,
    flushed: () =>
      Promise.reject(Object.assign(new Error('the disk is full'), { code: 'LALLY_ERR_DISK_FULL' })),
  };
  const other = build({ wal: failing, hooks });
  await t.rejects(other.engine.put('x', 'never') as Promise<WriteResult>, { message: 'the disk is full' });
  await t.rejects(other.engine.remove('k') as Promise<WriteResult>, { message: 'the disk is full' });
  t.equal(other.store.getWithTombstone('x'), undefined, 'the failed put is not applied');
  t.equal(other.store.getWithTombstone('k'), undefined, 'nor the failed remove');
  t.equal(hooked, 2, 'only the synced writes reached the hooks');
});

t.test('a log that is backlogged holds the acknowledgment until it has caught up', async (t) => {
  let release!: () => void;
  const caughtUp = new Promise<void>((resolve) => {
    release = resolve;
  });
  let backlogged = false;
  const wal: WriteAheadLog = {
    waitsForSync: false,
    append() {},
    flushed: () => Promise.resolve(),
    backlogged: () => (backlogged ? caughtUp : undefined),
  };
  const { engine } = build({ wal });
  t.notOk(engine.put('a', '1') instanceof Promise, 'no backlog: answered at once');
  backlogged = true;
  const pending = engine.put('b', '2');
  t.ok(pending instanceof Promise, 'backlogged: the answer waits');
  let answered = false;
  void (pending as Promise<WriteResult>).then(() => {
    answered = true;
  });
  await new Promise((r) => setImmediate(r));
  t.notOk(answered, 'not before the log caught up');
  release();
  await pending;
  t.ok(answered);
});
