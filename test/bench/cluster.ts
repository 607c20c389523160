import t from 'tap';
import { ANSWERS_MARK, parseAnswerCounts, wrkScript } from '../../bench/load/wrk-script.js';
import { cpuWindow, parseProcStat, sampleCpu } from '../../bench/proc/cpu-time.js';
import {
  derivedReplicationRate,
  meanCpu,
  parseRpcStreamOutput,
  quorumFigures,
  replicationDelta,
  replicationFromStats,
  sumAnswers,
} from '../../bench/stats/cluster.js';
import { cellOf } from '../../bench/stats/cluster-cell.js';
import { buildRequestPlan } from '../../bench/workload/requests.js';

t.test('/proc stat lines: utime and stime counted from the last parenthesis', async (t) => {
  // A command with spaces and a parenthesis of its own must not shift the fields.
  const line =
    '4242 (node (main) x) S 1 4242 4242 0 -1 4194560 2000 0 0 0 1234 567 0 0 20 0 11 0 100 1000000 5000 18446744073709551615';
  t.same(parseProcStat(line), { utime: 1234, stime: 567 });
  t.throws(() => parseProcStat('no parenthesis here'), /not a \/proc stat line/);
  t.throws(() => parseProcStat('1 (x) S 1 2'), /no utime\/stime/);
});

t.test('CPU over a window: cores of the process and of its main thread', async (t) => {
  const w = cpuWindow(
    { atMs: 1000, processSec: 10, mainThreadSec: 2 },
    { atMs: 3000, processSec: 13, mainThreadSec: 3.8 },
  );
  t.same(w, { processCores: 1.5, mainThreadCores: 0.9, mainThreadShare: 0.6 });
  t.equal(
    cpuWindow({ atMs: 0, processSec: 1, mainThreadSec: 1 }, { atMs: 10, processSec: 1, mainThreadSec: 1 })
      .mainThreadShare,
    null,
  );
  t.same(meanCpu([w, { processCores: 0.5, mainThreadCores: 0.1, mainThreadShare: null }]), {
    processCores: 1,
    mainThreadCores: 0.5,
    mainThreadShare: 0.6,
  });
  t.equal(meanCpu([]), null);
});

t.test('this process samples itself on Linux', { skip: process.platform !== 'linux' }, async (t) => {
  const s = await sampleCpu(process.pid);
  t.ok(s, 'both stat files read');
  t.ok(s!.processSec >= s!.mainThreadSec, 'the process holds its main thread');
  t.equal(await sampleCpu(2 ** 22 + 1), null, 'a pid that does not exist');
});

t.test('answer counts: parsed, summed, turned into the partial share', async (t) => {
  const out = `Running 5s test\n${ANSWERS_MARK}{"answers":10,"success":4,"partial":6,"otherStatus":0,"achievedSum":10,"achievedSeen":10,"perThread":[5,3,2]}\n`;
  const a = parseAnswerCounts(out);
  t.same(a?.perThread, [5, 3, 2]);
  t.equal(parseAnswerCounts('nothing'), null);
  t.throws(() => parseAnswerCounts(`${ANSWERS_MARK}{"answers":1}`), /lack the number success/);
  const sum = sumAnswers([a, a]);
  t.same(sum?.perThread, [10, 6, 4]);
  t.same(quorumFigures(sum), { partialShare: 0.6, meanAchieved: 1 });
  t.equal(sumAnswers([a, null]), null, 'a run without counts spoils the sum');
  t.same(quorumFigures(null), { partialShare: null, meanAchieved: null });
});

t.test('wrk script: targets per thread and the response hook only when asked', async (t) => {
  const plan = buildRequestPlan({
    kind: 'put',
    distribution: 'uniform',
    valueBytes: 16,
    keyCount: 10,
    batchSize: 1,
    writeShare: 1,
    seed: 1,
  });
  const plain = wrkScript(plan);
  t.notMatch(plain, /function response/);
  t.match(plain, /local targets = \{\}/);
  const cluster = wrkScript(plan, {}, { targets: ['127.0.0.1:4001', '127.0.0.1:4002'], countAnswers: true });
  t.match(cluster, /local targets = \{"127\.0\.0\.1:4001","127\.0\.0\.1:4002"\}/);
  t.match(cluster, /thread\.addr = targetAddrs\[/);
  t.match(cluster, /function response\(status, headers, body\)/);
  t.match(cluster, ANSWERS_MARK);
});

t.test('replication records: from /stats when it counts them, derived otherwise', async (t) => {
  const peers = {
    'a:1': { records: 12, acknowledged: 10, stream: { batches: 3, records: 12 } },
    'b:2': { records: 9, acknowledged: 9, stream: { batches: 1, records: 9 } },
  };
  const before = replicationFromStats({ replication: { replicated: 21, peers } });
  t.same(before, { acknowledged: 19, batches: 4, records: 21 }, 'summed over the peers');
  t.same(replicationFromStats({ replication: { peers: {} } }), { acknowledged: 0, batches: 0, records: 0 });
  t.equal(replicationFromStats({ replication: { peers: { 'a:1': {} } } }), null);
  t.equal(replicationFromStats({ totals: { puts: 7 } }), null);
  t.equal(replicationFromStats(null), null);
  t.same(replicationDelta(before, { acknowledged: 29, batches: 5, records: 31 }), {
    acknowledged: 10,
    batches: 1,
    records: 10,
  });
  t.equal(replicationDelta(null, before), null);
  t.equal(derivedReplicationRate(1000, 3), 2000);
  t.equal(derivedReplicationRate(1000, 1), 0);
});

t.test("rpc-stream's lines", async (t) => {
  const out = [
    'rpc-stream: 200,000 records, 100-byte values, batches of 1024, 8 in flight, node v20.20.2',
    'together     533,220 records/s      568,219 records/CPU-s   (375 ms, CPU 352 ms: ...)',
    'sender       507,659 records/s      979,005 records/CPU-s   (394 ms, CPU 204 ms: ...)',
    'receiver     507,659 records/s      774,482 records/CPU-s   (394 ms, CPU 258 ms)',
  ].join('\n');
  t.same(parseRpcStreamOutput(out, 200_000), {
    records: 200_000,
    senderRecordsPerCpuSec: 979_005,
    receiverRecordsPerCpuSec: 774_482,
    togetherRecordsPerCpuSec: 568_219,
  });
  t.equal(parseRpcStreamOutput('', 1).senderRecordsPerCpuSec, null);
});

t.test('a cluster cell from its rounds: partial answers do not count as quorum-met', async (t) => {
  const round = (opsPerSec: number) => ({
    result: {
      generator: 'wrk' as const,
      requests: opsPerSec * 5,
      durationSec: 5,
      requestsPerSec: opsPerSec,
      opsPerSec,
      latencyMs: { p50: 1, p99: 2, p999: 3, max: 4, mean: 1 },
      errors: 0,
      non2xx: 0,
      answers: {
        answers: opsPerSec * 5,
        success: opsPerSec * 4,
        partial: opsPerSec,
        otherStatus: 0,
        achievedSum: opsPerSec * 9,
        achievedSeen: opsPerSec * 5,
        perThread: [opsPerSec * 3, opsPerSec, opsPerSec],
      },
    },
    wallSec: 5,
    cpu: [0.5, 0.25, 0.25].map((c) => ({ processCores: c, mainThreadCores: c / 2, mainThreadShare: 0.5 })),
    replication: null,
  });
  const cell = cellOf({ nodes: 3, kind: 'put', writeQuorum: 2, readQuorum: 1, replicas: 3 }, [
    round(1000),
    round(3000),
  ]);
  t.equal(cell.id, 'cluster-put-w2');
  t.equal(cell.opsPerSec, 2000, 'median of the rounds');
  t.equal(cell.partialShare, 0.2);
  t.equal(cell.meanAchieved, 1.8);
  t.equal(cell.successOpsPerSec, 1600);
  t.equal(cell.opsPerCpuSec, 1600, 'over 1 core of the three nodes');
  t.same(
    cell.perNode.map((n) => n.opsPerSec),
    [1200, 400, 400],
    'thread i drove node i',
  );
  t.equal(cell.replicationSource, 'derived');
  t.equal(cell.replicationRecordsPerSec, 4000);
  t.equal(cell.mainThreadUsPerReplicatedRecord, 125);
  t.notOk(cell.mainThreadSaturated);
});
