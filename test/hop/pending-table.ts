import t from 'tap';
import { PendingTable } from '../../src/hop/pending-table.js';

t.test('add and take by id, in any order', async (t) => {
  const table = new PendingTable<string>(4);
  for (let id = 1; id <= 3; id++) table.add(id, `v${id}`);
  t.equal(table.size, 3);
  t.equal(table.take(2), 'v2');
  t.equal(table.take(2), undefined, 'taken once');
  t.equal(table.take(99), undefined, 'unknown id');
  t.equal(table.take(1), 'v1');
  t.equal(table.take(3), 'v3');
  t.equal(table.size, 0);
});

t.test('an id whose slot holds another id is not confused with it', async (t) => {
  const table = new PendingTable<string>(4);
  table.add(1, 'one');
  t.equal(table.take(5), undefined, '5 & 3 === 1, but 5 is not waiting');
  t.equal(table.take(1), 'one');
});

t.test('grows when a window of live ids outgrows it, and keeps every entry', async (t) => {
  const table = new PendingTable<number>(2);
  const live = new Map<number, number>();
  let next = 1;
  // A sliding window: many added, answered out of order, some left waiting for long.
  for (let step = 0; step < 5000; step++) {
    const id = next++;
    table.add(id, id * 10);
    live.set(id, id * 10);
    if (step % 3 === 0) {
      const victim = [...live.keys()][Math.floor((step * 7919) % live.size)]!;
      t.equal(table.take(victim), live.get(victim));
      live.delete(victim);
    }
  }
  t.equal(table.size, live.size);
  t.ok(table.capacity >= live.size);
  for (const [id, value] of live) if (table.take(id) !== value) t.fail(`lost ${id}`);
  t.equal(table.size, 0);
});

t.test('ids near the u32 wrap', async (t) => {
  const table = new PendingTable<string>(8);
  table.add(0xffffffff, 'last');
  table.add(1, 'first after wrap');
  t.equal(table.take(0xffffffff), 'last');
  t.equal(table.take(1), 'first after wrap');
});

t.test('drain empties the table and returns every value', async (t) => {
  const table = new PendingTable<string>(4);
  table.add(7, 'a');
  table.add(8, 'b');
  t.same(table.drain().sort(), ['a', 'b']);
  t.equal(table.size, 0);
  t.equal(table.take(7), undefined);
});

t.test(
  'expire removes the entries sent at or before a tick, with their owner, across a growth',
  async (t) => {
    const table = new PendingTable<string>(2);
    table.add(1, 'a', 1, 0);
    table.add(2, 'b', 2, 1);
    table.add(3, 'c', 1, 2);
    table.add(7, 'd', 3, 3); // forces a growth: owners and ticks must move with the entries
    const expired: [string, number][] = [];
    t.equal(
      table.expire(1, (value, owner) => expired.push([value, owner])),
      2,
    );
    t.same(expired, [
      ['a', 1],
      ['b', 2],
    ]);
    t.equal(table.size, 2);
    t.equal(table.take(1), undefined, 'an expired entry cannot be taken (its late answer is ignored)');
    t.equal(table.take(3), 'c');
    t.equal(
      table.expire(10, () => {}),
      1,
    );
    t.equal(table.take(7), undefined);
    t.equal(table.size, 0);
    t.equal(
      table.expire(10, () => t.fail('nothing left')),
      0,
    );
  },
);
