import t from 'tap';
import { hashKey } from '../../src/hash/key-hash.js';
import { Topology } from '../../src/placement/topology.js';

const member = (id: number, state: 'alive' | 'suspect' | 'dead' | 'left' = 'alive') => ({
  id,
  address: `127.0.0.1:${5000 + id}`,
  state,
});

t.test('a node alone holds everything and is not clustered', async (t) => {
  const topology = new Topology(7, 3);
  t.equal(topology.clustered, false);
  t.equal(topology.holds(hashKey('any')), true);
  t.same(topology.replicas(hashKey('any')), [7]);
});

t.test('replication factor: each key on the first N live members, this node among them or not', async (t) => {
  const topology = new Topology(1, 2);
  topology.update([member(1), member(2), member(3), member(4)]);
  t.equal(topology.clustered, true);
  t.equal(topology.size, 4);
  let held = 0;
  for (let i = 0; i < 400; i++) {
    const hash = hashKey(`k${i}`);
    const replicas = topology.replicas(hash);
    t.equal(new Set(replicas).size, 2, 'two distinct replicas');
    if (topology.holds(hash)) held++;
    t.equal(topology.holds(hash), replicas.includes(1));
  }
  t.ok(held > 100 && held < 300, `this node holds about half the keys (${held} of 400)`);
  t.equal(topology.addressOf(3), '127.0.0.1:5003');
  t.equal(topology.incarnationOf(3), 0, 'no incarnation given: 0');
  topology.update([member(1), member(2), { ...member(3), incarnation: 4 }, member(4)]);
  t.equal(topology.incarnationOf(3), 4);
  t.equal(topology.incarnationOf(99), undefined);

  // A dead member stays on the ring; its keys go to the next live member (a sloppy quorum).
  topology.update([member(1), member(2), member(3, 'dead'), member(4)]);
  t.equal(topology.size, 4, 'dead stays on the ring');
  t.equal(topology.liveCount, 3);
  t.equal(topology.isLive(3), false);
  for (let i = 0; i < 100; i++) t.notOk(topology.replicas(hashKey(`k${i}`)).includes(3));
  // One that left is off the ring.
  topology.update([member(1), member(2), member(3, 'left'), member(4, 'suspect')]);
  t.equal(topology.size, 3, 'left is off the ring');
  t.equal(topology.isLive(4), true, 'a suspect is still live');
});

t.test('every node holds every key without a factor, and the ring is rebuilt only on changes', async (t) => {
  const topology = new Topology(2, undefined);
  topology.update([member(1), member(2), member(3)]);
  const ring = topology.ring;
  topology.update([member(3), member(1)]);
  t.equal(topology.ring, ring, 'the same members in another order: the same ring');
  t.equal(topology.holds(hashKey('x')), true);
  t.equal(topology.replicas(hashKey('x')).length, 3);
  t.same(topology.peerReplicas(hashKey('x')), [1, 3], 'every other live member');
  topology.update([member(1, 'dead'), member(3)]);
  t.same(topology.peerReplicas(hashKey('y')), [3], 'but a dead one');
  const factored = new Topology(1, 2);
  factored.update([member(1), member(2), member(3)]);
  const hash = hashKey('z');
  t.same(
    factored.peerReplicas(hash),
    factored.replicas(hash).filter((id) => id !== 1),
    'with a factor: the replicas but this node',
  );
});
