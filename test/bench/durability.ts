import t from 'tap';
import {
  aofPutRatios,
  aofRecordBytes,
  CompactionTracker,
  parseAofStats,
  parseRedisInfo,
  recordsPerSec,
  redisKeyCount,
  redisLoaded,
  type ShardAofStats,
} from '../../bench/stats/durability.js';

const INFO = [
  '# Server',
  'redis_version:7.0.15',
  'redis_mode:standalone',
  '',
  '# Persistence',
  'loading:1',
  'async_loading:0',
  'aof_enabled:1',
  'loading_loaded_perc:42.10',
  'rdb_last_bgsave_status:ok',
  '',
  '# Keyspace',
  'db0:keys=1000000,expires=0,avg_ttl=0',
  '',
].join('\r\n');

t.test('parseRedisInfo reads field:value lines and skips sections and blanks', async (t) => {
  const info = parseRedisInfo(INFO);
  t.equal(info.get('redis_version'), '7.0.15');
  t.equal(info.get('loading'), '1');
  t.equal(info.get('loading_loaded_perc'), '42.10');
  t.equal(info.get('db0'), 'keys=1000000,expires=0,avg_ttl=0');
  t.notOk(info.has('# Server'));
  t.equal(parseRedisInfo('a:b:c\nnocolon\n:x\n').get('a'), 'b:c', 'the value keeps further colons');
  t.equal(parseRedisInfo('a:b:c\nnocolon\n:x\n').size, 1);
});

t.test('redisKeyCount and redisLoaded', async (t) => {
  const loading = parseRedisInfo(INFO);
  t.equal(redisKeyCount(loading), 1_000_000);
  t.notOk(redisLoaded(loading, 1_000_000), 'still loading');
  const done = parseRedisInfo(INFO.replace('loading:1', 'loading:0'));
  t.ok(redisLoaded(done, 1_000_000));
  t.notOk(redisLoaded(done, 1_000_001), 'fewer keys than expected');
  const empty = parseRedisInfo('loading:0\n');
  t.equal(redisKeyCount(empty), 0, 'no keyspace line: no keys');
  t.notOk(redisLoaded(empty, 1));
  t.equal(redisKeyCount(parseRedisInfo('db0:expires=0,keys=7\n')), 7, 'keys need not come first');
  t.equal(redisKeyCount(parseRedisInfo('db1:keys=7\n')), 0, 'another db does not count');
});

t.test('recordsPerSec', async (t) => {
  t.equal(recordsPerSec(1_000_000, 1500), 666_667);
  t.equal(recordsPerSec(1_000_000, 1000), 1_000_000);
  t.equal(recordsPerSec(null, 1000), null);
  t.equal(recordsPerSec(10, null), null);
  t.equal(recordsPerSec(10, 0), null, 'no time: unknown, not infinite');
  t.equal(recordsPerSec(10, -5), null);
});

t.test('aofRecordBytes follows docs/aof.md', async (t) => {
  t.equal(aofRecordBytes(16, 100), 145);
  t.equal(aofRecordBytes(1, 0), 30);
});

t.test('parseAofStats takes the shards that have aof figures', async (t) => {
  const shards = parseAofStats({
    shards: [
      { id: 0, aof: { bytes: 10, rewrites: 1, rewriteInProgress: true, sizeAfterLastRewrite: 5, syncs: 3 } },
      { id: 1 },
      { id: 2, aof: { bytes: 7 } },
    ],
  });
  t.same(shards, [
    { bytes: 10, rewrites: 1, rewriteInProgress: true, sizeAfterLastRewrite: 5, syncs: 3 },
    { bytes: 7, rewrites: 0, rewriteInProgress: false, sizeAfterLastRewrite: 0, syncs: 0 },
  ]);
  t.same(parseAofStats(null), []);
  t.same(parseAofStats({ shards: 'x' }), []);
});

t.test('CompactionTracker keeps the peak and the sizes around the last rewrite', async (t) => {
  const s = (bytes: number, rewrites: number, after = 62): ShardAofStats => ({
    bytes,
    rewrites,
    rewriteInProgress: false,
    sizeAfterLastRewrite: after,
    syncs: 0,
  });
  const tracker = new CompactionTracker();
  tracker.observe([s(100, 0), s(100, 0)]);
  t.equal(tracker.sumBeforeLastRewrite(), null, 'no rewrite yet');
  tracker.observe([s(5000, 0), s(4000, 0)]);
  tracker.observe([s(1200, 1, 1000), s(6000, 0)]);
  t.equal(tracker.sumBeforeLastRewrite(), null, 'shard 1 has not rewritten');
  tracker.observe([s(3000, 1, 1000), s(900, 1, 800)]);
  t.equal(tracker.sumBeforeLastRewrite(), 5000 + 6000);
  tracker.observe([s(800, 2, 700), s(1000, 1, 800)]);
  t.equal(tracker.sumBeforeLastRewrite(), 3000 + 6000, 'the last rewrite of each shard');
  t.equal(tracker.sumPeak(), 5000 + 6000);
  t.same(
    tracker.latest.map((x) => x.bytes),
    [800, 1000],
  );
  // A rewrite between two samples that already shrank the file: "before" is at least the size after it.
  const late = new CompactionTracker();
  late.observe([s(100, 0)]);
  late.observe([s(300, 1, 400)]);
  t.equal(late.sumBeforeLastRewrite(), 400);
});

t.test('aofPutRatios divides each AOF setting by --no-aof', async (t) => {
  const rows = aofPutRatios([
    { scenario: 'core', aof: 'everysec', opsPerSec: 1 },
    { scenario: 'aof', aof: 'off', opsPerSec: 40_000 },
    { scenario: 'aof', aof: 'everysec', opsPerSec: 36_000 },
    { scenario: 'aof', aof: 'always', opsPerSec: 16_000 },
  ]);
  t.same(rows, [
    { aof: 'off', opsPerSec: 40_000, ratioToNoAof: 1 },
    { aof: 'everysec', opsPerSec: 36_000, ratioToNoAof: 0.9 },
    { aof: 'always', opsPerSec: 16_000, ratioToNoAof: 0.4 },
  ]);
  t.same(
    aofPutRatios([{ scenario: 'aof', aof: 'always', opsPerSec: 5 }]),
    [{ aof: 'always', opsPerSec: 5, ratioToNoAof: null }],
    'no --no-aof case: no ratio',
  );
});
