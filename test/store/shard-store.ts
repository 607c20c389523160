import t from 'tap';
import type { Version } from '../../src/clock/hlc.js';
import { Entry, ShardStore } from '../../src/store/shard-store.js';

function v(wall: number, counter = 0, node = 1): Version {
  return { wall, counter, node };
}

t.test('put then get', async (t) => {
  const store = new ShardStore();
  t.equal(store.get('a'), undefined, 'missing key');
  t.equal(store.getWithTombstone('a'), undefined);
  t.same(store.put('a', 'one', v(100)), { applied: true, previous: undefined });
  const entry = store.get('a');
  t.ok(entry instanceof Entry);
  t.equal(entry?.value, 'one');
  t.same(entry?.version, v(100));
  t.equal(entry?.tombstone, false);
  t.same(store.getWithTombstone('a'), entry, 'the same entry with or without tombstones');
  t.equal(store.size, 1);
  t.equal(store.tombstones, 0);
  t.equal(store.get('b'), undefined, 'other keys stay missing');
});

t.test('empty and unicode values and keys', async (t) => {
  const store = new ShardStore();
  store.put('', '', v(1));
  store.put('ключ🔑', 'значение 🔒', v(1));
  t.equal(store.get('')?.value, '');
  t.equal(store.get('ключ🔑')?.value, 'значение 🔒');
  t.equal(store.size, 2);
});

t.test('a newer version replaces and reports the previous value', async (t) => {
  const store = new ShardStore();
  store.put('k', 'v1', v(100));
  t.same(store.put('k', 'v2', v(101)), { applied: true, previous: 'v1' }, 'newer wall');
  t.same(store.put('k', 'v3', v(101, 1)), { applied: true, previous: 'v2' }, 'newer counter');
  t.same(store.put('k', 'v4', v(101, 1, 2)), { applied: true, previous: 'v3' }, 'higher node');
  t.equal(store.get('k')?.value, 'v4');
  t.same(store.get('k')?.version, v(101, 1, 2));
  t.equal(store.size, 1, 'still one key');
});

t.test('last writer wins: an older version loses, so does an equal one with a lesser value', async (t) => {
  const store = new ShardStore();
  store.put('k', 'current', v(200, 5, 3));
  const older = [v(199, 9, 9), v(200, 4, 9), v(200, 5, 2)];
  for (const version of older) {
    const outcome = store.put('k', 'stale', version);
    t.same(outcome, { applied: false, previous: undefined }, `older ${JSON.stringify(version)} loses`);
  }
  t.same(
    store.put('k', 'a-lesser-value', v(200, 5, 3)),
    { applied: false, previous: undefined },
    'an equal version with a lesser value loses (src/clock/last-writer-wins.ts)',
  );
  t.same(
    store.put('k', 'current', v(200, 5, 3)),
    { applied: false, previous: undefined },
    'the same write again',
  );
  t.equal(store.get('k')?.value, 'current');
  t.same(store.get('k')?.version, v(200, 5, 3));
  // Losing removes lose too.
  t.same(store.remove('k', v(1)), { applied: false, previous: undefined });
  t.equal(store.get('k')?.value, 'current');
  t.equal(store.size, 1);
  t.equal(store.tombstones, 0);
});

t.test('a lost write result cannot be used to corrupt later results', async (t) => {
  const store = new ShardStore();
  store.put('k', 'a', v(10));
  const lost = store.put('k', 'b', v(5));
  t.ok(Object.isFrozen(lost), 'the shared LOST outcome is frozen');
});

t.test('remove leaves a tombstone', async (t) => {
  const store = new ShardStore();
  store.put('k', 'value', v(100));
  t.same(store.remove('k', v(101)), { applied: true, previous: 'value' });
  t.equal(store.get('k'), undefined, 'get hides the tombstone');
  const tombstone = store.getWithTombstone('k');
  t.ok(tombstone, 'getWithTombstone sees it');
  t.equal(tombstone?.tombstone, true);
  t.equal(tombstone?.value, '');
  t.same(tombstone?.version, v(101));
  t.equal(store.size, 0);
  t.equal(store.tombstones, 1);
  // An older put does not resurrect the key.
  t.same(store.put('k', 'late', v(100, 5)), { applied: false, previous: undefined });
  t.equal(store.get('k'), undefined);
});

t.test('remove of a missing key records a tombstone', async (t) => {
  const store = new ShardStore();
  t.same(store.remove('ghost', v(50)), { applied: true, previous: undefined });
  t.equal(store.get('ghost'), undefined);
  t.equal(store.getWithTombstone('ghost')?.tombstone, true);
  t.equal(store.size, 0);
  t.equal(store.tombstones, 1);
  // A put older than the delete loses (the delete replicated first).
  t.same(store.put('ghost', 'x', v(49)), { applied: false, previous: undefined });
  t.equal(store.size, 0);
});

t.test('removing a tombstone again keeps the counts', async (t) => {
  const store = new ShardStore();
  store.put('k', 'v', v(1));
  store.remove('k', v(2));
  t.same(store.remove('k', v(3)), { applied: true, previous: undefined }, 'no live previous value');
  t.same(store.getWithTombstone('k')?.version, v(3), 'the newer tombstone is kept');
  t.equal(store.size, 0);
  t.equal(store.tombstones, 1);
});

t.test('a newer put resurrects a tombstoned key', async (t) => {
  const store = new ShardStore();
  store.put('k', 'first', v(1));
  store.remove('k', v(2));
  t.same(store.put('k', 'second', v(3)), { applied: true, previous: undefined }, 'no previous live value');
  t.equal(store.get('k')?.value, 'second');
  t.equal(store.get('k')?.tombstone, false);
  t.equal(store.size, 1);
  t.equal(store.tombstones, 0);
});

t.test('size counts live keys only, tombstones counts deletes', async (t) => {
  const store = new ShardStore();
  for (let i = 0; i < 10; i++) store.put(`k${i}`, `v${i}`, v(1));
  t.equal(store.size, 10);
  for (let i = 0; i < 4; i++) store.remove(`k${i}`, v(2));
  t.equal(store.size, 6);
  t.equal(store.tombstones, 4);
  store.remove('never-written', v(2));
  t.equal(store.size, 6);
  t.equal(store.tombstones, 5);
  store.put('k0', 'back', v(3));
  t.equal(store.size, 7);
  t.equal(store.tombstones, 4);
  store.put('k5', 'overwrite', v(3)); // live -> live
  t.equal(store.size, 7);
  t.equal(store.tombstones, 4);

  const all = [...store.entries()];
  t.equal(all.length, 11, 'entries() lists live keys and tombstones');
  t.equal(all.filter(([, entry]) => entry.tombstone).length, 4);
  t.same(
    all.map(([key]) => key).sort(),
    ['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8', 'k9', 'never-written'].sort(),
  );
});

t.test('Entry.timestamp is RFC 3339 of the wall of its current version', async (t) => {
  const store = new ShardStore();
  store.put('k', 'v', v(1_735_553_700_123, 4, 2));
  const entry = store.get('k')!;
  t.equal(entry.timestamp, '2024-12-30T10:15:00.123Z');
  // Not cached per entry (memory): it follows the version.
  entry.assign(entry.value, v(0), false);
  t.equal(entry.timestamp, '1970-01-01T00:00:00.000Z', 'follows the version');

  // A fresh entry computes lazily from its version at first read.
  const fresh = new Entry('x', v(0), false);
  fresh.assign('x', v(86_400_000), false);
  t.equal(fresh.timestamp, '1970-01-02T00:00:00.000Z');

  // A newer write gets a new entry and a new timestamp.
  store.put('k', 'v2', v(1_735_553_701_000));
  t.equal(store.get('k')?.timestamp, '2024-12-30T10:15:01.000Z');
  store.remove('k', v(1_735_553_702_500));
  t.equal(store.getWithTombstone('k')?.timestamp, '2024-12-30T10:15:02.500Z');
});
