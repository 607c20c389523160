import { randomBytes } from 'node:crypto';
import t from 'tap';
import { crc32c, crc32cJs, crc32cNative, NATIVE_MIN_BYTES } from '../../src/aof/crc32c.js';

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

const PREBUILT = ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64'].includes(
  `${process.platform}-${process.arch}`,
);

t.test(
  'the native addon is loaded where npm installs a build of it (linux x64 and arm64, macOS)',
  { skip: PREBUILT ? false : 'no prebuilt addon is promised for this platform' },
  async (t) => {
    t.type(crc32cNative, 'function', 'a silent fall-back to the JS tables would cost 5x on large records');
  },
);

t.test(
  'native and JS agree on random data, lengths around the switch-over, and chained ranges',
  { skip: crc32cNative === undefined ? 'no native addon here' : false },
  async (t) => {
    const native = crc32cNative as NonNullable<typeof crc32cNative>;
    const lengths = [
      0,
      1,
      7,
      8,
      9,
      119,
      120,
      NATIVE_MIN_BYTES - 1,
      NATIVE_MIN_BYTES,
      NATIVE_MIN_BYTES + 1,
      4096,
      65_536,
      65_537,
    ];
    for (let i = 0; i < 200; i++) lengths.push(Math.floor(Math.random() * 70_000));
    let disagreements = 0;
    for (const length of lengths) {
      const pad = Math.floor(Math.random() * 16);
      const buf = randomBytes(length + 2 * pad);
      const seed = Math.floor(Math.random() * 0x100000000);
      const js = crc32cJs(buf, seed, pad, pad + length);
      if (crc32c(buf, seed, pad, pad + length) !== js) disagreements++;
      if (native(buf.subarray(pad, pad + length), seed) >>> 0 !== js) disagreements++;
      const cut = pad + Math.floor(Math.random() * (length + 1));
      if (crc32c(buf, crc32c(buf, 0, pad, cut), cut, pad + length) !== crc32cJs(buf, 0, pad, pad + length))
        disagreements++;
    }
    t.equal(disagreements, 0, `${lengths.length} random cases`);
    t.equal(
      crc32c(new Uint8Array(NATIVE_MIN_BYTES)),
      crc32cJs(new Uint8Array(NATIVE_MIN_BYTES)),
      'zeros at the switch-over',
    );
  },
);
