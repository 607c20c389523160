import t from 'tap';
import { ErrorCodes, LallyError } from '../../src/errors.js';
import { AnswerWriter, batchItemJson } from '../../src/http/batch-json.js';
import type { BatchOp } from '../../src/http/request-parsing.js';
import type { OpResult } from '../../src/kv/key-value-service.js';
import { seededRandom } from '../fixtures/seeded-random.js';

/** The answer as the runner built it before AnswerWriter: strings, joined. */
function stringAnswer(items: readonly [BatchOp, OpResult][], partial: boolean): string {
  const parts = items.map(([op, result]) => batchItemJson(op, result));
  return `{"status":"${partial ? 'partial' : 'success'}","count":${items.length},"results":[${parts.join(',')}]}`;
}

const TEXTS = [
  'key-000000000042',
  '',
  'a"b',
  'back\\slash',
  'tab\there',
  'new\nline',
  '\u0000\u001f\u007f',
  'é',
  'ключ',
  '🎉',
  '\ud800',
  'x'.repeat(64),
  'y'.repeat(65),
  'é'.repeat(70),
  `${'z'.repeat(100)}"`,
  'v'.repeat(5000),
];

const WALLS = [
  0, 1, 999, 1000, 1_733_150_000_123, 1_733_150_000_007, 1_733_150_001_050, 253_402_300_799_999,
  253_402_300_800_000, -1, -1500, 12.5,
];

function anyResult(next: () => number, pick: <T>(list: readonly T[]) => T): OpResult {
  const roll = next();
  const quorum = pick([
    { required: 1, achieved: 1 },
    { required: 2, achieved: 1 },
    { required: 1, achieved: 0 },
    { required: 12, achieved: 345 },
  ]);
  if (roll < 0.1) {
    return {
      found: false,
      value: undefined,
      version: undefined,
      quorum,
      error: new LallyError(pick([ErrorCodes.BUSY, ErrorCodes.TIMEOUT]), pick(TEXTS)),
    };
  }
  const found = roll < 0.7;
  return {
    found,
    value: found ? pick(TEXTS) : undefined,
    version: next() < 0.1 ? undefined : { wall: pick(WALLS), counter: 0, node: 1 },
    error: undefined,
    quorum,
  };
}

t.test('answers are byte for byte the JSON the strings made, in any order of arrival', async (t) => {
  const next = seededRandom(0x2545f491);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const writer = new AnswerWriter(64); // small, so that it grows
  const ordering = new AnswerWriter(64);
  for (let round = 0; round < 400; round++) {
    const count = Math.floor(next() * 12);
    const items: [BatchOp, OpResult][] = [];
    for (let i = 0; i < count; i++) {
      const op = pick(['get', 'put', 'remove'] as const);
      items.push([
        { op, key: pick(TEXTS), value: op === 'put' ? pick(TEXTS) : undefined },
        anyResult(next, pick),
      ]);
    }
    const order = items.map((_, i) => i);
    if (next() < 0.5) order.sort(() => next() - 0.5);
    writer.reset(count);
    let units = 0;
    for (const i of order) {
      writer.item(i, items[i]![0], items[i]![1]);
      units += writer.units;
      t.equal(
        writer.units,
        batchItemJson(items[i]![0], items[i]![1]).length,
        'an item weighs its UTF-16 units',
      );
    }
    const partial = next() < 0.3;
    const bytes = writer.finish(count, partial, ordering);
    const expected = stringAnswer(items, partial);
    if (Buffer.from(bytes).toString('utf8') !== expected) {
      t.equal(Buffer.from(bytes).toString('utf8'), expected, `round ${round}`);
      return;
    }
    t.ok(Buffer.from(expected, 'utf8').equals(bytes), `round ${round}: the same bytes`);
    t.ok(units >= 0);
  }
});

t.test('an empty batch', async (t) => {
  const writer = new AnswerWriter();
  writer.reset(0);
  t.equal(
    Buffer.from(writer.finish(0, false, new AnswerWriter())).toString(),
    '{"status":"success","count":0,"results":[]}',
  );
});

t.test('an item whose key fills the buffer to its end: every buffer size around it', async (t) => {
  // A key past the short-string loop whose UTF-8 is 3 or 4 bytes a character leaves no slack after
  // its text; the constant that follows must still find room (it threw, or was cut, at 54 sizes).
  let differ = 0;
  for (const key of ['€'.repeat(70), '€'.repeat(65), '🎉'.repeat(40), 'é'.repeat(70)]) {
    for (const op of ['get', 'put'] as const) {
      for (let size = 64; size < 1200; size++) {
        const writer = new AnswerWriter(size);
        const batch: BatchOp = { op, key, value: op === 'put' ? 'v' : undefined };
        const result: OpResult = {
          found: true,
          value: 'v',
          version: { wall: 1_733_150_000_123, counter: 0, node: 1 },
          error: undefined,
          quorum: { required: 1, achieved: 1 },
        };
        writer.reset(1);
        writer.item(0, batch, result);
        const bytes = Buffer.from(writer.finish(1, false, new AnswerWriter(size))).toString('utf8');
        if (bytes !== stringAnswer([[batch, result]], false)) differ++;
      }
    }
  }
  t.equal(differ, 0, 'the same answer at every size');
});
