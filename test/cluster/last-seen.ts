import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { checkAwayTime, LastSeenClock, readLastSeen, writeLastSeen } from '../../src/cluster/last-seen.js';
import { ErrorCodes } from '../../src/errors.js';

const DAY = 86_400_000;

t.test('the rejoin rule: refused only when rejoining with data older than the grace period', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'lally-last-seen-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const now = Date.UTC(2026, 11, 2);
  await checkAwayTime({ dataDir: dir, graceMs: 10 * DAY, rejoins: true, now });
  t.pass('no file: allowed (a new data dir, or one from before the rule)');
  await writeLastSeen(dir, now - 9 * DAY);
  t.equal(await readLastSeen(dir), now - 9 * DAY, 'the file round-trips');
  await checkAwayTime({ dataDir: dir, graceMs: 10 * DAY, rejoins: true, now });
  t.pass('away 9 days of 10: allowed');
  await writeLastSeen(dir, now - 11 * DAY);
  await t.rejects(checkAwayTime({ dataDir: dir, graceMs: 10 * DAY, rejoins: true, now }), {
    code: ErrorCodes.CONFIG,
    message: /11\.0 days ago: longer than the tombstone grace period .*Wipe its data directory/s,
  });
  await checkAwayTime({ dataDir: dir, graceMs: 10 * DAY, rejoins: false, now });
  t.pass('a node with nobody to rejoin is not refused');
  await writeFile(join(dir, 'last-seen'), 'garbage\n');
  t.equal(await readLastSeen(dir), undefined, 'a damaged file says nothing');
});

t.test('the clock writes the file at start and at stop', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'lally-last-seen-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const clock = new LastSeenClock(dir, 10 * DAY);
  const before = Date.now();
  await clock.start();
  const first = await readLastSeen(dir);
  t.ok(first !== undefined && first >= before, 'written at start');
  await clock.stop();
  t.match(await readFile(join(dir, 'last-seen'), 'utf8'), /^\d{4}-\d\d-\d\dT.*Z \d+\n$/, 'ISO time and ms');
});
