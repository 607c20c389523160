import t from 'tap';
import { ErrorCodes, LallyError } from '../../src/errors.js';
import type { KeyValueService, OpResult } from '../../src/kv/key-value-service.js';
import { meteredService, outcomeOf } from '../../src/metrics/metered-service.js';
import {
  allocateShardMetrics,
  readShardMetrics,
  ShardMetricsWriter,
} from '../../src/metrics/shard-metrics.js';

const ONE = { required: 1, achieved: 1 };

function result(fields: Partial<OpResult>): OpResult {
  return { found: true, value: undefined, version: undefined, error: undefined, quorum: ONE, ...fields };
}

t.test('outcomeOf: errors by status class, quorum misses, GET and REMOVE of nothing', async (t) => {
  t.equal(outcomeOf('get', result({})), 'ok');
  t.equal(outcomeOf('get', result({ found: false })), 'not_found');
  t.equal(outcomeOf('remove', result({ found: false })), 'not_found');
  t.equal(
    outcomeOf('put', result({ found: false })),
    'ok',
    'a PUT that lost to a newer version still succeeded',
  );
  t.equal(outcomeOf('put', result({ quorum: { required: 2, achieved: 1 } })), 'partial');
  t.equal(outcomeOf('get', result({ error: new LallyError(ErrorCodes.KEY_TOO_LARGE, 'x') })), 'client_error');
  t.equal(outcomeOf('get', result({ error: new LallyError(ErrorCodes.BUSY, 'x') })), 'server_error');
  t.equal(outcomeOf('put', result({ error: new LallyError(ErrorCodes.TIMEOUT, 'x') })), 'server_error');
});

t.test('a metered service counts each answer once, at the time it comes, and passes it on', async (t) => {
  const block = allocateShardMetrics();
  let clock = 10;
  let reads = 0;
  let later: (() => void) | undefined;
  const inner: KeyValueService = {
    execute(op, _key, _value, callback) {
      if (op === 'get') callback(result({ found: false }));
      else later = () => callback(result({}));
    },
  };
  const metered = meteredService(inner, 'upstream', new ShardMetricsWriter(block), () => {
    reads++;
    return clock;
  });
  const answers: OpResult[] = [];
  metered.execute('get', 'k', undefined, (r) => answers.push(r));
  metered.execute('put', 'k', 'v', (r) => answers.push(r));
  t.equal(answers.length, 1, 'the GET answered at once');
  clock += 2; // 2 ms later, the PUT's answer
  later!();
  t.equal(answers.length, 2);
  t.equal(reads, 2, 'two clock reads, both for the PUT answered later');
  const snapshot = readShardMetrics(block);
  const count = (op: string, outcome: string) =>
    snapshot.operations.find((o) => o.route === 'upstream' && o.op === op && o.outcome === outcome)!.count;
  t.equal(count('get', 'not_found'), 1);
  t.equal(count('put', 'ok'), 1);
  const put = snapshot.latency.find((l) => l.route === 'upstream' && l.op === 'put')!.histogram;
  t.equal(put.count, 1);
  t.equal(put.sum, 0.002, '2 ms, in seconds');
  const get = snapshot.latency.find((l) => l.route === 'upstream' && l.op === 'get')!.histogram;
  t.equal(get.count, 1, 'an inline answer is in the histogram too');
  t.equal(get.buckets[0], 1, 'in its first bucket');
  t.equal(get.sum, 0, 'with a duration of 0: no clock was read for it');
});
