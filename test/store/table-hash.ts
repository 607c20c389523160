import fc from 'fast-check';
import t from 'tap';
import { hashKeyBytes } from '../../src/hash/key-hash.js';
import { tableHash, tableHashOf, Utf8Buffer } from '../../src/store/table-layout.js';

t.test("the table hash from the shard hash is the key's table hash", async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      return tableHashOf(hashKeyBytes(bytes)) === tableHash(bytes, bytes.length);
    }),
    { numRuns: 3000 },
  );
  t.pass('3000 random keys');
});

t.test('Utf8Buffer.copyFrom holds the span, at every length around its loop and past its size', async (t) => {
  const buffer = new Utf8Buffer();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat(), fc.nat(), (bytes, a, b) => {
      const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
      const end = start + (bytes.length === start ? 0 : b % (bytes.length - start + 1));
      buffer.copyFrom(bytes, start, end);
      return (
        buffer.length === end - start &&
        Buffer.from(buffer.bytes.subarray(0, buffer.length)).equals(Buffer.from(bytes.subarray(start, end)))
      );
    }),
    { numRuns: 2000 },
  );
  for (const n of [0, 15, 16, 17, 1024, 1025, 5000]) {
    const bytes = Uint8Array.from({ length: n + 2 }, (_, i) => (i * 31) & 0xff);
    buffer.copyFrom(bytes, 1, n + 1);
    t.equal(
      Buffer.compare(buffer.bytes.subarray(0, buffer.length), bytes.subarray(1, n + 1)),
      0,
      `${n} bytes`,
    );
  }
});
