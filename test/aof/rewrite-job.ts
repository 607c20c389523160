import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { AofFileWriter } from '../../src/aof/file-writer.js';
import { decodeRecordAt, encodeRecord } from '../../src/aof/format.js';
import { rewriteShardFiles } from '../../src/aof/rewrite-job.js';
import { scanAofFile } from '../../src/aof/scan.js';
import type { AofRecord } from '../../src/aof/types.js';

function record(
  op: 'ADD' | 'REMOVE',
  key: string,
  value: string,
  wall: number,
  counter = 0,
  node = 1,
): AofRecord {
  return { op, key, value, version: { wall, counter, node } };
}

async function writeFile(
  dir: string,
  name: string,
  kind: 'base' | 'incr',
  records: AofRecord[],
): Promise<void> {
  const writer = await AofFileWriter.create(join(dir, name), { kind, shard: 0, shards: 1 });
  for (const r of records) await writer.appendRaw(encodeRecord(r));
  await writer.finish();
}

async function readAll(path: string): Promise<AofRecord[]> {
  const records: AofRecord[] = [];
  await scanAofFile(path, (buf, offset) => {
    records.push(decodeRecordAt(buf, offset));
  });
  return records;
}

t.test('compaction keeps exactly the newest record of every key, in two passes over the files', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'lally-rewrite-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(dir, 'base.aof', 'base', [
    record('ADD', 'a', 'a1', 100),
    record('ADD', 'b', 'b1', 100),
    record('ADD', 'tie', 'first', 500),
    record('ADD', 'late', 'newest', 900),
    record('ADD', 'tie-kept', 'zeta', 600),
    record('ADD', 'tie-delete', 'value', 700),
  ]);
  await writeFile(dir, 'incr-1.aof', 'incr', [
    record('ADD', 'a', 'a2', 200),
    record('REMOVE', 'b', '', 300),
    record('ADD', 'tie', 'second', 500), // equal versions: the greater value wins ('second' > 'first')
    record('ADD', 'tie-kept', 'alpha', 600), // ... wherever it is in the files ('zeta' > 'alpha')
    record('REMOVE', 'tie-delete', '', 700), // and a delete beats a value of the same version
    record('ADD', 'late', 'older, replicated late', 800), // older version: loses although later in the file
    record('ADD', 'big', 'x'.repeat(3 * 1024 * 1024), 400), // larger than the scan's 1 MiB chunk
  ]);
  await writeFile(dir, 'incr-2.aof', 'incr', [
    record('ADD', 'a', 'a3', 250, 1),
    record('ADD', 'c', 'c1', 50),
  ]);

  const result = await rewriteShardFiles({
    dir,
    inputs: ['base.aof', 'incr-1.aof', 'incr-2.aof'],
    output: 'base-2.aof',
    shard: 0,
    shards: 1,
  });
  t.equal(result.inputRecords, 15);
  t.equal(result.records, 8);
  const kept = await readAll(join(dir, 'base-2.aof'));
  t.equal(kept.length, 8, 'one record per key');
  const byKey = new Map(kept.map((r) => [r.key, r]));
  t.same(byKey.get('a'), record('ADD', 'a', 'a3', 250, 1));
  t.same(byKey.get('b'), record('REMOVE', 'b', '', 300), 'the tombstone is kept');
  t.equal(byKey.get('tie')?.value, 'second');
  t.equal(
    byKey.get('tie-kept')?.value,
    'zeta',
    'an equal version later in the files does not win by position',
  );
  t.equal(byKey.get('tie-delete')?.op, 'REMOVE');
  t.equal(byKey.get('late')?.value, 'newest');
  t.equal(byKey.get('big')?.value.length, 3 * 1024 * 1024, 'a record spanning scan chunks is copied whole');
  t.same(byKey.get('c'), record('ADD', 'c', 'c1', 50));
});

t.test('a scan checks every checksum unless told that a previous pass did', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'lally-scan-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(dir, 'f.aof', 'base', [record('ADD', 'k', 'value', 1)]);
  const path = join(dir, 'f.aof');
  const { open } = await import('node:fs/promises');
  const fh = await open(path, 'r+');
  const { size } = await fh.stat();
  // Flip one bit of the value (the last byte of the file): the body no longer matches its CRC.
  const last = Buffer.alloc(1);
  await fh.read(last, 0, 1, size - 1);
  last[0] = last[0]! ^ 0x01;
  await fh.write(last, 0, 1, size - 1);
  await fh.close();
  const verified = await scanAofFile(path);
  t.equal(verified.records, 0);
  t.ok(verified.bad, 'the default scan finds the damage');
  const trusted = await scanAofFile(path, undefined, { verifyChecksums: false });
  t.equal(trusted.records, 1, 'a scan that trusts the checksums does not look');
  t.equal(trusted.bad, undefined);
});

t.test('compaction leaves out the tombstones stamped before the grace cut, and so the key', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'lally-rewrite-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(dir, 'base.aof', 'base', [
    record('ADD', 'old-deleted', 'v', 100),
    record('ADD', 'new-deleted', 'v', 100),
    record('ADD', 'kept', 'v', 100),
  ]);
  await writeFile(dir, 'incr-1.aof', 'incr', [
    record('REMOVE', 'old-deleted', '', 200),
    record('REMOVE', 'new-deleted', '', 2000),
  ]);
  const result = await rewriteShardFiles({
    dir,
    inputs: ['base.aof', 'incr-1.aof'],
    output: 'base-2.aof',
    shard: 0,
    shards: 1,
    tombstonesBefore: 1000,
  });
  const kept = await readAll(join(dir, 'base-2.aof'));
  t.same(
    kept.map((r) => [r.op, r.key]).sort(),
    [
      ['ADD', 'kept'],
      ['REMOVE', 'new-deleted'],
    ],
    'the old tombstone and the value it deleted are gone; a young tombstone stays',
  );
  t.equal(result.records, 2);
});

t.test(
  'a compaction in parts (by ranges of the key hash) keeps the same records as one in a single part',
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'lally-rewrite-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const base: AofRecord[] = [];
    const incr: AofRecord[] = [];
    for (let i = 0; i < 400; i++) base.push(record('ADD', `key-${i}`, `v${i}`, 100 + i));
    for (let i = 0; i < 400; i += 3) incr.push(record('ADD', `key-${i}`, `w${i}`, 1000 + i));
    for (let i = 1; i < 400; i += 7) incr.push(record('REMOVE', `key-${i}`, '', i % 2 === 0 ? 900 : 5000));
    for (let i = 0; i < 50; i++) incr.push(record('ADD', `new-${i}`, 'n', 10));
    await writeFile(dir, 'base.aof', 'base', base);
    await writeFile(dir, 'incr-1.aof', 'incr', incr);
    const job = { dir, inputs: ['base.aof', 'incr-1.aof'], shard: 0, shards: 1, tombstonesBefore: 1000 };
    const whole = await rewriteShardFiles({ ...job, output: 'whole.aof' });
    const split = await rewriteShardFiles({ ...job, output: 'split.aof', partInputBytes: 1 });
    t.equal(whole.parts, 1);
    t.equal(split.parts, 16, 'at most 16 parts');
    t.equal(split.inputRecords, whole.inputRecords, 'input records counted once');
    t.equal(split.records, whole.records);
    const byKey = (records: AofRecord[]) => records.map((r) => JSON.stringify(r)).sort();
    const kept = byKey(await readAll(join(dir, 'whole.aof')));
    let dropped = 0; // the old tombstones that won: collected, so their keys leave the base
    for (let i = 1; i < 400; i += 7) if (i % 2 === 0 && i % 3 !== 0) dropped++;
    t.ok(dropped > 0);
    t.equal(kept.length, 400 + 50 - dropped);
    t.same(byKey(await readAll(join(dir, 'split.aof'))), kept);
  },
);
