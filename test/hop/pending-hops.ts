import t from 'tap';
import type { LallyError } from '../../src/errors.js';
import { PendingHops } from '../../src/hop/pending-hops.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

t.test('ids, the in-flight count per thread, and answers taken once', async (t) => {
  const hops = new PendingHops<string>({
    threads: 3,
    timeoutMs: 60_000,
    maxInFlightPerThread: 2,
    onTimeout: () => {},
  });
  t.teardown(() => hops.close());
  const a = hops.nextId();
  const b = hops.nextId();
  t.not(a, b);
  hops.add(a, 'a', 1);
  t.notOk(hops.full(1));
  hops.add(b, 'b', 1);
  t.ok(hops.full(1), 'two hops wait on thread 1: its cap');
  t.notOk(hops.full(2), 'the cap is per thread');
  t.equal(hops.take(a, 1), 'a');
  t.equal(hops.take(a, 1), undefined, 'an answer is taken once');
  t.equal(hops.inFlightTo(1), 1, 'a duplicate answer does not drive the count down');
  t.same(hops.drain(), ['b']);
  t.equal(hops.inFlightTo(1), 0);
  t.equal(hops.size, 0);
});

t.test(
  'a hop older than the timeout fails with LALLY_ERR_TIMEOUT, and its late answer is ignored',
  async (t) => {
    const expired: [string, number, LallyError][] = [];
    const hops = new PendingHops<string>({
      threads: 2,
      timeoutMs: 40,
      maxInFlightPerThread: 10,
      onTimeout: (waiting, thread, error) => expired.push([waiting, thread, error]),
    });
    t.teardown(() => hops.close());
    const id = hops.nextId();
    hops.add(id, 'slow', 1);
    await sleep(20);
    t.same(expired, [], 'not before its timeout');
    await sleep(100);
    t.equal(expired.length, 1);
    t.equal(expired[0]![0], 'slow');
    t.equal(expired[0]![1], 1);
    t.equal(expired[0]![2].code, 'LALLY_ERR_TIMEOUT');
    t.match(expired[0]![2].message, /shard 1 did not answer within 40 ms/);
    t.equal(hops.inFlightTo(1), 0, 'the expired hop no longer counts against the cap');
    t.equal(hops.take(id, 1), undefined, 'the answer that comes after the deadline finds nothing');
  },
);
