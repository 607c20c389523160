/**
 * A real full disk under a real daemon (fsync always): the data directory lives on a 4 MiB tmpfs that
 * a filler file fills. Writes the disk refuses are answered 507 LALLY_ERR_DISK_FULL and never become
 * visible, the node takes writes again by itself once space is freed, SIGTERM on a full disk ends
 * within the shutdown timeout (lock released), and a restart holds every acknowledged write and none
 * of the refused ones.
 */
import { access, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { request, startDaemon } from '../fixtures/daemon-process.js';
import { fillDisk, mountTmpfs, tmpfsSkipReason } from '../fixtures/tmpfs.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const VALUE = 'v'.repeat(6000);

interface Outcome {
  acked: Map<string, string>;
  refused: Set<string>;
  other: string[];
}

/** PUTs from 8 concurrent clients until `refusals` writes were refused (or a deadline passes). */
async function writeUntilRefused(url: string, prefix: string, refusals: number, out: Outcome): Promise<void> {
  let next = 0;
  let refused = 0;
  const deadline = Date.now() + 15_000;
  const client = async () => {
    while (refused < refusals && Date.now() < deadline) {
      const key = `${prefix}-${next++}`;
      const value = `${key}:${VALUE}`;
      const answer = await request(`${url}/kv/${key}`, { method: 'PUT', body: value });
      if (answer.status === 200) out.acked.set(key, value);
      else if (answer.status === 507 && answer.json().code === 'LALLY_ERR_DISK_FULL') {
        out.refused.add(key);
        refused++;
      } else out.other.push(`${answer.status} ${answer.text}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, client));
}

t.test(
  'disk full with fsync always: refused writes stay invisible, recovery needs no restart',
  {
    skip: await tmpfsSkipReason(),
  },
  async (t) => {
    const disk = await mountTmpfs(t, 4 << 20);
    const dataDir = join(disk, 'data');
    const args = ['--aof-fsync', 'always', '--shutdown-timeout-ms', '8000'];
    const daemon = await startDaemon(t, { shards: 2, dataDir, args });
    const out: Outcome = { acked: new Map(), refused: new Set(), other: [] };
    let filler = await fillDisk(disk, 'filler', 96 * 1024);
    await writeUntilRefused(daemon.url, 'full', 20, out);
    t.ok(out.refused.size >= 20, `${out.refused.size} writes refused with 507 LALLY_ERR_DISK_FULL`);
    t.same(out.other, [], 'no other answer than 200 and 507');
    let visible = 0;
    for (const key of out.refused) if ((await request(`${daemon.url}/kv/${key}`)).status !== 404) visible++;
    t.equal(visible, 0, 'no refused write is readable');

    await unlink(filler);
    let back = false;
    // Polls up to 30 s (not a count of tries): on a loaded machine each try can take far longer than 20 ms.
    const deadline = Date.now() + 30_000;
    for (let i = 0; !back && Date.now() < deadline; i++) {
      const key = `back-${i}`;
      const answer = await request(`${daemon.url}/kv/${key}`, { method: 'PUT', body: key });
      if (answer.status === 200) {
        out.acked.set(key, key);
        back = true;
      } else {
        out.refused.add(key);
        await sleep(20);
      }
    }
    t.ok(back, 'once space is freed, writes succeed again without a restart');

    filler = await fillDisk(disk, 'filler', 96 * 1024);
    await writeUntilRefused(daemon.url, 'again', 10, out);
    const stopped = Date.now();
    const exit = await daemon.stop('SIGTERM');
    t.equal(
      exit.signal,
      null,
      `SIGTERM on a full disk ends without a forced kill (${Date.now() - stopped} ms)`,
    );
    t.ok(exit.code === 0 || exit.code === 1, `exit code ${exit.code}`);
    await t.rejects(access(join(dataDir, 'lally.lock')), { code: 'ENOENT' }, 'the lock is released');
    const errors = daemon.lines.filter((line) => line.includes('"AOF write failed'));
    t.ok(errors.length >= 1 && errors.length < out.refused.size, `${errors.length} AOF error lines`);

    await unlink(filler);
    const restarted = await startDaemon(t, { shards: 2, dataDir, args });
    let missing = 0;
    let wrong = 0;
    for (const [key, value] of out.acked) {
      const answer = await request(`${restarted.url}/kv/${key}?raw`);
      if (answer.status !== 200) missing++;
      else if (answer.text !== value) wrong++;
    }
    t.equal(missing, 0, `all ${out.acked.size} acknowledged writes are there after the restart`);
    t.equal(wrong, 0, 'with their values');
    let replayed = 0;
    for (const key of out.refused)
      if ((await request(`${restarted.url}/kv/${key}`)).status !== 404) replayed++;
    t.equal(replayed, 0, `none of the ${out.refused.size} refused writes came back`);
    t.notOk(
      restarted.lines.some((line) => line.includes('truncat')),
      'no torn tail to cut at the restart',
    );
    t.equal((await restarted.stop()).code, 0);
  },
);
