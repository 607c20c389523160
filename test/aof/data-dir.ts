import { spawnSync } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { prepareDataDir, writeGeneration } from '../../src/aof/data-dir.js';
import { GENERATION_MARKER, LOCK_FILE, readLayout } from '../../src/aof/layout.js';
import { ShardAof } from '../../src/aof/shard-aof.js';
import type { AofRecord } from '../../src/aof/types.js';
import { shardOfKey } from '../../src/hash/key-hash.js';
import { rec, recordingLogger, shardOptions, tempDir } from '../fixtures/aof-helpers.js';

async function writeShards(dataDir: string, shards: number, records: AofRecord[]) {
  const { logger } = recordingLogger();
  const aofs = await Promise.all(
    Array.from({ length: shards }, (_, shard) =>
      ShardAof.open(shardOptions(dataDir, logger, { shard, shards })),
    ),
  );
  for (const aof of aofs) await aof.replay(() => {});
  for (const r of records) aofs[shardOfKey(r.key, shards)]!.append(r);
  for (const aof of aofs) await aof.close();
}

async function readShards(dataDir: string, shards: number) {
  const { logger } = recordingLogger();
  const live = new Map<string, AofRecord>();
  for (let shard = 0; shard < shards; shard++) {
    const aof = await ShardAof.open(shardOptions(dataDir, logger, { shard, shards }));
    await aof.replay((r) => {
      t.equal(shardOfKey(r.key, shards), shard, `${r.key} in its shard`);
      live.set(r.key, r);
    });
    await aof.close();
  }
  return live;
}

t.test('a second prepareDataDir on the same directory fails naming the pid', async (t) => {
  const dir = await tempDir(t);
  const { logger } = recordingLogger();
  const first = await prepareDataDir({ dataDir: dir, shards: 2, fresh: false, replayLog: undefined, logger });
  await t.rejects(prepareDataDir({ dataDir: dir, shards: 2, fresh: false, replayLog: undefined, logger }), {
    code: 'LALLY_ERR_DATA_DIR_LOCKED',
    message: new RegExp(`process ${process.pid}`),
  });
  await first.release();
  t.notOk((await readdir(dir)).includes(LOCK_FILE), 'release removes the lock');
  const again = await prepareDataDir({ dataDir: dir, shards: 2, fresh: false, replayLog: undefined, logger });
  await again.release();
});

t.test('a stale lock of a dead process is taken over with a warning', async (t) => {
  const dir = await tempDir(t);
  const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid!;
  await writeFile(
    join(dir, LOCK_FILE),
    JSON.stringify({ pid: dead, host: (await import('node:os')).hostname(), startedAt: 'x' }),
  );
  const { logger, lines } = recordingLogger();
  const prepared = await prepareDataDir({
    dataDir: dir,
    shards: 1,
    fresh: false,
    replayLog: undefined,
    logger,
  });
  t.ok(
    lines.some((l) => l.level === 40 && l.stalePid === dead),
    'warned about the stale pid',
  );
  await prepared.release();
});

t.test('--fresh with --replay-log is refused', async (t) => {
  const dir = await tempDir(t);
  const { logger } = recordingLogger();
  await t.rejects(prepareDataDir({ dataDir: dir, shards: 1, fresh: true, replayLog: 'x.log', logger }), {
    code: 'LALLY_ERR_CONFIG',
  });
});

t.test('--fresh wipes the data', async (t) => {
  const dir = await tempDir(t);
  const { logger } = recordingLogger();
  await (
    await prepareDataDir({ dataDir: dir, shards: 2, fresh: false, replayLog: undefined, logger })
  ).release();
  await writeShards(dir, 2, [rec('a', '1'), rec('b', '2')]);
  await (
    await prepareDataDir({ dataDir: dir, shards: 2, fresh: true, replayLog: undefined, logger })
  ).release();
  t.equal((await readShards(dir, 2)).size, 0);
  t.equal((await readdir(dir)).filter((n) => n.startsWith('aof-')).length, 2, 'one generation dir + layout');
});

t.test('changing the shard count re-routes every record and loses nothing', async (t) => {
  const dir = await tempDir(t);
  const { logger } = recordingLogger();
  await (
    await prepareDataDir({ dataDir: dir, shards: 3, fresh: false, replayLog: undefined, logger })
  ).release();
  const records: AofRecord[] = [];
  for (let i = 0; i < 3000; i++) records.push(rec(`key-${i % 1000}`, `v${i}`));
  for (let i = 0; i < 50; i++) records.push(rec(`key-${i}`, '', 'REMOVE'));
  await writeShards(dir, 3, records);
  const expected = new Map(records.map((r) => [r.key, r]));
  for (const shards of [5, 2, 1, 4]) {
    await (
      await prepareDataDir({ dataDir: dir, shards, fresh: false, replayLog: undefined, logger })
    ).release();
    t.equal((await readLayout(dir))!.shards, shards);
    t.same(await readShards(dir, shards), expected, `${shards} shards`);
    const gens = (await readdir(dir)).filter((n) => /^aof-\d+$/.test(n));
    t.equal(gens.length, 1, 'the old generation is gone');
  }
});

t.test('a crash before the layout switch leaves the old generation in force', async (t) => {
  const dir = await tempDir(t);
  const { logger } = recordingLogger();
  await (
    await prepareDataDir({ dataDir: dir, shards: 2, fresh: false, replayLog: undefined, logger })
  ).release();
  await writeShards(dir, 2, [rec('a', '1'), rec('b', '2'), rec('c', '3')]);
  const layout = (await readLayout(dir))!;
  // What a crash mid re-routing leaves: a partial next generation that no layout names, holding the
  // marker writeGeneration writes before anything else.
  const { mkdir } = await import('node:fs/promises');
  await mkdir(join(dir, 'aof-2'));
  await writeFile(join(dir, 'aof-2', GENERATION_MARKER), '{"from":"aof-1"}');
  await writeFile(join(dir, 'aof-2', 'shard-0.base-1.aof'), 'partial');
  await writeFile(join(dir, '.aof-layout.json.123-abcd.tmp'), '{"half');
  await (
    await prepareDataDir({ dataDir: dir, shards: 2, fresh: false, replayLog: undefined, logger })
  ).release();
  t.same(await readLayout(dir), layout);
  t.equal((await readShards(dir, 2)).size, 3);
  t.same((await readdir(dir)).sort(), ['aof-1', 'aof-layout.json'].sort(), 'leftovers removed');
});

t.test(
  'a crash inside writeGeneration leaves the marker, and the next start removes that generation',
  async (t) => {
    const dir = await tempDir(t);
    const { logger } = recordingLogger();
    await (
      await prepareDataDir({ dataDir: dir, shards: 2, fresh: false, replayLog: undefined, logger })
    ).release();
    await writeShards(dir, 2, [rec('a', '1'), rec('b', '2')]);
    const previous = (await readLayout(dir))!;
    // A real writeGeneration whose fill fails half-way: the same state a crash there leaves.
    await t.rejects(
      writeGeneration(dir, 3, previous, async (sink) => {
        await sink(rec('x', 'half'));
        throw new Error('crash');
      }),
    );
    t.ok((await readdir(join(dir, 'aof-2'))).includes(GENERATION_MARKER), 'the marker is there');
    await (
      await prepareDataDir({ dataDir: dir, shards: 2, fresh: false, replayLog: undefined, logger })
    ).release();
    t.same((await readdir(dir)).sort(), ['aof-1', 'aof-layout.json'], 'the uncommitted generation is gone');
    t.equal((await readShards(dir, 2)).size, 2);
  },
);

t.test('--replay-log replaces the data with an upstream text log', async (t) => {
  const dir = await tempDir(t);
  const { logger } = recordingLogger();
  await (
    await prepareDataDir({ dataDir: dir, shards: 2, fresh: false, replayLog: undefined, logger })
  ).release();
  await writeShards(dir, 2, [rec('old', 'gone')]);
  const log = join(dir, '..', `${dir.split('/').at(-1)}-upstream.log`);
  t.teardown(() => import('node:fs/promises').then((fs) => fs.rm(log, { force: true })));
  await writeFile(
    log,
    [
      'timestamp=2024-12-30T10:15:00.123456789+00:00 operation=ADD level=INFO key="user:1" value="alice"',
      'timestamp=2024-12-30T10:15:00.123456789+00:00 operation=ADD level=INFO key="user:1" value="alice smith"',
      'timestamp=2024-12-30T10:15:01.000000000+00:00 operation=ADD level=INFO key="quote" value="he said "hi" x=y"',
      'timestamp=2024-12-30T10:15:02.000000000+00:00 operation=ADD level=INFO key="gone" value="soon"',
      'timestamp=2024-12-30T10:16:00.000000001+00:00 operation=REMOVE level=INFO key="gone"',
      '',
    ].join('\n'),
  );
  await (await prepareDataDir({ dataDir: dir, shards: 3, fresh: false, replayLog: log, logger })).release();
  const live = await readShards(dir, 3);
  t.notOk(live.has('old'), 'previous data replaced');
  t.equal(live.get('user:1')?.value, 'alice smith', 'later line of the same instant wins');
  t.equal(live.get('quote')?.value, 'he said "hi" x=y');
  t.equal(live.get('gone')?.op, 'REMOVE');
  t.equal(
    live.get('user:1')?.version.wall,
    Date.UTC(2024, 11, 30, 10, 15, 0, 123),
    'timestamp kept as version',
  );
});
