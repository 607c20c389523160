import t from 'tap';
import { SuspicionTimers } from '../../src/cluster/suspicion-timers.js';
import { FakeScheduler } from '../fixtures/fake-scheduler.js';

t.test('a timer per member: restart replaces, cancel and clear stop', async (t) => {
  const s = new FakeScheduler();
  const timers = new SuspicionTimers(s);
  const fired: string[] = [];
  timers.start(1, 100, () => fired.push('1a'));
  await s.advance(50);
  timers.start(1, 100, () => fired.push('1b')); // a newer suspicion restarts the clock
  timers.start(2, 100, () => fired.push('2'));
  timers.start(3, 100, () => fired.push('3'));
  t.equal(timers.size, 3);
  timers.cancel(2);
  timers.cancel(99); // unknown: no-op
  await s.advance(60);
  t.same(fired, [], 'the first timer of 1 was replaced');
  await s.advance(40);
  t.same(fired, ['1b', '3']);
  t.equal(timers.size, 0, 'expired timers are dropped');
  timers.start(4, 10, () => fired.push('4'));
  timers.clear();
  await s.advance(100);
  t.same(fired, ['1b', '3']);
  t.equal(s.pending, 0);
});
