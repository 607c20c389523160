import t from 'tap';
import { keyHash, WinnerTable, type WinnerVersion } from '../../src/aof/rewrite-winners.js';

const v = (wall: number, counter = 0, node = 1): WinnerVersion => ({ wall, counter, node });

function keyOf(text: string): Buffer {
  return Buffer.from(`..${text}..`, 'utf8'); // the key sits inside a larger buffer, as in a record
}

t.test('every key keeps its id and its winner through the index growing past 100k keys', async (t) => {
  const table = new WinnerTable();
  const n = 150_000;
  let found = 0;
  for (let i = 0; i < n; i++) {
    const buf = keyOf(`key:${i}`);
    const length = buf.length - 4;
    const hash = keyHash(buf, 2, length);
    if (table.find(buf, 2, length, hash) !== -1) found++;
    table.add(buf, 2, length, hash, i % 3, i * 100 + 2 ** 33, v(i, i % 7, 9), i % 5 === 0);
  }
  t.equal(found, 0, 'no key was found before it was added');
  t.equal(table.size, n);
  const out = v(0);
  let wrong = 0;
  for (let i = 0; i < n; i++) {
    const buf = keyOf(`key:${i}`);
    const id = table.find(buf, 2, buf.length - 4, keyHash(buf, 2, buf.length - 4));
    const version = table.version(id, out);
    if (
      id !== i ||
      table.input(id) !== i % 3 ||
      table.fileOffset(id) !== i * 100 + 2 ** 33 ||
      version.wall !== i ||
      version.counter !== i % 7 ||
      table.tombstone(id) !== (i % 5 === 0) ||
      !table.keeps(id, i % 3, i * 100 + 2 ** 33)
    ) {
      wrong++;
    }
  }
  t.equal(wrong, 0, 'every key found with its own winner');
  // About 70 bytes a key, not the ~330 of a Map of strings to objects.
  t.ok(table.bytes / n < 110, `${Math.round(table.bytes / n)} bytes per key`);
});

t.test('keys with the same hash stay apart: equal bytes, not equal hashes, find a key', async (t) => {
  const table = new WinnerTable();
  const a = Buffer.from('alpha');
  const b = Buffer.from('bravo');
  const prefix = Buffer.from('alph');
  table.add(a, 0, a.length, 42, 0, 10, v(1), false);
  table.add(b, 0, b.length, 42, 0, 20, v(2), false);
  t.equal(table.find(a, 0, a.length, 42), 0);
  t.equal(table.find(b, 0, b.length, 42), 1);
  t.equal(table.find(prefix, 0, prefix.length, 42), -1, 'a shorter key with the same bytes is another key');
  t.equal(table.find(a, 0, a.length, 43), -1);
});

t.test('a later winner replaces the position; a dropped winner is kept by no record', async (t) => {
  const table = new WinnerTable();
  const k = Buffer.from('k');
  const id = table.add(k, 0, 1, keyHash(k, 0, 1), 0, 100, v(1), false);
  table.set(id, 2, 300, v(5, 1, 2), true);
  t.notOk(table.keeps(id, 0, 100), 'the first record lost');
  t.ok(table.keeps(id, 2, 300));
  t.same(table.version(id, v(0)), v(5, 1, 2));
  t.ok(table.tombstone(id));
  table.drop(id);
  t.ok(table.dropped(id));
  t.notOk(table.keeps(id, 2, 300), 'a tombstone past its grace period leaves the base');
  t.equal(table.find(k, 0, 1, keyHash(k, 0, 1)), id, 'the key stays known');
});

t.test('a key longer than a key chunk gets a chunk of its own, and the next ones still fit', async (t) => {
  const table = new WinnerTable();
  const long = Buffer.alloc(3 << 20, 'x');
  const short = Buffer.from('short');
  table.add(short, 0, short.length, keyHash(short, 0, short.length), 0, 1, v(1), false);
  table.add(long, 0, long.length, keyHash(long, 0, long.length), 0, 2, v(1), false);
  const after = Buffer.from('after');
  table.add(after, 0, after.length, keyHash(after, 0, after.length), 0, 3, v(1), false);
  t.equal(table.find(long, 0, long.length, keyHash(long, 0, long.length)), 1);
  t.equal(table.find(short, 0, short.length, keyHash(short, 0, short.length)), 0);
  t.equal(table.find(after, 0, after.length, keyHash(after, 0, after.length)), 2);
});
