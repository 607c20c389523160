import t from 'tap';
import {
  fixedRateHook,
  luaLongString,
  luaString,
  parseWrkOutput,
  RESULT_MARK,
  wrkScript,
} from '../../bench/load/wrk-script.js';
import { parseRedisBenchmarkCsv } from '../../bench/peers/redis.js';
import { formatDuration, Progress } from '../../bench/progress.js';
import { buildRequestPlan } from '../../bench/workload/requests.js';

t.test('wrk result line', async (t) => {
  const line = `${RESULT_MARK}{"requests":100,"durationUs":1000000,"connect":0,"read":1,"write":0,"status":2,"timeout":0,"p50":50,"p99":500,"p999":900,"max":1000,"mean":60.5}`;
  const s = parseWrkOutput(`Running 1s test\n${line}\nRequests/sec: 100\n`);
  t.equal(s.requests, 100);
  t.equal(s.p999, 900);
  t.throws(() => parseWrkOutput('Running 1s test\n'), /no result line/);
  t.throws(() => parseWrkOutput(`${RESULT_MARK}{"requests":1}`), /lacks the number/);
});

t.test('wrk script carries the plan in long strings', async (t) => {
  t.equal(luaString('a"b\\c\nd'), '"a\\"b\\\\c\\nd"');
  t.equal(luaLongString('x]]y'), '[=[\nx]]y]=]');
  t.equal(luaLongString('plain'), '[[\nplain]]');
  const plan = buildRequestPlan(
    {
      kind: 'mix',
      distribution: 'uniform',
      valueBytes: 16,
      keyCount: 10,
      batchSize: 1,
      writeShare: 0.5,
      seed: 1,
    },
    20,
  );
  const script = wrkScript(plan, { 'Content-Type': 'application/json' });
  t.match(script, /function request\(\)/);
  t.match(script, /function done\(summary, latency, requests\)/);
  t.match(script, /\["Content-Type"\]="application\/json"/);
  t.match(script, /\nPUT \/kv\/key-\d{12} 1\n/);
  t.match(script, /\nGET \/kv\/key-\d{12} 0/);
});

t.test('wrk script with a fixed rate carries a delay() schedule', async (t) => {
  const plan = buildRequestPlan(
    {
      kind: 'get',
      distribution: 'uniform',
      valueBytes: 16,
      keyCount: 10,
      batchSize: 1,
      writeShare: 0,
      seed: 1,
    },
    10,
  );
  t.notMatch(wrkScript(plan), /function delay\(\)/, 'no schedule without a rate');
  const script = wrkScript(plan, {}, { ratePerThread: 4000 });
  t.match(script, /function delay\(\)/);
  t.match(script, /local intervalMs = 0\.25\n/, '4000/s per thread is a slot every 0.25 ms');
  t.throws(() => fixedRateHook(0), /must be positive/);
});

t.test('redis-benchmark CSV', async (t) => {
  const csv =
    '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"\n' +
    '"SET","85106.38","0.106","0.032","0.095","0.167","0.271","1.591"\n' +
    '"GET","68259.38","0.131","0.040","0.127","0.207","0.431","0.863"\n';
  const get = parseRedisBenchmarkCsv(csv, 'GET');
  t.equal(get?.requestsPerSec, 68259.38);
  t.equal(get?.latencyMs.p50, 0.127);
  t.equal(get?.latencyMs.p99, 0.431);
  t.equal(get?.latencyMs.p999, 0.863, 'the max stands in for p99.9');
  t.equal(parseRedisBenchmarkCsv(csv, 'INCR'), null);
});

t.test('progress lines carry an ETA', async (t) => {
  t.equal(formatDuration(65), '1m05s');
  t.equal(formatDuration(42.4), '42s');
  t.equal(formatDuration(Number.NaN), '?');
  const lines: string[] = [];
  const progress = new Progress(100, (l) => lines.push(l));
  progress.step('first', 50);
  progress.step('second', 50);
  progress.note('-> done');
  t.equal(lines.length, 3);
  t.match(lines[0]!, /\[ {2}1\] .*ETA .*first/);
  t.match(lines[1]!, /\[ {2}2\] .*second/);
});
