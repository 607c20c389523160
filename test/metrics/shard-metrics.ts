import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import t from 'tap';
import {
  API_ROUTES,
  allocateShardMetrics,
  METERED_OPS,
  OUTCOMES,
  REQUEST_BUCKETS,
  readShardMetrics,
  SHARD_METRICS_BYTES,
  ShardMetricsWriter,
  SYNC_BUCKETS,
} from '../../src/metrics/shard-metrics.js';
import { repoPath } from '../fixtures/paths.js';

t.test('a fresh block reads as zeros, one series per route, op and outcome', async (t) => {
  const snapshot = readShardMetrics(allocateShardMetrics());
  t.equal(snapshot.operations.length, API_ROUTES.length * METERED_OPS.length * OUTCOMES.length);
  t.ok(snapshot.operations.every((o) => o.count === 0));
  t.equal(snapshot.latency.length, API_ROUTES.length * METERED_OPS.length);
  for (const l of snapshot.latency) {
    t.equal(l.histogram.buckets.length, REQUEST_BUCKETS.length + 1, 'a bucket per bound and +Inf');
    t.equal(l.histogram.count, 0);
  }
  t.equal(snapshot.sync.buckets.length, SYNC_BUCKETS.length + 1);
});

t.test('each operation lands in its own counter and its latency in its own histogram', async (t) => {
  const block = allocateShardMetrics();
  const writer = new ShardMetricsWriter(block);
  writer.operation('kv', 'get', 'ok', 0.03); // 30 µs: the first bucket (<= 50 µs)
  writer.operation('kv', 'get', 'ok', 0.05); // exactly on the bound: still the first bucket (le)
  writer.operation('kv', 'get', 'not_found', 0.2); // 200 µs: <= 250 µs
  writer.operation('batch', 'remove', 'server_error', 7000); // 7 s: +Inf
  writer.operation('upstream', 'put', 'partial', 1);
  const snapshot = readShardMetrics(block);
  const count = (route: string, op: string, outcome: string) =>
    snapshot.operations.find((o) => o.route === route && o.op === op && o.outcome === outcome)!.count;
  t.equal(count('kv', 'get', 'ok'), 2);
  t.equal(count('kv', 'get', 'not_found'), 1);
  t.equal(count('batch', 'remove', 'server_error'), 1);
  t.equal(count('upstream', 'put', 'partial'), 1);
  t.equal(
    snapshot.operations.reduce((sum, o) => sum + o.count, 0),
    5,
    'nothing else moved',
  );
  const histogram = (route: string, op: string) =>
    snapshot.latency.find((l) => l.route === route && l.op === op)!.histogram;
  const kvGet = histogram('kv', 'get');
  t.equal(kvGet.count, 3);
  t.equal(kvGet.buckets[0], 2, '30 µs and 50 µs');
  t.equal(kvGet.buckets[REQUEST_BUCKETS.indexOf(0.00025)], 1, '200 µs');
  t.ok(Math.abs(kvGet.sum - 0.00028) < 1e-12, 'the sum is in seconds');
  const batchRemove = histogram('batch', 'remove');
  t.equal(batchRemove.buckets[REQUEST_BUCKETS.length], 1, 'over the last bound: +Inf');
  t.equal(histogram('kv', 'put').count, 0, 'the other histograms did not move');
  t.equal(snapshot.sync.count, 0, 'the sync histogram is apart');
});

t.test('sync latencies go to the sync histogram', async (t) => {
  const block = allocateShardMetrics();
  const writer = new ShardMetricsWriter(block);
  writer.sync(0.05);
  writer.sync(3);
  writer.sync(60_000);
  const { sync, latency } = readShardMetrics(block);
  t.equal(sync.count, 3);
  t.equal(sync.buckets[0], 1, '50 µs: <= 100 µs');
  t.equal(sync.buckets[SYNC_BUCKETS.indexOf(0.005)], 1, '3 ms: <= 5 ms');
  t.equal(sync.buckets[SYNC_BUCKETS.length], 1, 'a minute: +Inf');
  t.ok(latency.every((l) => l.histogram.count === 0));
});

t.test('a block of the wrong size is refused', async (t) => {
  t.throws(() => new ShardMetricsWriter(new SharedArrayBuffer(8)), RangeError);
  t.throws(() => readShardMetrics(new SharedArrayBuffer(SHARD_METRICS_BYTES + 8)), RangeError);
});

t.test('what another thread writes is read here without a message', async (t) => {
  const block = allocateShardMetrics();
  const source = `
    const { workerData, parentPort } = require('node:worker_threads');
    const slots = new Float64Array(workerData);
    // The built module (a worker evaluated from text has no TypeScript loader): npm test builds first.
    import(${JSON.stringify(pathToFileURL(repoPath('dist/src/metrics/shard-metrics.js')).href)})
      .then((m) => {
        const writer = new m.ShardMetricsWriter(workerData);
        for (let i = 0; i < 1000; i++) writer.operation('kv', 'put', 'ok', 0.1);
        parentPort.postMessage(slots.length);
      });
  `;
  const worker = new Worker(source, { eval: true, workerData: block });
  await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  const snapshot = readShardMetrics(block);
  t.equal(
    snapshot.operations.find((o) => o.route === 'kv' && o.op === 'put' && o.outcome === 'ok')!.count,
    1000,
  );
});
