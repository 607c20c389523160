import t from 'tap';
import { GossipQueue, retransmitLimit } from '../../src/cluster/gossip-queue.js';
import type { MemberUpdate } from '../../src/cluster/member.js';

function u(id: number, incarnation = 0): MemberUpdate {
  return { id, address: `n${id}:1`, state: 'alive', incarnation };
}

t.test('the retransmit limit is mult * ceil(log10(n + 1))', async (t) => {
  t.equal(retransmitLimit(4, 1), 4);
  t.equal(retransmitLimit(4, 9), 4);
  t.equal(retransmitLimit(4, 10), 8);
  t.equal(retransmitLimit(4, 99), 8);
  t.equal(retransmitLimit(4, 100), 12);
  t.equal(retransmitLimit(3, 0), 3, 'an empty cluster counts as one');
});

t.test('each update is sent exactly limit times, then retires', async (t) => {
  const q = new GossipQueue(2); // limit 2 below 10 members
  q.enqueue(u(1));
  q.enqueue(u(2));
  const sends = new Map<number, number>();
  for (let i = 0; i < 10; i++) {
    for (const x of q.take(1, 5)) sends.set(x.id, (sends.get(x.id) ?? 0) + 1);
  }
  t.same(Object.fromEntries(sends), { 1: 2, 2: 2 });
  t.equal(q.size, 0);
  t.same(q.take(5, 5), []);
});

t.test('least sent first, newest first among equals; at most max per message', async (t) => {
  const q = new GossipQueue(4);
  q.enqueue(u(1));
  q.enqueue(u(2));
  q.enqueue(u(3));
  t.same(
    q.take(2, 3).map((x) => x.id),
    [3, 2],
  );
  t.same(
    q.take(2, 3).map((x) => x.id),
    [1, 3],
    'the unsent one first',
  );
  t.same(q.take(0, 3), []);
});

t.test('a newer update about a member replaces the queued one and starts afresh', async (t) => {
  const q = new GossipQueue(1); // one send each
  q.enqueue(u(7, 1));
  q.enqueue(u(7, 2));
  t.equal(q.size, 1);
  t.same(q.peek(7), u(7, 2));
  t.same(q.take(5, 2), [u(7, 2)]);
  t.equal(q.peek(7), undefined);
});
