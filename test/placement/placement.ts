import t from 'tap';
import { ErrorCodes } from '../../src/errors.js';
import { hashKey, shardOfHash } from '../../src/hash/key-hash.js';
import {
  DEFAULT_VNODES,
  diffPlacement,
  HashRing,
  mix32,
  placementOf,
  type RangeMove,
  RING_SIZE,
  rangeContains,
  tokenOf,
} from '../../src/placement/placement.js';
import { randomMemberIds, seededRandom } from '../fixtures/seeded-random.js';

const SEEDS = Array.from({ length: 20 }, (_, i) => i + 1);

function movedFraction(moves: readonly RangeMove[]): number {
  return moves.reduce((sum, m) => sum + (m.range.end - m.range.start), 0) / RING_SIZE;
}

function randomPositions(random: () => number, count: number): number[] {
  return Array.from({ length: count }, () => Math.floor(random() * RING_SIZE));
}

t.test('positions are pinned: every version must place a key where older ones did', async (t) => {
  // A mixed-version cluster must agree on the ring; a change here is a data-moving incompatibility.
  t.equal(mix32(0), 0);
  t.equal(mix32(1), 0x514e28b7, 'murmur3 fmix32(1)');
  t.equal(placementOf(hashKey('user:1')), mix32((hashKey('user:1') ^ 0x9e3779b9) >>> 0));
  t.equal(tokenOf(1, 0), placementOf(hashKey('00000001:0')));
  t.equal(DEFAULT_VNODES, 128);
});

t.test('the same members give the same ring, in any order and with repeats', async (t) => {
  const random = seededRandom(7);
  const ids = randomMemberIds(random, 6);
  const a = new HashRing(ids);
  const b = new HashRing([...ids].reverse().concat(ids[2]!, ids[0]!));
  t.same(
    a.members,
    [...ids].sort((x, y) => x - y),
  );
  t.same(b.tokens(), a.tokens());
  let differ = 0;
  for (let i = 0; i < 2000; i++) {
    const h = hashKey(`k${i}`);
    if (b.preferenceList(h, 3).join() !== a.preferenceList(h, 3).join()) differ++;
  }
  t.equal(differ, 0, 'same preference lists');
  t.equal(a.tokens().length, 6 * DEFAULT_VNODES);
});

t.test('every key is on exactly N distinct members, live ones only when asked', async (t) => {
  const random = seededRandom(11);
  const ids = randomMemberIds(random, 7);
  const ring = new HashRing(ids, { vnodes: 64 });
  const dead = new Set([ids[1]!, ids[4]!]);
  const isLive = (id: number): boolean => !dead.has(id);
  const bad: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const h = Math.floor(random() * RING_SIZE);
    const full = ring.preferenceList(h, 'all');
    if (new Set(full).size !== 7) bad.push(`${h}: ${full}`);
    for (let n = 1; n <= 8; n++) {
      const list = ring.preferenceList(h, n);
      // A prefix of the clockwise order, n distinct members (all 7 at most).
      if (list.join() !== full.slice(0, Math.min(n, 7)).join()) bad.push(`${h} n=${n}: ${list}`);
      // Dead members skipped, the order of the others kept.
      const live = ring.preferenceList(h, n, isLive);
      if (live.join() !== full.filter(isLive).slice(0, Math.min(n, 5)).join())
        bad.push(`${h} n=${n} live: ${live}`);
    }
  }
  t.same(bad, [], 'every list has N distinct members in clockwise order');
});

t.test('default factor: every member holds every key', async (t) => {
  const ring = new HashRing([5, 9, 3]);
  let wrong = 0;
  for (let i = 0; i < 500; i++)
    if (
      ring
        .preferenceList(hashKey(`x${i}`))
        .sort()
        .join() !== '3,5,9'
    )
      wrong++;
  t.equal(wrong, 0);
  t.same([...ring.ownership('all').values()], [1, 1, 1]);
});

t.test('balance: 3 to 10 members at 128 vnodes own 0.65x to 1.35x of a fair share', async (t) => {
  let lo = Number.POSITIVE_INFINITY;
  let hi = 0;
  const sums: string[] = [];
  for (const seed of SEEDS) {
    const random = seededRandom(seed);
    for (let n = 3; n <= 10; n++) {
      const ring = new HashRing(randomMemberIds(random, n));
      const shares = [...ring.ownership(1).values()];
      for (const share of shares) {
        lo = Math.min(lo, share * n);
        hi = Math.max(hi, share * n);
      }
      const three = [...ring.ownership(3).values()];
      if (Math.abs(shares.reduce((a, b) => a + b, 0) - 1) > 1e-9) sums.push(`seed ${seed} n=${n}: primary`);
      if (Math.abs(three.reduce((a, b) => a + b, 0) - 3) > 1e-9) sums.push(`seed ${seed} n=${n}: r=3`);
    }
  }
  t.same(sums, [], 'shares sum to 1 for primaries and to N for N replicas');
  t.ok(lo >= 0.65, `smallest share ${lo.toFixed(3)} of fair`);
  t.ok(hi <= 1.35, `largest share ${hi.toFixed(3)} of fair`);
});

t.test('balance in keys: sequential keys spread like the ring says', async (t) => {
  const ring = new HashRing(randomMemberIds(seededRandom(3), 5));
  const counts = new Map<number, number>();
  const keys = 100_000;
  for (let i = 0; i < keys; i++) {
    const owner = ring.preferenceList(hashKey(`user:${i}`), 1)[0]!;
    counts.set(owner, (counts.get(owner) ?? 0) + 1);
  }
  for (const [id, share] of ring.ownership(1)) {
    const got = (counts.get(id) ?? 0) / keys;
    t.ok(
      Math.abs(got - share) < 0.01,
      `member ${id}: ${got.toFixed(4)} of keys, ring share ${share.toFixed(4)}`,
    );
  }
});

t.test('placement is independent of the shard: an arc holds every shard in equal parts', async (t) => {
  const ring = new HashRing(randomMemberIds(seededRandom(5), 4));
  const member = ring.members[0]!;
  for (const shards of [2, 4, 8]) {
    const perShard = new Array<number>(shards).fill(0);
    let total = 0;
    for (let i = 0; i < 200_000; i++) {
      const h = hashKey(`key-${i}`);
      if (ring.preferenceList(h, 1)[0] !== member) continue;
      perShard[shardOfHash(h, shards)]!++;
      total++;
    }
    const worst = Math.max(...perShard.map((count) => Math.abs(count / total - 1 / shards)));
    t.ok(worst < 0.02, `${shards} shards: ${perShard.join('/')} of ${total}`);
  }
});

t.test(
  'a join moves about 1/N of the ring, only to the newcomer; a leave only from the leaver',
  async (t) => {
    let worst = 0;
    const bad: string[] = [];
    for (const seed of SEEDS.slice(0, 10)) {
      const random = seededRandom(seed);
      for (let n = 3; n <= 9; n++) {
        const ids = randomMemberIds(random, n + 1);
        const newcomer = ids.pop()!;
        const before = new HashRing(ids);
        const after = new HashRing([...ids, newcomer]);
        for (const factor of [1, 2, 3]) {
          const joins = diffPlacement(before, after, factor);
          const where = `seed ${seed} n=${n} r=${factor}`;
          for (const move of joins) {
            // Only the newcomer gains, and one old member hands each range over.
            if (move.gained.join() !== `${newcomer}` || move.lost.length !== 1) bad.push(`${where} join`);
          }
          const ratio = movedFraction(joins) / (factor / (n + 1));
          worst = Math.max(worst, Math.abs(ratio - 1));
          if (ratio < 0.65 || ratio > 1.35) bad.push(`${where}: moved ${ratio.toFixed(2)}x of r/(n+1)`);
          const leaves = diffPlacement(after, before, factor);
          if (movedFraction(leaves) !== movedFraction(joins)) bad.push(`${where}: leave moves another share`);
          for (const move of leaves) {
            if (move.lost.join() !== `${newcomer}` || move.gained.length !== 1) bad.push(`${where} leave`);
          }
        }
      }
    }
    t.same(bad, [], 'moves are minimal, to and from the changed member only, 0.65x..1.35x of r/(n+1)');
    t.comment(`largest deviation of the moved share from r/(n+1): ${(worst * 100).toFixed(1)}%`);
  },
);

t.test('diff ranges are exactly where the replica sets differ', async (t) => {
  const random = seededRandom(21);
  const ids = randomMemberIds(random, 6);
  const before = new HashRing(ids.slice(0, 5), { vnodes: 16 });
  const after = new HashRing(ids.slice(1), { vnodes: 16 }); // one leaves, one joins
  const moves = diffPlacement(before, after, 2);
  for (let i = 1; i < moves.length; i++) {
    t.ok(moves[i]!.range.start >= moves[i - 1]!.range.end, 'sorted, disjoint');
  }
  for (const m of moves) t.ok(m.range.start < m.range.end && m.range.end <= RING_SIZE, 'non-wrapping');
  const bad: number[] = [];
  let inside = 0;
  for (const p of [...randomPositions(random, 5000), 0, RING_SIZE - 1, ...after.tokens()]) {
    const was = before
      .replicasAt(p, 2)
      .sort((a, b) => a - b)
      .join();
    const now = after
      .replicasAt(p, 2)
      .sort((a, b) => a - b)
      .join();
    const move = moves.find((m) => rangeContains(m.range, p));
    if (move === undefined) {
      if (now !== was) bad.push(p);
    } else {
      inside++;
      if (move.before.join() !== was || move.after.join() !== now || was === now) bad.push(p);
    }
  }
  t.ok(inside > 0, 'some positions fall in moved ranges');
  t.same(bad, [], 'a position is in a move exactly when its replicas differ, with the move saying how');
});

t.test('full replication: a joiner gains the whole ring in one range', async (t) => {
  const moves = diffPlacement(new HashRing([1, 2]), new HashRing([1, 2, 3]), 'all');
  t.same(moves, [
    { range: { start: 0, end: RING_SIZE }, before: [1, 2], after: [1, 2, 3], gained: [3], lost: [] },
  ]);
  t.same(diffPlacement(new HashRing([1, 2]), new HashRing([2, 1]), 'all'), [], 'no change, no move');
  const first = diffPlacement(new HashRing([]), new HashRing([4]), 2);
  t.same(first, [{ range: { start: 0, end: RING_SIZE }, before: [], after: [4], gained: [4], lost: [] }]);
});

t.test('arcs cover the ring once; tiny and empty rings work', async (t) => {
  const ring = new HashRing([10, 20, 30], { vnodes: 8 });
  const arcs = ring.arcs();
  t.equal(arcs[0]!.range.start, 0);
  t.equal(arcs.at(-1)!.range.end, RING_SIZE);
  for (let i = 1; i < arcs.length; i++) t.equal(arcs[i]!.range.start, arcs[i - 1]!.range.end);
  const one = new HashRing([77], { vnodes: 1 });
  t.same(one.ownership(1), new Map([[77, 1]]));
  t.same(one.preferenceList(hashKey('a'), 3), [77]);
  const empty = new HashRing([]);
  t.equal(empty.size, 0);
  t.same(empty.preferenceList(hashKey('a')), []);
  t.same(empty.preferenceList(hashKey('a'), 2), []);
  t.same(empty.arcs(), []);
  t.same(empty.ownership(), new Map());
});

t.test('bad parameters are clear errors', async (t) => {
  t.throws(() => new HashRing([1], { vnodes: 0 }), { code: ErrorCodes.CONFIG });
  t.throws(() => new HashRing([1], { vnodes: 1.5 }), { code: ErrorCodes.CONFIG });
  t.throws(() => new HashRing([0]), { code: ErrorCodes.INTERNAL });
  t.throws(() => new HashRing([2 ** 32]), { code: ErrorCodes.INTERNAL });
  const ring = new HashRing([1, 2]);
  t.throws(() => ring.preferenceList(1, 0), { code: ErrorCodes.CONFIG });
  t.throws(() => ring.preferenceList(1, 2.5), { code: ErrorCodes.CONFIG });
  t.equal(ring.replicaCount(5), 2, 'clamped to the ring size');
});
