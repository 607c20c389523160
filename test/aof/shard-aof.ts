import { execFile } from 'node:child_process';
import { cpSync } from 'node:fs';
import { appendFile, open, readdir, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { readLayout, readManifest } from '../../src/aof/layout.js';
import { rewriteShardFiles } from '../../src/aof/rewrite-job.js';
import { scanAofFile } from '../../src/aof/scan.js';
import { ShardAof } from '../../src/aof/shard-aof.js';
import type { AofRecord } from '../../src/aof/types.js';
import { rec, recordingLogger, shardOptions, tempDir } from '../fixtures/aof-helpers.js';
import { repoPath } from '../fixtures/paths.js';
import { fillDisk, mountTmpfs, tmpfsSkipReason } from '../fixtures/tmpfs.js';

async function replayAll(
  aof: ShardAof,
): Promise<{ records: AofRecord[]; result: Awaited<ReturnType<ShardAof['replay']>> }> {
  const records: AofRecord[] = [];
  const result = await aof.replay((r) => records.push(r));
  return { records, result };
}

/** Live view of a replay: last record per key in replay order. */
function live(records: AofRecord[]): Map<string, AofRecord> {
  const map = new Map<string, AofRecord>();
  for (const r of records) map.set(r.key, r);
  return map;
}

async function activeFile(dataDir: string): Promise<string> {
  const layout = (await readLayout(dataDir))!;
  const manifest = (await readManifest(join(dataDir, layout.dir), 0))!;
  return join(dataDir, layout.dir, manifest.incrs.at(-1)!);
}

t.test('records round-trip through close and reopen, for each fsync policy', async (t) => {
  for (const fsync of ['always', 'everysec', 'no'] as const) {
    const dir = await tempDir(t);
    const { logger } = recordingLogger();
    const aof = await ShardAof.open(shardOptions(dir, logger, { fsync }));
    t.equal(aof.waitsForSync, fsync === 'always');
    const written = [
      rec('a', '1'),
      rec('ünïcødé 🔑', 'välue with "quotes" and\nnewlines'),
      rec('empty', ''),
      rec('a', '', 'REMOVE'),
      rec('big', 'x'.repeat(300_000)),
    ];
    for (const r of written) aof.append(r);
    await aof.flushed();
    await aof.close();
    const again = await ShardAof.open(shardOptions(dir, logger, { fsync }));
    const { records, result } = await replayAll(again);
    t.same(records, written, `${fsync}: same records in the same order`);
    t.equal(result.records, written.length);
    t.equal(result.truncatedBytes, 0);
    t.same(result.maxVersion, written.at(-1)!.version, 'the highest version is reported');
    await again.close();
  }
});

t.test('append before replay on existing files is refused', async (t) => {
  const dir = await tempDir(t);
  const { logger } = recordingLogger();
  const aof = await ShardAof.open(shardOptions(dir, logger));
  aof.append(rec('k', 'v'));
  await aof.close();
  const again = await ShardAof.open(shardOptions(dir, logger));
  t.throws(() => again.append(rec('k', 'w')), { code: 'LALLY_ERR_INTERNAL' });
  await again.replay(() => {});
  again.append(rec('k', 'w'));
  await again.close();
});

t.test('group commit: many concurrent writers share few fsyncs, and each ack follows its sync', async (t) => {
  const dir = await tempDir(t);
  const { logger } = recordingLogger();
  const aof = await ShardAof.open(shardOptions(dir, logger));
  const writers = 2000;
  let acknowledged = 0;
  const acks: Promise<void>[] = [];
  for (let i = 0; i < writers; i++) {
    // Writers arrive over several event-loop turns, as requests do.
    if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
    aof.append(rec(`key-${i}`, `value-${i}`));
    const appendedSoFar = i + 1;
    acks.push(
      aof.flushed().then(() => {
        // The pump acks a writer only once an fdatasync covering its record has completed.
        t.ok(Number(aof.stats().syncedRecords) >= appendedSoFar, 'acked after its sync');
        acknowledged++;
      }),
    );
  }
  await Promise.all(acks);
  const syncs = Number(aof.stats().syncs);
  t.equal(acknowledged, writers);
  t.ok(syncs >= 1 && syncs < writers / 10, `${syncs} fsyncs for ${writers} writes`);
  await aof.close();
  const again = await ShardAof.open(shardOptions(dir, logger));
  const { records } = await replayAll(again);
  t.equal(records.length, writers, 'every acknowledged record is on disk');
  await again.close();
});

t.test('a torn tail is truncated with a warning naming file and offset', async (t) => {
  const dir = await tempDir(t);
  const { logger, lines } = recordingLogger();
  const aof = await ShardAof.open(shardOptions(dir, logger));
  for (let i = 0; i < 10; i++) aof.append(rec(`k${i}`, `v${i}`));
  await aof.flushed();
  await aof.close();
  const file = await activeFile(dir);
  const intact = (await stat(file)).size;
  // Simulate a crash mid-write: half a record at the end.
  const partial = Buffer.alloc(20);
  partial.writeUInt32LE(40, 0);
  await appendFile(file, partial);
  const again = await ShardAof.open(shardOptions(dir, logger));
  const { records, result } = await replayAll(again);
  t.equal(records.length, 10);
  t.equal(result.truncatedBytes, 20);
  t.equal((await stat(file)).size, intact, 'file cut back to the last valid record');
  const warning = lines.find((l) => l.level === 40);
  t.ok(warning, 'a warning was logged');
  t.equal(warning?.file, file);
  t.equal(warning?.offset, intact);
  again.append(rec('after', 'repair'));
  await again.close();
  const third = await ShardAof.open(shardOptions(dir, logger));
  t.equal((await replayAll(third)).records.length, 11, 'appends after the truncation replay');
  await third.close();
});

t.test('a garbage tail is truncated', async (t) => {
  const dir = await tempDir(t);
  const { logger } = recordingLogger();
  const aof = await ShardAof.open(shardOptions(dir, logger));
  for (let i = 0; i < 5; i++) aof.append(rec(`k${i}`, `v${i}`));
  await aof.close();
  const file = await activeFile(dir);
  const garbage = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) & 0xff));
  await appendFile(file, garbage);
  await appendFile(file, Buffer.alloc(8192)); // and zeros, as a file extended by a crash shows
  const again = await ShardAof.open(shardOptions(dir, logger));
  const { records, result } = await replayAll(again);
  t.equal(records.length, 5);
  t.equal(result.truncatedBytes, 4096 + 8192);
  await again.close();
});

t.test('a flipped bit mid-file stops the replay with AOF_CORRUPT', async (t) => {
  const dir = await tempDir(t);
  const { logger } = recordingLogger();
  const aof = await ShardAof.open(shardOptions(dir, logger));
  for (let i = 0; i < 50; i++) aof.append(rec(`key-${i}`, `value-${i}`));
  await aof.close();
  const file = await activeFile(dir);
  const size = (await stat(file)).size;
  const fh = await open(file, 'r+');
  const byte = Buffer.alloc(1);
  const at = Math.floor(size / 2);
  await fh.read(byte, 0, 1, at);
  byte[0]! ^= 0x10;
  await fh.write(byte, 0, 1, at);
  await fh.close();
  const again = await ShardAof.open(shardOptions(dir, logger));
  await t.rejects(
    again.replay(() => {}),
    { code: 'LALLY_ERR_AOF_CORRUPT', message: /lally aof check/ },
  );
  t.equal((await stat(file)).size, size, 'nothing was truncated');
  await again.close();
});

t.test('a bad record at the end of a sealed file is corruption, not a torn tail', async (t) => {
  const dir = await tempDir(t);
  const { logger } = recordingLogger();
  const aof = await ShardAof.open(shardOptions(dir, logger, { runRewrite: rewriteShardFiles }));
  for (let i = 0; i < 5; i++) aof.append(rec(`k${i}`, `v${i}`));
  await aof.flushed();
  await aof.rewriteNow();
  await aof.close();
  const layout = (await readLayout(dir))!;
  const manifest = (await readManifest(join(dir, layout.dir), 0))!;
  await appendFile(join(dir, layout.dir, manifest.base!), Buffer.alloc(10, 1));
  const again = await ShardAof.open(shardOptions(dir, logger));
  await t.rejects(
    again.replay(() => {}),
    { code: 'LALLY_ERR_AOF_CORRUPT' },
  );
  await again.close();
});

t.test('compaction keeps the newest record per key and tombstones, while writes go on', async (t) => {
  const dir = await tempDir(t);
  const { logger } = recordingLogger();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const aof = await ShardAof.open(
    shardOptions(dir, logger, {
      runRewrite: async (job) => {
        await gate; // hold the compaction open while writes continue
        return rewriteShardFiles(job);
      },
    }),
  );
  const expected = new Map<string, AofRecord>();
  const put = (r: AofRecord) => {
    aof.append(r);
    expected.set(r.key, r);
  };
  for (let round = 0; round < 20; round++) for (let k = 0; k < 50; k++) put(rec(`k${k}`, `r${round}`));
  for (let k = 0; k < 10; k++) put(rec(`k${k}`, '', 'REMOVE'));
  await aof.flushed();
  const before = Number(aof.stats().bytes);
  const compaction = aof.rewriteNow();
  const acks: Promise<void>[] = [];
  for (let k = 0; k < 200; k++) {
    put(rec(`new${k}`, `during-${k}`));
    if (k % 3 === 0) put(rec(`k${k % 50}`, `overwritten-during-${k}`));
    acks.push(aof.flushed());
    if (k === 100) release();
    if (k % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(acks);
  await compaction;
  t.equal(aof.stats().rewrites, 1);
  t.ok(Number(aof.stats().bytes) < before, `files shrank from ${before} to ${aof.stats().bytes}`);
  await aof.close();
  const names = await readdir(join(dir, (await readLayout(dir))!.dir));
  t.equal(names.filter((n) => n.includes('.base-')).length, 1, 'one base file');
  t.equal(names.filter((n) => n.includes('.incr-')).length, 1, 'one increment');
  const genDir = join(dir, (await readLayout(dir))!.dir);
  const manifest = (await readManifest(genDir, 0))!;
  const inBase = (await scanAofFile(join(genDir, manifest.base!))).records;
  t.equal(manifest.baseRecords, inBase, `the manifest counts the base's ${inBase} records`);
  t.equal(inBase, 50, 'one record per key of the sealed files');
  const again = await ShardAof.open(shardOptions(dir, logger));
  t.equal(again.expectedKeys(), 50, 'the replay expects them');
  const { records } = await replayAll(again);
  t.same(live(records), expected, 'nothing lost, newest wins');
  t.ok(
    records.some((r) => r.op === 'REMOVE'),
    'tombstones kept',
  );
  await again.close();
});

t.test('automatic compaction through the real piscina worker (dist build)', async (t) => {
  const dir = await tempDir(t);
  const { logger } = recordingLogger();
  const aof = await ShardAof.open(
    shardOptions(dir, logger, { fsync: 'no', rewriteMinSize: 64 * 1024, rewritePercentage: 100 }),
  );
  const expected = new Map<string, string>();
  for (let i = 0; i < 20_000; i++) {
    const key = `key-${i % 100}`;
    aof.append(rec(key, `value-${i}`));
    expected.set(key, `value-${i}`);
    if (i % 1000 === 0) await aof.sync();
  }
  await aof.sync();
  // Up to 60 s: starting the piscina worker took over 5 s once on a loaded CI machine (load ~20).
  const deadline = Date.now() + 60_000;
  while (Number(aof.stats().rewrites) === 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  t.ok(Number(aof.stats().rewrites) >= 1, 'a compaction ran by itself');
  await aof.close();
  const again = await ShardAof.open(shardOptions(dir, logger));
  const { records } = await replayAll(again);
  t.same(new Map([...live(records)].map(([k, r]) => [k, r.value])), expected);
  await again.close();
});

t.test('a crash at each compaction step leaves a complete, loadable state', async (t) => {
  for (const step of ['sealed', 'written', 'switched'] as const) {
    const dir = await tempDir(t);
    const { logger } = recordingLogger();
    const aof = await ShardAof.open(
      shardOptions(dir, logger, {
        runRewrite: rewriteShardFiles,
        onRewriteStep: (at) => {
          if (at === step) throw new Error(`simulated crash after ${step}`);
        },
      }),
    );
    const expected = new Map<string, string>();
    for (let i = 0; i < 500; i++) {
      aof.append(rec(`k${i % 40}`, `v${i}`));
      expected.set(`k${i % 40}`, `v${i}`);
    }
    await aof.flushed();
    await t.rejects(aof.rewriteNow(), /simulated crash/);
    aof.append(rec('after', 'crash'));
    expected.set('after', 'crash');
    await aof.flushed();
    // The "crashed" process keeps its files as they are; a new one opens them.
    if (step === 'written') {
      // A crash, unlike the abandoned rewrite above, would leave the new base behind: recreate one.
      const genDir = join(dir, (await readLayout(dir))!.dir);
      await writeFile(join(genDir, 'shard-0.base-99.aof'), 'half-written base');
    }
    const again = await ShardAof.open(shardOptions(dir, logger));
    const { records } = await replayAll(again);
    t.same(new Map([...live(records)].map(([k, r]) => [k, r.value])), expected, `crash after ${step}`);
    const names = await readdir(join(dir, (await readLayout(dir))!.dir));
    t.notOk(names.includes('shard-0.base-99.aof'), 'leftover removed');
    await again.close();
    await aof.close();
  }
});

t.test('a backlog past its limit makes writers wait until it is written out', async (t) => {
  const dir = await tempDir(t);
  const { logger } = recordingLogger();
  const aof = await ShardAof.open(
    shardOptions(dir, logger, { fsync: 'no', flushIntervalMs: 60_000, backlogLimitBytes: 4096 }),
  );
  await aof.replay(() => {});
  aof.append(rec('small', 'v'));
  t.equal(aof.backlogged(), undefined, 'under the limit: no promise, no wait');
  for (let i = 0; i < 200; i++) aof.append(rec(`k${i}`, 'x'.repeat(100)));
  t.ok(aof.backlogBytes >= 4096, 'the backlog passed the limit (the flush timer is far away)');
  const wait = aof.backlogged();
  t.ok(wait instanceof Promise, 'past the limit: a promise to wait for');
  await wait;
  t.ok(aof.backlogBytes < 2048, 'it resolves once the backlog is written out below half the limit');
  t.equal(aof.stats().backlogBytes, aof.backlogBytes);
  await aof.close();
  const again = await ShardAof.open(shardOptions(dir, logger, { fsync: 'no' }));
  const { records } = await again.replay(() => {});
  t.equal(records, 201, 'and everything was written');
  await again.close();
});

t.test('growth after a compaction is measured from the new base alone', async (t) => {
  const dir = await tempDir(t);
  const { logger } = recordingLogger();
  const aof = await ShardAof.open(shardOptions(dir, logger, { runRewrite: rewriteShardFiles }));
  await aof.replay(() => {});
  for (let i = 0; i < 50; i++) aof.append(rec('same-key', `version ${i}`));
  await aof.flushed();
  const compaction = aof.rewriteNow();
  // Writes during the compaction go to the new increment: they are not live data of the new base.
  for (let i = 0; i < 20; i++) aof.append(rec(`during-${i}`, 'x'.repeat(50)));
  await aof.flushed();
  await compaction;
  const stats = aof.stats();
  t.equal(stats.rewrites, 1);
  t.ok((stats.activeBytes as number) > 0, 'the increment holds the writes made meanwhile');
  t.equal(stats.sizeAfterLastRewrite, stats.baseAndSealedBytes, 'the next rewrite is due at twice the base');
  await aof.close();
});

// ---- a full disk (a real tmpfs: see test/fixtures/tmpfs.ts) -----------------------------------------

const noTmpfs = { skip: await tmpfsSkipReason() };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(10);
  }
}

/** One write with fsync always, as the engine makes it: append, then wait for the sync. */
async function write(aof: ShardAof, record: AofRecord): Promise<AofRecord> {
  aof.append(record);
  await aof.flushed();
  return record;
}

t.test(
  'disk full, fsync always: refused writes are never replayed, and writes resume by themselves',
  noTmpfs,
  async (t) => {
    const disk = await mountTmpfs(t, 1 << 20);
    const dataDir = join(disk, 'data');
    const { logger, lines } = recordingLogger();
    const aof = await ShardAof.open(shardOptions(dataDir, logger, { fsync: 'always' }));
    await aof.replay(() => {});
    const filler = await fillDisk(disk, 'filler', 64 * 1024);
    const acked: AofRecord[] = [];
    const refused: unknown[] = [];
    const refusedKeys = new Set<string>();
    // What a kill -9 right after the first error answer would leave: the files at that very moment.
    const snapshot = join(await tempDir(t), 'snapshot');
    let snapshotted = false;
    const onRefused = (error: unknown): never => {
      if (!snapshotted) cpSync(dataDir, snapshot, { recursive: true });
      snapshotted = true;
      throw error;
    };
    for (let round = 0; refused.length === 0 && round < 100; round++) {
      // Eight concurrent writers share each group commit; records span pages, so a write is torn.
      const batch = Array.from({ length: 8 }, (_, i) => rec(`k${round}-${i}`, 'v'.repeat(3000 + i)));
      const settled = await Promise.allSettled(batch.map((r) => write(aof, r).catch(onRefused)));
      for (const [i, result] of settled.entries()) {
        if (result.status === 'fulfilled') acked.push(result.value);
        else {
          refused.push(result.reason);
          refusedKeys.add(batch[i]!.key);
        }
      }
    }
    t.ok(acked.length > 0 && refused.length > 0, `${acked.length} acknowledged, ${refused.length} refused`);
    t.ok(
      refused.every((e) => (e as { code?: string }).code === 'LALLY_ERR_DISK_FULL'),
      'refused with LALLY_ERR_DISK_FULL',
    );
    t.throws(() => aof.append(rec('now', 'x')), { code: 'LALLY_ERR_DISK_FULL' }, 'new writes are refused');
    t.equal(aof.stats().failed, true);
    const copy = await ShardAof.open(shardOptions(snapshot, logger, { fsync: 'always' }));
    const early = await replayAll(copy);
    await copy.close();
    t.equal(early.result.truncatedBytes, 0, 'when the first error is answered, the file is already cut');
    t.notOk(
      early.records.some((r) => refusedKeys.has(r.key)),
      'and holds no refused record: a kill -9 then would not replay one',
    );
    // The disk stays full for a while. Each cut frees the torn bytes, so a write may fit now and then:
    // every write is acknowledged or refused, and each outage is logged once, not once per write.
    let refusedWhileFull = 0;
    const until300 = Date.now() + 300;
    for (let i = 0; Date.now() < until300; i++) {
      await write(aof, rec(`full-${i}`, 'w'.repeat(3000))).then(
        (r) => void acked.push(r),
        (e: { code?: string }) => {
          if (e.code === 'LALLY_ERR_DISK_FULL') refusedWhileFull++;
          else t.fail(`unexpected ${String(e)}`);
        },
      );
      await sleep(5);
    }
    t.ok(refusedWhileFull > 0, `${refusedWhileFull} more writes refused while the disk stayed full`);
    const errors = lines.filter((l) => l.level >= 50);
    t.equal(errors.length, aof.stats().outages, 'one error line per outage');
    t.ok(errors.length < refused.length + refusedWhileFull, 'not one per refused write');
    t.match(errors[0], { code: 'LALLY_ERR_DISK_FULL', cause: 'ENOSPC', msg: /disk holding .* is full/ });

    await unlink(filler);
    let resumed: AofRecord | undefined;
    await until('a write succeeds again', async () => {
      resumed = await write(aof, rec('after-space', 'back')).catch(() => undefined);
      return resumed !== undefined;
    });
    acked.push(resumed!);
    t.ok(
      lines.some((l) => l.msg.startsWith('AOF writes resumed')),
      'the recovery is logged',
    );
    t.equal(aof.stats().failed, false);
    await aof.close();

    const again = await ShardAof.open(shardOptions(dataDir, logger, { fsync: 'always' }));
    const { records, result } = await replayAll(again);
    t.equal(result.truncatedBytes, 0, 'the file ends at a record boundary: nothing torn');
    t.same(
      records.map((r) => r.key),
      acked.map((r) => r.key),
      'exactly the acknowledged writes come back, none of the refused ones',
    );
    await again.close();
  },
);

t.test(
  'disk full, fsync everysec: acknowledged writes stay buffered and are written once space returns',
  noTmpfs,
  async (t) => {
    const disk = await mountTmpfs(t, 1 << 20);
    const dataDir = join(disk, 'data');
    const { logger } = recordingLogger();
    const aof = await ShardAof.open(shardOptions(dataDir, logger, { fsync: 'everysec' }));
    await aof.replay(() => {});
    const filler = await fillDisk(disk, 'filler', 64 * 1024);
    const acked: AofRecord[] = [];
    let refusal: unknown;
    for (let i = 0; refusal === undefined && i < 2000; i++) {
      const r = rec(`e${i}`, 'v'.repeat(1000 + (i % 7)));
      try {
        aof.append(r);
        acked.push(r); // everysec: acknowledged at once
      } catch (e) {
        refusal = e;
      }
      if (i % 4 === 0) await sleep(1);
    }
    t.match(refusal, { code: 'LALLY_ERR_DISK_FULL' }, 'the AOF refuses new writes while the disk is full');
    t.ok(aof.backlogBytes > 0, 'the acknowledged records that did not fit are kept');
    await unlink(filler);
    await until('the backlog is written', () => !aof.stats().failed && aof.backlogBytes === 0);
    const last = rec('after', 'space');
    aof.append(last);
    acked.push(last);
    await aof.close();

    const again = await ShardAof.open(shardOptions(dataDir, logger, { fsync: 'everysec' }));
    const { records, result } = await replayAll(again);
    t.equal(result.truncatedBytes, 0, 'nothing torn');
    t.same(
      records.map((r) => r.key),
      acked.map((r) => r.key),
      'every acknowledged write, once, in order',
    );
    await again.close();
  },
);

t.test('close on a full disk is bounded, reports the loss, and leaves a whole file', noTmpfs, async (t) => {
  const disk = await mountTmpfs(t, 1 << 20);
  const dataDir = join(disk, 'data');
  const { logger } = recordingLogger();
  const aof = await ShardAof.open(shardOptions(dataDir, logger, { fsync: 'everysec' }));
  await aof.replay(() => {});
  const filler = await fillDisk(disk, 'filler', 64 * 1024);
  const acked: string[] = [];
  for (let i = 0; i < 2000; i++) {
    try {
      aof.append(rec(`c${i}`, 'v'.repeat(1000)));
      acked.push(`c${i}`);
    } catch {
      break;
    }
    if (i % 4 === 0) await sleep(1);
  }
  await t.rejects(aof.close(), { code: 'LALLY_ERR_DISK_FULL', message: /could not be written/ });
  await unlink(filler);
  const again = await ShardAof.open(shardOptions(dataDir, logger, { fsync: 'everysec' }));
  const { records, result } = await replayAll(again);
  t.equal(result.truncatedBytes, 0, 'no torn record: the file was cut back to a boundary');
  t.ok(records.length > 0 && records.length < acked.length, `${records.length} of ${acked.length} on disk`);
  t.same(
    records.map((r) => r.key),
    acked.slice(0, records.length),
    'a prefix of the writes, in order',
  );
  await again.close();
});

// ---- compaction out of file descriptors -------------------------------------------------------------

t.test(
  'a compaction that hits EMFILE leaves the live log writable and succeeds on a later retry',
  async (t) => {
    const fixture = repoPath('test/fixtures/aof-emfile-compaction.mjs');
    for (const step of ['seal', 'job']) {
      const dir = await tempDir(t);
      const { stdout, stderr, code } = await new Promise<{
        stdout: string;
        stderr: string;
        code: number | null;
      }>((resolve) => {
        execFile(process.execPath, [fixture, dir, step], { timeout: 40_000 }, (error, stdout, stderr) =>
          resolve({ stdout, stderr, code: error === null ? 0 : ((error as { code?: number }).code ?? null) }),
        );
      });
      t.equal(code, 0, `${step}: the process did not crash`, { stderr: stderr.slice(0, 600) });
      const found = JSON.parse(stdout.trim() || '{}') as {
        compaction?: string;
        writeErrorsWhileExhausted?: number;
        failedWhileExhausted?: boolean;
        missing?: number;
        written?: number;
        stats?: { rewrites: number; rewriteFailures: number; failed: boolean };
      };
      t.match(found.compaction, /^failed: .*EMFILE/, `${step}: the compaction failed on EMFILE`);
      t.equal(found.writeErrorsWhileExhausted, 0, `${step}: every write succeeded meanwhile`);
      t.equal(found.failedWhileExhausted, false, `${step}: the AOF did not fail`);
      t.ok((found.stats?.rewrites ?? 0) >= 1, `${step}: a later automatic compaction succeeded`);
      t.equal(found.missing, 0, `${step}: all ${found.written} writes replay`);
      const errorLines = stderr.split('\n').filter((l) => l.includes('"level":50'));
      t.ok(errorLines.length <= 2, `${step}: ${errorLines.length} error lines`);
    }
  },
);
