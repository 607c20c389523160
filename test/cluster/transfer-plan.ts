import t from 'tap';
import { assignSources, planCatchUp, planHandoff, type Range } from '../../src/cluster/transfer-plan.js';
import { HashRing } from '../../src/placement/placement.js';

const ids = [0x1a2b3c4d, 0x22222222, 0x9abcdef0, 0x45454545, 0x7777aaaa];
const members = ids.map((id, i) => ({ id, address: `10.0.0.${i + 1}:50071`, state: 'alive' as const }));
const inside = (ranges: readonly Range[], p: number) => ranges.some((r) => p >= r.start && p < r.end);

/** Sample positions: every range's start and a spread of others. */
const positions = Array.from({ length: 4000 }, (_, i) => Math.floor((i * 2 ** 32) / 4000) + 12345);

t.test(
  'factor all (or >= the ring): everything from one member, the seed first; nothing to hand over',
  async (t) => {
    const self = ids[0]!;
    const plan = planCatchUp(self, members, undefined, members[3]!.address);
    t.equal(plan.length, 1);
    t.same(plan[0]!.ranges, []);
    t.equal(plan[0]!.sources[0]!.address, members[3]!.address, 'the seed first');
    t.equal(plan[0]!.sources.length, 4, 'then every other member');
    t.same(
      planCatchUp(self, members, 5),
      planCatchUp(self, members, 'all'),
      'a factor >= the ring: the same',
    );
    t.same(planHandoff(self, members, undefined), []);
    t.same(planHandoff(self, members, 5), []);
    t.same(planCatchUp(self, [members[0]!], 2), [], 'a cluster of one asks nobody');
    t.same(
      planCatchUp(self, [members[0]!, { ...members[1]!, state: 'dead' }], undefined),
      [],
      'nor one whose others are dead',
    );
  },
);

t.test(
  'factor 2: the catch-up covers exactly the ranges this node holds, from members that held them',
  async (t) => {
    const self = ids[2]!;
    const plan = planCatchUp(self, members, 2);
    const withSelf = new HashRing(ids);
    const without = new HashRing(ids.filter((id) => id !== self));
    const wrong: number[] = [];
    let held = 0;
    for (const p of positions) {
      const mine = withSelf.replicasAt(p, 2).includes(self);
      if (mine) held++;
      const tasks = plan.filter((task) => inside(task.ranges, p));
      if (tasks.length !== (mine ? 1 : 0)) wrong.push(p);
      const holders = without.replicasAt(p, 2);
      if (tasks.length === 1 && !tasks[0]!.sources.every((s) => holders.includes(s.id))) wrong.push(p);
    }
    t.ok(held > 800 && held < 2400, `this node holds about 2/5 of the ring (${held} of 4000 positions)`);
    t.same(
      wrong,
      [],
      'a position is in one task exactly when this node holds it, asked of members that hold it',
    );
    const { bySource, orphaned } = assignSources(plan);
    t.same(orphaned, []);
    t.ok(bySource.size >= 1 && bySource.size <= 4, 'each source is asked once');
    const failedAll = assignSources(plan, new Set(ids));
    t.equal(failedAll.orphaned.length, plan.length, 'with every source failed, every task is orphaned');
  },
);

t.test('factor 1 handoff: the lost ranges go to the member that gains them', async (t) => {
  const self = ids[1]!;
  const moves = planHandoff(self, members, 1);
  const before = new HashRing(ids);
  const after = new HashRing(ids.filter((id) => id !== self));
  const wrong: number[] = [];
  for (const p of positions) {
    const held = before.replicasAt(p, 1)[0] === self;
    const move = moves.find((m) => p >= m.range.start && p < m.range.end);
    if ((move !== undefined) !== held) wrong.push(p);
    if (move !== undefined && move.to.map((m) => m.id).join() !== after.replicasAt(p, 1).join())
      wrong.push(p);
  }
  t.ok(moves.length > 10, `${moves.length} ranges to hand over`);
  t.same(wrong, [], "a position is handed over exactly when it was this node's, to the member that gains it");
  const dead = members.map((m) => (m.id === ids[0] ? { ...m, state: 'dead' as const } : m));
  t.ok(
    planHandoff(self, dead, 1).every((m) => m.to.every((x) => x.id !== ids[0])),
    'nothing is handed to a dead member',
  );
});
