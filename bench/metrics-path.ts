/**
 * What the shard metrics add to one key operation, in nanoseconds, on one thread: the same stand-in
 * service called directly and through meteredService, answering inline (a key of the receiving
 * shard: a closure, the outcome, a counter and the first bucket, no clock) and answering later (a hop,
 * an fsync: the same plus two performance.now() reads). Rounds alternate; the medians are compared.
 * Divide by the CPU a request costs (the `metrics` scenario of `npm run bench` gives it) for the share
 * of the request path.
 *
 *   npm run build && node dist/bench/metrics-path.js
 */
import type { KeyValueService, OpCallback, OpResult } from '../src/kv/key-value-service.js';
import { meteredService } from '../src/metrics/metered-service.js';
import { allocateShardMetrics, ShardMetricsWriter } from '../src/metrics/shard-metrics.js';
import { median } from './stats/percentiles.js';

const OPS = 2_000_000;
const ROUNDS = 7;

const RESULT: OpResult = {
  found: true,
  value: 'v',
  version: undefined,
  error: undefined,
  quorum: { required: 1, achieved: 1 },
};

const direct: KeyValueService = {
  execute(_op, _key, _value, callback) {
    callback(RESULT);
  },
};
const metered = meteredService(direct, 'kv', new ShardMetricsWriter(allocateShardMetrics()));

let answered = 0;
const onAnswer = (result: OpResult) => {
  if (result.found) answered++;
};

function nsPerOp(service: KeyValueService): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < OPS; i++) service.execute(i % 8 === 0 ? 'put' : 'get', 'key', undefined, onAnswer);
  return Number(process.hrtime.bigint() - started) / OPS;
}

/** An answer after the call returns (as a hop's): the stand-in answers on a microtask-free queue. */
const queue: OpCallback[] = [];
const later: KeyValueService = {
  execute(_op, _key, _value, callback) {
    queue.push(callback);
  },
};
const meteredLater = meteredService(later, 'kv', new ShardMetricsWriter(allocateShardMetrics()));

function nsPerDeferredOp(service: KeyValueService): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < OPS; i += 64) {
    for (let j = 0; j < 64; j++) service.execute('get', 'key', undefined, onAnswer);
    for (const callback of queue) callback(RESULT);
    queue.length = 0;
  }
  return Number(process.hrtime.bigint() - started) / OPS;
}

function compare(name: string, run: (s: KeyValueService) => number, a: KeyValueService, b: KeyValueService) {
  run(a); // warm-up of both paths
  run(b);
  const plain: number[] = [];
  const counted: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    plain.push(run(a));
    counted.push(run(b));
  }
  const p = median(plain);
  const c = median(counted);
  process.stdout.write(
    `${name}: ${p.toFixed(1)} ns direct, ${c.toFixed(1)} ns metered (medians of ${ROUNDS} x ${OPS}): ` +
      `the metrics add ${(c - p).toFixed(1)} ns per operation\n`,
  );
}

compare('answered inline', nsPerOp, direct, metered);
compare('answered later ', nsPerDeferredOp, later, meteredLater);
process.stdout.write(`(${answered} answers)\n`);
