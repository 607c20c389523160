import { appendFile, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { decodeHints, encodeHints, hintBytes } from '../../../src/cluster/hints/hint-format.js';
import { HintStore, hintFileName } from '../../../src/cluster/hints/hint-store.js';
import type { ReplicaRecord } from '../../../src/rpc/codec.js';

const TARGET = 0xabcd0001;
const OTHER = 0x00000002;

function record(i: number, valueBytes = 10, tombstone = false): ReplicaRecord {
  return {
    key: Buffer.from(`key:${i}`),
    value: tombstone ? Buffer.alloc(0) : Buffer.alloc(valueBytes, i & 0xff),
    version: { wall: 1_700_000_000_000 + i, counter: i, node: 0xfffffffe },
    tombstone,
  };
}

function keys(hints: readonly { record: ReplicaRecord }[]): string[] {
  return hints.map((h) => Buffer.from(h.record.key).toString());
}

const open = (
  dir: string | undefined,
  extra: { maxBytes?: number; maxAgeMs?: number; now?: () => number } = {},
) =>
  HintStore.open({
    dir,
    maxBytes: extra.maxBytes ?? 1 << 20,
    maxAgeMs: extra.maxAgeMs ?? 60_000,
    now: extra.now,
  });

t.test('the record layout round-trips and stops at a torn or damaged record', async (t) => {
  const hints = [
    { record: record(1), addedAt: 123 },
    { record: record(2, 0, true), addedAt: 456 },
  ];
  const bytes = encodeHints(hints);
  t.equal(bytes.length, hintBytes(hints[0]!.record) + hintBytes(hints[1]!.record));
  const back = decodeHints(bytes);
  t.same(back.hints, hints, 'the same hints come back');
  t.equal(back.goodBytes, bytes.length);
  const torn = decodeHints(bytes.subarray(0, bytes.length - 3));
  t.equal(torn.hints.length, 1, 'a torn tail: the whole records before it');
  t.equal(torn.goodBytes, hintBytes(hints[0]!.record));
  const flipped = Buffer.from(bytes);
  flipped[flipped.length - 1]! ^= 0xff;
  t.equal(decodeHints(flipped).hints.length, 1, 'a damaged record fails its CRC');
});

t.test('append, reopen after a crash with a torn tail, deliver, and the file goes away', async (t) => {
  const dir = join(t.testdir(), 'hints');
  const store = await open(dir);
  for (let i = 0; i < 10; i++) t.ok(store.add(TARGET, record(i)));
  store.add(OTHER, record(99));
  t.same(store.peek(TARGET, 100, 1 << 20), [], 'nothing is handed out before it is on disk');
  await store.flushed();
  const path = join(dir, hintFileName(TARGET));
  t.equal((await stat(path)).size, 10 * hintBytes(record(0)), 'ten records on disk');
  // A crash in the middle of an append: half a record at the end.
  const half = encodeHints([{ record: record(10), addedAt: Date.now() }]);
  await appendFile(path, half.subarray(0, 20));
  const reopened = await open(dir);
  t.equal(reopened.pending(TARGET), 10, 'the ten whole records are back');
  t.equal(reopened.pending(OTHER), 1, 'and the other target');
  t.equal((await stat(path)).size, 10 * hintBytes(record(0)), 'the torn tail was cut off');
  const first = reopened.peek(TARGET, 4, 1 << 20);
  t.same(keys(first), ['key:0', 'key:1', 'key:2', 'key:3'], 'oldest first, at most the batch');
  t.same(first[0]!.record, record(0), 'a record comes back as it went in');
  reopened.delivered(TARGET, 4);
  t.equal(reopened.pending(TARGET), 6);
  // Appends after a reopen go on the same file, after the good part.
  reopened.add(TARGET, record(20));
  await reopened.flushed();
  const again = await open(dir);
  t.equal(again.pending(TARGET), 11, 'delivered hints come back after a crash until the file is compacted');
  reopened.delivered(TARGET, 7);
  await reopened.flushed();
  t.same(await readdir(dir), [hintFileName(OTHER)], 'once all is delivered the file is removed');
  t.same(reopened.stats(), {
    durable: true,
    queued: 1,
    bytes: hintBytes(record(99)),
    added: 1,
    delivered: 11,
    dropped: 0,
    writeFailures: 0,
    targets: { '00000002': 1 },
  });
  await reopened.close();
  t.equal((await open(dir)).pending(TARGET), 0, 'nothing comes back for the delivered target');
});

t.test('the byte bound refuses new hints; the age bound drops old ones, also at open', async (t) => {
  const dir = t.testdir();
  const size = hintBytes(record(0));
  let now = 1_000_000;
  const store = await open(dir, { maxBytes: size * 3, maxAgeMs: 1000, now: () => now });
  t.ok(store.add(TARGET, record(0)));
  t.ok(store.add(TARGET, record(1)));
  now += 600;
  t.ok(store.add(OTHER, record(2)));
  t.notOk(store.add(TARGET, record(3)), 'the fourth is past the byte bound');
  t.equal(store.counters.dropped, 1);
  t.equal(store.bytes, size * 3);
  await store.flushed();
  now += 600; // the first two are 1200 ms old, the third 600 ms
  const reopened = await open(dir, { maxBytes: size * 3, maxAgeMs: 1000, now: () => now });
  t.equal(reopened.pending(TARGET), 0, 'expired hints are dropped at open');
  t.equal(reopened.pending(OTHER), 1);
  t.equal(reopened.counters.dropped, 2);
  await reopened.flushed();
  t.notOk((await readdir(dir)).includes(hintFileName(TARGET)), 'and their file removed');
  store.expire();
  t.equal(store.pending(TARGET), 0, 'expire drops them in a running store too');
  t.equal(store.pending(OTHER), 1);
  t.ok(store.add(TARGET, record(4)), 'room again');
  now += 2000;
  t.same(store.peek(OTHER, 10, 1 << 20), [], 'peek drops what expired');
  t.equal(store.counters.dropped, 4);
});

t.test('a large delivered head is compacted away; discard drops a target', async (t) => {
  const dir = t.testdir();
  const store = await open(dir, { maxBytes: 64 << 20 });
  for (let i = 0; i < 300; i++) store.add(TARGET, record(i, 8000));
  await store.flushed();
  const path = join(dir, hintFileName(TARGET));
  const full = (await stat(path)).size;
  let left = 300;
  while (left > 100) {
    const batch = store.peek(TARGET, 50, 1 << 30);
    store.delivered(TARGET, batch.length);
    left -= batch.length;
  }
  await store.flushed();
  const compacted = (await stat(path)).size;
  t.ok(compacted < full / 2, `the file shrank (${full} -> ${compacted} bytes)`);
  const reopened = await open(dir, { maxBytes: 64 << 20 });
  t.equal(reopened.pending(TARGET), 100, 'the rewritten file holds the undelivered hints');
  t.same(keys(reopened.peek(TARGET, 1, 1 << 30)), ['key:200']);
  store.discard(TARGET);
  await store.flushed();
  t.same(await readdir(dir), [], 'discard removes the file');
  t.equal(store.counters.dropped, 100);
});

t.test('without a directory hints are kept in memory only', async (t) => {
  const store = await open(undefined);
  store.add(TARGET, record(1));
  t.same(keys(store.peek(TARGET, 10, 1 << 20)), ['key:1'], 'handed out at once');
  t.equal(store.durable, false);
  store.delivered(TARGET, 1);
  t.same(store.targets(), []);
  await store.close();
  t.notOk(store.add(TARGET, record(2)), 'a closed store takes no more');
});

t.test('files with other names are left alone', async (t) => {
  const dir = t.testdir({ 'notes.txt': 'hello' });
  await writeFile(join(dir, 'zz.hints'), 'x');
  const store = await open(dir);
  t.same(store.targets(), []);
  t.equal(await readFile(join(dir, 'notes.txt'), 'utf8'), 'hello');
});

t.test('a hint file that cannot be written leaves the hints deliverable from memory', async (t) => {
  const root = t.testdir();
  const dir = join(root, 'hints');
  const store = await open(dir);
  await rm(dir, { recursive: true, force: true });
  await writeFile(dir, 'not a directory');
  store.add(TARGET, record(1));
  await store.flushed();
  t.equal(store.counters.writeFailures >= 1, true, 'the failure is counted');
  t.same(keys(store.peek(TARGET, 10, 1 << 20)), ['key:1'], 'the hint is handed out all the same');
  store.delivered(TARGET, 1);
  t.equal(store.queued, 0);
});
