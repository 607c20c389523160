/**
 * Values as bytes on the write path (src/kv/value-input.ts): an AOF record written from a value's
 * UTF-8 bytes is byte for byte the record written from its string, and from the format as it was
 * before (upstream's files and this project's older files must keep loading); replay straight from
 * the encoded records leaves the store exactly as replay through decoded records does.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { AppendBuffer } from '../../src/aof/append-buffer.js';
import { encodeRecord } from '../../src/aof/format.js';
import { readLayout, readManifest } from '../../src/aof/layout.js';
import { ShardAof } from '../../src/aof/shard-aof.js';
import type { AofRecord, AofWrite } from '../../src/aof/types.js';
import { HybridLogicalClock } from '../../src/clock/hlc.js';
import { ShardEngine } from '../../src/shard/shard-engine.js';
import { ShardStore } from '../../src/store/shard-store.js';
import { shardOptions, tempDir } from '../fixtures/aof-helpers.js';

const silent = pino({ level: 'silent' });

const bytesOf = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'utf8'));
const asBytes = (r: AofRecord): AofWrite => ({ ...r, value: bytesOf(r.value) });

/** Records and their encoding by the encoder before values could be bytes (commit f4e1a73). */
const GOLDEN: readonly [AofRecord, string][] = [
  [
    { op: 'ADD', key: 'k', value: 'v', version: { wall: 1764633600000, counter: 3, node: 7 } },
    '170000001c16ca860100e05bdc9a0100000300000007000000010000006b76',
  ],
  [
    {
      op: 'ADD',
      key: 'ключ',
      value: 'héllo 🌍 \u{FEFF}x',
      version: { wall: 2 ** 40 + 5, counter: 0, node: 4294967295 },
    },
    '2d00000016edb64101050000000001000000000000ffffffff08000000d0bad0bbd18ed18768c3a96c6c6f20f09f8c8d20efbbbf78',
  ],
  [
    { op: 'REMOVE', key: 'gone', value: '', version: { wall: 1, counter: 65535, node: 1 } },
    '190000009bbb2a5a020100000000000000ffff00000100000004000000676f6e65',
  ],
  [
    { op: 'ADD', key: 'empty', value: '', version: { wall: 0, counter: 0, node: 0 } },
    '1a0000001bc8bea1010000000000000000000000000000000005000000656d707479',
  ],
];

t.test('a record encodes as before, from its value string or its bytes', async (t) => {
  for (const [record, hex] of GOLDEN) {
    t.equal(encodeRecord(record).toString('hex'), hex, `${record.key}: from the string`);
    t.equal(encodeRecord(asBytes(record)).toString('hex'), hex, `${record.key}: from the bytes`);
  }
});

/** `String.prototype.isWellFormed` (Node 20; not in the es2023 typings). */
const wellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/** Text of any code points, well-formed (the HTTP layer refuses lone surrogates). */
const text = (maxLength: number) => fc.string({ unit: 'binary', maxLength }).filter(wellFormed);

t.test('bytes and strings encode identically (random text and sizes)', async (t) => {
  fc.assert(
    fc.property(
      fc.constantFrom('ADD', 'REMOVE'),
      text(20),
      fc.oneof(
        text(50),
        text(3000),
        fc.nat(70_000).map((n) => 'é'.repeat(n)),
      ),
      fc.nat(2 ** 44),
      fc.nat(65535),
      fc.nat(0xffffffff),
      (op, key, value, wall, counter, node) => {
        const record: AofRecord = {
          op,
          key,
          value: op === 'ADD' ? value : '',
          version: { wall, counter, node },
        };
        return encodeRecord(record).equals(encodeRecord(asBytes(record)));
      },
    ),
    { numRuns: 200 },
  );
  t.pass('identical');
});

t.test('an append buffer holds the same bytes whichever form its values came in', async (t) => {
  const records: AofRecord[] = [];
  for (let i = 0; i < 40; i++) {
    // Values of up to 90 KiB: records cross the 256 KiB chunks at different points in each form.
    const value = i % 5 === 0 ? '' : `${'ü'.repeat(i * 1100)}${i}`;
    records.push({
      op: i % 7 === 3 ? 'REMOVE' : 'ADD',
      key: `key-${i}`,
      value,
      version: { wall: i, counter: 0, node: 1 },
    });
  }
  const strings = new AppendBuffer();
  const bytes = new AppendBuffer();
  for (const r of records) {
    strings.append(r);
    bytes.append(asBytes(r));
  }
  const out = (buffer: AppendBuffer) => {
    const parts: Buffer[] = [];
    buffer.takeInto(parts);
    return Buffer.concat(parts);
  };
  t.ok(out(strings).equals(out(bytes)));
});

async function activeFile(dataDir: string): Promise<string> {
  const layout = (await readLayout(dataDir))!;
  const manifest = (await readManifest(join(dataDir, layout.dir), 0))!;
  return join(dataDir, layout.dir, manifest.incrs.at(-1)!);
}

/** Writes `records` through an engine over a fresh AOF, as strings or as bytes; returns the AOF file. */
async function writeThroughEngine(
  t: Test,
  ops: readonly [string, string | undefined][],
  form: 'string' | 'bytes',
): Promise<Buffer> {
  const dir = await tempDir(t);
  const aof = await ShardAof.open(shardOptions(dir, silent, { fsync: 'no' }));
  await aof.replay(() => {});
  let now = 1_800_000_000_000;
  const clock = new HybridLogicalClock(5, () => now++);
  const engine = new ShardEngine({ shard: 0, store: new ShardStore(), clock, wal: aof });
  for (const [key, value] of ops) {
    if (value === undefined) await engine.remove(key);
    else await engine.put(key, form === 'string' ? value : bytesOf(value), form === 'string');
  }
  await aof.close();
  return readFile(await activeFile(dir));
}

t.test('the same operations give the same AOF file with values as bytes', async (t) => {
  const ops: [string, string | undefined][] = [
    ['a', 'one'],
    ['ключ', 'значение ✓'],
    ['a', ''],
    ['a', undefined],
    ['big', 'x'.repeat(300_000)],
    ['emoji 🌍', '\u{FEFF}bom kept'],
    ['big', undefined],
    ['never', undefined],
  ];
  const strings = await writeThroughEngine(t, ops, 'string');
  const bytes = await writeThroughEngine(t, ops, 'bytes');
  t.ok(strings.length > 300_000);
  t.ok(strings.equals(bytes), 'byte-identical files');
});

/** Everything a replay leaves behind that can be observed: entries in order, counts, digest, clock. */
function snapshot(engine: ShardEngine) {
  const entries = [...engine.store.entries()].map(([key, e]) => [key, e.value, e.tombstone, e.version]);
  return {
    entries,
    size: engine.store.size,
    tombstones: engine.store.tombstones,
    leaves: Buffer.from(engine.digest.leaves.buffer).toString('hex'),
    next: engine.clock.tick(),
  };
}

t.test('replay from encoded records equals replay from decoded ones', async (t) => {
  const op = fc.record({
    remove: fc.boolean(),
    key: fc.constantFrom('a', 'b', 'ключ', '🌍', 'c'),
    value: fc.oneof(text(8), text(400)),
    // Few distinct stamps, so that older records, equal stamps (the content tiebreak) and ties of a
    // delete with a value all happen.
    wall: fc.integer({ min: 1, max: 4 }),
    counter: fc.integer({ min: 0, max: 2 }),
    node: fc.integer({ min: 1, max: 2 }),
  });
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
      const dir = await tempDir(t, `lally-replay-${run++}-`);
      const aof = await ShardAof.open(shardOptions(dir, silent, { fsync: 'no' }));
      await aof.replay(() => {});
      for (const o of ops) {
        aof.append({
          op: o.remove ? 'REMOVE' : 'ADD',
          key: o.key,
          value: o.remove ? '' : o.value,
          version: { wall: o.wall, counter: o.counter, node: o.node },
        });
      }
      await aof.close();
      const engine = () =>
        new ShardEngine({
          shard: 0,
          store: new ShardStore(),
          clock: new HybridLogicalClock(9, () => 0),
          wal: undefined,
        });
      const decoded = engine();
      const encoded = engine();
      const first = await ShardAof.open(shardOptions(dir, silent, { fsync: 'no' }));
      const a = await first.replay((record) => decoded.applyRecord(record));
      await first.close();
      const second = await ShardAof.open(shardOptions(dir, silent, { fsync: 'no' }));
      const b = await second.replayEncoded((buf, offset) => encoded.applyEncodedRecord(buf, offset));
      await second.close();
      t.same(b, a, 'the same replay result (records, bytes, largest version)');
      t.same(snapshot(encoded), snapshot(decoded));
    }),
    { numRuns: 25 },
  );
});
