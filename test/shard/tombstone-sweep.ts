import t from 'tap';
import { HybridLogicalClock } from '../../src/clock/hlc.js';
import { ShardEngine } from '../../src/shard/shard-engine.js';
import { TombstoneSweep } from '../../src/shard/tombstone-sweep.js';
import { ShardStore } from '../../src/store/shard-store.js';

t.test('the sweep collects tombstones past the grace period, in slices, and nothing else', (t) => {
  const now = 1_000_000;
  const store = new ShardStore();
  const engine = new ShardEngine({
    shard: 0,
    store,
    clock: new HybridLogicalClock(3, () => now),
    wal: undefined,
  });
  for (let i = 0; i < 100; i++) {
    const op = i % 2 === 0 ? 'REMOVE' : 'ADD';
    // Even keys: tombstones, half of them older than the grace (wall < now - 1000).
    const wall = i % 4 === 0 ? now - 5000 : now - 10;
    engine.applyReplicated({
      op,
      key: `k${i}`,
      value: op === 'ADD' ? 'v' : '',
      version: { wall, counter: 0, node: 2 },
    });
  }
  t.equal(store.tombstones, 50);
  const sweep = new TombstoneSweep(engine, 1000, () => now);
  t.equal(sweep.slice(30), false, 'a slice of 30 of 100 entries: the pass goes on');
  while (!sweep.slice(30));
  t.equal(sweep.passes, 1);
  t.equal(engine.tombstonesCollected, 25, 'the 25 old tombstones');
  t.equal(store.tombstones, 25, 'the young ones stay');
  t.equal(store.size, 50, 'no value is touched');
  t.equal(store.getWithTombstone('k0'), undefined);
  t.ok(engine.digest.changes > 100, 'the digest followed');
  sweep.start();
  sweep.stop();
  t.end();
});
