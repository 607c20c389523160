import t from 'tap';
import { LallyError } from '../../src/errors.js';
import { BodyOp, detachBodyOps, fastBatchOps, keyUnits } from '../../src/http/batch-body.js';
import { parseBatchBody } from '../../src/http/request-parsing.js';
import { plainOps } from '../fixtures/batch-ops.js';
import { seededRandom } from '../fixtures/seeded-random.js';

const limits = { maxKeyBytes: 20, maxValueBytes: 30, maxBodyBytes: 1 << 20, maxBatchOps: 5 };

/** What parseBatchBody answers: its ops, or its error. */
function outcome(body: string): unknown {
  try {
    return plainOps(parseBatchBody(Buffer.from(body), limits));
  } catch (error) {
    if (!(error instanceof LallyError)) throw error;
    return { code: error.code, message: error.message };
  }
}

const KEYS = [
  'k',
  'key-000000000001',
  '',
  'a"b',
  'back\\slash',
  'é',
  '\ud800',
  'x'.repeat(20),
  'x'.repeat(21),
  'tab\t',
  ' sp ace ',
  '~',
];
const VALUES = ['', 'v', 'abcdefghijklmnop', 'y'.repeat(30), 'y'.repeat(31), '🎉', 'new\nline', null, 7];
const OPS = ['get', 'put', 'remove', 'GET', 'add', 'set', 'delete', 'del', 'nope', 3];

t.test('the fast parse answers what JSON.parse answers, for bodies of every shape', async (t) => {
  const next = seededRandom(0x1f2e3d4c);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  let fast = 0;
  for (let round = 0; round < 3000; round++) {
    const ops = Array.from({ length: Math.floor(next() * 7) }, () => {
      const op = pick(OPS);
      const item: Record<string, unknown> = { op, key: pick(KEYS) };
      if (next() < 0.1) delete item.key;
      if (op === 'put' || next() < 0.2) item.value = pick(VALUES);
      if (next() < 0.05) item.extra = 1;
      if (next() < 0.05) return { key: item.key, op: item.op };
      return item;
    });
    let body = next() < 0.2 ? JSON.stringify(ops) : JSON.stringify({ ops });
    const roll = next();
    if (roll < 0.03) body = body.replace(',', ', ');
    else if (roll < 0.06) body = body.slice(0, -1);
    else if (roll < 0.08) body = `${body}x`;
    else if (roll < 0.1) body = body.replace('{"ops"', '{"ops":1,"ops"');
    // Where the fast parse answers, JSON.parse (a leading space: never the fast parse) answers the
    // same ops; where it does not, parseBatchBody is JSON.parse's path itself.
    const parsed = fastBatchOps(Buffer.from(body), limits);
    if (parsed === undefined) continue;
    fast++;
    t.same(plainOps(parsed), outcome(` ${body}`), body);
  }
  t.ok(fast > 300, `the fast parse took ${fast} of the bodies`);
});

t.test('the usual body takes the fast parse; its keys and values are what was sent', async (t) => {
  const body =
    '{"ops":[{"op":"get","key":"key-000000000001"},{"op":"put","key":"b","value":"abc"},{"op":"remove","key":"c"}]}';
  t.same(plainOps(fastBatchOps(Buffer.from(body), limits)!), [
    { op: 'get', key: 'key-000000000001', value: undefined },
    { op: 'put', key: 'b', value: 'abc' },
    { op: 'remove', key: 'c', value: undefined },
  ]);
  t.same(fastBatchOps(Buffer.from('[]'), limits), []);
  t.same(fastBatchOps(Buffer.from('{"ops":[]}'), limits), []);
  t.equal(fastBatchOps(Buffer.from('\ufeff[]'), limits), undefined, 'a byte order mark: the usual path');
  t.equal(fastBatchOps(Buffer.from([0x5b, 0xff, 0x5d]), limits), undefined, 'not UTF-8: the usual path');
});

t.test('detached ops outlive the request body: uWS reclaims it when the handler returns', async (t) => {
  const bytes = new Uint8Array(
    Buffer.from('[{"op":"get","key":"first"},{"op":"put","key":"second","value":"v"}]'),
  );
  const ops = fastBatchOps(bytes, limits)!;
  t.ok(
    ops.every((op) => op instanceof BodyOp && op.body === bytes),
    'the keys are spans of the body, not copies',
  );
  detachBodyOps(ops);
  // Detach the body's memory as uWS does when its callback returns; the ops must not read it.
  structuredClone(bytes.buffer, { transfer: [bytes.buffer] });
  t.equal(bytes.byteLength, 0, 'the body is detached');
  t.same(plainOps(ops), [
    { op: 'get', key: 'first', value: undefined },
    { op: 'put', key: 'second', value: 'v' },
  ]);
  t.ok(
    ops.every((op) => op instanceof BodyOp && op.body === undefined),
    'detached ops hold no body',
  );
  t.equal(keyUnits(ops[0]!), 5, 'a key of the fast parse is weighed without its string');
  t.equal(keyUnits({ op: 'get', key: 'ключ', value: undefined }), 4, 'a plain op by its string');
});
