import t from 'tap';
import { QuorumWaits } from '../../src/cluster/quorum-waits.js';

t.test('a wait finishes at its quorum, when every replica answered, or at its deadline', async (t) => {
  let now = 1000;
  const waits = new QuorumWaits(100, () => now);
  const done: [string, number, boolean][] = [];
  const quorum = waits.start(2, 3, (a, timedOut) => done.push(['quorum', a, timedOut]));
  quorum.answer(true);
  t.same(done, [], 'one of two is not enough');
  quorum.answer(false);
  quorum.answer(true);
  t.same(done, [['quorum', 2, false]], 'two successes finish it');
  quorum.answer(true);
  t.equal(done.length, 1, 'it finishes once');

  const all = waits.start(3, 2, (a, timedOut) => done.push(['all', a, timedOut]));
  all.answer(true);
  all.answer(false);
  t.same(done.at(-1), ['all', 1, false], 'every replica answered: finished with what it reached');

  const late = waits.start(2, 3, (a, timedOut) => done.push(['late', a, timedOut]));
  late.answer(true);
  now += 99;
  waits.expire();
  t.equal(late.finished, false, 'not before its deadline');
  now += 2;
  waits.expire();
  t.same(done.at(-1), ['late', 1, true], 'at its deadline, with what it reached');
  t.equal(waits.counters.timedOut, 1);
  t.equal(waits.waiting, 0, 'nothing waits any more');
  waits.close();
});

t.test('no replicas or nothing needed: finished at once', async (t) => {
  const waits = new QuorumWaits(100);
  const done: number[] = [];
  waits.start(0, 2, (a) => done.push(a));
  waits.start(2, 0, (a) => done.push(a));
  t.same(done, [0, 0]);
  t.equal(waits.waiting, 0);
});

t.test('the timer expires waits on its own; drain finishes the rest', async (t) => {
  const waits = new QuorumWaits(20);
  // The waits' timer is unref'd (it never keeps a node alive): this one keeps the test's process up.
  const keepAlive = setTimeout(() => {}, 5000);
  const timedOut = await new Promise<boolean>((resolve) => waits.start(1, 1, (_a, out) => resolve(out)));
  clearTimeout(keepAlive);
  t.equal(timedOut, true, 'a wait nobody answers ends at its deadline, by the timer');
  const drained: number[] = [];
  const call = waits.start(2, 2, (a) => drained.push(a));
  call.answer(true);
  waits.drain();
  t.same(drained, [1], 'drain answers with what each wait reached');
});

t.test('many finished waits behind an old one are compacted away', async (t) => {
  let now = 0;
  const waits = new QuorumWaits(10, () => now);
  for (let i = 0; i < 3000; i++) waits.start(1, 1, () => {}).answer(true);
  t.equal(waits.waiting, 3000, 'finished waits stay queued until the head passes them');
  waits.expire();
  t.equal(waits.waiting, 0, 'then go at once');
  now = 5;
  waits.start(1, 1, () => {});
  now = 20;
  waits.expire();
  t.equal(waits.waiting, 0);
  waits.close();
});
