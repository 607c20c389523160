import t from 'tap';
import { differingKeyHashes, sharedRanges } from '../../../src/cluster/anti-entropy/anti-entropy.js';
import { placementOf, RING_SIZE } from '../../../src/placement/placement.js';
import { Topology } from '../../../src/placement/topology.js';
import { inRanges, leafClasses } from '../../../src/shard/tree-requests.js';
import { LEAVES } from '../../../src/store/range-digest.js';

function topology(factor: number | undefined, ids: number[]): Topology {
  const top = new Topology(ids[0]!, factor);
  top.update(ids.map((id) => ({ id, address: `h:${id}`, state: 'alive' as const, incarnation: 0 })));
  return top;
}

t.test('every member shares the whole ring with every other without a factor', (t) => {
  t.same(sharedRanges(topology(undefined, [1, 2, 3]), 1, 2), [{ start: 0, end: RING_SIZE }]);
  t.end();
});

t.test('with a factor, the shared ranges are exactly where both are home replicas', (t) => {
  const top = topology(2, [11, 22, 33, 44]);
  const ranges = sharedRanges(top, 11, 22);
  t.ok(ranges.length > 0, 'they share some ranges');
  for (let i = 1; i < ranges.length; i++)
    t.ok(ranges[i - 1]!.end < ranges[i]!.start, 'sorted, disjoint, merged');
  let wrong = 0;
  for (let i = 0; i < 20000; i++) {
    const position = placementOf(i * 40503);
    const replicas = top.ring.replicasAt(position, 2);
    if (inRanges(ranges, position) !== (replicas.includes(11) && replicas.includes(22))) wrong++;
  }
  t.equal(wrong, 0, '20000 positions agree');
  const classes = leafClasses(ranges);
  t.ok(classes.includes(2), 'range ends cut some leaves');
  t.equal(classes.length, LEAVES);
  t.end();
});

t.test('fingerprints tell the keys that differ or that one side alone holds', (t) => {
  const mine = Uint32Array.from([5, 100, 7, 200, 9, 300, 11, 1]);
  const theirs = Uint32Array.from([7, 200, 5, 101, 9, 300, 13, 2]);
  t.same([...differingKeyHashes(mine, theirs)], [5, 11, 13], 'a changed key, and one on each side only');
  t.same([...differingKeyHashes(mine, mine)], [], 'nothing when they agree');
  t.end();
});
