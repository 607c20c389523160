import t from 'tap';
import { parseProcStat, waitedChildrenSec } from '../../bench/proc/cpu-time.js';
import { parseProbeLine } from '../../bench/proc/loop-probe.js';
import { parseSchedstatWait, splitThreadCpu, type ThreadsSample } from '../../bench/proc/thread-cpu.js';
import { crossShardCount } from '../../bench/scenarios/lally-api.js';
import { delayReading, maxDelays } from '../../bench/stats/event-loop.js';
import { fitScaleModel, uniformCrossFraction } from '../../bench/stats/scale-model.js';

// A /proc stat line whose command holds spaces and a parenthesis; utime 14 = 7, stime 15 = 3,
// cutime 16 = 250, cstime 17 = 50.
const STAT = '4242 (sh (x) y) S 1 4242 4242 0 -1 4194304 100 0 0 0 7 3 250 50 20 0 1 0 12345 1000 10';

t.test('waited children CPU comes from cutime and cstime', async (t) => {
  t.same(parseProcStat(STAT), { utime: 7, stime: 3 });
  t.equal(waitedChildrenSec(STAT, 100), 3);
  t.throws(() => waitedChildrenSec('no parenthesis here', 100), /not a \/proc stat line/);
});

t.test('thread CPU splits into main, the busiest threads as shards, and the rest', async (t) => {
  const before: ThreadsSample = {
    atMs: 0,
    processTicks: 1000,
    threads: new Map([
      [10, 100],
      [11, 5],
      [12, 300],
      [13, 200],
    ]),
    runQueueWaitNs: new Map([
      [12, 1e9],
      [13, 0],
    ]),
  };
  const after: ThreadsSample = {
    atMs: 2000,
    // 10 more ticks than the live threads gained: a thread that exited during the window.
    processTicks: 1000 + 20 + 1 + 400 + 300 + 50 + 10,
    threads: new Map([
      [10, 120],
      [11, 6],
      [12, 700],
      [13, 500],
      [14, 50],
    ]),
    runQueueWaitNs: new Map([[12, 1.5e9]]),
  };
  const split = splitThreadCpu(before, after, 10, 2, 100);
  t.equal(split.wallSec, 2);
  t.equal(split.mainSec, 0.2);
  t.same(split.shardSec, [4, 3], 'the two busiest non-main threads, busiest first');
  t.equal(split.otherSec, 0.51, 'the idle thread and the thread born in the window');
  t.equal(split.exitedSec, 0.1);
  t.equal(split.processSec, 7.81);
  t.same(split.shardRunQueueWaitShare, [0.25, null], '0.5 s of wait in 2 s; none read for the other');
  t.equal(parseSchedstatWait('263804653 1564920296 700\n'), 1564920296);
  t.equal(parseSchedstatWait('garbage'), null);
});

t.test('the scale model: local cost plus the cross share of the cross cost', async (t) => {
  t.equal(uniformCrossFraction(1), 0);
  t.equal(uniformCrossFraction(2), 0.5);
  t.equal(uniformCrossFraction(64), 63 / 64);
  const model = fitScaleModel(
    { processUs: 10, clientUs: 8, crossFraction: 0 },
    { processUs: 14, clientUs: 12, crossFraction: 0.5 },
    [1, 2, 16],
    1 << 20,
  );
  t.equal(model.localUs, 10);
  t.equal(model.crossExtraUs, 8, '(14 - 10) / 0.5');
  t.equal(model.clientUs, 10);
  const [one, two, sixteen] = model.predictions;
  t.equal(one!.cpuUsPerRequest, 10);
  t.equal(one!.requestsPerSec, 100_000);
  t.equal(two!.cpuUsPerRequest, 14, 'the fit reproduces its own 2-shard point');
  t.equal(sixteen!.cpuUsPerRequest, 17.5, '10 + 15/16 x 8');
  t.equal(sixteen!.requestsPerSec, Math.round(16e6 / 17.5));
  t.equal(sixteen!.requestsPerSecWithClient, Math.round(16e6 / 27.5));
  t.ok(sixteen!.ringBytes > 17 * (1 << 20), 'one ring per thread: 17 rings at 16 shards');
  t.ok(sixteen!.ringBytes < 18 * (1 << 20));
});

t.test('a cross fraction not measured falls back to the uniform one', async (t) => {
  const model = fitScaleModel(
    { processUs: 10, clientUs: null, crossFraction: 0 },
    { processUs: 12, clientUs: null, crossFraction: 0 },
    [4],
  );
  t.equal(model.crossExtraUs, 4);
  t.equal(model.clientUs, null);
  t.equal(model.predictions[0]!.requestsPerSecWithClient, null);
});

t.test('event-loop readings: per-shard max and the stall it proves', async (t) => {
  t.same(delayReading({ shards: [{ eventLoopDelay: { maxMs: 21.5 } }, { eventLoopDelay: null }] }), [
    21.5,
    null,
  ]);
  t.same(delayReading(null), []);
  const delays = maxDelays([[21, 19], [45.5, null], [30]], 20);
  t.same(delays, [
    { shard: 0, maxMs: 45.5, stallAtLeastMs: 25.5 },
    { shard: 1, maxMs: 19, stallAtLeastMs: 0 },
  ]);
  t.same(maxDelays([[null]]), [{ shard: 0, maxMs: null, stallAtLeastMs: null }]);
});

t.test('cross-shard count from /stats, and the probe lines', async (t) => {
  t.equal(
    crossShardCount({
      shards: [
        { directGets: 3, hopsOut: 1 },
        { directGets: 2, hopsOut: 4 },
      ],
    }),
    10,
  );
  t.equal(crossShardCount({ shards: [{ directGets: 3 }] }), null);
  t.equal(crossShardCount(null), null);
  t.equal(parseProbeLine('{"maxMs":22.5}'), 22.5);
  t.equal(parseProbeLine('garbage'), null);
  t.equal(parseProbeLine('{"maxMs":"x"}'), null);
});
