import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { readManifest } from '../../src/aof/layout.js';
import { openNextIncrement, openShardFiles, sealedBytesOf } from '../../src/aof/shard-files.js';
import { recordingLogger, tempDir } from '../fixtures/aof-helpers.js';

t.test('a shard without files gets its first increment; the next one seals it', async (t) => {
  const dataDir = await tempDir(t);
  const { logger } = recordingLogger();
  const o = { dataDir, shard: 0, shards: 1, logger };
  const first = await openShardFiles(o);
  t.ok(first.fresh);
  t.same(first.manifest.incrs, ['shard-0.incr-1.aof']);
  t.same(await readManifest(first.genDir, 0), first.manifest, 'the manifest is on disk');
  await first.fh.write(Buffer.alloc(100, 1));
  await first.fh.datasync();
  t.equal(await sealedBytesOf(first.genDir, first.manifest), 0, 'the active file is not sealed');

  const next = await openNextIncrement(first.genDir, first.manifest, 0, 1);
  await first.fh.close();
  t.same(next.manifest.incrs, ['shard-0.incr-1.aof', 'shard-0.incr-2.aof']);
  t.equal(next.manifest.seq, 2);
  t.same(await readManifest(first.genDir, 0), next.manifest, 'switched on disk');
  const headerBytes = (await next.fh.stat()).size;
  t.ok(headerBytes > 0, 'the new increment has its header');
  const sealed = (await stat(join(first.genDir, 'shard-0.incr-1.aof'))).size;
  t.equal(await sealedBytesOf(first.genDir, next.manifest), sealed);
  await next.fh.close();

  // Reopened: not fresh, appending to the newest increment.
  const again = await openShardFiles(o);
  t.notOk(again.fresh);
  t.same(again.manifest, next.manifest);
  t.equal((await again.fh.stat()).size, headerBytes);
  await again.fh.close();
  t.same((await readdir(first.genDir)).filter((n) => n.endsWith('.aof')).sort(), [
    'shard-0.incr-1.aof',
    'shard-0.incr-2.aof',
  ]);
});

t.test('a data directory laid out for another shard count is refused', async (t) => {
  const dataDir = await tempDir(t);
  const { logger } = recordingLogger();
  const files = await openShardFiles({ dataDir, shard: 0, shards: 2, logger });
  await files.fh.close();
  await t.rejects(openShardFiles({ dataDir, shard: 0, shards: 3, logger }), {
    code: 'LALLY_ERR_AOF_CORRUPT',
  });
});

t.test("a manifest's base record count is optional, and a count when present", async (t) => {
  const dir = await tempDir(t);
  const manifest = {
    format: 1,
    shard: 0,
    shards: 1,
    seq: 2,
    base: 'shard-0.base-1.aof',
    incrs: ['shard-0.incr-2.aof'],
  };
  await writeFile(join(dir, 'shard-0.aof.manifest'), JSON.stringify(manifest));
  t.equal((await readManifest(dir, 0))!.baseRecords, undefined, 'a manifest without it (before this field)');
  await writeFile(join(dir, 'shard-0.aof.manifest'), JSON.stringify({ ...manifest, baseRecords: 12 }));
  t.equal((await readManifest(dir, 0))!.baseRecords, 12);
  for (const bad of [-1, 1.5, '12', null]) {
    await writeFile(join(dir, 'shard-0.aof.manifest'), JSON.stringify({ ...manifest, baseRecords: bad }));
    await t.rejects(
      readManifest(dir, 0),
      { code: 'LALLY_ERR_AOF_CORRUPT' },
      `baseRecords ${JSON.stringify(bad)}`,
    );
  }
});
