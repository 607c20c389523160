import fc from 'fast-check';
import t from 'tap';
import {
  checkRecordAt,
  decodeRecordAt,
  encodeRecord,
  MAX_RECORD_BODY_BYTES,
  RECORD_FIXED_BODY_BYTES,
  readU32,
} from '../../src/aof/format.js';
import { CONFIG_OPTIONS } from '../../src/config/options.js';

t.test('the largest record the limits allow is one the reader accepts', async (t) => {
  const max = (key: string) => {
    const option = CONFIG_OPTIONS.find((o) => o.key === key);
    if (option?.max === undefined) throw new Error(`${key} has no maximum`);
    return option.max;
  };
  const largestBody = RECORD_FIXED_BODY_BYTES + max('maxKeyBytes') + max('maxValueBytes');
  t.ok(
    largestBody <= MAX_RECORD_BODY_BYTES,
    `a body of ${largestBody} bytes (largest key + largest value) is within ${MAX_RECORD_BODY_BYTES}`,
  );
  // The length check alone, on a prefix claiming that largest body: incomplete (0), not garbage (-1).
  const prefix = Buffer.alloc(8 + RECORD_FIXED_BODY_BYTES);
  prefix.writeUInt32LE(largestBody, 0);
  prefix[8] = 1; // ADD
  t.equal(checkRecordAt(prefix, 0, prefix.length), 0, 'read as a record still arriving');
});

t.test('records round-trip', async (t) => {
  const record = {
    op: 'ADD' as const,
    key: 'k€',
    value: 'v'.repeat(1000),
    version: { wall: 5, counter: 1, node: 2 },
  };
  const bytes = encodeRecord(record);
  t.equal(checkRecordAt(bytes, 0, bytes.length), bytes.length);
  t.same(decodeRecordAt(bytes, 0), record);
});

t.test('readU32 reads what Buffer#readUInt32LE reads, at every alignment', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 4, maxLength: 64 }), fc.nat(), (bytes, at) => {
      const buf = Buffer.from(bytes);
      const offset = at % (buf.length - 3);
      return readU32(buf, offset) === buf.readUInt32LE(offset);
    }),
    { numRuns: 2000 },
  );
  t.equal(readU32(Buffer.from([0xff, 0xff, 0xff, 0xff]), 0), 0xffffffff, 'the top bit set stays unsigned');
});
