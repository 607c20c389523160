import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { DiskOutage } from '../../src/aof/disk-outage.js';
import { ErrorCodes, LallyError } from '../../src/errors.js';
import { recordingLogger, tempDir } from '../fixtures/aof-helpers.js';

const full = () => new LallyError(ErrorCodes.DISK_FULL, 'disk full');
const enospc = Object.assign(new Error('no space'), { code: 'ENOSPC' });
const bytes = (...sizes: number[]) => sizes.map((n) => Buffer.alloc(n, 7));

function outage() {
  const { logger, lines } = recordingLogger();
  let kicks = 0;
  const disk = new DiskOutage(logger, () => kicks++);
  return { disk, lines, kicks: () => kicks };
}

t.test('a failed write (everysec/no) cuts back to before the batch and keeps the batch', async (t) => {
  const { disk, lines } = outage();
  disk.cleanUpTo(100);
  disk.fail(full(), enospc, 'write', bytes(10, 20), 150, false, '/x/incr');
  t.equal(disk.failure?.code, ErrorCodes.DISK_FULL);
  t.ok(disk.inOutage);
  t.equal(disk.rewindTo, 150, 'the size before the failed write');
  t.equal(disk.keptBytes, 30);
  t.equal(disk.outages, 1);
  t.equal(disk.retryDelayMs, 50);
  const errors = lines.filter((l) => l.msg.startsWith('AOF write failed'));
  t.equal(errors.length, 1);
  t.match(errors[0], { cause: 'ENOSPC', file: '/x/incr', cutBackTo: 150, keptBytes: 30 });

  // The retry's write fails too, while the cut is still due: the lower target wins, the retried
  // batch is kept again, and the back-off doubles.
  const retryBatch = disk.takeKept();
  t.equal(disk.keptBytes, 0);
  disk.fail(full(), enospc, 'write', retryBatch, 160, false, '/x/incr');
  t.equal(disk.rewindTo, 150);
  t.equal(disk.keptBytes, 30);
  t.equal(disk.outages, 1, 'still the same outage');
  t.equal(disk.retryDelayMs, 100);
  disk.fail(full(), enospc, 'cut', undefined, 150, false, '/x/incr');
  t.equal(disk.retryDelayMs, 200);
  t.equal(disk.keptBytes, 30, 'a failed cut keeps what was kept');
  t.equal(lines.filter((l) => l.msg.startsWith('AOF write failed')).length, 1, 'logged once per outage');
  t.equal(lines.filter((l) => l.msg === 'AOF retry failed').length, 2);
});

t.test('a failed sync (everysec) cuts back to the last sync and keeps every unsynced write', async (t) => {
  const { disk } = outage();
  disk.synced(100);
  disk.written(bytes(5));
  disk.written(bytes(7));
  disk.fail(full(), enospc, 'sync', undefined, 112, false, '/x/incr');
  t.equal(disk.rewindTo, 100, 'not 112: the pages of the two writes may be lost');
  t.equal(disk.keptBytes, 12);
  t.same(
    disk.takeKept().map((b) => b.length),
    [5, 7],
    'in the order they were written',
  );
  // A sync that succeeds forgets the unsynced buffers: a later failed sync keeps nothing of them.
  disk.written(bytes(9));
  disk.synced(121);
  disk.fail(full(), enospc, 'sync', undefined, 121, false, '/x/incr');
  t.equal(disk.rewindTo, 121);
  t.equal(disk.keptBytes, 0);
});

t.test('fsync always keeps nothing: back to the last sync, whatever failed', async (t) => {
  const { disk } = outage();
  disk.cleanUpTo(64);
  disk.written(bytes(3));
  disk.fail(full(), enospc, 'write', bytes(10), 80, true, '/x/incr');
  t.equal(disk.rewindTo, 64);
  t.equal(disk.keptBytes, 0);
  t.same(disk.takeKept(), []);
  // Appends resume after the cut (the next append is the probe), but the outage lasts until a write
  // goes through: a failure before that is a retry of the same outage, with a longer back-off.
  t.ok(disk.startRetry());
  disk.resumeAppends();
  t.equal(disk.failure, undefined);
  t.ok(disk.inOutage);
  disk.fail(full(), enospc, 'write', bytes(10), 64, true, '/x/incr');
  t.equal(disk.outages, 1);
  t.equal(disk.retries, 1);
  t.equal(disk.retryDelayMs, 100);
});

t.test('the retry timer marks the retry due and kicks; the end of an outage is logged', async (t) => {
  const { disk, lines, kicks } = outage();
  t.equal(disk.startRetry(), false, 'no outage: nothing to retry');
  t.equal(disk.retries, 0);
  disk.fail(full(), enospc, 'write', bytes(4), 0, false, '/x/incr');
  disk.scheduleRetry();
  t.equal(disk.retryDue, false);
  await new Promise((resolve) => setTimeout(resolve, disk.retryDelayMs + 100));
  t.equal(kicks(), 1);
  t.equal(disk.retryDue, true);
  t.equal(disk.startRetry(), true);
  t.equal(disk.retryDue, false);
  t.equal(disk.retries, 1);
  disk.end();
  t.equal(disk.failure, undefined);
  t.notOk(disk.inOutage);
  t.match(
    lines.find((l) => l.msg.startsWith('AOF writes resumed')),
    { retries: 0 },
  );
  // A new outage starts the back-off over.
  disk.fail(full(), enospc, 'write', bytes(4), 0, false, '/x/incr');
  t.equal(disk.outages, 2);
  t.equal(disk.retryDelayMs, 50);
  disk.stopRetries();
});

t.test('close: retries stop, one last attempt is due, a failed close is recorded', async (t) => {
  const { disk, kicks } = outage();
  disk.fail(full(), enospc, 'write', bytes(4), 0, false, '/x/incr');
  disk.scheduleRetry();
  disk.stopRetries();
  await new Promise((resolve) => setTimeout(resolve, disk.retryDelayMs + 100));
  t.equal(kicks(), 0, 'the stopped timer does not kick');
  disk.lastAttempt();
  t.equal(disk.retryDue, true);
  const first = disk.failure;
  disk.failAtClose(new LallyError(ErrorCodes.AOF_IO, 'close failed'));
  t.equal(disk.failure, first, 'the first failure is the one reported');
  const clean = outage().disk;
  clean.failAtClose(new LallyError(ErrorCodes.AOF_IO, 'close failed'));
  t.equal(clean.failure?.code, ErrorCodes.AOF_IO);
});

t.test('the cut truncates a real file to the clean boundary and syncs it, once', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'active.aof');
  await writeFile(path, Buffer.alloc(300, 1));
  const fh = await open(path, 'a');
  t.teardown(() => fh.close());
  const { disk } = outage();
  t.equal(await disk.cut(fh), undefined, 'no cut due');
  disk.cleanUpTo(120);
  disk.fail(full(), enospc, 'sync', undefined, 300, false, path);
  t.equal(await disk.cut(fh), 120);
  t.equal((await readFile(path)).length, 120);
  t.equal(disk.rewindTo, undefined);
  t.equal(await disk.cut(fh), undefined, 'done: not cut again');
});

t.test('a cut that fails stays due', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'active.aof');
  await writeFile(path, Buffer.alloc(50, 1));
  const fh = await open(path, 'r+');
  await fh.close(); // a closed handle: truncate fails with EBADF
  const { disk } = outage();
  disk.cleanUpTo(10);
  disk.fail(full(), enospc, 'sync', undefined, 50, false, path);
  await t.rejects(disk.cut(fh));
  t.equal(disk.rewindTo, 10);
});
