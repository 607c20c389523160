import fc from 'fast-check';
import t from 'tap';
import { HybridLogicalClock } from '../../src/clock/hlc.js';
import { hashKey } from '../../src/hash/key-hash.js';
import { placementOf } from '../../src/placement/placement.js';
import { ShardEngine } from '../../src/shard/shard-engine.js';
import { entryHash, hashOut, LEAVES, leafOf, RangeDigest } from '../../src/store/range-digest.js';
import { ShardStore } from '../../src/store/shard-store.js';

/** The digest of a store computed from nothing: what the incremental one must always equal. */
function rebuilt(store: ShardStore): RangeDigest {
  const digest = new RangeDigest();
  for (const [key, entry] of store.entries()) {
    const h = hashKey(key);
    digest.toggle(h, placementOf(h), entry, entry.tombstone);
  }
  return digest;
}

const op = fc.oneof(
  fc.record({ kind: fc.constant('put' as const), key: fc.integer({ min: 0, max: 40 }), value: fc.string() }),
  fc.record({ kind: fc.constant('remove' as const), key: fc.integer({ min: 0, max: 40 }) }),
  fc.record({
    kind: fc.constant('peer' as const),
    key: fc.integer({ min: 0, max: 40 }),
    wall: fc.integer({ min: 1, max: 2000 }),
    node: fc.integer({ min: 1, max: 5 }),
    tombstone: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('replay' as const),
    key: fc.integer({ min: 0, max: 40 }),
    wall: fc.integer({ min: 1, max: 2000 }),
    tombstone: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('collect' as const), key: fc.integer({ min: 0, max: 40 }) }),
);

t.test('the incremental digest equals the one rebuilt from the store, after any mix of changes', (t) => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
      let now = 1000;
      const store = new ShardStore();
      const engine = new ShardEngine({
        shard: 0,
        store,
        clock: new HybridLogicalClock(7, () => now),
        wal: undefined,
      });
      for (const o of ops) {
        now += 3;
        const key = `k${o.key}`;
        if (o.kind === 'put') engine.put(key, o.value);
        else if (o.kind === 'remove') engine.remove(key);
        else if (o.kind === 'peer') {
          engine.applyReplicated({
            op: o.tombstone ? 'REMOVE' : 'ADD',
            key,
            value: o.tombstone ? '' : 'p',
            version: { wall: o.wall, counter: 0, node: o.node },
          });
        } else if (o.kind === 'replay') {
          engine.applyRecord({
            op: o.tombstone ? 'REMOVE' : 'ADD',
            key,
            value: o.tombstone ? '' : 'r',
            version: { wall: o.wall, counter: 1, node: 0 },
          });
        } else {
          const entry = store.getWithTombstone(key);
          if (entry !== undefined) engine.collectTombstone(key, entry.version);
        }
      }
      const expected = rebuilt(store).leaves;
      const actual = engine.digest.leaves;
      for (let i = 0; i < expected.length; i++) if (expected[i] !== actual[i]) return false;
      return true;
    }),
    { numRuns: 300, seed: 9 },
  );
  t.end();
});

t.test('an emptied store has an all-zero digest; one differing entry changes exactly its leaf', (t) => {
  const store = new ShardStore();
  const engine = new ShardEngine({ shard: 0, store, clock: new HybridLogicalClock(3), wal: undefined });
  engine.put('a', '1');
  const { version } = engine.remove('a') as { version: { wall: number; counter: number; node: number } };
  t.ok(engine.collectTombstone('a', version));
  t.ok(engine.digest.leaves.every((x) => x === 0));
  t.equal(store.tombstones, 0);
  engine.put('b', '1');
  const other = new ShardEngine({
    shard: 0,
    store: new ShardStore(),
    clock: new HybridLogicalClock(4),
    wal: undefined,
  });
  other.applyReplicated({ op: 'ADD', key: 'b', value: '1', version: store.get('b')!.version });
  t.ok(
    other.digest.leaves.every((x, i) => x === engine.digest.leaves[i]),
    'same entry, same digest on another node',
  );
  other.applyReplicated({
    op: 'ADD',
    key: 'b',
    value: '2',
    version: { ...store.get('b')!.version, wall: 9e12 },
  });
  let differing = 0;
  for (let leaf = 0; leaf < LEAVES; leaf++) {
    if (other.digest.leaves[2 * leaf] !== engine.digest.leaves[2 * leaf]) differing++;
  }
  t.equal(differing, 1);
  const leaf = leafOf(placementOf(hashKey('b')));
  t.not(other.digest.leaves[2 * leaf], engine.digest.leaves[2 * leaf], "the key's own leaf");
  t.end();
});

t.test('entry hashes differ by version, tombstone and key', (t) => {
  const seen = new Set<string>();
  for (let k = 0; k < 50; k++) {
    for (const tomb of [false, true]) {
      for (let w = 0; w < 20; w++) {
        entryHash(k, 1_700_000_000_000 + w, w % 3, 1 + (w % 2), tomb);
        seen.add(`${hashOut.lo}:${hashOut.hi}`);
      }
    }
  }
  t.equal(seen.size, 50 * 2 * 20);
  t.end();
});
