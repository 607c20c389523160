// The shared-table race of test/store/table-threads.ts for minutes (npm run stress): 4 reader threads,
// a key set growing to 400k (many rehashes and arena growths), LALLY_STRESS_ROUNDS x 6 s.
import t from 'tap';
import { runTableRace } from '../fixtures/table-race.js';

const rounds = Number(process.env.LALLY_STRESS_ROUNDS ?? 1);

t.test(`readers never see a torn, mixed or lost entry for ${rounds * 6} s`, async (t) => {
  t.setTimeout(rounds * 6000 + 120_000);
  const stats = await runTableRace({ durationMs: rounds * 6000, readers: 4, maxKeys: 400_000 });
  t.same(stats.errors, [], 'every value read was whole and matched its key and version');
  t.ok(stats.found > 0 && stats.tombstones > 0, 'values and tombstones were read');
  t.comment(JSON.stringify(stats));
});
