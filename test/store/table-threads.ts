// Real threads on one shared table: the seqlock holds while the owner rewrites, deletes and grows.
import t from 'tap';
import { runTableRace } from '../fixtures/table-race.js';

t.test('readers in 2 threads never see a torn, mixed or lost entry across table growth', async (t) => {
  t.setTimeout(60_000);
  const stats = await runTableRace({ durationMs: 2500, readers: 2, maxKeys: 30_000 });
  t.same(stats.errors, [], 'every value read was whole and matched its key and version');
  t.ok(stats.rehashes >= 2, `the index was rehashed during the reads (${stats.rehashes} times)`);
  t.ok(stats.resizes >= 4, `buffers grew during the reads (${stats.resizes} times)`);
  t.ok(stats.found > 1000 && stats.tombstones > 0, 'values and tombstones were read');
  t.comment(JSON.stringify(stats));
});
