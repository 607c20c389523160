import t from 'tap';
import { settleWithin, systemScheduler } from '../../src/cluster/scheduler.js';
import { FakeScheduler } from '../fixtures/fake-scheduler.js';

t.test('settleWithin: the value, or undefined on rejection or timeout', async (t) => {
  const s = new FakeScheduler();
  t.equal(await settleWithin(s, Promise.resolve(3), 10), 3);
  t.equal(await settleWithin(s, Promise.reject(new Error('x')), 10), undefined);
  t.equal(s.pending, 0, 'the timer is cancelled once settled');
  let late: (v: number) => void = () => {};
  const slow = settleWithin(s, new Promise<number>((r) => (late = r)), 10);
  await s.advance(10);
  late(5);
  t.equal(await slow, undefined, 'too late');
  let fail: (e: Error) => void = () => {};
  const failing = settleWithin(s, new Promise<number>((_, r) => (fail = r)), 10);
  await s.advance(10);
  fail(new Error('late failure'));
  t.equal(await failing, undefined);
});

t.test('the system scheduler runs and cancels real timers', async (t) => {
  // Its timers are unref'd: keep the loop alive for the length of the test.
  const keepAlive = setInterval(() => {}, 1000);
  t.teardown(() => clearInterval(keepAlive));
  const start = systemScheduler.now();
  t.ok(Math.abs(start - Date.now()) < 1000);
  let ran = false;
  const cancel = systemScheduler.setTimeout(() => {
    ran = true;
  }, 1);
  cancel();
  await new Promise((r) => setTimeout(r, 10));
  t.equal(ran, false, 'cancelled');
  t.equal(await settleWithin(systemScheduler, new Promise(() => {}), 5), undefined, 'a real timeout');
});
