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
        t.equal(
          json.get(rq, key, value, TS),
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
        t.equal(
          json.remove(wq, key, value, TS),
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
      }
      t.equal(
        json.get(rq, key, undefined, undefined),
        kvAnswerJson({
          status: status(read),
          key,
          value: undefined,
          timestamp: undefined,
          required: read,
          achieved,
          message: Messages.missing(key),
        }),
      );
      t.equal(
        json.remove(wq, key, undefined, undefined),
        kvAnswerJson({
          status: status(write),
          key,
          value: undefined,
          timestamp: undefined,
          required: write,
          achieved,
          message: Messages.removeMissing(key),
        }),
      );
      t.same(
        JSON.parse(json.get(rq, key, 'v', TS)).message,
        Messages.fetched(key),
        'the message decodes to the key as given',
      );
    }
  }
});
