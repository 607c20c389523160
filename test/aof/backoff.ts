import t from 'tap';
import { ExponentialBackoff } from '../../src/aof/backoff.js';
import { RETRY_FIRST_MS, RETRY_MAX_MS } from '../../src/aof/disk-outage.js';
import { REWRITE_RETRY_FIRST_MS, REWRITE_RETRY_MAX_MS } from '../../src/aof/shard-compaction.js';

const steps = (backoff: ExponentialBackoff, n: number) => Array.from({ length: n }, () => backoff.next());

t.test('a failing disk is retried after 50 ms, doubling up to 2 s', async (t) => {
  const backoff = new ExponentialBackoff(RETRY_FIRST_MS, RETRY_MAX_MS);
  t.equal(backoff.delayMs, 0);
  t.same(steps(backoff, 8), [50, 100, 200, 400, 800, 1600, 2000, 2000]);
  t.equal(backoff.delayMs, 2000);
  backoff.reset();
  t.equal(backoff.delayMs, 0);
  t.same(steps(backoff, 2), [50, 100], 'after a reset it starts over');
});

t.test('a failing compaction is retried after 1 s, doubling up to 5 minutes', async (t) => {
  const backoff = new ExponentialBackoff(REWRITE_RETRY_FIRST_MS, REWRITE_RETRY_MAX_MS);
  t.same(
    steps(backoff, 11),
    [1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000],
  );
});
