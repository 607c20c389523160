import t from 'tap';
import { LallyError } from '../../src/errors.js';
import {
  isMpscRing,
  MPSC_HEADER_BYTES,
  MPSC_RECORD_HEADER_BYTES,
  MpscProducer,
  MpscRing,
  mpscRecordBytes,
} from '../../src/ring/mpsc-ring.js';
import { SpscRing } from '../../src/ring/spsc-ring.js';

function pattern(length: number, salt: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + salt * 7 + 1) & 0xff;
  return bytes;
}

interface Received {
  from: number;
  bytes: Uint8Array;
}

function drainAll(ring: MpscRing, maxMessages?: number): Received[] {
  const out: Received[] = [];
  ring.drain((message, from) => out.push({ from, bytes: message.slice() }), maxMessages);
  return out;
}

/** The data area of a ring, read raw: what a producer that reserves space next would find. */
function dataArea(sab: SharedArrayBuffer): Uint8Array {
  return new Uint8Array(sab, MPSC_HEADER_BYTES);
}

t.test('allocate validates the capacity; the constructor refuses other buffers', async (t) => {
  for (const bad of [0, 8, 12, 1000, 2 ** 31, 1.5, -16]) {
    t.throws(() => MpscRing.allocate(bad), { code: 'LALLY_ERR_CONFIG' }, `capacity ${bad}`);
  }
  const sab = MpscRing.allocate(64);
  t.equal(sab.byteLength, MPSC_HEADER_BYTES + 64);
  const ring = new MpscRing(sab);
  t.equal(ring.capacity, 64);
  t.equal(ring.maxMessageBytes, 64 - MPSC_RECORD_HEADER_BYTES);
  t.ok(isMpscRing(sab));
  t.notOk(isMpscRing(SpscRing.allocate(64)), 'a pair ring is not a shared ring');
  t.notOk(isMpscRing(new SharedArrayBuffer(16)), 'too small to be one');
  t.throws(() => new MpscRing(SpscRing.allocate(64)), { code: 'LALLY_ERR_INTERNAL' });
  t.throws(() => new MpscRing(new SharedArrayBuffer(256)), { code: 'LALLY_ERR_INTERNAL' });
});

t.test('record sizes: an 8-byte header and the body padded to 4', async (t) => {
  t.equal(mpscRecordBytes(0), 8);
  t.equal(mpscRecordBytes(1), 12);
  t.equal(mpscRecordBytes(3), 12);
  t.equal(mpscRecordBytes(4), 12);
  t.equal(mpscRecordBytes(5), 16);
});

t.test('messages carry their sender, in the order written', async (t) => {
  const ring = new MpscRing(MpscRing.allocate(1024));
  t.ok(ring.isEmpty);
  t.equal(
    ring.drain(() => t.fail('nothing to drain')),
    0,
  );
  t.ok(ring.tryWriteParts(3, pattern(10, 1)));
  t.ok(ring.tryWriteParts(0, pattern(2, 2), pattern(3, 3), pattern(0, 4)));
  t.ok(ring.tryWriteParts(7, new Uint8Array(0)), 'an empty message is a message');
  t.notOk(ring.isEmpty);
  t.equal(ring.usedBytes, mpscRecordBytes(10) + mpscRecordBytes(5) + mpscRecordBytes(0));
  const got = drainAll(ring);
  t.same(
    got.map((m) => m.from),
    [3, 0, 7],
  );
  t.same(got[0]!.bytes, pattern(10, 1));
  t.same(got[1]!.bytes, Uint8Array.from([...pattern(2, 2), ...pattern(3, 3)]));
  t.equal(got[2]!.bytes.length, 0);
  t.ok(ring.isEmpty);
  t.equal(ring.usedBytes, 0);
});

t.test('the largest message fits exactly; one byte more can never fit', async (t) => {
  const ring = new MpscRing(MpscRing.allocate(256));
  const max = ring.maxMessageBytes;
  t.ok(ring.tryWriteParts(1, pattern(max, 9)), 'maxMessageBytes fills the ring to the last byte');
  t.equal(ring.usedBytes, 256);
  t.notOk(ring.tryWriteParts(2, new Uint8Array(0)), 'full: not even an empty message');
  t.same(drainAll(ring)[0]!.bytes, pattern(max, 9));
  t.ok(ring.tryWriteParts(1, pattern(max - 1, 5)), 'just under, after a drain');
  t.same(drainAll(ring)[0]!.bytes, pattern(max - 1, 5));
  const error = t.throws(() => ring.tryWriteParts(1, pattern(max + 1, 1)), {
    code: 'LALLY_ERR_VALUE_TOO_LARGE',
  });
  t.ok(error instanceof LallyError);
  t.throws(() => ring.tryWriteParts(1, pattern(max, 1), pattern(1, 1)), {
    code: 'LALLY_ERR_VALUE_TOO_LARGE',
  });
});

t.test('a full ring refuses until the consumer frees space, at every record boundary', async (t) => {
  const capacity = 128;
  for (let size = 0; size <= 24; size++) {
    const ring = new MpscRing(MpscRing.allocate(capacity));
    const record = mpscRecordBytes(size);
    const fits = Math.floor(capacity / record);
    for (let i = 0; i < fits; i++) t.ok(ring.tryWriteParts(i, pattern(size, i)));
    t.notOk(ring.tryWriteParts(99, pattern(size, 99)), `size ${size}: the ${fits + 1}th record does not fit`);
    t.equal(drainAll(ring, 1).length, 1);
    t.ok(ring.tryWriteParts(99, pattern(size, 99)), 'fits once one record is consumed');
    const rest = drainAll(ring);
    t.same(
      rest.map((m) => m.from),
      [...Array.from({ length: fits - 1 }, (_, i) => i + 1), 99],
    );
    t.same(rest.at(-1)!.bytes, pattern(size, 99));
  }
});

t.test('a message crossing the end of the data area, from every start offset and size', async (t) => {
  const capacity = 64;
  let checked = 0;
  for (let offset = 0; offset < capacity; offset += 4) {
    for (let size = 0; size <= capacity - MPSC_RECORD_HEADER_BYTES; size++) {
      const sab = MpscRing.allocate(capacity);
      const ring = new MpscRing(sab);
      // Move head and tail to `offset` with filler records (a record is at least 8 bytes, so 4 takes
      // a lap: 32 + 36 bytes).
      const fillers = offset === 0 ? [] : offset < 8 ? [capacity / 2, capacity / 2 + offset] : [offset];
      for (const record of fillers) {
        t.ok(ring.tryWriteParts(0, new Uint8Array(record - MPSC_RECORD_HEADER_BYTES)));
        drainAll(ring);
      }
      const cut = Math.floor(size / 2);
      const message = pattern(size, offset + size);
      if (!ring.tryWriteParts(5, message.subarray(0, cut), message.subarray(cut))) {
        t.fail(`offset ${offset} size ${size}: refused`);
        continue;
      }
      const got = drainAll(ring);
      if (got.length !== 1 || got[0]!.from !== 5 || Buffer.compare(got[0]!.bytes, message) !== 0) {
        t.fail(`offset ${offset} size ${size}: wrong message`);
      }
      if (dataArea(sab).some((byte) => byte !== 0)) t.fail(`offset ${offset} size ${size}: not zeroed`);
      checked++;
    }
  }
  t.equal(checked, (capacity / 4) * (capacity - MPSC_RECORD_HEADER_BYTES + 1));
});

t.test('drain zeroes what it consumed, so stale bytes never pass for a commit word', async (t) => {
  const sab = MpscRing.allocate(256);
  const ring = new MpscRing(sab);
  // A body of words that all look like commit words (small positive integers).
  const looksCommitted = new Uint8Array(new Int32Array(40).fill(5).buffer);
  t.ok(ring.tryWriteParts(1, looksCommitted));
  t.ok(ring.tryWriteParts(2, looksCommitted.subarray(0, 60)));
  t.equal(drainAll(ring).length, 2);
  t.ok(
    dataArea(sab).every((byte) => byte === 0),
    'the data area is all zeroes again',
  );
  t.ok(ring.isEmpty, 'no record seen where the old bodies were');
  t.equal(drainAll(ring).length, 0);
});

t.test('a throwing handler consumes its message and the ones before it', async (t) => {
  const sab = MpscRing.allocate(256);
  const ring = new MpscRing(sab);
  for (let i = 0; i < 4; i++) t.ok(ring.tryWriteParts(i, pattern(i + 1, i)));
  const seen: number[] = [];
  t.throws(
    () =>
      ring.drain((_, from) => {
        seen.push(from);
        if (from === 1) throw new Error('poison');
      }),
    { message: 'poison' },
  );
  t.same(seen, [0, 1]);
  t.same(
    drainAll(ring).map((m) => m.from),
    [2, 3],
    'the rest are still there',
  );
  t.ok(dataArea(sab).every((byte) => byte === 0));
});

t.test('maxMessages bounds one drain', async (t) => {
  const ring = new MpscRing(MpscRing.allocate(1024));
  for (let i = 0; i < 10; i++) ring.tryWriteParts(i, pattern(3, i));
  t.equal(
    ring.drain(() => {}, 4),
    4,
  );
  t.equal(
    ring.drain(() => {}, 100),
    6,
  );
});

t.test('free-running counters wrap past 2^32', async (t) => {
  const sab = MpscRing.allocate(64);
  const header = new Int32Array(sab, 0, 32);
  // Start both counters just below 2^32 (as Int32: -16), as after 4 GiB of traffic.
  header[0] = -16;
  header[16] = -16;
  const ring = new MpscRing(sab);
  for (let i = 0; i < 20; i++) {
    t.ok(ring.tryWriteParts(i, pattern(13, i)));
    t.ok(ring.tryWriteParts(i + 100, pattern(21, i)));
    const got = drainAll(ring);
    t.same(
      got.map((m) => m.from),
      [i, i + 100],
    );
    t.same(got[0]!.bytes, pattern(13, i));
    t.same(got[1]!.bytes, pattern(21, i));
  }
});

t.test('MpscProducer binds the sender', async (t) => {
  const sab = MpscRing.allocate(128);
  const a = new MpscProducer(sab, 4);
  const b = new MpscProducer(sab, 9);
  t.equal(a.capacity, 128);
  t.equal(a.maxMessageBytes, 120);
  t.ok(a.tryWrite(pattern(5, 1)));
  t.ok(b.tryWriteParts(pattern(2, 2), pattern(2, 3)));
  t.ok(a.tryWriteParts(pattern(1, 4)));
  t.same(
    drainAll(new MpscRing(sab)).map((m) => m.from),
    [4, 9, 4],
  );
});
