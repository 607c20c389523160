import { pino } from 'pino';
import t from 'tap';
import type { AofRecord, AofWrite } from '../../src/aof/types.js';
import { compareVersions, HybridLogicalClock, type Version } from '../../src/clock/hlc.js';
import { type HookOperation, HookRunner } from '../../src/hooks/hook-runner.js';
import type { CommittedWrite } from '../../src/shard/committed-write.js';
import { ShardEngine, type WriteAheadLog, type WriteResult } from '../../src/shard/shard-engine.js';
import { ShardStore } from '../../src/store/shard-store.js';
import { allocateTableBuffers } from '../../src/store/table-layout.js';

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
  readonly records: AofWrite[] = [];
  readonly flushes: (() => void)[] = [];
  constructor(readonly waitsForSync: boolean) {}
  append(record: AofWrite): void {
    this.records.push(record);
  }
  flushed(): Promise<void> {
    return new Promise((resolve) => this.flushes.push(resolve));
  }
}

function build(opts: { hooks?: HookRunner; wal?: WriteAheadLog; shard?: number } = {}) {
  const store = new ShardStore();
  const time = manualClock(9);
  const engine = new ShardEngine({ shard: opts.shard ?? 3, store, clock: time.clock, wal: opts.wal });
  if (opts.hooks !== undefined) engine.onCommitted(opts.hooks.onCommitted);
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

t.test('hooks see every committed write once the store has it', async (t) => {
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
        origin: 'client',
      },
      stored: 'first ✓',
      tombstone: false,
    },
    {
      op: {
        name: 'ADD',
        key: 'k',
        value: '',
        timestamp: '2024-12-30T10:15:01.123Z',
        version: put2.version,
        shard: 2,
        origin: 'client',
      },
      stored: '',
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
        origin: 'client',
      },
      stored: undefined,
      tombstone: true,
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

/** An engine with a listener that records every committed write. */
function watched(opts: { wal?: WriteAheadLog } = {}) {
  const built = build(opts);
  const events: CommittedWrite[] = [];
  built.engine.onCommitted((write) => void events.push(write));
  return { ...built, events };
}

t.test('one committed-write event per write, after the store has it; unsubscribe stops it', async (t) => {
  const { engine, store, events } = watched();
  let storedWhenEmitted: string | undefined;
  const stop = engine.onCommitted((write) => {
    storedWhenEmitted = store.get(write.key)?.value;
  });
  const put = now(engine.put('k', 'v'));
  t.equal(storedWhenEmitted, 'v', 'the event comes after the store applied the write');
  const removed = now(engine.remove('k'));
  t.same(events, [
    { op: 'ADD', key: 'k', value: 'v', version: put.version, origin: 'client', shard: 3 },
    { op: 'REMOVE', key: 'k', value: '', version: removed.version, origin: 'client', shard: 3 },
  ]);
  stop();
  storedWhenEmitted = 'unchanged';
  now(engine.put('k', 'w'));
  t.equal(storedWhenEmitted, 'unchanged', 'an unsubscribed listener is not called');
  t.equal(events.length, 3, 'the other listener still is');
});

t.test('a listener that throws does not fail the committed write', async (t) => {
  const { engine, store, events } = watched();
  engine.onCommitted(() => {
    throw new Error('listener bug');
  });
  t.doesNotThrow(() => engine.put('k', 'v'));
  t.equal(store.get('k')?.value, 'v');
  t.equal(engine.listenerFailures, 1);
  t.equal(events.length, 1);
});

t.test(
  'a write the AOF refuses emits no event; with fsync always the event waits for the sync',
  async (t) => {
    const refusing: WriteAheadLog = {
      waitsForSync: false,
      append() {
        throw Object.assign(new Error('AOF write failed'), { code: 'LALLY_ERR_AOF_IO' });
      },
      flushed: () => Promise.resolve(),
    };
    const refused = watched({ wal: refusing });
    t.throws(() => refused.engine.put('k', 'v'));
    t.throws(() =>
      refused.engine.applyReplicated({
        op: 'ADD',
        key: 'k',
        value: 'v',
        version: { wall: T0, counter: 0, node: 1 },
      }),
    );
    t.equal(refused.events.length, 0, 'no event for a refused write');

    const wal = new ManualWal(true);
    const synced = watched({ wal });
    const put = synced.engine.put('k', 'v') as Promise<WriteResult>;
    await tick();
    t.equal(synced.events.length, 0, 'not before the sync');
    wal.flushes[0]!();
    await put;
    t.equal(synced.events.length, 1, 'once synced');
  },
);

t.test('applyReplicated: a winning record is a write like any other, marked as from a peer', async (t) => {
  const wal = new ManualWal(false);
  const { engine, store, events } = watched({ wal });
  const seen: HookOperation[] = [];
  const hooks = new HookRunner([{ name: 'probe', onOperation: (op) => void seen.push(op) }], silent);
  engine.onCommitted(hooks.onCommitted);
  const future: Version = { wall: T0 + 60_000, counter: 4, node: 77 };
  const record: AofRecord = { op: 'ADD', key: 'k', value: 'from a peer', version: future };
  t.equal(engine.applyReplicated(record), true, 'it reports that it applied');
  t.same(wal.records, [record], 'appended to the AOF');
  t.equal(store.get('k')?.value, 'from a peer');
  t.same(store.get('k')?.version, future, 'the store keeps the peer version, not a new stamp');
  t.same(events, [{ ...record, origin: 'peer', shard: 3 }]);
  t.same(seen, [
    {
      name: 'ADD',
      key: 'k',
      value: 'from a peer',
      timestamp: '2024-12-30T10:16:00.123Z',
      version: future,
      shard: 3,
      origin: 'peer',
    },
  ]);
  const next = now(engine.put('other', 'x'));
  t.same(next.version, { wall: T0 + 60_000, counter: 5, node: 9 }, 'the clock moved above the record');

  const deleted: Version = { wall: T0 + 70_000, counter: 0, node: 77 };
  t.equal(engine.applyReplicated({ op: 'REMOVE', key: 'k', value: 'ignored', version: deleted }), true);
  t.equal(store.getWithTombstone('k')?.tombstone, true, 'a replicated delete leaves a tombstone');
  t.same(wal.records.at(-1), { op: 'REMOVE', key: 'k', value: '', version: deleted });
  t.equal(seen.at(-1)?.name, 'REMOVE');
  t.equal(seen.at(-1)?.value, undefined);
  t.same(engine.counters, { gets: 0, hits: 0, puts: 1, removes: 0 }, 'client counters count clients');
});

t.test(
  'applyReplicated: a losing record leaves the AOF, the store, the clock and the hooks untouched',
  async (t) => {
    const wal = new ManualWal(false);
    const { engine, store, events } = watched({ wal });
    let hooked = 0;
    engine.onCommitted(
      new HookRunner([{ name: 'count', onOperation: () => void hooked++ }], silent).onCommitted,
    );
    const local = now(engine.put('k', 'local'));
    const appended = wal.records.length;
    const older: Version = { wall: T0 - 1, counter: 0, node: 77 };
    t.equal(engine.applyReplicated({ op: 'ADD', key: 'k', value: 'stale', version: older }), false);
    t.equal(engine.applyReplicated({ op: 'REMOVE', key: 'k', value: '', version: older }), false);
    // The same stamp with a smaller value loses the tie (supersedes breaks ties by content).
    t.equal(engine.applyReplicated({ op: 'ADD', key: 'k', value: 'a', version: local.version }), false);
    // Applying the same record twice: the second changes nothing.
    const record: AofRecord = {
      op: 'ADD',
      key: 'r',
      value: 'once',
      version: { wall: T0 + 5, counter: 0, node: 77 },
    };
    t.equal(engine.applyReplicated(record), true);
    t.equal(engine.applyReplicated(record), false, 'an equal record does not supersede itself');
    t.equal(wal.records.length, appended + 1, 'no AOF record for a losing write');
    t.equal(store.get('k')?.value, 'local');
    t.same(store.get('k')?.version, local.version);
    t.equal(events.length, 2, 'events for the local write and the one winning record only');
    t.equal(hooked, 2, 'hooks saw the same two');
    // (A losing record is never newer than the stored entry, which the clock has already seen.)
    t.same(now(engine.put('next', 'x')).version, { wall: T0 + 5, counter: 1, node: 9 });
  },
);

t.test(
  'applyReplicated with fsync always: applied after the sync; overtaken during it, not emitted',
  async (t) => {
    const wal = new ManualWal(true);
    const { engine, store, events } = watched({ wal });
    const peer: AofRecord = {
      op: 'ADD',
      key: 'k',
      value: 'peer',
      version: { wall: T0, counter: 0, node: 1 },
    };
    const applying = engine.applyReplicated(peer);
    t.ok(applying instanceof Promise);
    t.equal(store.get('k'), undefined, 'not visible before its sync');
    // A local write stamped after observing the peer record commits in the same group.
    const local = engine.put('k', 'local') as Promise<WriteResult>;
    wal.flushes[0]!();
    wal.flushes[1]!();
    t.equal(await applying, true);
    await local;
    t.equal(store.get('k')?.value, 'local');
    t.same(
      events.map((e) => [e.value, e.origin]),
      [
        ['peer', 'peer'],
        ['local', 'client'],
      ],
    );

    // A newer local write committed while the peer record was syncing: it loses at the store.
    const wal2 = new ManualWal(true);
    const second = watched({ wal: wal2 });
    const replicated = second.engine.applyReplicated({
      op: 'ADD',
      key: 'k',
      value: 'peer',
      version: { wall: T0 - 10, counter: 0, node: 1 },
    }) as Promise<boolean>;
    const put = second.engine.put('k', 'local') as Promise<WriteResult>;
    wal2.flushes[1]!();
    await put;
    wal2.flushes[0]!();
    t.equal(await replicated, false, 'overtaken by a newer write during its sync');
    t.equal(second.store.get('k')?.value, 'local');
    t.same(
      second.events.map((e) => e.value),
      ['local'],
      'only the write that applied is emitted',
    );
  },
);

t.test('a write the store cannot take is refused before the AOF logs it', async (t) => {
  // An arena bounded at 2 MiB, filled with 1 KiB values (local writes and peers' records alike).
  const store = new ShardStore(allocateTableBuffers(2 * 1024 * 1024));
  const wal = new ManualWal(false);
  const engine = new ShardEngine({ shard: 0, store, clock: manualClock(1).clock, wal });
  const value = 'v'.repeat(1024);
  let written = 0;
  let refused: unknown;
  for (; written < 10_000; written++) {
    try {
      if (written % 2 === 0) engine.put(`key-${written}`, value);
      else
        engine.applyReplicated({
          op: 'ADD',
          key: `key-${written}`,
          value,
          version: { wall: T0 + written, counter: 0, node: 2 },
        });
    } catch (error) {
      refused = error;
      break;
    }
  }
  t.match(refused, { code: 'LALLY_ERR_STORE_FULL' }, 'the arena fills');
  t.ok(written > 1000, `${written} writes fitted first`);
  t.equal(wal.records.length, written, 'the refused write is not in the AOF');
  t.equal(store.size, written, 'every logged write is in the store');
  t.notOk(store.get(`key-${written}`), 'nor in the store');
  t.throws(() => engine.put('another', value), { code: 'LALLY_ERR_STORE_FULL' }, 'and again');
  t.equal(wal.records.length, written);
  // A write that reuses a freed block of its class still fits: a delete frees no block (a tombstone
  // keeps the entry), but an overwrite with a value of another class does.
  t.same(now(engine.put('key-0', 'short')).previous, value, 'a smaller value still fits');
  t.equal(now(engine.put('key-a', value)).previous, undefined, "a new key takes key-0's freed block");
  t.equal(wal.records.length, written + 2);
});

t.test('a value given as bytes: hooks get its text, the store and the AOF its bytes', async (t) => {
  const seen: (string | undefined)[] = [];
  const hooks = new HookRunner([{ name: 'text', onOperation: (op) => void seen.push(op.value) }], silent);
  const wal = new ManualWal(false);
  const { engine, store } = build({ hooks, wal });
  const bytes = new Uint8Array(Buffer.from('wört ✓ 🌍'));
  now(engine.put('k', bytes, false));
  t.same(seen, ['wört ✓ 🌍'], 'the hook sees a string');
  t.equal(store.get('k')?.value, 'wört ✓ 🌍');
  t.equal(wal.records[0]!.value, bytes, 'the AOF is handed the bytes, not a string');
  t.equal(now(engine.put('k', 'next', false)).previous, undefined, 'no previous value when not asked');
  t.equal(now(engine.put('k', 'last')).previous, 'next', 'asked for by default');
});

t.test('with fsync always, a value given as bytes is copied before the write waits', async (t) => {
  const wal = new ManualWal(true);
  const { engine, store } = build({ wal });
  const bytes = new Uint8Array(Buffer.from('synced'));
  const pending = engine.put('k', bytes, false) as Promise<WriteResult>;
  bytes.fill(0x21); // the caller's buffer is reused (uWS neuters its chunk once the handler returns)
  wal.flushes[0]!();
  await pending;
  t.equal(store.get('k')?.value, 'synced');
  t.same(
    Buffer.from(wal.records[0]!.value as Uint8Array).toString(),
    'synced',
    'the AOF record holds the copy',
  );
});
