import t from 'tap';
import { ProbeOrder } from '../../src/cluster/probe-order.js';
import { seededRandom } from '../fixtures/seeded-random.js';

t.test('each member is probed once per pass, in a new order each pass', async (t) => {
  const order = new ProbeOrder();
  const random = seededRandom(1);
  const members = [1, 2, 3, 4, 5, 6];
  const passes: number[][] = [];
  for (let p = 0; p < 4; p++) {
    const pass: number[] = [];
    for (let i = 0; i < members.length; i++) pass.push(order.next(members, random)!);
    passes.push(pass);
    t.same([...pass].sort(), members, `pass ${p} covers everyone once`);
  }
  t.ok(new Set(passes.map((p) => p.join())).size > 1, 'the order is reshuffled');
});

t.test('a member gone is skipped; one that joins mid-pass is probed within the pass', async (t) => {
  const order = new ProbeOrder();
  const random = seededRandom(2);
  const first = order.next([1, 2, 3], random)!;
  const rest = [1, 2, 3].filter((id) => id !== first);
  const gone = rest[0]!;
  const now = [1, 2, 3].filter((id) => id !== gone).concat(4);
  const seen: number[] = [first];
  // The pass had three members; one left and one came: two more probes end it.
  for (let i = 0; i < 2; i++) seen.push(order.next(now, random)!);
  t.notOk(seen.slice(1).includes(gone), 'the departed member is not probed');
  t.ok(seen.includes(4), 'the newcomer is probed in this pass');
  t.equal(new Set(seen).size, 3, 'no repeats within the pass');
  t.same([...seen].sort(), now.sort(), 'the pass covered the members of now');
});

t.test('no candidates, no probe', async (t) => {
  const order = new ProbeOrder();
  t.equal(order.next([], Math.random), undefined);
  t.equal(order.next([9], Math.random), 9);
  t.equal(order.next([9], Math.random), 9);
});
