import t from 'tap';
import { KvJson } from '../../src/http/kv-json.js';
import { kvAnswerJson, Messages } from '../../src/http/responses.js';

const KEYS = [
  'k',
  'user:1',
  'quote"d',
  'back\\slash',
  'new\nline',
  'tab\t',
  'é🙂',
  '\u2028sep',
  "it's",
  '</script>',
];
const VALUES = [
  'v',
  '',
  'with "quotes"',
  '\\',
  '\u0000nul',
  '\u001f\u007f\b\f\r\t',
  'ünïcödé 🔑',
  '\u2028\u2029',
  'x'.repeat(300),
  `${'a'.repeat(64 * 1024 - 2)}"\\`,
  '\n'.repeat(20_000), // 120 KB of escapes: past the builder's first buffer
];
const TS = '2026-11-25T08:40:00.123Z';

/** An answer's bytes as latin1 text: one character per byte, so equal texts are equal bytes. */
function bytesOf(answer: string | Uint8Array): string {
  return (typeof answer === 'string' ? Buffer.from(answer) : Buffer.from(answer)).toString('latin1');
}

t.test('the fast builder produces exactly the reference answer', async (t) => {
  const json = new KvJson(); // one builder for every quorum: its cache must not mix them up
  for (const [read, write, achieved] of [
    [1, 1, 1],
    [2, 3, 1],
    [3, 3, 3],
    [2, 3, 2],
    [1, 1, 1],
  ] as const) {
    // Fresh objects each round: the builder must go by the numbers, not only by object identity.
    const rq = { required: read, achieved };
    const wq = { required: write, achieved };
    const status = (required: number) => (achieved >= required ? 'success' : 'partial');
    for (const key of KEYS) {
      for (const value of VALUES) {
        const fetched = bytesOf(
          kvAnswerJson({
            status: status(read),
            key,
            value,
            timestamp: TS,
            required: read,
            achieved,
            message: Messages.fetched(key),
          }),
        );
        t.equal(bytesOf(json.get(rq, key, value, TS)), fetched, 'GET of a string value');
        // As the store hands it out: the value's bytes at an odd offset of a larger buffer.
        const stored = Buffer.concat([Buffer.from('"\\\n'), Buffer.from(value)]).subarray(3);
        t.equal(bytesOf(json.get(rq, key, stored, TS)), fetched, 'GET of the value as bytes');
        t.equal(
          json.put(wq, key, value, TS),
          kvAnswerJson({
            status: status(write),
            key,
            value,
            timestamp: TS,
            required: write,
            achieved,
            message: Messages.added(),
          }),
        );
        const removed = bytesOf(
          kvAnswerJson({
            status: status(write),
            key,
            value,
            timestamp: TS,
            required: write,
            achieved,
            message: Messages.removed(key),
          }),
        );
        t.equal(bytesOf(json.remove(wq, key, value, TS)), removed, 'REMOVE of a string value');
        t.equal(bytesOf(json.remove(wq, key, Buffer.from(value), TS)), removed, 'REMOVE, bytes');
      }
      t.equal(
        bytesOf(json.get(rq, key, undefined, undefined)),
        bytesOf(
          kvAnswerJson({
            status: status(read),
            key,
            value: undefined,
            timestamp: undefined,
            required: read,
            achieved,
            message: Messages.missing(key),
          }),
        ),
      );
      t.equal(
        bytesOf(json.remove(wq, key, undefined, undefined)),
        bytesOf(
          kvAnswerJson({
            status: status(write),
            key,
            value: undefined,
            timestamp: undefined,
            required: write,
            achieved,
            message: Messages.removeMissing(key),
          }),
        ),
      );
      t.equal(
        bytesOf(json.putWithoutValue(wq, key, TS)),
        bytesOf(
          JSON.stringify({
            status: status(write),
            key,
            timestamp: TS,
            quorum: { required: write, achieved },
            message: Messages.added(),
          }),
        ),
        'a REST PUT without its value echoed',
      );
      t.same(
        JSON.parse(Buffer.from(json.get(rq, key, Buffer.from('v'), TS)).toString()).message,
        Messages.fetched(key),
        'the message decodes to the key as given',
      );
    }
  }
});
