import t from 'tap';
import { compactionDue } from '../../src/aof/shard-compaction.js';

t.test('a compaction is due past the minimum size and the growth percentage, both', async (t) => {
  const MiB = 1024 * 1024;
  // 100 %: due once the log is twice its size after the last compaction, and at least the minimum.
  t.equal(compactionDue(64 * MiB - 1, 0, 64 * MiB, 100), false, 'under the minimum');
  t.equal(compactionDue(64 * MiB, 0, 64 * MiB, 100), true, 'at the minimum, first time');
  t.equal(compactionDue(200 * MiB - 1, 100 * MiB, 64 * MiB, 100), false, 'just under double');
  t.equal(compactionDue(200 * MiB, 100 * MiB, 64 * MiB, 100), true, 'at double');
  t.equal(compactionDue(100 * MiB, 10 * MiB, 200 * MiB, 100), false, 'grown, but under the minimum');
  t.equal(compactionDue(150 * MiB, 100 * MiB, 64 * MiB, 50), true, '50 %');
  t.equal(compactionDue(150 * MiB - 1, 100 * MiB, 64 * MiB, 50), false);
  t.equal(compactionDue(1 << 40, 0, 0, 0), false, '0 % turns automatic compaction off');
  t.equal(compactionDue(1 << 40, 0, 0, -5), false);
});
