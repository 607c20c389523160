import t from 'tap';
import { ErrorCodes } from '../../src/errors.js';
import { BatchRunner, defaultBatchBudget } from '../../src/http/batch-runner.js';
import type { BatchOp } from '../../src/http/request-parsing.js';
import type { OpCallback, OpKind, OpResult } from '../../src/kv/key-value-service.js';

interface Call {
  op: OpKind;
  key: string;
  callback: OpCallback;
}

/** An execute whose operations wait until the test answers them (as hops do). */
function manual(): {
  calls: Call[];
  execute: (op: OpKind, key: string, v: string | undefined, cb: OpCallback) => void;
} {
  const calls: Call[] = [];
  return { calls, execute: (op, key, _value, callback) => calls.push({ op, key, callback }) };
}

const found = (value: string): OpResult => ({
  found: true,
  value,
  version: { wall: 1, counter: 0, node: 1 },
  error: undefined,
  quorum: { required: 1, achieved: 1 },
});

const gets = (n: number, prefix = 'k'): BatchOp[] =>
  Array.from({ length: n }, (_, i): BatchOp => ({ op: 'get', key: `${prefix}${i}`, value: undefined }));

interface Item {
  op: string;
  status: string;
  code?: string;
  value?: string | null;
}

/** The answer's bytes are the runner's until the callback returns: copied out as text. */
const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');

function parse(json: string): { status: string; count: number; results: Item[] } {
  return JSON.parse(json) as { status: string; count: number; results: Item[] };
}

const limits = { budgetBytes: 1 << 20, maxActive: 2, maxWaiting: 4, maxWaitMs: 60_000, window: 8 };
const noRefusal = () => {
  throw new Error('refused');
};

t.test('a batch runs `window` operations at a time, in order, and answers once all are back', async (t) => {
  const { calls, execute } = manual();
  const runner = new BatchRunner(execute, limits);
  let answer: string | undefined;
  runner.submit(
    gets(20),
    () => false,
    (json) => (answer = text(json)),
    noRefusal,
  );
  t.equal(calls.length, 8, 'only the window is in flight');
  calls[0]!.callback(found('a'));
  t.equal(calls.length, 9, 'one answer lets one more run');
  for (let i = 1; i < 20; i++) {
    while (calls.length <= i) await Promise.resolve();
    calls[i]!.callback(found(`v${i}`));
  }
  t.same(
    calls.map((c) => c.key),
    gets(20).map((op) => op.key),
  );
  const body = parse(answer!);
  t.equal(body.status, 'success');
  t.equal(body.results[19]!.value, 'v19');
  t.equal(runner.assembledBytes, 0, 'the bytes are released with the answer');
});

t.test('operations answered synchronously run the whole batch without recursion', async (t) => {
  const runner = new BatchRunner((_op, key, _value, callback) => callback(found(key)), limits);
  let answer: string | undefined;
  runner.submit(
    gets(10_000),
    () => false,
    (json) => (answer = text(json)),
    noRefusal,
  );
  t.equal(parse(answer!).results.length, 10_000);
});

t.test('past the budget, GETs are answered BUSY without running; writes are always reported', async (t) => {
  const value = 'x'.repeat(300);
  const executed: string[] = [];
  const runner = new BatchRunner(
    (op, key, v, callback) => {
      executed.push(key);
      callback(
        op === 'put'
          ? {
              found: true,
              value: undefined,
              version: { wall: 1, counter: 0, node: 1 },
              error: undefined,
              quorum: { required: 1, achieved: 1 },
            }
          : found(v ?? value),
      );
    },
    { ...limits, budgetBytes: 1000 },
  );
  const ops: BatchOp[] = [...gets(6), { op: 'put', key: 'w', value: 'y'.repeat(2000) }, ...gets(3, 'late')];
  let answer: string | undefined;
  runner.submit(
    ops,
    () => false,
    (json) => (answer = text(json)),
    noRefusal,
  );
  const body = parse(answer!);
  t.equal(body.status, 'partial');
  t.same(
    body.results.map((r) => r.code ?? r.status),
    [
      'success',
      'success',
      ErrorCodes.BUSY,
      ErrorCodes.BUSY,
      ErrorCodes.BUSY,
      ErrorCodes.BUSY,
      'success',
      ErrorCodes.BUSY,
      ErrorCodes.BUSY,
      ErrorCodes.BUSY,
    ],
  );
  t.same(executed, ['k0', 'k1', 'k2', 'w'], 'the GETs after the first refusal did not run; the PUT did');
  t.equal(body.results[6]!.value, 'y'.repeat(2000), 'the write is reported, past the budget too');
  t.equal(runner.counters.itemsBusy, 7);
});

t.test('the oldest batch may use the whole budget; a younger one shares what is left', async (t) => {
  const value = 'x'.repeat(110); // an item of about 240 bytes (with its quorum): three fit in 1000
  for (const youngFirst of [true, false]) {
    const { calls, execute } = manual();
    const runner = new BatchRunner(execute, { ...limits, budgetBytes: 1000 });
    const answers = new Map<string, string>();
    runner.submit(
      gets(3, 'old'),
      () => false,
      (json) => answers.set('old', text(json)),
      noRefusal,
    );
    runner.submit(
      gets(3, 'young'),
      () => false,
      (json) => answers.set('young', text(json)),
      noRefusal,
    );
    t.equal(runner.running, 2);
    // Young first; or two of the oldest's items, then the young batch, then the oldest's last item.
    const order = youngFirst
      ? ['young0', 'young1', 'young2', 'old0', 'old1', 'old2']
      : ['old0', 'old1', 'young0', 'young1', 'young2', 'old2'];
    for (const key of order) calls.find((c) => c.key === key)!.callback(found(value));
    const codes = (name: string) => parse(answers.get(name)!).results.map((r) => r.code ?? r.status);
    t.same(codes('old'), ['success', 'success', 'success'], 'the oldest is never refused for the others');
    t.same(
      codes('young'),
      youngFirst ? ['success', 'success', 'success'] : ['success', 'success', ErrorCodes.BUSY],
      youngFirst ? 'the young one fit while it came first' : 'the young one gets what the oldest left',
    );
    t.equal(runner.assembledBytes, 0);
  }
});

t.test('too many batches: they wait their turn, then the next one is refused with BUSY', async (t) => {
  const { calls, execute } = manual();
  const runner = new BatchRunner(execute, { ...limits, maxActive: 1, maxWaiting: 1 });
  const answers: string[] = [];
  runner.submit(
    gets(1, 'a'),
    () => false,
    (json) => answers.push(text(json)),
    noRefusal,
  );
  runner.submit(
    gets(1, 'b'),
    () => false,
    (json) => answers.push(text(json)),
    noRefusal,
  );
  t.equal(runner.waiting, 1);
  t.throws(
    () =>
      runner.submit(
        gets(1, 'c'),
        () => false,
        () => t.fail('refused'),
        noRefusal,
      ),
    { code: ErrorCodes.BUSY },
  );
  t.equal(runner.counters.batchesBusy, 1);
  t.same(
    calls.map((c) => c.key),
    ['a0'],
    'the waiting batch has not run',
  );
  calls[0]!.callback(found('1'));
  await Promise.resolve();
  t.same(
    calls.map((c) => c.key),
    ['a0', 'b0'],
    'its turn came',
  );
  calls[1]!.callback(found('2'));
  t.equal(answers.length, 2);
});

t.test('a client that goes away: nothing more runs, and its bytes are released', async (t) => {
  const { calls, execute } = manual();
  const runner = new BatchRunner(execute, { ...limits, maxActive: 1 });
  let aborted = false;
  runner.submit(
    gets(20),
    () => aborted,
    () => t.fail('no answer for a gone client'),
    noRefusal,
  );
  let next: string | undefined;
  runner.submit(
    gets(1, 'next'),
    () => false,
    (json) => (next = text(json)),
    noRefusal,
  );
  calls[0]!.callback(found('x'.repeat(100)));
  t.ok(runner.assembledBytes > 100);
  aborted = true;
  for (const call of calls.slice(1)) call.callback(found('y'));
  t.equal(calls.filter((c) => c.key.startsWith('k')).length, 9, 'no operation started after the abort');
  t.equal(runner.assembledBytes, 0);
  await Promise.resolve();
  const last = calls.at(-1)!;
  t.equal(last.key, 'next0', 'the waiting batch got its turn');
  last.callback(found('z'));
  t.equal(parse(next!).status, 'success');
});

t.test('the default budget holds four of the largest values, and at least 64 MiB', async (t) => {
  t.equal(defaultBatchBudget(1024 * 1024), 64 * 1024 * 1024);
  t.equal(defaultBatchBudget(512 * 1024 * 1024), 2 * 1024 * 1024 * 1024);
});

t.test('a batch that waits longer than maxWaitMs is refused with BUSY, and nothing of it runs', async (t) => {
  const { calls, execute } = manual();
  const runner = new BatchRunner(execute, { ...limits, maxActive: 1, maxWaitMs: 30 });
  t.teardown(() => runner.close());
  const keep = setInterval(() => {}, 1000);
  t.teardown(() => clearInterval(keep));
  runner.submit(
    gets(1, 'slow'),
    () => false,
    () => {},
    noRefusal,
  );
  const refused = await new Promise<Error>((resolve) =>
    runner.submit(
      gets(1, 'late'),
      () => false,
      () => t.fail('must not run'),
      resolve,
    ),
  );
  t.match(refused, { code: ErrorCodes.BUSY, message: /no turn within 30 ms/ });
  t.equal(runner.waiting, 0);
  t.equal(runner.counters.batchesBusy, 1);
  calls[0]!.callback(found('x'));
  await Promise.resolve();
  t.same(
    calls.map((c) => c.key),
    ['slow0'],
    'the refused batch never ran',
  );
});
