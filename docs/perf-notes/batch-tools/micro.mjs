const root = process.argv[2];
const { parseBatchBody } = await import(`${root}/dist/src/http/request-parsing.js`);
const { BatchRunner } = await import(`${root}/dist/src/http/batch-runner.js`);
const { buildRequestPlan } = await import(`${root}/dist/bench/workload/requests.js`);
const plan = buildRequestPlan({ kind: 'batch', distribution: 'uniform', valueBytes: 16, keyCount: 100000, batchSize: 100, writeShare: Number(process.env.WS ?? 0.1), seed: 1 }, 256);
const bodies = plan.bodies.map((b) => Buffer.from(b));
const limits = { maxKeyBytes: 1024, maxValueBytes: 1 << 20, maxBodyBytes: 16 << 20, maxBatchOps: 10000 };
const q = Object.freeze({ required: 1, achieved: 1 });
const base = Date.now() - 100000;
const entries = new Map();
const val = 'abcdefghijklmnop';
for (let i = 0; i < 100000; i++) entries.set(`key-${String(i).padStart(12, '0')}`, { value: val, wall: base + (i % 10000), counter: 0, node: 1 });
const putV = { wall: Date.now(), counter: 0, node: 1 };
const execute = (op, key, value, cb) => {
  if (op === 'get') { const e = entries.get(key); cb(e ? { found: true, value: e.value, version: e, error: undefined, quorum: q } : { found: false, value: undefined, version: undefined, error: undefined, quorum: q }); }
  else cb({ found: true, value: undefined, version: putV, error: undefined, quorum: q });
};
const runner = new BatchRunner(execute, { budgetBytes: 64 << 20, maxActive: 2, maxWaiting: 256, maxWaitMs: 5000, window: 128 });
const sink = Buffer.allocUnsafe(1 << 20);
let total = 0;
const one = (i) => {
  const ops = parseBatchBody(bodies[i % bodies.length], limits);
  runner.submit(ops, () => false, (ans) => { total += typeof ans === 'string' ? sink.write(ans) : (sink.set(ans), ans.length); }, () => {});
};
const N = Number(process.env.N ?? 20000);
for (let i = 0; i < 3000; i++) { one(i); await null; }
const stage = process.env.STAGE;
const t0 = process.cpuUsage();
for (let i = 0; i < N; i++) { one(i); if ((i & 1) === 1) await null; }
const t1 = process.cpuUsage(t0);
console.log(JSON.stringify({ root, us_per_op: +(((t1.user + t1.system) / (N * 100))).toFixed(3), bytes: total }));
