/**
 * The batch runner's synchronous GETs (KeyValueService.readNow) against its old path (execute only):
 * random batches, run on two identical two-shard setups (real ShardRouters, stores in shared tables
 * that the other shard reads, hops delivered later as a ring would), must give the same answer bytes,
 * the same engine and router counts and the same metrics.
 */
import t from 'tap';
import { BodyOp } from '../../src/http/batch-body.js';
import { BatchRunner } from '../../src/http/batch-runner.js';
import type { BatchOp } from '../../src/http/request-parsing.js';
import type { KeyValueService } from '../../src/kv/key-value-service.js';
import { meteredService } from '../../src/metrics/metered-service.js';
import { allocateShardMetrics, ShardMetricsWriter } from '../../src/metrics/shard-metrics.js';
import type { ShardEngine } from '../../src/shard/shard-engine.js';
import type { ShardRouter } from '../../src/shard/shard-router.js';
import { seededRandom } from '../fixtures/seeded-random.js';
import { assertSameCounts, twoShardRouters } from '../fixtures/two-shard-routers.js';

interface Setup {
  routers: ShardRouter[];
  engines: ShardEngine[];
  metrics: SharedArrayBuffer[];
  /** One runner per shard: a batch arrives at either shard. */
  runners: BatchRunner[];
  services: KeyValueService[];
}

/** off: execute only; readNow: GETs answered now from their key strings; bytes: and from body spans. */
type Mode = 'off' | 'readNow' | 'bytes';

function setup(readNow: boolean | Mode, budgetBytes: number): Setup {
  const mode: Mode = readNow === true ? 'readNow' : readNow === false ? 'off' : readNow;
  const { routers, engines } = twoShardRouters(t);
  const metrics: SharedArrayBuffer[] = [];
  const runners: BatchRunner[] = [];
  const services: KeyValueService[] = [];
  for (const router of routers) {
    const block = allocateShardMetrics();
    const service: KeyValueService = meteredService(router, 'batch', new ShardMetricsWriter(block), () => 0);
    const limits = { budgetBytes, maxActive: 2, maxWaiting: 64, maxWaitMs: 60_000, window: 8 };
    runners.push(
      new BatchRunner(
        (op, key, value, callback) => service.execute(op, key, value, callback),
        limits,
        mode === 'off' ? undefined : service.readNow?.bind(service),
        mode === 'bytes' ? service.readNowBytes?.bind(service) : undefined,
      ),
    );
    services.push(service);
    metrics.push(block);
  }
  t.teardown(() => {
    for (const runner of runners) runner.close();
  });
  return { routers, engines, metrics, runners, services };
}

function run(runner: BatchRunner, ops: readonly BatchOp[]): Promise<string> {
  return new Promise((resolve, reject) =>
    runner.submit(
      ops,
      () => false,
      (json) => resolve(Buffer.from(json).toString('latin1')),
      reject,
    ),
  );
}

/**
 * The ops as the fast parse gives them where it could (a key of printable ASCII without `"` or `\`):
 * BodyOps whose key is a span in the middle of a larger body, as in a real request.
 */
function asBodyOps(ops: readonly BatchOp[]): BatchOp[] {
  return ops.map((op) => {
    if (!/^[\x20-\x7e]+$/.test(op.key) || /["\\]/.test(op.key)) return op;
    const body = Buffer.from(`[{"key":"${op.key}"}]`, 'latin1');
    return new BodyOp(op.op, body, 9, 9 + op.key.length, op.value);
  });
}

const pick = <T>(random: () => number, list: readonly T[]): T => list[Math.floor(random() * list.length)]!;

/** Keys of both shards, some needing escapes or non-ASCII, some long; values likewise, some large. */
function randomBatch(random: () => number, keys: readonly string[], values: readonly string[]): BatchOp[] {
  const ops: BatchOp[] = [];
  const count = 1 + Math.floor(random() * 40);
  for (let i = 0; i < count; i++) {
    const key = pick(random, keys);
    const roll = random();
    if (roll < 0.6) ops.push({ op: 'get', key, value: undefined });
    else if (roll < 0.85) {
      ops.push({ op: 'put', key, value: pick(random, values) });
      // A GET of the key just written, in the same batch: it must read the PUT.
      if (random() < 0.5) ops.push({ op: 'get', key, value: undefined });
    } else ops.push({ op: 'remove', key, value: undefined });
  }
  return ops;
}

const KEYS = [
  ...Array.from({ length: 24 }, (_, i) => `k${i}`),
  'ü-key',
  'clé 🔑',
  'quote"key',
  'back\\slash',
  'tab\tkey',
  'x'.repeat(100),
  'never-written',
];
const VALUES = [
  '',
  'v',
  'plain ascii value ~ {}',
  'a'.repeat(64),
  'b'.repeat(65),
  'c'.repeat(3000),
  'välue',
  'emoji 🔑 in it',
  'quote " inside',
  'back \\ slash',
  'new\nline',
  'ctrl \u0001',
  '\u007f del',
  'lone \ud800 surrogate',
];

for (const budgetBytes of [1 << 24, 6000]) {
  t.test(`readNow on and off answer the same bytes (budget ${budgetBytes} B)`, async (t) => {
    const on = setup(true, budgetBytes);
    const off = setup(false, budgetBytes);
    const bytes = setup('bytes', budgetBytes);
    const random = seededRandom(budgetBytes);
    let spans = 0;
    for (let round = 0; round < 400; round++) {
      const ops = randomBatch(random, KEYS, VALUES);
      const shard = random() < 0.5 ? 0 : 1;
      // Sometimes two batches at once on one shard, as concurrent clients send them.
      const twice = random() < 0.25 ? randomBatch(random, KEYS, VALUES) : undefined;
      const bodyOps = asBodyOps(ops);
      spans += bodyOps.filter((op) => op instanceof BodyOp).length;
      const [a, b, c, d, e, f] = await Promise.all([
        run(on.runners[shard]!, ops),
        twice === undefined ? '' : run(on.runners[shard]!, twice),
        run(off.runners[shard]!, ops),
        twice === undefined ? '' : run(off.runners[shard]!, twice),
        run(bytes.runners[shard]!, bodyOps),
        twice === undefined ? '' : run(bytes.runners[shard]!, asBodyOps(twice)),
      ]);
      if (a !== c || b !== d) {
        t.fail(`round ${round}: the answers differ`, { ops, on: a, off: c });
        return;
      }
      if (e !== c || f !== d) {
        t.fail(`round ${round}: the answers from body spans differ`, { ops, bytes: e, off: c });
        return;
      }
    }
    t.pass('400 rounds answered alike');
    t.ok(spans > 2000, `${spans} operations had their key as a body span`);
    assertSameCounts(t, on, off);
    assertSameCounts(t, bytes, off);
    t.ok(on.routers[0]!.counters.hopsOut > 0, 'some operations hopped');
  });
}

t.test('a GET answered now does not run execute; one it cannot answer does', async (t) => {
  const on = setup(true, 1 << 20);
  const router = on.routers[0]!;
  const own = KEYS.find((key) => router.ownerOf(key) === 0)!;
  const other = KEYS.find((key) => router.ownerOf(key) === 1)!;
  await run(on.runners[0]!, [
    { op: 'put', key: own, value: 'one' },
    { op: 'put', key: other, value: 'two' },
  ]);
  const executed: string[] = [];
  const runner = new BatchRunner(
    (op, key, value, callback) => {
      executed.push(`${op} ${key}`);
      router.execute(op, key, value, callback);
    },
    { budgetBytes: 1 << 20, maxActive: 2, maxWaiting: 4, maxWaitMs: 60_000, window: 8 },
    (key, sink) => router.readNow(key, sink),
  );
  const answer = JSON.parse(
    await run(runner, [
      { op: 'get', key: own, value: undefined },
      { op: 'get', key: other, value: undefined },
      { op: 'put', key: other, value: 'three' },
      { op: 'get', key: other, value: undefined },
    ]),
  ) as { results: { value: string | null }[] };
  t.same(executed, [`put ${other}`, `get ${other}`], 'only the PUT and the GET behind it ran execute');
  t.same(
    answer.results.map((r) => r.value),
    ['one', 'two', 'three', 'three'],
  );
});

t.test('GETs weigh the same in the budget on both paths: every budget around the limit', async (t) => {
  const on = setup(true, 1 << 20);
  const off = setup(false, 1 << 20);
  const writes: BatchOp[] = KEYS.map((key, i) => ({ op: 'put', key, value: VALUES[i % VALUES.length]! }));
  t.equal(await run(on.runners[0]!, writes), await run(off.runners[0]!, writes));
  const reads: BatchOp[] = [...KEYS, ...KEYS].map((key) => ({ op: 'get', key, value: undefined }));
  const runner = (s: Setup, shard: number, budgetBytes: number, readNow: boolean) => {
    const service = s.services[shard]!;
    return new BatchRunner(
      (op, key, value, callback) => service.execute(op, key, value, callback),
      { budgetBytes, maxActive: 2, maxWaiting: 4, maxWaitMs: 60_000, window: 8 },
      readNow ? service.readNow?.bind(service) : undefined,
    );
  };
  let differ = 0;
  let partial = 0;
  for (let budgetBytes = 0; budgetBytes < 12_000; budgetBytes += 7) {
    const shard = budgetBytes % 2;
    const a = await run(runner(on, shard, budgetBytes, true), reads);
    const b = await run(runner(off, shard, budgetBytes, false), reads);
    if (a !== b) differ++;
    if (a.startsWith('{"status":"partial"')) partial++;
  }
  t.equal(differ, 0, 'the same answers at every budget');
  t.ok(partial > 100, 'most budgets cut the batch somewhere');
});
