/**
 * Salvage (issue 7, item 10): a damaged file header, or damage in the middle of a file, is reported with
 * the offset of the valid records behind it, and `repair --force` rewrites the file keeping all of them.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { runAofCommand } from '../../src/aof/cli.js';
import { prepareDataDir } from '../../src/aof/data-dir.js';
import { decodeKeyAt } from '../../src/aof/format.js';
import { readLayout, readManifest } from '../../src/aof/layout.js';
import { rewriteShardFiles } from '../../src/aof/rewrite-job.js';
import { salvageRecords } from '../../src/aof/salvage.js';
import { scanAofFile } from '../../src/aof/scan.js';
import { ShardAof } from '../../src/aof/shard-aof.js';
import { buildFile, recordOfSize, writeBuiltFile } from '../fixtures/aof-files.js';
import { rec, recordingLogger, shardOptions, tempDir } from '../fixtures/aof-helpers.js';

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

t.test('a bad header: the scan points at the records after it', async (t) => {
  const dir = await tempDir(t);
  const file = buildFile([recordOfSize(0, 40), recordOfSize(1, 50)]);
  const path = join(dir, 'x.aof');
  const bytes = Buffer.from(file.bytes);
  bytes[20] = bytes[20]! ^ 1; // inside the key hash name: the header checksum fails
  await writeFile(path, bytes);
  const result = await scanAofFile(path);
  t.same(result.bad && { ...result.bad }, {
    offset: 0,
    reason: 'header checksum mismatch',
    kind: 'mid',
    nextValidOffset: file.offsets[0],
  });
  const salvaged = await salvageRecords(path, () => {});
  t.equal(salvaged.records, 2);
  t.same(salvaged.skipped, [{ offset: 0, bytes: file.offsets[0], reason: 'header checksum mismatch' }]);
});

t.test('damage in the middle: repair --force keeps the records on both sides', async (t) => {
  const dir = await tempDir(t);
  const file = buildFile(Array.from({ length: 10 }, (_, i) => recordOfSize(i, 70)));
  const path = join(dir, 'shard-0.incr-1.aof');
  const bytes = Buffer.from(file.bytes);
  const flip = file.offsets[4]! + 40;
  bytes[flip] = bytes[flip]! ^ 0x10;
  await writeFile(path, bytes);
  const refused = await run(['repair', path]);
  t.equal(refused.code, 1);
  const forced = await run(['repair', '--force', path]);
  t.equal(forced.code, 0, forced.stdout);
  t.match(forced.stdout, /rewritten with 9 valid records and a good header; 70 damaged bytes cut out/);
  const keys: string[] = [];
  const after = await scanAofFile(path, (buf, offset) => void keys.push(decodeKeyAt(buf, offset)));
  t.equal(after.bad, undefined);
  t.same(keys, ['k0', 'k1', 'k2', 'k3', 'k5', 'k6', 'k7', 'k8', 'k9']);
});

t.test(
  'a damaged header: check names the offset of the records after it, repair --force keeps them',
  async (t) => {
    const dir = await tempDir(t);
    const records = Array.from({ length: 30 }, (_, i) => recordOfSize(i, 60 + i));
    const file = buildFile(records);
    const damaged = join(dir, 'shard-0.base-1.aof');
    const bytes = Buffer.from(file.bytes);
    bytes[3] = bytes[3]! ^ 0xff; // inside the magic
    await writeFile(damaged, bytes);
    // A sound sibling tells repair the shard count the damaged header no longer holds.
    await writeBuiltFile(
      join(dir, 'shard-1.incr-2.aof'),
      buildFile([recordOfSize(99, 50)], file.bytes.subarray(0, 31)),
    );

    const check = await run(['check', damaged]);
    t.equal(check.code, 1);
    t.notMatch(check.stdout, /undefined/);
    t.match(check.stdout, new RegExp(`damaged header: valid records follow at offset ${file.offsets[0]}`));

    const plain = await run(['repair', dir]);
    t.equal(plain.code, 1, 'without --force: refused');
    t.same(await readFile(damaged), bytes, 'and untouched');

    const forced = await run(['repair', '--force', dir]);
    t.equal(forced.code, 0, forced.stdout + forced.stderr);
    t.match(forced.stdout, /rewritten with 30 valid records and a good header/);
    const dump = await run(['dump', damaged]);
    t.equal(dump.code, 0, dump.stdout);
    t.match(dump.stdout, /^# .*base file of shard 0\/1/);
    for (const record of records)
      t.match(dump.stdout, new RegExp(`key="${record.key}" `), `${record.key} kept`);
    t.equal((await run(['check', dir])).code, 0, 'the folder checks clean');
  },
);

t.test(
  'a data directory whose sealed base has a damaged header: the start refuses, repair --force keeps every record',
  async (t) => {
    const dir = await tempDir(t);
    const { logger } = recordingLogger();
    const start = async () => {
      const prepared = await prepareDataDir({
        dataDir: dir,
        shards: 1,
        fresh: false,
        replayLog: undefined,
        logger,
      });
      try {
        const aof = await ShardAof.open(shardOptions(dir, logger, { runRewrite: rewriteShardFiles }));
        const keys = new Map<string, string>();
        await aof.replay((r) => void keys.set(r.key, r.value));
        return { aof, keys };
      } finally {
        await prepared.release();
      }
    };
    const first = await start();
    for (let i = 0; i < 40; i++) first.aof.append(rec(`key-${i}`, `value-${i}`));
    await first.aof.rewriteNow(); // the 40 records now live in a sealed base
    first.aof.append(rec('after', 'the compaction'));
    await first.aof.close();
    const genDir = join(dir, (await readLayout(dir))!.dir);
    const base = join(genDir, (await readManifest(genDir, 0))!.base!);
    const bytes = await readFile(base);
    bytes[9] = bytes[9]! ^ 0x40; // the format version: the header is refused
    await writeFile(base, bytes);

    await t.rejects(start(), { code: 'LALLY_ERR_AOF_CORRUPT', message: /valid records follow at offset 31/ });
    const check = await run(['check', dir]);
    t.equal(check.code, 1);
    t.match(check.stdout, /damaged header: valid records follow at offset 31/);
    t.match(check.stdout, /start-up would REFUSE/);
    const forced = await run(['repair', '--force', dir]);
    t.equal(forced.code, 0, forced.stdout + forced.stderr);
    const again = await start();
    await again.aof.close();
    t.equal(again.keys.size, 41, 'every record is back, behind a good header');
    t.equal(again.keys.get('key-39'), 'value-39');
  },
);
