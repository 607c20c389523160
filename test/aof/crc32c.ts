import t from 'tap';
import { crc32c } from '../../src/aof/crc32c.js';

const ascii = (text: string) => new TextEncoder().encode(text);

t.test('known CRC32C vectors (RFC 3720 B.4 and the usual check value)', async (t) => {
  t.equal(crc32c(ascii('')), 0);
  t.equal(crc32c(ascii('a')), 0xc1d04330);
  t.equal(crc32c(ascii('123456789')), 0xe3069283);
  t.equal(crc32c(new Uint8Array(32)), 0x8a9136aa, '32 bytes of zeros');
  t.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43, '32 bytes of 0xff');
  const ascending = Uint8Array.from({ length: 32 }, (_, i) => i);
  t.equal(crc32c(ascending), 0x46dd794e, '32 ascending bytes');
  const descending = Uint8Array.from({ length: 32 }, (_, i) => 31 - i);
  t.equal(crc32c(descending), 0x113fdb5c, '32 descending bytes');
  t.equal(crc32c(ascii('The quick brown fox jumps over the lazy dog')), 0x22620404);
});

t.test('incremental and ranged computation agree with one pass', async (t) => {
  const data = Uint8Array.from({ length: 1000 }, (_, i) => (i * 131 + 7) & 0xff);
  const whole = crc32c(data);
  for (const cut of [0, 1, 7, 8, 9, 500, 999, 1000]) {
    t.equal(crc32c(data, crc32c(data, 0, 0, cut), cut), whole, `split at ${cut}`);
  }
  const padded = new Uint8Array(1010);
  padded.set(data, 5);
  t.equal(crc32c(padded, 0, 5, 1005), whole, 'range inside a larger buffer');
});
