import t from 'tap';
import { describeWorkload, workloadOf } from '../../bench/scenarios/throughput.js';
import { buildRequestPlan, planLength, preloadBodies, type Workload } from '../../bench/workload/requests.js';

const base: Workload = {
  kind: 'get',
  distribution: 'uniform',
  valueBytes: 16,
  keyCount: 1000,
  batchSize: 1,
  writeShare: 0,
  seed: 42,
};

t.test('plans are deterministic', async (t) => {
  const mix = { ...base, kind: 'mix' as const, distribution: 'zipf' as const, writeShare: 0.1 };
  t.same(buildRequestPlan(mix, 500), buildRequestPlan(mix, 500));
  t.notSame(buildRequestPlan(mix, 500), buildRequestPlan({ ...mix, seed: 43 }, 500));
});

t.test('GET, PUT and mix plans', async (t) => {
  const get = buildRequestPlan(base, 100);
  t.ok(get.requests.every((r) => r.method === 'GET' && r.body === -1 && /^\/kv\/key-\d{12}$/.test(r.path)));
  const put = buildRequestPlan({ ...base, kind: 'put', writeShare: 1 }, 100);
  t.equal(put.bodies.length, 1, 'every PUT shares one body');
  t.equal(put.bodies[0]!.length, 16);
  const mix = buildRequestPlan({ ...base, kind: 'mix', writeShare: 0.1 }, 10_000);
  const writes = mix.requests.filter((r) => r.method === 'PUT').length;
  t.ok(writes > 800 && writes < 1200, `about 10% writes (${writes})`);
});

t.test('batch plans count operations per request', async (t) => {
  const plan = buildRequestPlan({ ...base, kind: 'batch', batchSize: 50, writeShare: 0.1 }, 20);
  t.equal(plan.opsPerRequest, 50);
  const body = JSON.parse(plan.bodies[plan.requests[0]!.body]!) as { ops: { op: string }[] };
  t.equal(body.ops.length, 50);
  t.ok(body.ops.every((o) => o.op === 'get' || o.op === 'put'));
});

t.test('restricted key sets use only the given keys', async (t) => {
  const plan = buildRequestPlan({ ...base, keyIndexes: [3, 5] }, 200);
  t.same(
    new Set(plan.requests.map((r) => r.path)),
    new Set(['/kv/key-000000000003', '/kv/key-000000000005']),
  );
});

t.test('plan length stays within memory for big values', async (t) => {
  t.equal(planLength(base), 65_536);
  t.ok(planLength({ ...base, kind: 'put', valueBytes: 65_536 }) <= 256);
  t.ok(planLength({ ...base, kind: 'put', valueBytes: 65_536 }) >= 64);
});

t.test('preload bodies write every key once, within the size limit', async (t) => {
  const bodies = [
    ...preloadBodies(
      Array.from({ length: 2500 }, (_, i) => i),
      100,
      64 * 1024,
    ),
  ];
  const ops = bodies.flatMap((b) => (JSON.parse(b) as { ops: { key: string; value: string }[] }).ops);
  t.equal(ops.length, 2500);
  t.equal(new Set(ops.map((o) => o.key)).size, 2500);
  t.ok(bodies.every((b) => b.length < 80 * 1024));
});

t.test('a batch of GETs only: the ops scenario measures it apart from the 90/10 batch', async (t) => {
  const workload = workloadOf('batch', { quick: true, writeShare: 0 });
  t.equal(workload.writeShare, 0);
  t.equal(describeWorkload(workload), 'batch(100 GETs) uniform 16 B');
  t.equal(describeWorkload(workloadOf('batch', { quick: true })), 'batch(100) uniform 16 B');
  const plan = buildRequestPlan(workload, 20);
  const ops = plan.bodies.flatMap((b) => (JSON.parse(b) as { ops: { op: string }[] }).ops);
  t.ok(ops.length >= 100 && ops.every((o) => o.op === 'get'), `${ops.length} ops, all GETs`);
});
