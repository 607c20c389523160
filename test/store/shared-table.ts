// The shared table against a Map model (fast-check), its size classes, growth and reuse of freed blocks.
import fc from 'fast-check';
import t from 'tap';
import type { Version } from '../../src/clock/hlc.js';
import { supersedes } from '../../src/clock/last-writer-wins.js';
import { ErrorCodes } from '../../src/errors.js';
import { ShardStore } from '../../src/store/shard-store.js';
import { CLASS_BYTES, classOf, MAX_BLOCK_BYTES } from '../../src/store/size-classes.js';
import { HEADER_BYTES, INITIAL_CAPACITY, tableHash, Utf8Buffer } from '../../src/store/table-layout.js';
import { ReadStatus, TableReader } from '../../src/store/table-reader.js';

interface ModelEntry {
  value: string;
  version: Version;
  tombstone: boolean;
}

/** What a reader in another thread would see (here on the same thread, after the write). */
function readAcross(reader: TableReader, key: string): ModelEntry | undefined {
  const k = new Utf8Buffer().encode(key);
  const status = reader.read(k.bytes, k.length, tableHash(k.bytes, k.length));
  if (status === ReadStatus.CONTENDED) throw new Error('a read with no writer running gave up');
  if (status === ReadStatus.MISSING) return undefined;
  const { value, wall, counter, node, tombstone } = reader;
  return { value, version: { wall, counter, node }, tombstone };
}

t.test('size classes: multiples of 8, ascending, and the smallest that fits', async (t) => {
  let previous = 0;
  for (const size of CLASS_BYTES) {
    if (size % 8 !== 0 || size <= previous) t.fail(`class of ${size} bytes after ${previous}`);
    previous = size;
  }
  t.ok(CLASS_BYTES.length <= 256, 'a class fits the 8 bits of the entry header');
  t.equal(CLASS_BYTES.at(-1), MAX_BLOCK_BYTES);
  let wrong = 0;
  const probes = [0, 1, MAX_BLOCK_BYTES];
  for (const size of CLASS_BYTES.slice(0, 120)) probes.push(size - 1, size, size + 1);
  for (const bytes of probes) {
    if (bytes > MAX_BLOCK_BYTES) continue;
    const c = classOf(bytes);
    if (CLASS_BYTES[c]! < bytes || (c > 0 && CLASS_BYTES[c - 1]! >= bytes)) wrong++;
  }
  t.equal(wrong, 0, 'classOf is the smallest class that holds each size, at and around every boundary');
  // The slack bound above the linear part: at most 1/8 of a block.
  for (let c = 16; c < CLASS_BYTES.length; c++) {
    if (CLASS_BYTES[c]! - CLASS_BYTES[c - 1]! > CLASS_BYTES[c]! / 8) t.fail(`class ${c} too coarse`);
  }
});

// Keys from a small set (so writes meet), values whose entry sizes straddle class boundaries.
const keyArb = fc.constantFrom('a', 'b', 'key-3', '', 'ключ🔑', 'k'.repeat(70));
const lengthArb = fc.oneof(
  fc.integer({ min: 0, max: 300 }),
  fc.constantFrom(...CLASS_BYTES.slice(0, 24).flatMap((s) => [s - HEADER_BYTES - 1, s - HEADER_BYTES - 2])),
);
const valueArb = fc
  .tuple(lengthArb, fc.constantFrom('x', 'é', '€', '🔒'))
  .map(([length, char]) => char.repeat(Math.max(0, Math.floor(length / Buffer.byteLength(char)))));
const versionArb = fc.record({
  wall: fc.integer({ min: 1, max: 6 }),
  counter: fc.constantFrom(0, 1, 0xffffffff),
  node: fc.constantFrom(1, 2, 0xffffffff),
});
const opArb = fc.oneof(
  fc.record({ op: fc.constant('put' as const), key: keyArb, value: valueArb, version: versionArb }),
  fc.record({ op: fc.constant('remove' as const), key: keyArb, value: fc.constant(''), version: versionArb }),
);

t.test('random puts and removes agree with a Map model, seen by the owner and by a reader', async (t) => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 120 }), (ops) => {
      const store = new ShardStore();
      const reader = new TableReader(store.table.buffers);
      const model = new Map<string, ModelEntry>();
      for (const { op, key, value, version } of ops) {
        const tombstone = op === 'remove';
        const current = model.get(key);
        const wins =
          current === undefined ||
          supersedes(version, tombstone, value, current.version, current.tombstone, current.value);
        const expected = wins
          ? {
              applied: true,
              previous: current === undefined || current.tombstone ? undefined : current.value,
            }
          : { applied: false, previous: undefined };
        if (wins) model.set(key, { value, version, tombstone });
        const outcome = tombstone ? store.remove(key, version) : store.put(key, value, version);
        if (outcome.applied !== expected.applied || outcome.previous !== expected.previous) return false;
      }
      const live = [...model.values()].filter((e) => !e.tombstone).length;
      if (store.size !== live || store.tombstones !== model.size - live) return false;
      for (const [key, want] of model) {
        const entry = store.getWithTombstone(key);
        const got = entry && { value: entry.value, version: entry.version, tombstone: entry.tombstone };
        if (JSON.stringify(got) !== JSON.stringify(want)) return false;
        if (JSON.stringify(readAcross(reader, key)) !== JSON.stringify(want)) return false;
        if ((store.get(key) === undefined) !== want.tombstone) return false;
      }
      const listed = [...store.entries()].map(([key]) => key);
      // entries() is in first-write order, as the Map's insertion order.
      return JSON.stringify(listed) === JSON.stringify([...model.keys()]);
    }),
    { numRuns: 300 },
  );
  t.pass('300 random op mixes');
});

t.test('growth: the index rehashes and the arena grows; every key stays readable', async (t) => {
  const store = new ShardStore();
  const reader = new TableReader(store.table.buffers);
  const keys = 40_000;
  const arenaStart = store.table.buffers.arena.byteLength;
  for (let i = 0; i < keys; i++)
    store.put(`key-${i}`, `value-${i}-${'v'.repeat(i % 90)}`, { wall: 1, counter: i, node: 1 });
  t.ok(store.table.capacity > INITIAL_CAPACITY && store.table.capacity * 0.75 >= keys, 'the index grew');
  t.ok(store.table.buffers.arena.byteLength > arenaStart, 'the arena grew');
  let wrong = 0;
  for (let i = 0; i < keys; i++) {
    const want = `value-${i}-${'v'.repeat(i % 90)}`;
    if (store.get(`key-${i}`)?.value !== want || readAcross(reader, `key-${i}`)?.value !== want) wrong++;
  }
  t.equal(wrong, 0, `all ${keys} keys read back by the owner and by a reader`);
  t.equal(readAcross(reader, 'key-absent'), undefined);
  t.equal(store.size, keys);
});

t.test(
  'reserve sizes the index as writing that many keys would, and the keys then fit without a rehash',
  async (t) => {
    for (const keys of [0, 1, 768, 769, 5_000, 40_000]) {
      const grown = new ShardStore();
      for (let i = 0; i < keys; i++) grown.put(`key-${i}`, 'v', { wall: 1, counter: i, node: 1 });
      const reserved = new ShardStore();
      reserved.reserve(keys);
      t.equal(
        reserved.table.capacity,
        grown.table.capacity,
        `${keys} keys: the same capacity, no more memory`,
      );
      const capacity = reserved.table.capacity;
      for (let i = 0; i < keys; i++) reserved.put(`key-${i}`, `v${i}`, { wall: 1, counter: i, node: 1 });
      t.equal(reserved.table.capacity, capacity, `${keys} keys: no rehash after the reserve`);
      const reader = new TableReader(reserved.table.buffers);
      let wrong = 0;
      for (let i = 0; i < keys; i++) if (readAcross(reader, `key-${i}`)?.value !== `v${i}`) wrong++;
      t.equal(wrong, 0, `${keys} keys read back across`);
    }
    const store = new ShardStore();
    store.put('a', '1', { wall: 1, counter: 0, node: 1 });
    store.reserve(10_000);
    t.equal(store.get('a')?.value, '1', 'a reserve over existing keys keeps them');
  },
);

t.test('freed blocks are reused by the next block of their class', async (t) => {
  const store = new ShardStore();
  const arena = store.table.arena;
  const v = (wall: number): Version => ({ wall, counter: 0, node: 1 });
  store.put('a', 'x'.repeat(500), v(1));
  const top = arena.topBytes;
  const used = arena.usedBytes;
  store.put('a', 'short', v(2)); // another class: a new block, the 500-byte one freed
  t.ok(arena.freeBytes > 0, 'the old block is on its free list');
  store.put('b', 'y'.repeat(500), v(3)); // the freed block's class
  t.equal(arena.freeBytes, 0, 'taken from the free list');
  t.equal(store.get('b')?.value, 'y'.repeat(500));
  t.equal(store.get('a')?.value, 'short');
  const topAfter = arena.topBytes;
  t.equal(topAfter - top, CLASS_BYTES[classOf(HEADER_BYTES + 1 + 5)], 'only the short block was new');
  store.put('a', 'z'.repeat(10), v(4)); // the same class: rewritten in place
  t.equal(arena.topBytes, topAfter, 'a write of the same class writes over its block');
  t.equal(arena.usedBytes - used, CLASS_BYTES[classOf(HEADER_BYTES + 1 + 10)]);
  // Churn of one key through many sizes keeps at most one block per class.
  for (let i = 0; i < 2000; i++) store.put('c', 'w'.repeat((i * 37) % 3000), v(10 + i));
  const churnTop = arena.topBytes;
  for (let i = 0; i < 2000; i++) store.put('c', 'w'.repeat((i * 37) % 3000), v(5000 + i));
  t.equal(arena.topBytes, churnTop, 'a second round of the same sizes needs no new memory');
});

t.test(
  'an entry larger than the arena can hold fails with LALLY_ERR_STORE_FULL, changing nothing',
  async (t) => {
    const store = new ShardStore();
    t.throws(() => store.table.arena.allocate(MAX_BLOCK_BYTES + 1), { code: ErrorCodes.STORE_FULL });
    t.equal(store.table.arena.usedBytes, 0, 'nothing was taken');
    t.equal(store.size, 0);
  },
);

t.test('a collected tombstone leaves no entry; a later write to the key starts afresh', async (t) => {
  const store = new ShardStore();
  const reader = new TableReader(store.table.buffers);
  const v = (wall: number): Version => ({ wall, counter: 0, node: 1 });
  store.put('gone', 'value', v(1));
  store.put('kept', 'other', v(1));
  t.equal(store.forgetTombstone('gone'), false, 'a live entry is not a tombstone');
  t.equal(store.forgetTombstone('never'), false, 'nor is a missing key');
  store.remove('gone', v(2));
  t.equal(store.tombstones, 1);
  t.equal(store.forgetTombstone('gone'), true);
  t.equal(store.forgetTombstone('gone'), false, 'once');
  t.equal(store.tombstones, 0);
  t.equal(store.size, 1);
  t.equal(store.getWithTombstone('gone'), undefined, 'no entry, not even a tombstone');
  t.same(
    [...store.entries()].map(([key]) => key),
    ['kept'],
    'iteration leaves it out',
  );
  t.match(readAcross(reader, 'gone'), { tombstone: true }, 'another thread reads a missing key');

  // Any version wins against no entry, even one older than the collected tombstone's.
  t.same(store.put('gone', 'back', v(1)), { applied: true, previous: undefined });
  t.equal(store.size, 2);
  t.equal(store.tombstones, 0);
  t.match(store.getWithTombstone('gone'), { value: 'back', tombstone: false, wall: 1 });
  t.match(readAcross(reader, 'gone'), { value: 'back', tombstone: false });
  store.remove('gone', v(3));
  t.equal(store.forgetTombstone('gone'), true);
  t.same(store.remove('gone', v(1)), { applied: true, previous: undefined }, 'a delete of no entry');
  t.equal(store.tombstones, 1);
});

t.test('a reader copies values at and around each of its copy thresholds and buffer sizes', async (t) => {
  const store = new ShardStore();
  const reader = new TableReader(store.table.buffers);
  // 64: loop or copyBytes; 256: set or Buffer.fill inside copyBytes; 1024: the copy buffer's first
  // size, then its growth; 64 KiB and 1 MiB: large values, read after smaller ones and before them.
  const sizes = [0, 1, 63, 64, 65, 255, 256, 257, 1023, 1024, 1025, 65_535, 65_536, 65_537, 1 << 20, 100];
  const k = new Utf8Buffer();
  let wrong = 0;
  for (const [i, size] of sizes.entries()) {
    // Varying ASCII bytes, then a two-byte character at the end, written as bytes.
    const bytes = Buffer.alloc(size, 'x');
    for (let j = 0; j < size; j++) bytes[j] = 0x21 + ((j * 7 + i) % 90);
    if (size >= 2) bytes.write('é', size - 2);
    t.equal(bytes.length, size);
    const key = k.encode(`size-${i}`);
    store.write(key.bytes, key.length, bytes, { wall: 1, counter: i, node: 1 }, false, false);
    for (const readKey of [`size-${i}`, `size-${Math.max(0, i - 1)}`]) {
      const kb = new Utf8Buffer().encode(readKey);
      if (reader.read(kb.bytes, kb.length, tableHash(kb.bytes, kb.length)) !== ReadStatus.FOUND) wrong++;
      const want = store.get(readKey)?.value ?? '';
      if (!Buffer.from(reader.valueBytes).equals(Buffer.from(want)) || reader.value !== want) wrong++;
    }
  }
  t.equal(wrong, 0, `${sizes.length} sizes, each read back whole as bytes and as text`);
});
