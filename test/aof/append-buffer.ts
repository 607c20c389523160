import t from 'tap';
import { AppendBuffer, CHUNK_BYTES } from '../../src/aof/append-buffer.js';
import { checkRecordAt, encodeRecord, MIN_RECORD_BYTES, maxEncodedSize } from '../../src/aof/format.js';
import type { AofRecord } from '../../src/aof/types.js';

let wall = 1_700_000_000_000;
const version = () => ({ wall: wall++, counter: 0, node: 3 });

/** A record of exactly `bytes` encoded bytes whose bound (maxEncodedSize) is `bytes` too: '€' is 3 bytes. */
function exactRecord(bytes: number): AofRecord {
  const units = (bytes - MIN_RECORD_BYTES) / 3;
  if (!Number.isInteger(units) || units < 1) throw new Error(`no exact record of ${bytes} bytes`);
  const record: AofRecord = { op: 'ADD', key: '€', value: '€'.repeat(units - 1), version: version() };
  if (maxEncodedSize(record) !== bytes || encodeRecord(record).length !== bytes) throw new Error('bad size');
  return record;
}

/** An ASCII record of exactly `bytes` encoded bytes (its bound is about three times that). */
function asciiRecord(bytes: number): AofRecord {
  return { op: 'ADD', key: 'k', value: 'v'.repeat(bytes - MIN_RECORD_BYTES - 1), version: version() };
}

function take(buffer: AppendBuffer): Buffer[] {
  const out: Buffer[] = [];
  buffer.takeInto(out);
  return out;
}

/** Every buffer must hold whole records only (the pump writes them as they are). */
function recordsIn(buf: Buffer): number {
  let offset = 0;
  let count = 0;
  while (offset < buf.length) {
    const size = checkRecordAt(buf, offset, buf.length);
    if (size <= 0) throw new Error(`no whole record at ${offset} of ${buf.length}`);
    offset += size;
    count++;
  }
  return count;
}

/** The size of the chunk a taken slice lives in (allocUnsafe of a chunk's size has its own memory). */
const chunkOf = (b: Buffer) => b.buffer.byteLength;

t.test('bytes come out in order, equal to the records encoded one by one', async (t) => {
  const buffer = new AppendBuffer();
  const records = [asciiRecord(40), exactRecord(32 + 3 * 10), asciiRecord(1000)];
  for (const r of records) buffer.append(r);
  t.equal(buffer.appended, 3);
  const expected = Buffer.concat(records.map(encodeRecord));
  t.equal(buffer.pendingBytes, expected.length);
  const out = take(buffer);
  t.same(Buffer.concat(out), expected);
  t.equal(buffer.pendingBytes, 0);
  t.same(take(buffer), [], 'nothing is handed out twice');
  t.equal(buffer.appended, 3, 'taking does not change the sequence number');
});

t.test('records that fill the chunk exactly stay in it; the next one starts a new chunk', async (t) => {
  const buffer = new AppendBuffer();
  // 131072 + 131072 = CHUNK_BYTES (both sizes are 2 mod 3, as every exact record's).
  buffer.append(exactRecord(CHUNK_BYTES / 2));
  buffer.append(exactRecord(CHUNK_BYTES / 2));
  buffer.append(asciiRecord(50));
  const out = take(buffer);
  t.same(
    out.map((b) => b.length),
    [CHUNK_BYTES, 50],
  );
  t.same(out.map(recordsIn), [2, 1]);
  t.same(out.map(chunkOf), [CHUNK_BYTES, CHUNK_BYTES]);
});

t.test('a record whose bound is just under, at and just over the room left', async (t) => {
  const first = 1001; // leaves CHUNK_BYTES - 1001 = 261143 bytes, a size an exact record can have
  const room = CHUNK_BYTES - first;
  for (const [bound, split] of [
    [room - 3, false],
    [room, false],
    [room + 3, true],
  ] as const) {
    const buffer = new AppendBuffer();
    buffer.append(asciiRecord(first));
    buffer.append(exactRecord(bound));
    const out = take(buffer);
    t.same(
      out.map((b) => b.length),
      split ? [first, bound] : [first + bound],
      `bound ${bound - room} against the room`,
    );
    t.equal(
      out.map(recordsIn).reduce((a, b) => a + b),
      2,
    );
  }
});

t.test('the bound decides, not the encoded size: an ASCII record that would fit moves on', async (t) => {
  const buffer = new AppendBuffer();
  buffer.append(exactRecord(CHUNK_BYTES - 200));
  const small = asciiRecord(100); // 100 bytes, bound 3 * 71 + 29 = 242 > 200 left
  t.ok(maxEncodedSize(small) > 200);
  buffer.append(small);
  t.same(
    take(buffer).map((b) => b.length),
    [CHUNK_BYTES - 200, 100],
  );
});

t.test('records just under, at and over the chunk size', async (t) => {
  // Bounds are 29 + 3n bytes: CHUNK_BYTES - 2 is the largest that fits a fresh chunk ("at"),
  // CHUNK_BYTES + 1 the smallest over it.
  for (const bytes of [CHUNK_BYTES - 5, CHUNK_BYTES - 2]) {
    const buffer = new AppendBuffer();
    buffer.append(exactRecord(bytes));
    const out = take(buffer);
    t.same(
      out.map((b) => b.length),
      [bytes],
    );
    t.equal(chunkOf(out[0]!), CHUNK_BYTES, `${bytes - CHUNK_BYTES}: in a standard chunk`);
  }

  // Over: a chunk of its own size, no larger; the next record gets a fresh chunk.
  const over = new AppendBuffer();
  over.append(asciiRecord(40));
  over.append(exactRecord(CHUNK_BYTES + 1));
  over.append(asciiRecord(40));
  const overOut = take(over);
  t.same(
    overOut.map((b) => b.length),
    [40, CHUNK_BYTES + 1, 40],
  );
  t.same(overOut.map(chunkOf), [CHUNK_BYTES, CHUNK_BYTES + 1, CHUNK_BYTES]);
  t.same(overOut.map(recordsIn), [1, 1, 1]);

  // Over by its bound only (ASCII: 1/3 of it is used): the chunk is the bound's size, and the
  // records after it share what is left of it.
  const ascii = new AppendBuffer();
  const big = asciiRecord(90_000);
  t.ok(maxEncodedSize(big) > CHUNK_BYTES);
  ascii.append(asciiRecord(40));
  ascii.append(big);
  ascii.append(asciiRecord(40));
  const asciiOut = take(ascii);
  t.same(
    asciiOut.map((b) => b.length),
    [40, 90_040],
  );
  t.equal(chunkOf(asciiOut[1]!), maxEncodedSize(big));
  t.same(asciiOut.map(recordsIn), [1, 2]);
});

t.test('appends after a take go in behind the bytes handed out, which stay intact', async (t) => {
  const buffer = new AppendBuffer();
  buffer.append(asciiRecord(100));
  const [taken] = take(buffer);
  const copy = Buffer.from(taken!);
  buffer.append(asciiRecord(200));
  buffer.append(asciiRecord(300));
  t.equal(buffer.pendingBytes, 500);
  const [next, ...rest] = take(buffer);
  t.same(rest, []);
  t.equal(next!.length, 500);
  t.equal(next!.buffer, taken!.buffer, 'the same chunk');
  t.equal(next!.byteOffset, taken!.byteOffset + 100, 'right behind the bytes taken');
  t.same(taken, copy, 'the slice being written is not overwritten');
});

t.test('a chunk that fills up between takes is handed out from its first untaken byte', async (t) => {
  const buffer = new AppendBuffer();
  buffer.append(asciiRecord(1001));
  take(buffer);
  buffer.append(exactRecord(CHUNK_BYTES - 1001 - 3)); // fills the chunk but for 3 bytes
  buffer.append(asciiRecord(60));
  const out = take(buffer);
  t.same(
    out.map((b) => b.length),
    [CHUNK_BYTES - 1004, 60],
  );
  t.equal(out[0]!.byteOffset, 1001, 'the full chunk, less the bytes taken before');
  t.same(out.map(recordsIn), [1, 1]);
});

t.test('drop forgets what is pending, not what comes after, nor the sequence', async (t) => {
  const buffer = new AppendBuffer();
  buffer.append(asciiRecord(100));
  buffer.append(exactRecord(CHUNK_BYTES - 2)); // fills a second chunk
  buffer.append(asciiRecord(70));
  buffer.drop();
  t.equal(buffer.pendingBytes, 0);
  t.same(take(buffer), []);
  t.equal(buffer.appended, 3);
  const after = asciiRecord(80);
  buffer.append(after);
  t.same(Buffer.concat(take(buffer)), encodeRecord(after));
});

t.test('chunks are reused only once recycle() says their bytes are no longer held', async (t) => {
  const buffer = new AppendBuffer();
  const record = (fill: string) => ({
    op: 'ADD' as const,
    key: 'k',
    value: new Uint8Array(Buffer.from(fill.repeat(60_000))),
    version: version(),
  });
  // Four 60 KB records fill a chunk: the fifth starts the next one.
  for (let i = 0; i < 5; i++) buffer.append(record('a'));
  const first = take(buffer);
  const firstCopy = first.map((b) => Buffer.from(b));
  for (let i = 0; i < 8; i++) buffer.append(record('b'));
  t.equal(buffer.freeChunks, 0, 'nothing is free before recycle()');
  t.same(first, firstCopy, 'bytes handed out are not overwritten by later appends');
  buffer.recycle();
  t.equal(buffer.freeChunks, 1, 'the chunk handed out whole before the last takeInto is free');
  const second = take(buffer);
  t.equal(
    second.reduce((n, b) => n + recordsIn(b), 0),
    8,
    'records taken since stay whole',
  );
  const secondCopy = second.map((b) => Buffer.from(b));
  for (let i = 0; i < 4; i++) buffer.append(record('c'));
  t.equal(buffer.freeChunks, 0, 'the next chunk is the freed one');
  t.same(second, secondCopy, 'which held none of the bytes taken since');
  buffer.trimIfIdle();
  buffer.recycle();
  t.ok(buffer.freeChunks > 0);
  buffer.trimIfIdle();
  t.equal(buffer.freeChunks, 0, 'an idle buffer drops its free chunks');
});
