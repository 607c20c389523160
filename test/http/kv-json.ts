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
const VALUES = ['v', '', 'with "quotes"', '\\', '\u0000nul', 'ünïcödé', 'x'.repeat(300)];
const TS = '2026-11-25T08:40:00.123Z';

t.test('the fast builder produces exactly the reference answer', async (t) => {
  for (const [read, write] of [
    [1, 1],
    [2, 3],
  ] as const) {
    const json = new KvJson(read, write);
    const status = (required: number) => (1 >= required ? 'success' : 'partial');
    for (const key of KEYS) {
      for (const value of VALUES) {
        t.equal(
          json.get(key, value, TS),
          kvAnswerJson({
            status: status(read),
            key,
            value,
            timestamp: TS,
            required: read,
            achieved: 1,
            message: Messages.fetched(key),
          }),
        );
        t.equal(
          json.put(key, value, TS),
          kvAnswerJson({
            status: status(write),
            key,
            value,
            timestamp: TS,
            required: write,
            achieved: 1,
            message: Messages.added(),
          }),
        );
        t.equal(
          json.remove(key, value, TS),
          kvAnswerJson({
            status: status(write),
            key,
            value,
            timestamp: TS,
            required: write,
            achieved: 1,
            message: Messages.removed(key),
          }),
        );
      }
      t.equal(
        json.get(key, undefined, undefined),
        kvAnswerJson({
          status: status(read),
          key,
          value: undefined,
          timestamp: undefined,
          required: read,
          achieved: 1,
          message: Messages.missing(key),
        }),
      );
      t.equal(
        json.remove(key, undefined, undefined),
        kvAnswerJson({
          status: status(write),
          key,
          value: undefined,
          timestamp: undefined,
          required: write,
          achieved: 1,
          message: Messages.removeMissing(key),
        }),
      );
      t.same(
        JSON.parse(json.get(key, 'v', TS)).message,
        Messages.fetched(key),
        'the message decodes to the key as given',
      );
    }
  }
});
