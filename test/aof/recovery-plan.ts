/**
 * Lost or wrong metadata must never make a start delete data (issue 7, item 3): the start refuses,
 * naming the files, `lally aof check` says the same (both use one plan), and `lally aof repair`
 * rebuilds the metadata from the files without losing a record.
 */
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t, { type Test } from 'tap';
import { runAofCommand } from '../../src/aof/cli.js';
import { prepareDataDir } from '../../src/aof/data-dir.js';
import {
  baseName,
  createIncrement,
  incrName,
  LAYOUT_FILE,
  manifestName,
  readLayout,
  readManifest,
  writeManifest,
} from '../../src/aof/layout.js';
import { planRecovery } from '../../src/aof/recovery-plan.js';
import { rewriteShardFiles } from '../../src/aof/rewrite-job.js';
import { ShardAof } from '../../src/aof/shard-aof.js';
import type { AofRecord } from '../../src/aof/types.js';
import { shardOfKey } from '../../src/hash/key-hash.js';
import { rec, recordingLogger, shardOptions, tempDir } from '../fixtures/aof-helpers.js';

const SHARDS = 2;

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await runAofCommand(args, { stdout, stderr });
  return { code, stdout: out, stderr: err };
}

/** What the daemon does at start: prepare the directory, then open and replay every shard. */
async function start(dataDir: string, shards = SHARDS): Promise<Map<string, AofRecord>> {
  const { logger } = recordingLogger();
  const prepared = await prepareDataDir({ dataDir, shards, fresh: false, replayLog: undefined, logger });
  try {
    const live = new Map<string, AofRecord>();
    for (let shard = 0; shard < shards; shard++) {
      const aof = await ShardAof.open(shardOptions(dataDir, logger, { shard, shards }));
      await aof.replay((r) => void live.set(r.key, r));
      await aof.close();
    }
    return live;
  } finally {
    await prepared.release();
  }
}

/** A data directory with `count` keys over both shards, a compaction's base and a sealed increment. */
async function populated(t: Test, count = 200): Promise<{ dir: string; genDir: string }> {
  const dir = await tempDir(t);
  await start(dir);
  const { logger } = recordingLogger();
  for (let round = 0; round < 2; round++) {
    const aofs: ShardAof[] = [];
    for (let shard = 0; shard < SHARDS; shard++) {
      // The compaction job runs in this thread (the daemon runs the same function in a piscina thread).
      const options = shardOptions(dir, logger, { shard, shards: SHARDS, runRewrite: rewriteShardFiles });
      const aof = await ShardAof.open(options);
      await aof.replay(() => {});
      aofs.push(aof);
    }
    for (let i = round * (count / 2); i < (round + 1) * (count / 2); i++) {
      const key = `key-${i}`;
      aofs[shardOfKey(key, SHARDS)]!.append(rec(key, `value-${i}`));
    }
    if (round === 0) for (const aof of aofs) await aof.rewriteNow();
    for (const aof of aofs) await aof.close();
  }
  const layout = (await readLayout(dir))!;
  return { dir, genDir: join(dir, layout.dir) };
}

async function filesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    if ((await stat(path)).isDirectory()) found.push(...(await filesUnder(path)));
    else if (name.endsWith('.aof')) found.push(path);
  }
  return found.sort();
}

/** The start refuses, deletes nothing; check exits 1 naming the file; repair brings every key back. */
async function refusesThenRepairs(t: Test, dir: string, expectedKeys: number, mention: RegExp) {
  const before = await filesUnder(dir);
  await t.rejects(
    start(dir),
    { code: 'LALLY_ERR_AOF_CORRUPT', message: /lally aof repair/ },
    'start refuses',
  );
  await t.rejects(start(dir), { message: mention }, 'naming what is wrong');
  t.same(await filesUnder(dir), before, 'no data file was deleted');
  const check = await run(['check', dir]);
  t.equal(check.code, 1, 'check exits 1 where start-up refuses');
  t.match(check.stdout, /REFUSE /);
  t.match(check.stdout, /start-up would REFUSE/);
  t.equal(check.stderr, '', 'check does not fail on its own');
  const repaired = await run(['repair', dir]);
  t.equal(repaired.code, 0, repaired.stdout + repaired.stderr);
  t.match(repaired.stdout, /rebuilt .* the old files are in /s);
  const live = await start(dir);
  t.equal(live.size, expectedKeys, 'every key is back after repair');
  const after = await run(['check', dir]);
  t.equal(after.code, 0, after.stdout);
  t.match(after.stdout, /start-up would start\n$/);
}

t.test('a brand-new or empty data directory starts normally', async (t) => {
  const dir = await tempDir(t);
  const check = await run(['check', dir]);
  t.equal(check.code, 0, check.stdout);
  t.equal((await start(dir)).size, 0);
  t.equal((await start(dir)).size, 0, 'and again');
  t.equal((await run(['check', dir])).code, 0);
});

t.test('a lost aof-layout.json: refuse, keep the files, repair rebuilds', async (t) => {
  const { dir } = await populated(t);
  t.equal((await start(dir)).size, 200);
  await rm(join(dir, LAYOUT_FILE));
  await refusesThenRepairs(t, dir, 200, /no aof-layout\.json/);
});

t.test("a lost shard manifest: refuse, keep the shard's files, repair rebuilds", async (t) => {
  const { dir, genDir } = await populated(t);
  await rm(join(genDir, manifestName(1)));
  await refusesThenRepairs(t, dir, 200, /shard-1\.aof\.manifest is missing/);
});

t.test('a layout naming a missing directory: refuse, delete nothing, repair rebuilds', async (t) => {
  const { dir } = await populated(t);
  const layout = JSON.parse(await readFile(join(dir, LAYOUT_FILE), 'utf8'));
  await writeFile(join(dir, LAYOUT_FILE), JSON.stringify({ ...layout, dir: 'aof-9' }));
  await refusesThenRepairs(t, dir, 200, /names the generation directory aof-9, which does not exist/);
});

t.test('a missing increment: refuse (not a 0-byte torn tail), check says so instead of ENOENT', async (t) => {
  const { dir, genDir } = await populated(t);
  const manifest = (await readManifest(genDir, 0))!;
  const lost = manifest.incrs.at(-1)!;
  // Keys of shard 0 whose records are in the lost file cannot come back; all others must.
  const all = await start(dir);
  const { lostKeys } = await (async () => {
    const { scanAofFile } = await import('../../src/aof/scan.js');
    const { decodeKeyAt } = await import('../../src/aof/format.js');
    const keys = new Set<string>();
    await scanAofFile(join(genDir, lost), (buf, offset) => void keys.add(decodeKeyAt(buf, offset)));
    return { lostKeys: keys };
  })();
  t.ok(lostKeys.size > 0, 'the lost increment held records');
  await rm(join(genDir, lost));
  await refusesThenRepairs(t, dir, all.size - lostKeys.size, /named by shard-0\.aof\.manifest but missing/);
});

t.test('leftovers proven redundant are deleted; unnamed data files of other ages refuse', async (t) => {
  const { dir, genDir } = await populated(t);
  const manifest = (await readManifest(genDir, 0))!;
  // Above the manifest's seq: an interrupted seal's increment (a header only).
  const interrupted = incrName(0, manifest.seq + 1);
  await createIncrement(genDir, interrupted, 0, SHARDS);
  // Below the base's seq: an input of the compaction that wrote the base.
  const compacted = baseName(0, 0);
  await createIncrement(genDir, compacted, 0, SHARDS);
  await writeFile(join(genDir, `.${manifestName(0)}.1-ab.tmp`), '{"half');
  const plan = await planRecovery(dir);
  t.same(plan.problems, []);
  t.same(
    plan.deletions.map((d) => d.path.split('/').at(-1)).sort(),
    [interrupted, compacted, `.${manifestName(0)}.1-ab.tmp`].sort(),
  );
  const check = await run(['check', dir]);
  t.equal(check.code, 0, 'deleting leftovers is not damage');
  t.match(check.stdout, new RegExp(`LEFT .*${interrupted.replace(/\./g, '\\.')}: start-up deletes it`));
  t.equal((await start(dir)).size, 200);
  t.notOk((await readdir(genDir)).includes(interrupted), 'deleted at start');

  // The increment the base's compaction sealed, unnamed (a manifest edited by hand): nothing proves it
  // redundant, so the start refuses instead of deleting it.
  const manifestNow = (await readManifest(genDir, 0))!;
  const baseSeq = Number(/base-(\d+)/.exec(manifestNow.base!)![1]);
  const named = manifestNow.incrs[0]!;
  t.equal(named, incrName(0, baseSeq - 1), 'the increment sealed by the compaction follows the base');
  const other = incrName(0, manifestNow.seq + 1);
  await createIncrement(genDir, other, 0, SHARDS);
  await writeManifest(genDir, { ...manifestNow, seq: manifestNow.seq + 1, incrs: [other] });
  await t.rejects(start(dir), {
    message: new RegExp(`${named.replace(/\./g, '\\.')}: a data file of shard 0 that`),
  });
  t.ok((await readdir(genDir)).includes(named), 'kept');
});

t.test(
  'generation directories: older ones and uncommitted ones go, unaccounted newer ones refuse',
  async (t) => {
    const { dir } = await populated(t);
    const layout = (await readLayout(dir))!;
    const current = Number(layout.dir.slice(4));
    await mkdir(join(dir, `aof-${current - 1}`), { recursive: true });
    await writeFile(join(dir, `aof-${current - 1}`, 'shard-0.base-1.aof'), 'superseded');
    await mkdir(join(dir, 'aof-50'));
    await writeFile(join(dir, 'aof-50', 'shard-1.incr-2.aof'), 'no marker: could be anyone');
    await t.rejects(start(dir), { message: /aof-50\/shard-1\.incr-2\.aof: data files of a generation/ });
    t.ok(
      (await readdir(dir)).includes(`aof-${current - 1}`),
      'a refused start deletes nothing, not even superseded',
    );
    await rm(join(dir, 'aof-50'), { recursive: true });
    t.equal((await start(dir)).size, 200);
    t.notOk((await readdir(dir)).includes(`aof-${current - 1}`), 'the superseded generation is gone');
  },
);

t.test('export refuses a directory whose files are not all accounted for', async (t) => {
  const { dir, genDir } = await populated(t);
  await rm(join(genDir, manifestName(0)));
  const exported = await run(['export', dir]);
  t.equal(exported.code, 1);
  t.match(exported.stderr, /LALLY_ERR_AOF_CORRUPT/);
});

t.test('ShardAof.open on its own (no prepareDataDir) refuses the same cases', async (t) => {
  const { dir, genDir } = await populated(t);
  const { logger } = recordingLogger();
  const open = (shard: number) => ShardAof.open(shardOptions(dir, logger, { shard, shards: SHARDS }));
  const manifest = (await readManifest(genDir, 1))!;
  await rm(join(genDir, manifest.incrs.at(-1)!));
  await t.rejects(open(1), { code: 'LALLY_ERR_AOF_CORRUPT', message: /but missing/ }, 'a lost increment');
  t.notOk((await readdir(genDir)).includes(manifest.incrs.at(-1)!), 'not recreated empty');
  await rm(join(dir, LAYOUT_FILE));
  await t.rejects(
    open(0),
    { code: 'LALLY_ERR_AOF_CORRUPT', message: /but no aof-layout\.json/ },
    'a lost layout',
  );
  t.notOk((await readdir(dir)).includes(LAYOUT_FILE), 'no layout invented over the old files');
});
