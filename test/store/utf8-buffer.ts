import fc from 'fast-check';
import t from 'tap';
import { Utf8Buffer } from '../../src/store/table-layout.js';

/** Keys of every kind around the ASCII loop's bound (16 units): ASCII, then non-ASCII at any place. */
const texts = fc.oneof(
  fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc
    .tuple(
      fc.string({ unit: 'grapheme-ascii', maxLength: 20 }),
      fc.constantFrom('é', '🔑', '\u0080', '\u07ff', '\uffff'),
    )
    .map(([ascii, other]) => ascii + other),
);

t.test('Utf8Buffer encodes every text as Buffer.from does, reused from text to text', async (t) => {
  const buffer = new Utf8Buffer();
  fc.assert(
    fc.property(fc.array(texts, { minLength: 1, maxLength: 8 }), (batch) => {
      for (const text of batch) {
        buffer.encode(text);
        const want = Buffer.from(text, 'utf8');
        if (buffer.length !== want.length || !want.equals(buffer.bytes.subarray(0, buffer.length)))
          return false;
      }
      return true;
    }),
    { numRuns: 2000 },
  );
  for (const length of [0, 1, 15, 16, 17, 400, 2000]) {
    const text = 'k'.repeat(length);
    t.equal(buffer.encode(text).length, length, `${length} ASCII characters`);
    t.equal(buffer.encode(`${text}é`).length, length + 2, `${length} ASCII characters and an é`);
  }
});
