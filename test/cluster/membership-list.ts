import t from 'tap';
import {
  compareUpdates,
  isMemberUpdate,
  type MemberState,
  type MemberUpdate,
} from '../../src/cluster/member.js';
import { MembershipList } from '../../src/cluster/membership-list.js';

const SELF = { id: 1, address: 'self:1' };
const STATES: MemberState[] = ['alive', 'suspect', 'dead', 'left'];

function u(state: MemberState, incarnation: number, id = 2, address = 'b:1'): MemberUpdate {
  return { id, address, state, incarnation };
}

function listWith(known: MemberUpdate): { list: MembershipList; clock: { now: number } } {
  const clock = { now: 100 };
  const list = new MembershipList(SELF, () => clock.now);
  list.apply(known);
  return { list, clock };
}

t.test('the precedence table: (incarnation, alive < suspect < dead < left)', async (t) => {
  // Every known state at incarnation 5 against every update at incarnations 4, 5, 6.
  const rows: string[] = [];
  for (const known of STATES) {
    for (const state of STATES) {
      for (const inc of [4, 5, 6]) {
        const { list } = listWith(u(known, 5));
        const out = list.apply(u(state, inc));
        rows.push(`${known}@5 + ${state}@${inc}: ${out.kind === 'changed' ? out.event : out.kind}`);
      }
    }
  }
  t.same(rows, [
    'alive@5 + alive@4: ignored',
    'alive@5 + alive@5: ignored',
    'alive@5 + alive@6: update',
    'alive@5 + suspect@4: ignored',
    'alive@5 + suspect@5: suspect', // suspect overrides alive at the same incarnation
    'alive@5 + suspect@6: suspect',
    'alive@5 + dead@4: ignored',
    'alive@5 + dead@5: dead',
    'alive@5 + dead@6: dead',
    'alive@5 + left@4: ignored',
    'alive@5 + left@5: left',
    'alive@5 + left@6: left',
    'suspect@5 + alive@4: ignored',
    'suspect@5 + alive@5: ignored', // only a higher incarnation refutes
    'suspect@5 + alive@6: alive',
    'suspect@5 + suspect@4: ignored',
    'suspect@5 + suspect@5: ignored',
    'suspect@5 + suspect@6: update',
    'suspect@5 + dead@4: ignored',
    'suspect@5 + dead@5: dead',
    'suspect@5 + dead@6: dead',
    'suspect@5 + left@4: ignored',
    'suspect@5 + left@5: left',
    'suspect@5 + left@6: left',
    'dead@5 + alive@4: ignored',
    'dead@5 + alive@5: ignored',
    'dead@5 + alive@6: alive', // a member back from the dead, refuting
    'dead@5 + suspect@4: ignored',
    'dead@5 + suspect@5: ignored',
    'dead@5 + suspect@6: suspect',
    'dead@5 + dead@4: ignored',
    'dead@5 + dead@5: ignored',
    'dead@5 + dead@6: update',
    'dead@5 + left@4: ignored',
    'dead@5 + left@5: left', // a graceful leave is more than a death
    'dead@5 + left@6: left',
    'left@5 + alive@4: ignored',
    'left@5 + alive@5: ignored',
    'left@5 + alive@6: alive', // a rejoin
    'left@5 + suspect@4: ignored',
    'left@5 + suspect@5: ignored',
    'left@5 + suspect@6: suspect',
    'left@5 + dead@4: ignored',
    'left@5 + dead@5: ignored',
    'left@5 + dead@6: dead',
    'left@5 + left@4: ignored',
    'left@5 + left@5: ignored',
    'left@5 + left@6: update',
  ]);
  t.ok(compareUpdates(u('alive', 6), u('left', 5)) > 0);
  t.equal(compareUpdates(u('dead', 3), u('dead', 3)), 0);
});

t.test('an unknown member joins in whatever state it is named', async (t) => {
  for (const state of STATES) {
    const list = new MembershipList(SELF, () => 7);
    const out = list.apply(u(state, 3));
    t.equal(out.kind, 'changed');
    if (out.kind === 'changed') {
      t.equal(out.event, 'join');
      t.equal(out.previous, undefined);
      t.same(out.member, {
        id: 2,
        address: 'b:1',
        state,
        incarnation: 3,
        hex: '00000002',
        stateSince: 7,
        lastHeard: undefined,
      });
    }
  }
});

t.test('stateSince moves only on a state change; lastHeard survives updates', async (t) => {
  const { list, clock } = listWith(u('alive', 0));
  clock.now = 200;
  list.heard(2);
  list.heard(99); // unknown: no-op
  clock.now = 300;
  list.apply(u('alive', 1));
  t.equal(list.get(2)?.stateSince, 100, 'same state');
  t.equal(list.get(2)?.lastHeard, 200);
  clock.now = 400;
  list.apply(u('suspect', 1));
  t.equal(list.get(2)?.stateSince, 400);
  t.equal(list.get(2)?.lastHeard, 200);
});

t.test(
  'an alive claim from another address for a live id is a conflict, for a dead one a move',
  async (t) => {
    for (const known of ['alive', 'suspect'] as const) {
      const { list } = listWith(u(known, 2));
      const out = list.apply(u('alive', 3, 2, 'impostor:1'));
      t.equal(out.kind, 'conflict', known);
      t.equal(list.get(2)?.address, 'b:1');
    }
    for (const known of ['dead', 'left'] as const) {
      const { list } = listWith(u(known, 2));
      const out = list.apply(u('alive', 3, 2, 'moved:1'));
      t.equal(out.kind, 'changed', known);
      t.equal(list.get(2)?.address, 'moved:1', 'a node restarted elsewhere');
    }
    const { list } = listWith(u('alive', 2));
    t.equal(
      list.apply(u('suspect', 2, 2, 'elsewhere:1')).kind,
      'changed',
      'a suspicion is no claim to the id',
    );
  },
);

t.test('news about this node: refute a suspicion, death or leave; re-announce older news', async (t) => {
  const list = new MembershipList({ ...SELF, incarnation: 4 }, () => 0);
  t.equal(list.apply(u('alive', 4, 1, 'self:1')).kind, 'ignored', 'what it already says');
  t.equal(list.apply(u('alive', 3, 1, 'self:1')).kind, 'ignored');
  for (const state of ['suspect', 'dead', 'left'] as const) {
    const before = list.self.incarnation;
    const out = list.apply(u(state, before, 1, 'self:1'));
    t.equal(out.kind, 'refuted', state);
    t.equal(list.self.incarnation, before + 1);
    t.equal(list.self.state, 'alive');
  }
  const far = list.apply(u('dead', 20, 1, 'self:1'));
  t.equal(far.kind, 'refuted');
  t.equal(list.self.incarnation, 21, 'above the claim');
  t.equal(list.apply(u('alive', 30, 1, 'self:1')).kind, 'refuted', 'a newer claim from an older life');
  t.equal(list.self.incarnation, 31);
  t.equal(list.apply(u('alive', 31, 1, 'other:1')).kind, 'refuted', 'same incarnation, another address');
  t.equal(list.self.incarnation, 32);
  t.equal(list.apply(u('suspect', 5, 1, 'self:1')).kind, 'reannounce');
  t.equal(list.self.incarnation, 32);
  t.equal(list.self.address, 'self:1');
});

t.test('a leaving node ignores news about itself and stays left', async (t) => {
  const list = new MembershipList(SELF, () => 5);
  const left = list.leave();
  t.same(left, { id: 1, address: 'self:1', state: 'left', incarnation: 0 });
  t.ok(list.leaving);
  t.equal(list.apply(u('dead', 9, 1, 'self:1')).kind, 'ignored');
  t.equal(list.apply(u('alive', 9, 1, 'self:1')).kind, 'ignored');
  t.equal(list.self.state, 'left');
});

t.test('views: others, all, live count, snapshot, forget, join conflicts', async (t) => {
  const list = new MembershipList(SELF, () => 0);
  list.apply(u('alive', 0, 5, 'e:1'));
  list.apply(u('suspect', 0, 3, 'c:1'));
  list.apply(u('dead', 0, 4, 'd:1'));
  list.apply(u('left', 0, 2, 'b:1'));
  t.same(
    list.others().map((m) => m.id),
    [2, 3, 4, 5],
  );
  t.same(
    list.all().map((m) => m.id),
    [1, 2, 3, 4, 5],
  );
  t.same(
    list.othersIn('alive', 'suspect').map((m) => m.id),
    [3, 5],
  );
  t.equal(list.liveCount(), 3, 'self, alive and suspect');
  t.same(list.snapshot()[0], { id: 1, address: 'self:1', state: 'alive', incarnation: 0 });
  t.equal(list.joinConflict(1, 'x:1')?.id, 1);
  t.equal(list.joinConflict(3, 'x:1')?.id, 3);
  t.equal(list.joinConflict(3, 'c:1'), undefined);
  t.equal(list.joinConflict(4, 'x:1'), undefined, 'a dead id may come back elsewhere');
  t.equal(list.forget(2), true);
  t.equal(list.forget(2), false);
  t.equal(list.get(2), undefined);
});

t.test('isMemberUpdate accepts exactly well-formed updates', async (t) => {
  t.ok(isMemberUpdate(u('alive', 0)));
  t.ok(
    isMemberUpdate({ id: 0xffffffff, address: 'h:1', state: 'left', incarnation: Number.MAX_SAFE_INTEGER }),
  );
  for (const bad of [
    undefined,
    'x',
    { ...u('alive', 0), id: '2' },
    { ...u('alive', 0), address: 'x'.repeat(513) },
    { ...u('alive', 0), incarnation: Number.NaN },
    { ...u('alive', 0), state: 'ALIVE' },
  ]) {
    t.notOk(isMemberUpdate(bad), JSON.stringify(bad));
  }
});
