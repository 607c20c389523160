import t from 'tap';
import {
  achievedFlags,
  achievedOf,
  decodeSnapshotPage,
  decodeSnapshotRequest,
  emptyHopHeader,
  encodeSnapshotRequest,
  HOP_HEADER_BYTES,
  HopFlag,
  type HopHeader,
  HopHeaderWriter,
  HopKind,
  HopStatus,
  hopKey,
  hopValue,
  hopVersion,
  MAX_FLAG_ACHIEVED,
  readHopHeader,
  SNAPSHOT_START,
  SnapshotPageWriter,
  utf8Bytes,
} from '../../src/hop/hop-messages.js';

const MAX_U32 = 0xffffffff;

/** header + key bytes + value bytes, copied into a SharedArrayBuffer-backed view at `offset`. */
function sharedMessage(
  header: Uint8Array,
  key: Uint8Array,
  value: Uint8Array,
  offset: number,
): { message: Uint8Array; sab: SharedArrayBuffer } {
  const length = header.length + key.length + value.length;
  const sab = new SharedArrayBuffer(offset + length + 64);
  // Fill with junk so that reading outside the message would show.
  new Uint8Array(sab).fill(0xee);
  const message = new Uint8Array(sab, offset, length);
  message.set(header, 0);
  message.set(key, header.length);
  message.set(value, header.length + key.length);
  return { message, sab };
}

t.test('replica counts ride in the flags above the tombstone bit', async (t) => {
  t.equal(achievedOf(achievedFlags(3)), 3);
  t.equal(achievedFlags(3) & HopFlag.TOMBSTONE, 0, 'the tombstone bit stays free');
  t.equal(achievedOf(achievedFlags(1000)), MAX_FLAG_ACHIEVED, 'capped');
  t.equal(achievedOf(achievedFlags(3) | HopFlag.TOMBSTONE), 3);
});

t.test('constants', async (t) => {
  t.equal(HOP_HEADER_BYTES, 32);
  t.same(HopKind, {
    GET: 1,
    PUT: 2,
    REMOVE: 3,
    STATS: 4,
    APPLY: 5,
    READ_ENTRY: 6,
    SNAPSHOT: 7,
    REPLICATE: 8,
    COORDINATE: 9,
    APPLY_BATCH: 10,
    TREE: 11,
    RESULT: 0x81,
  });
  t.same(HopStatus, { OK: 0, MISSING: 1, ERROR: 2 });
  t.same(emptyHopHeader(), {
    kind: 0,
    status: 0,
    answering: 0,
    flags: 0,
    requestId: 0,
    wall: 0,
    counter: 0,
    node: 0,
    keyLength: 0,
    valueLength: 0,
  });
  t.not(emptyHopHeader(), emptyHopHeader(), 'a fresh object each call');
});

t.test('header round trip for every field', async (t) => {
  const writer = new HopHeaderWriter();
  const wall = Date.now();
  const cases: [
    HopKind,
    HopStatus,
    number,
    { wall: number; counter: number; node: number },
    number,
    number,
  ][] = [
    [HopKind.GET, HopStatus.OK, 1, { wall: 1, counter: 2, node: 3 }, 4, 5],
    [HopKind.PUT, HopStatus.MISSING, 123_456, { wall, counter: 7, node: 9 }, 10, 1_048_576],
    [HopKind.REMOVE, HopStatus.ERROR, MAX_U32, { wall, counter: MAX_U32, node: MAX_U32 }, MAX_U32, MAX_U32],
    [HopKind.STATS, HopStatus.OK, 0, { wall: 0, counter: 0, node: 0 }, 0, 0],
    [
      HopKind.RESULT,
      HopStatus.ERROR,
      0x80000000,
      { wall: 8_640_000_000_000_000, counter: 1, node: 0x80000000 },
      1,
      2,
    ],
    [HopKind.RESULT, HopStatus.OK, 42, { wall: Number.MAX_SAFE_INTEGER, counter: 0, node: 1 }, 3, 0],
  ];
  for (const [kind, status, requestId, version, keyLength, valueLength] of cases) {
    const bytes = writer.write(kind, status, requestId, version, keyLength, valueLength);
    t.equal(bytes.length, HOP_HEADER_BYTES);
    t.equal(bytes, writer.bytes, 'returns the reused buffer');
    const header = readHopHeader(bytes, emptyHopHeader());
    t.same(
      header,
      { kind, status, answering: 0, flags: 0, requestId, ...version, keyLength, valueLength },
      `kind ${kind} request ${requestId}`,
    );
    t.same(hopVersion(header), version);
  }
});

t.test('the byte layout is little-endian at the documented offsets', async (t) => {
  const writer = new HopHeaderWriter();
  const bytes = writer.write(
    HopKind.PUT,
    HopStatus.MISSING,
    0x04030201,
    { wall: 0x05_0403_0201 * 256 + 0x88, counter: 0x0a0b0c0d, node: 0x11223344 },
    0x100,
    0x020001,
  );
  t.equal(bytes[0], 2, 'kind at 0');
  t.equal(bytes[1], 1, 'status at 1');
  t.equal(bytes[2], 0, 'answering at 2: zero in a request');
  t.equal(bytes[3], 0, 'reserved is zero');
  t.same([...bytes.subarray(4, 8)], [1, 2, 3, 4], 'requestId little-endian at 4');
  // wall = 0x0504030201 * 256 + 0x88 = 0x050403020188: low u32 at 8, high u32 at 12.
  t.same([...bytes.subarray(8, 12)], [0x88, 0x01, 0x02, 0x03], 'wall low u32 at 8');
  t.same([...bytes.subarray(12, 16)], [0x04, 0x05, 0x00, 0x00], 'wall high u32 at 12');
  t.same([...bytes.subarray(16, 20)], [0x0d, 0x0c, 0x0b, 0x0a], 'counter at 16');
  t.same([...bytes.subarray(20, 24)], [0x44, 0x33, 0x22, 0x11], 'node at 20');
  t.same([...bytes.subarray(24, 28)], [0x00, 0x01, 0x00, 0x00], 'keyLength at 24');
  t.same([...bytes.subarray(28, 32)], [0x01, 0x00, 0x02, 0x00], 'valueLength at 28');
  const answer = writer.write(HopKind.RESULT, HopStatus.OK, 1, undefined, 0, 0, HopKind.REMOVE);
  t.equal(answer[2], HopKind.REMOVE, 'a RESULT names the kind it answers at 2');
  t.equal(readHopHeader(answer, emptyHopHeader()).answering, HopKind.REMOVE);
  writer.write(HopKind.GET, HopStatus.OK, 2, undefined, 0, 0);
  t.equal(writer.bytes[2], 0, 'the reused buffer does not leak the last answering kind');
});

t.test('writing without a version zeroes it', async (t) => {
  const writer = new HopHeaderWriter();
  writer.write(HopKind.PUT, HopStatus.OK, 9, { wall: Date.now(), counter: 5, node: 6 }, 1, 1);
  // Reuse: a later header without a version must not leak the earlier one.
  const bytes = writer.write(HopKind.GET, HopStatus.OK, 10, undefined, 2, 0);
  const header = readHopHeader(bytes, emptyHopHeader());
  t.same(header, {
    kind: 1,
    status: 0,
    answering: 0,
    flags: 0,
    requestId: 10,
    wall: 0,
    counter: 0,
    node: 0,
    keyLength: 2,
    valueLength: 0,
  });
});

t.test('readHopHeader fills and returns the given object', async (t) => {
  const writer = new HopHeaderWriter();
  const into: HopHeader = emptyHopHeader();
  const out = readHopHeader(writer.write(HopKind.GET, HopStatus.OK, 1, undefined, 2, 3), into);
  t.equal(out, into, 'same object');
  readHopHeader(writer.write(HopKind.PUT, HopStatus.ERROR, 4, { wall: 5, counter: 6, node: 7 }, 8, 9), into);
  t.same(into, {
    kind: 2,
    status: 2,
    answering: 0,
    flags: 0,
    requestId: 4,
    wall: 5,
    counter: 6,
    node: 7,
    keyLength: 8,
    valueLength: 9,
  });
});

t.test('hopKey and hopValue on a SharedArrayBuffer view at a non-zero offset', async (t) => {
  const writer = new HopHeaderWriter();
  const pairs: [string, string][] = [
    ['ключ', 'значение'],
    ['🔑 key', 'value 🔒 with é and 日本語'],
    ['a', 'b'],
    ['k'.repeat(1000), 'v'.repeat(5000)],
    ['mixed/ключ/🔑/é', '\u0000nul and\nnewline'],
  ];
  const wall = Date.now();
  for (const [key, value] of pairs) {
    const keyBytes = utf8Bytes(key);
    const valueBytes = utf8Bytes(value);
    const header = writer.write(
      HopKind.PUT,
      HopStatus.OK,
      77,
      { wall, counter: 3, node: 5 },
      keyBytes.length,
      valueBytes.length,
    );
    const { message, sab } = sharedMessage(header, keyBytes, valueBytes, 100);
    t.equal(message.buffer, sab);
    t.equal(message.byteOffset, 100);
    const decoded = readHopHeader(message, emptyHopHeader());
    t.same(decoded, {
      kind: HopKind.PUT,
      status: HopStatus.OK,
      answering: 0,
      flags: 0,
      requestId: 77,
      wall,
      counter: 3,
      node: 5,
      keyLength: Buffer.byteLength(key),
      valueLength: Buffer.byteLength(value),
    });
    t.equal(hopKey(message, decoded), key, 'key decoded');
    t.equal(hopValue(message, decoded), value, 'value decoded');
  }
});

t.test('messages at odd offsets and inside a larger SharedArrayBuffer view', async (t) => {
  const writer = new HopHeaderWriter();
  const keyBytes = utf8Bytes('é🔑');
  const valueBytes = utf8Bytes('ключ');
  for (const offset of [1, 3, 7, 100, 4093]) {
    const header = writer.write(
      HopKind.GET,
      HopStatus.OK,
      offset,
      { wall: 1_700_000_000_125, counter: 1, node: 2 },
      keyBytes.length,
      valueBytes.length,
    );
    const { message } = sharedMessage(header, keyBytes, valueBytes, offset);
    const decoded = readHopHeader(message, emptyHopHeader());
    t.equal(decoded.requestId, offset);
    t.equal(decoded.wall, 1_700_000_000_125);
    t.equal(hopKey(message, decoded), 'é🔑', `key at offset ${offset}`);
    t.equal(hopValue(message, decoded), 'ключ', `value at offset ${offset}`);
  }
});

t.test('empty key and value', async (t) => {
  const writer = new HopHeaderWriter();
  const empty = new Uint8Array(0);
  const cases: [string, string][] = [
    ['', ''],
    ['key-only', ''],
    ['', 'value-only ключ'],
  ];
  for (const [key, value] of cases) {
    const keyBytes = utf8Bytes(key);
    const valueBytes = utf8Bytes(value);
    const header = writer.write(
      HopKind.RESULT,
      HopStatus.MISSING,
      5,
      undefined,
      keyBytes.length,
      valueBytes.length,
    );
    const { message } = sharedMessage(header, keyBytes.length ? keyBytes : empty, valueBytes, 100);
    const decoded = readHopHeader(message, emptyHopHeader());
    t.equal(hopKey(message, decoded), key, `key ${JSON.stringify(key)}`);
    t.equal(hopValue(message, decoded), value, `value ${JSON.stringify(value)}`);
  }
  // A bare header at the very end of a SharedArrayBuffer: nothing after it is read.
  const sab = new SharedArrayBuffer(100 + HOP_HEADER_BYTES);
  const message = new Uint8Array(sab, 100, HOP_HEADER_BYTES);
  message.set(writer.write(HopKind.STATS, HopStatus.OK, 1, undefined, 0, 0));
  const decoded = readHopHeader(message, emptyHopHeader());
  t.equal(hopKey(message, decoded), '');
  t.equal(hopValue(message, decoded), '');
});

t.test('an error status carries the error code in the value bytes', async (t) => {
  const writer = new HopHeaderWriter();
  const code = utf8Bytes('LALLY_ERR_KEY_TOO_LARGE');
  const key = utf8Bytes('k');
  const header = writer.write(HopKind.RESULT, HopStatus.ERROR, 3, undefined, key.length, code.length);
  const { message } = sharedMessage(header, key, code, 100);
  const decoded = readHopHeader(message, emptyHopHeader());
  t.equal(decoded.status, HopStatus.ERROR);
  t.equal(hopValue(message, decoded), 'LALLY_ERR_KEY_TOO_LARGE');
});

t.test('utf8Bytes', async (t) => {
  t.same([...utf8Bytes('aé🔑')], [0x61, 0xc3, 0xa9, 0xf0, 0x9f, 0x94, 0x91]);
  t.equal(utf8Bytes('').length, 0);
  const bytes = Uint8Array.of(1, 2, 3);
  t.equal(utf8Bytes(bytes), bytes, 'bytes are passed through, not copied');
});

t.test('the cluster kinds and the flags byte', async (t) => {
  t.same([HopKind.APPLY, HopKind.READ_ENTRY, HopKind.SNAPSHOT], [5, 6, 7]);
  const writer = new HopHeaderWriter();
  const bytes = writer.write(
    HopKind.APPLY,
    HopStatus.OK,
    3,
    { wall: 1, counter: 2, node: 3 },
    1,
    0,
    0,
    HopFlag.TOMBSTONE,
  );
  t.equal(bytes[3], HopFlag.TOMBSTONE, 'flags at 3');
  t.equal(readHopHeader(bytes, emptyHopHeader()).flags, HopFlag.TOMBSTONE);
  writer.write(HopKind.GET, HopStatus.OK, 4, undefined, 1, 0);
  t.equal(writer.bytes[3], 0, 'the reused buffer does not leak flags');
});

/** A SNAPSHOT-style message: header + empty key + value, in shared memory at an odd offset. */
function snapshotMessage(kind: HopKind, value: Uint8Array): { message: Uint8Array; header: HopHeader } {
  const header = new HopHeaderWriter().write(kind, HopStatus.OK, 1, undefined, 0, value.length);
  const { message } = sharedMessage(header, new Uint8Array(0), value, 13);
  return { message, header: readHopHeader(message, emptyHopHeader()) };
}

t.test('snapshot requests round-trip, positions past 2^32 included', async (t) => {
  for (const cursor of [
    SNAPSHOT_START,
    { session: 7, position: 12 },
    { session: MAX_U32, position: 2 ** 40 + 5 },
  ]) {
    const { message, header } = snapshotMessage(HopKind.SNAPSHOT, encodeSnapshotRequest(cursor, 65536));
    t.same(decodeSnapshotRequest(message, header), { cursor, maxBytes: 65536 });
  }
  const { message, header } = snapshotMessage(HopKind.SNAPSHOT, new Uint8Array(3));
  t.equal(decodeSnapshotRequest(message, header), undefined, 'a value of the wrong size is no request');
});

t.test('snapshot pages round-trip with tombstones; the bound holds after the first record', async (t) => {
  const writer = new SnapshotPageWriter(200);
  const records = [
    {
      key: 'ключ',
      value: 'значение 🙂',
      version: { wall: 2 ** 41 + 3, counter: 9, node: MAX_U32 },
      tombstone: false,
    },
    { key: 'gone', value: '', version: { wall: 5, counter: 0, node: 1 }, tombstone: true },
  ];
  for (const r of records) {
    const size = SnapshotPageWriter.recordBytes(r.key, r.value);
    t.ok(writer.fits(size));
    writer.add(r.key, r.value, r.version, r.tombstone);
  }
  t.notOk(
    writer.fits(SnapshotPageWriter.recordBytes('k', 'v'.repeat(200))),
    'a record past the bound does not fit',
  );
  const big = new SnapshotPageWriter(10);
  t.ok(big.fits(10_000), 'the first record always fits, so a large one still moves');
  for (const next of [{ session: 4, position: 2 ** 33 }, undefined]) {
    const page = writer.finish(next);
    t.equal(page.length, writer.bytes);
    const { message, header } = snapshotMessage(HopKind.RESULT, page);
    t.same(decodeSnapshotPage(message, header), { records, next });
  }
  const truncated = writer.finish(undefined).subarray(0, 30);
  const { message, header } = snapshotMessage(HopKind.RESULT, truncated);
  t.throws(() => decodeSnapshotPage(message, header), RangeError, 'a page that ends inside a record');
});
