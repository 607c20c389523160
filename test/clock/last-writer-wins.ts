import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { AofFileWriter } from '../../src/aof/file-writer.js';
import { decodeRecordAt, encodeRecord } from '../../src/aof/format.js';
import { rewriteShardFiles } from '../../src/aof/rewrite-job.js';
import { scanAofFile } from '../../src/aof/scan.js';
import type { AofRecord } from '../../src/aof/types.js';
import type { Version } from '../../src/clock/hlc.js';
import { compareUtf8, supersedes, supersedesEncoded } from '../../src/clock/last-writer-wins.js';
import { ShardStore } from '../../src/store/shard-store.js';

const v = (wall: number, counter = 0, node = 1): Version => ({ wall, counter, node });

t.test(
  'the version decides; a tie goes to a delete, then to the greater value; equal writes do not',
  async (t) => {
    t.ok(supersedes(v(2), false, 'a', v(1), true, 'z'), 'newer wins whatever the content');
    t.notOk(supersedes(v(1), true, 'z', v(2), false, 'a'), 'older loses whatever the content');
    t.ok(supersedes(v(5), true, '', v(5), false, 'value'), 'a delete beats a value of the same version');
    t.notOk(supersedes(v(5), false, 'value', v(5), true, ''));
    t.ok(supersedes(v(5), false, 'b', v(5), false, 'a'));
    t.notOk(supersedes(v(5), false, 'a', v(5), false, 'b'));
    t.notOk(supersedes(v(5), false, 'same', v(5), false, 'same'), 'the same write twice changes nothing');
    t.notOk(supersedes(v(5), true, '', v(5), true, ''));
  },
);

t.test('strings compare in UTF-8 byte order, as compaction compares the encoded bytes', async (t) => {
  const samples = [
    '',
    'a',
    'ab',
    'b',
    '\u00e9',
    '\u07ff',
    '\u0800',
    '\ud7ff',
    '\ue000',
    '\uffff',
    '😀',
    '😀a',
    '𐀀',
  ];
  for (const a of samples) {
    for (const b of samples) {
      const bytes = Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b)));
      t.equal(Math.sign(compareUtf8(a, b)), bytes, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      t.equal(
        supersedes(v(1), false, a, v(1), false, b),
        supersedesEncoded(v(1), false, Buffer.from(a), v(1), false, Buffer.from(b)),
      );
    }
  }
});

/** A seeded generator (mulberry32), so a failure reproduces. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function replay(records: readonly AofRecord[]): Map<string, string> {
  const store = new ShardStore();
  for (const r of records) {
    if (r.op === 'ADD') store.put(r.key, r.value, r.version);
    else store.remove(r.key, r.version);
  }
  const out = new Map<string, string>();
  for (const [key, entry] of store.entries()) out.set(key, entry.tombstone ? '<deleted>' : entry.value);
  return out;
}

t.test('replay in any order and compaction agree on every key (random records, many ties)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'lally-lww-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (let seed = 1; seed <= 20; seed++) {
    const random = prng(seed);
    const records: AofRecord[] = Array.from({ length: 60 }, () => {
      const remove = random() < 0.25;
      return {
        op: remove ? 'REMOVE' : 'ADD',
        key: `k${Math.floor(random() * 5)}`,
        value: remove ? '' : ['x', 'y', 'é', '\ue000', '😀'][Math.floor(random() * 5)]!,
        // Few distinct stamps: most keys see ties.
        version: v(Math.floor(random() * 3), 0, 1 + Math.floor(random() * 2)),
      };
    });
    const forward = replay(records);
    t.same(replay([...records].reverse()), forward, `seed ${seed}: replay does not depend on the order`);

    const writer = await AofFileWriter.create(join(dir, `in-${seed}.aof`), {
      kind: 'base',
      shard: 0,
      shards: 1,
    });
    for (const r of records) await writer.appendRaw(encodeRecord(r));
    await writer.finish();
    await rewriteShardFiles({
      dir,
      inputs: [`in-${seed}.aof`],
      output: `out-${seed}.aof`,
      shard: 0,
      shards: 1,
    });
    const compacted: AofRecord[] = [];
    await scanAofFile(join(dir, `out-${seed}.aof`), (buf, offset) => {
      compacted.push(decodeRecordAt(buf, offset));
    });
    t.same(replay(compacted), forward, `seed ${seed}: compaction keeps what replay keeps`);
  }
});
