import { appendFile, open, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t, { type Test } from 'tap';
import { runAofCommand } from '../../src/aof/cli.js';
import { prepareDataDir } from '../../src/aof/data-dir.js';
import { readLayout, readManifest } from '../../src/aof/layout.js';
import { ShardAof } from '../../src/aof/shard-aof.js';
import { shardOfKey } from '../../src/hash/key-hash.js';
import { rec, recordingLogger, shardOptions, tempDir } from '../fixtures/aof-helpers.js';

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  stdout.on('data', (c: Buffer) => chunks.stdout.push(c));
  stderr.on('data', (c: Buffer) => chunks.stderr.push(c));
  const code = await runAofCommand(args, { stdout, stderr });
  return {
    code,
    stdout: Buffer.concat(chunks.stdout).toString(),
    stderr: Buffer.concat(chunks.stderr).toString(),
  };
}

async function populated(t: Test, shards = 2) {
  const dir = await tempDir(t);
  const { logger } = recordingLogger();
  await (
    await prepareDataDir({ dataDir: dir, shards, fresh: false, replayLog: undefined, logger })
  ).release();
  const aofs = await Promise.all(
    Array.from({ length: shards }, (_, shard) => ShardAof.open(shardOptions(dir, logger, { shard, shards }))),
  );
  for (const aof of aofs) await aof.replay(() => {});
  for (let i = 0; i < 100; i++) {
    const key = `key ${i % 40} "q"`;
    aofs[shardOfKey(key, shards)]!.append(rec(key, `value = ${i} with "quotes"`));
  }
  aofs[shardOfKey('key 3 "q"', shards)]!.append(rec('key 3 "q"', '', 'REMOVE'));
  for (const aof of aofs) await aof.close();
  return dir;
}

async function activeOf(dir: string, shard: number) {
  const layout = (await readLayout(dir))!;
  const manifest = (await readManifest(join(dir, layout.dir), shard))!;
  return join(dir, layout.dir, manifest.incrs.at(-1)!);
}

t.test('usage errors exit 2', async (t) => {
  t.equal((await run([])).code, 2);
  t.equal((await run(['frobnicate'])).code, 2);
  t.equal((await run(['check'])).code, 2);
  t.equal((await run(['help'])).code, 0);
});

t.test('check reports OK files and the first bad offset', async (t) => {
  const dir = await populated(t);
  const ok = await run(['check', dir]);
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, /^OK {3}/m);
  const file = await activeOf(dir, 0);
  const size = (await stat(file)).size;
  await appendFile(file, Buffer.alloc(13, 0xab));
  const bad = await run(['check', dir]);
  t.equal(bad.code, 1);
  t.match(bad.stdout, new RegExp(`BAD  ${file}: first bad offset ${size} .*damaged tail`));
  t.equal((await run(['check', file])).code, 1, 'a single file too');
});

t.test('repair truncates a tail but refuses mid-file corruption without --force', async (t) => {
  const dir = await populated(t);
  const file = await activeOf(dir, 1);
  const size = (await stat(file)).size;
  await appendFile(file, Buffer.alloc(10, 7));
  const fixed = await run(['repair', dir]);
  t.equal(fixed.code, 0, fixed.stdout);
  t.equal((await stat(file)).size, size);
  // Flip a byte in the middle.
  const fh = await open(file, 'r+');
  await fh.write(Buffer.from([0xff]), 0, 1, Math.floor(size / 2));
  await fh.close();
  const refused = await run(['repair', file]);
  t.equal(refused.code, 1);
  t.match(refused.stdout, /mid-file corruption.*--force/s);
  t.equal((await stat(file)).size, size, 'nothing cut');
  const forced = await run(['repair', '--force', file]);
  t.equal(forced.code, 0);
  t.ok((await stat(file)).size < size);
  t.equal((await run(['check', dir])).code, 0);
});

t.test('dump prints readable records', async (t) => {
  const dir = await populated(t, 1);
  const { code, stdout } = await run(['dump', dir]);
  t.equal(code, 0);
  t.match(stdout, /# .*shard-0\.incr-2\.aof: incr file of shard 0\/1, format 1, key hash fnv1a32/);
  t.match(
    stdout,
    /\tADD\t2023-\d\d-\d\dT[^\t]+\t\d+\.0\.7\tkey="key 0 \\"q\\"" value="value = 0 with \\"quotes\\""/,
  );
  t.match(stdout, /\tREMOVE\t.*key="key 3 \\"q\\""\n/);
});

t.test('export then import round-trips the live data, into another shard count', async (t) => {
  const dir = await populated(t, 3);
  const out = join(dir, 'backup.jsonl');
  const exported = await run(['export', dir, '--out', out]);
  t.equal(exported.code, 0, exported.stderr);
  const lines = (await readFile(out, 'utf8')).trim().split('\n');
  t.equal(lines.length, 40, 'one line per live key');
  const tombstone = lines.map((l) => JSON.parse(l)).find((o) => o.key === 'key 3 "q"');
  t.same({ value: tombstone.value, tombstone: tombstone.tombstone }, { value: null, tombstone: true });
  const target = await tempDir(t);
  const imported = await run(['import', out, '--data-dir', target, '--shards', '2']);
  t.equal(imported.code, 0, imported.stderr);
  const again = await run(['export', target]);
  t.equal(again.stdout, await readFile(out, 'utf8'), 'same export from the imported directory');
  t.equal((await readLayout(target))!.shards, 2);
});

t.test('import accepts an upstream log and a project AOF file', async (t) => {
  const target = await tempDir(t);
  const log = join(target, '..', `${target.split('/').at(-1)}.log`);
  t.teardown(() => import('node:fs/promises').then((fs) => fs.rm(log, { force: true })));
  await writeFile(
    log,
    'timestamp=2024-12-30T10:15:00.123456789+00:00 operation=ADD level=INFO key="user:1" value="a b "c" d=e"\n',
  );
  t.equal((await run(['import', log, '--data-dir', target, '--shards', '1'])).code, 0);
  const exported = JSON.parse((await run(['export', target])).stdout);
  t.same(exported, {
    key: 'user:1',
    value: 'a b "c" d=e',
    version: `${Date.UTC(2024, 11, 30, 10, 15, 0, 123)}.456789.0`,
    tombstone: false,
  });
  const source = await populated(t, 1);
  const second = await tempDir(t);
  t.equal((await run(['import', await activeOf(source, 0), '--data-dir', second, '--shards', '2'])).code, 0);
  t.equal((await run(['export', second])).stdout, (await run(['export', source])).stdout);
});

t.test('import into a locked directory fails', async (t) => {
  const dir = await tempDir(t);
  const { logger } = recordingLogger();
  const held = await prepareDataDir({ dataDir: dir, shards: 1, fresh: false, replayLog: undefined, logger });
  const src = join(dir, 'x.jsonl');
  await writeFile(src, '');
  const result = await run(['import', src, '--data-dir', dir]);
  t.equal(result.code, 1);
  t.match(result.stderr, /LALLY_ERR_DATA_DIR_LOCKED/);
  await held.release();
});
