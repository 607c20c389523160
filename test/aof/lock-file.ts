/**
 * When the data directory's lock is stale. The case that motivated the rules: in a container the
 * daemon is pid 1, and after an unclean stop the next container's daemon, pid 1 too, found "pid 1
 * alive" (itself) and refused to start, forever.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { LOCK_FILE } from '../../src/aof/layout.js';
import { acquireDataDirLock, judgeLock, type LockContent } from '../../src/aof/lock-file.js';
import { currentProcessIdentity, readStartTime } from '../../src/aof/process-identity.js';
import { recordingLogger, tempDir } from '../fixtures/aof-helpers.js';

const me = { ...currentProcessIdentity(), host: hostname() };
const linux = me.bootId !== undefined && me.startTime !== undefined && me.pidNamespace !== undefined;

function lockOf(fields: Partial<LockContent>): LockContent {
  return {
    pid: me.pid,
    host: me.host,
    startedAt: '2026-01-01T00:00:00.000Z',
    bootId: me.bootId,
    pidStart: me.startTime,
    pidNamespace: me.pidNamespace,
    ...fields,
  };
}

async function takeOver(t: Test, content: LockContent) {
  const dir = await tempDir(t);
  await writeFile(join(dir, LOCK_FILE), JSON.stringify(content));
  const { logger, lines } = recordingLogger();
  const lock = await acquireDataDirLock(dir, logger);
  await lock.release();
  return lines.filter((line) => line.level === 40).map((line) => String(line.msg));
}

async function refused(t: Test, content: LockContent) {
  const dir = await tempDir(t);
  await writeFile(join(dir, LOCK_FILE), JSON.stringify(content));
  const { logger } = recordingLogger();
  await t.rejects(acquireDataDirLock(dir, logger), { code: 'LALLY_ERR_DATA_DIR_LOCKED' });
}

t.test(
  'our own pid, recorded by an earlier process (pid 1 in a new container): stale',
  { skip: !linux && 'no /proc' },
  async (t) => {
    const warnings = await takeOver(t, lockOf({ pidStart: me.startTime! - 1000 }));
    t.match(warnings, [/stale lock .*: pid \d+ is this process now, started after the lock was taken/]);
  },
);

t.test('our own pid with our own start time: this process holds it', async (t) => {
  await refused(t, lockOf({}));
});

t.test(
  'a live process of another pid, started at the recorded time: held',
  { skip: !linux && 'no /proc' },
  async (t) => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    t.teardown(() => child.kill('SIGKILL'));
    await new Promise((resolve) => child.once('spawn', resolve));
    const pidStart = readStartTime(child.pid!);
    t.type(pidStart, 'number', 'its start time is readable');
    await refused(t, lockOf({ pid: child.pid!, pidStart }));

    const reused = await takeOver(t, lockOf({ pid: child.pid!, pidStart: pidStart! - 1 }));
    t.match(
      reused,
      [/now belongs to another process/],
      'the same pid started at another time: stale (pid reuse)',
    );
  },
);

t.test('another boot id: stale, even if the pid is alive', { skip: !linux && 'no /proc' }, async (t) => {
  const warnings = await takeOver(
    t,
    lockOf({ pid: 1, bootId: '00000000-0000-0000-0000-000000000000', host: 'elsewhere' }),
  );
  t.match(warnings, [/the machine has restarted since/]);
});

t.test(
  'another pid namespace (another container on this kernel): stale',
  { skip: !linux && 'no /proc' },
  async (t) => {
    const warnings = await takeOver(t, lockOf({ pid: 1, pidNamespace: 'pid:[1]', host: 'container-a' }));
    t.match(warnings, [/ran in another container/]);
  },
);

t.test('a lock without a boot id (an older Lally)', async (t) => {
  await refused(t, { pid: 1, host: 'another-host', startedAt: 'x' });
  const verdict = judgeLock({ pid: 999_999_999, host: me.host, startedAt: 'x' }, me);
  t.same(verdict, { held: false, reason: 'process 999999999 is gone' }, 'of this host and a dead pid: stale');
  t.same(
    judgeLock({ pid: 1, host: me.host, startedAt: 'x' }, me),
    { held: true },
    'of this host and a live pid: held',
  );
});

t.test('the judge with a fake probe, no /proc needed', async (t) => {
  const probe = {
    isAlive: (pid: number) => pid === 42,
    startTime: (pid: number) => (pid === 42 ? 500 : undefined),
  };
  const here = { pid: 7, host: 'h', bootId: 'b', startTime: 900, pidNamespace: 'ns' };
  const lock = { pid: 42, host: 'h', startedAt: 'x', bootId: 'b', pidStart: 500, pidNamespace: 'ns' };
  t.same(judgeLock(lock, here, probe), { held: true });
  t.same(
    judgeLock({ ...lock, pidStart: undefined }, here, probe),
    { held: true },
    'no start time recorded: alive is held',
  );
  t.match(judgeLock({ ...lock, pid: 43 }, here, probe), { held: false, reason: /gone/ });
  t.match(judgeLock({ ...lock, pid: 7, pidStart: 100 }, here, probe), { held: false });
  t.same(judgeLock({ ...lock, pid: 7, pidStart: 900 }, here, probe), { held: true });
  t.same(
    judgeLock({ ...lock, host: 'other' }, here, probe),
    { held: true },
    'the host does not matter with a boot id',
  );
});

t.test('an empty lock file (its writer died creating it) is taken over', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, LOCK_FILE), '');
  const { logger, lines } = recordingLogger();
  const lock = await acquireDataDirLock(dir, logger);
  await lock.release();
  t.match(
    lines.filter((l) => l.level === 40).map((l) => l.msg),
    [/empty or unreadable/],
  );
});
