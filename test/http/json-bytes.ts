// The byte-level JSON string escaper against JSON.stringify: every boundary, then random texts and bytes.
import fc from 'fast-check';
import t from 'tap';
import { JsonBytes } from '../../src/http/json-bytes.js';
import { decodeUtf8Bytes } from '../../src/kv/value-input.js';

/** What the escaper must write for these bytes: decode them (as Node does), stringify, encode. */
function expected(bytes: Uint8Array): string {
  return Buffer.from(JSON.stringify(Buffer.from(bytes).toString('utf8'))).toString('latin1');
}

/** The escaper's output, as latin1 text (one character per byte: a byte-exact comparison). */
function escaped(out: JsonBytes, bytes: Uint8Array): string {
  return Buffer.from(out.reset().string(bytes).view()).toString('latin1');
}

/** `bytes` copied to `offset` bytes into a fresh buffer (shared when asked): the view starts unaligned. */
function placed(bytes: Uint8Array, offset: number, shared = false): Uint8Array {
  const backing = shared
    ? new SharedArrayBuffer(offset + bytes.length + 5)
    : new ArrayBuffer(offset + bytes.length + 5);
  const view = new Uint8Array(backing, offset, bytes.length);
  view.set(bytes);
  // Bytes around the view that would need escaping, were they read.
  new Uint8Array(backing).fill(0x22, 0, offset);
  new Uint8Array(backing).fill(0x5c, offset + bytes.length);
  return view;
}

t.test('every single character that JSON.stringify treats apart', async (t) => {
  const out = new JsonBytes();
  for (let c = 0; c < 0x80; c++) {
    const bytes = Buffer.from(String.fromCharCode(c));
    t.equal(escaped(out, bytes), expected(bytes), `U+${c.toString(16).padStart(4, '0')}`);
  }
  t.equal(escaped(out, Buffer.from('\u001f')), '"\\u001f"', 'lowercase hex as JSON.stringify');
  t.equal(escaped(out, Buffer.from('\x7f')), '"\x7f"', 'DEL is not escaped');
  for (const text of ['\u2028', '\u2029', 'é', '€', '🔑', '\uffff', '\u{10ffff}']) {
    t.equal(escaped(out, Buffer.from(text)), Buffer.from(JSON.stringify(text)).toString('latin1'), text);
  }
  t.equal(escaped(out, new Uint8Array(0)), '""', 'the empty value');
});

t.test('escapes at every position around the word scan, at every alignment', async (t) => {
  const out = new JsonBytes();
  let wrong = 0;
  let cases = 0;
  for (const length of [1, 3, 4, 5, 31, 32, 33, 63, 64, 65, 66, 67, 68, 69, 100, 131]) {
    for (const special of ['"', '\\', '\n', '\u0000', '\u001f', 'é', '€', '🔑', '\u2028']) {
      for (let at = 0; at < length; at++) {
        const text = `${'a'.repeat(at)}${special}${'b'.repeat(length - at - 1)}`;
        const bytes = Buffer.from(text);
        for (let offset = 0; offset < 4; offset++) {
          cases++;
          if (escaped(out, placed(bytes, offset, offset % 2 === 1)) !== expected(bytes)) wrong++;
        }
      }
    }
  }
  t.equal(wrong, 0, `${cases} cases`);
});

t.test('runs of escapes, long runs between them, and inputs larger than every buffer', async (t) => {
  const out = new JsonBytes();
  const texts = [
    '"'.repeat(1000),
    '\\\\"\\"'.repeat(300),
    '\u0001'.repeat(100_000), // 6 bytes out per byte in: grows the buffer in the middle of the escapes
    `${'x'.repeat(40)}"${'y'.repeat(40)}\n${'z'.repeat(1000)}`,
    'v'.repeat(64 * 1024),
    `${'v'.repeat(64 * 1024)}"`,
    `"${'é'.repeat(40_000)}\t`,
    'a\u0000b'.repeat(500_000), // 1.5 MB in, 5.5 MB out: past the size the buffer is kept at
  ];
  for (const text of texts) {
    const bytes = Buffer.from(text);
    t.equal(escaped(out, bytes), expected(bytes), `${bytes.length} bytes`);
    t.equal(
      escaped(out, placed(bytes, 3, true)),
      expected(bytes),
      `${bytes.length} bytes, unaligned, shared`,
    );
  }
  // A small answer after a large one still comes out right (the large buffer was dropped).
  t.equal(escaped(out, Buffer.from('after')), '"after"');
});

t.test('bytes that are not valid UTF-8 come out as decoding and stringifying them would', async (t) => {
  const out = new JsonBytes();
  const samples = [
    [0xff],
    [0xc3],
    [0x61, 0xc3, 0x22],
    [0xc0, 0xaf], // overlong
    [0xed, 0xa0, 0x80], // an encoded surrogate
    [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
    [0xf0, 0x9f, 0x94], // truncated
    [0x80, 0x80, 0x22, 0x5c],
  ];
  for (const sample of samples) {
    for (const pad of [0, 70]) {
      const bytes = Buffer.concat([Buffer.from('q'.repeat(pad)), Buffer.from(sample)]);
      t.equal(escaped(out, bytes), expected(bytes), `${Buffer.from(sample).toString('hex')} after ${pad}`);
    }
  }
});

t.test('text parts: ASCII by a loop, the rest by the encoder, ranges', async (t) => {
  const out = new JsonBytes();
  out.reset().text('ab').text('xé🔑y', 1, 4).stringOfText('"q"\n').text('');
  t.equal(Buffer.from(out.view()).toString(), `abé🔑${JSON.stringify('"q"\n')}`);
  t.equal(decodeUtf8Bytes(new Uint8Array(0)), '');
  t.equal(decodeUtf8Bytes(placed(Buffer.from('shared é'), 1, true)), 'shared é');
});

t.test('random texts: byte for byte what JSON.stringify writes', async (t) => {
  const out = new JsonBytes();
  // Texts rich in what matters: escapes, ASCII runs, multi-byte characters, surrogates (lone too).
  const unit = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('a', 'Z', ' ', '~', '\x7f') },
    { weight: 2, arbitrary: fc.constantFrom('"', '\\', '\n', '\u0000', '\u001f', '\t', '\b') },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) },
  );
  fc.assert(
    fc.property(
      fc.array(unit, { maxLength: 400 }).map((parts) => parts.join('')),
      fc.integer({ min: 0, max: 7 }),
      (text, offset) => {
        const bytes = Buffer.from(text);
        const got = escaped(out, placed(bytes, offset));
        const decoded = bytes.toString('utf8');
        // Without lone surrogates the bytes decode back to the text itself.
        if (decoded === text && got !== Buffer.from(JSON.stringify(text)).toString('latin1')) return false;
        return got === Buffer.from(JSON.stringify(decoded)).toString('latin1');
      },
    ),
    { numRuns: 3000, seed: 20261202 },
  );
  t.pass('3000 texts');
});

t.test('random bytes: what decoding and stringifying them would write', async (t) => {
  const out = new JsonBytes();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 7 }), (bytes, offset) => {
      return escaped(out, placed(bytes, offset, true)) === expected(bytes);
    }),
    { numRuns: 3000, seed: 42 },
  );
  t.pass('3000 byte strings');
});
