import { pino } from 'pino';
import t from 'tap';
import { HybridLogicalClock } from '../../src/clock/hlc.js';
import { ShardEngine } from '../../src/shard/shard-engine.js';
import { ShardRouter } from '../../src/shard/shard-router.js';
import { collectShardStats, combineStats, type ShardStats } from '../../src/shard/shard-stats.js';
import { ShardStore } from '../../src/store/shard-store.js';

const silent = pino({ level: 'silent' });

function shardStats(id: number, n: number): ShardStats {
  return {
    id,
    keys: n,
    tombstones: n + 1,
    tombstonesCollected: 0,
    gets: n + 2,
    hits: n + 3,
    puts: n + 4,
    removes: n + 5,
    hopsOut: n + 6,
    hopsIn: n + 7,
    directGets: n + 17,
    directFallbacks: n + 18,
    busy: n + 8,
    answersBusy: n + 12,
    hopTimeouts: n + 13,
    lateAnswers: n + 14,
    batchesBusy: n + 15,
    batchItemsBusy: n + 16,
    httpRequests: n + 9,
    httpErrors: n + 10,
    inFlight: n + 11,
    heapUsedBytes: 1000 * n,
    eventLoopDelay: null,
    aof: null,
    rings: null,
  };
}

t.test('combineStats sums the shards and sorts them by id', async (t) => {
  const s2 = shardStats(2, 100);
  const s0 = shardStats(0, 10);
  const s1 = shardStats(1, 1);
  const input = [s2, s0, s1];
  const combined = combineStats(input, []);
  t.equal(combined.status, 'success');
  t.same(
    combined.shards.map((s) => s.id),
    [0, 1, 2],
  );
  t.equal(combined.shards[0], s0, 'the shard objects themselves');
  t.same(
    input.map((s) => s.id),
    [2, 0, 1],
    'the input is not reordered',
  );
  t.same(combined.totals, {
    keys: 111,
    tombstones: 114,
    gets: 117,
    puts: 123,
    removes: 126,
    hops: 129,
  });
  t.same(combined.missingShards, []);
  t.same(Object.keys(combined), ['status', 'shards', 'totals', 'missingShards']);
});

t.test('combineStats with missing shards and with none answering', async (t) => {
  const missing = [3, 1];
  const combined = combineStats([shardStats(0, 5), shardStats(2, 5)], missing);
  t.equal(combined.missingShards, missing, 'passed through as given');
  t.same(combined.totals.keys, 10);
  const empty = combineStats([], [0, 1]);
  t.same(empty, {
    status: 'success',
    shards: [],
    totals: { keys: 0, tombstones: 0, gets: 0, puts: 0, removes: 0, hops: 0 },
    missingShards: [0, 1],
  });
});

t.test("collectShardStats reads the engine's, router's and HTTP figures", async (t) => {
  const store = new ShardStore();
  const engine = new ShardEngine({
    shard: 1,
    store,
    clock: new HybridLogicalClock(1),
    wal: undefined,
  });
  const router = new ShardRouter({
    engine,
    shard: 1,
    shards: 2,
    links: [undefined, undefined],
    logger: silent,
  });
  engine.put('a', '1');
  engine.put('b', '2');
  engine.put('c', '3');
  engine.remove('c');
  engine.get('a');
  engine.get('zzz');
  router.counters.hopsOut = 4;
  router.counters.hopsIn = 5;
  router.counters.busy = 6;
  router.counters.answersBusy = 10;
  router.counters.timeouts = 11;
  router.counters.lateAnswers = 12;
  const http = {
    counters: { requests: 7, errors: 8 },
    inFlight: 9,
    batchCounters: { batchesBusy: 13, itemsBusy: 14 },
  };
  const stats = collectShardStats(engine, router, http, undefined, undefined);
  t.type(stats.heapUsedBytes, 'number');
  t.ok(stats.heapUsedBytes > 0);
  // Three keys of one-byte keys and values: three 32-byte blocks of the shard table's arena.
  t.equal(stats.memory?.arenaUsedBytes, 96);
  t.equal(stats.memory?.indexBytes, 1024 * 8);
  t.ok((stats.memory?.heapTotalBytes ?? 0) > 0);
  t.same(
    { ...stats, heapUsedBytes: 0, memory: undefined },
    {
      memory: undefined,
      id: 1,
      keys: 2,
      tombstones: 1,
      tombstonesCollected: 0,
      gets: 2,
      hits: 1,
      puts: 3,
      removes: 1,
      hopsOut: 4,
      hopsIn: 5,
      directGets: 0,
      directFallbacks: 0,
      busy: 6,
      answersBusy: 10,
      hopTimeouts: 11,
      lateAnswers: 12,
      batchesBusy: 13,
      batchItemsBusy: 14,
      httpRequests: 7,
      httpErrors: 8,
      inFlight: 9,
      heapUsedBytes: 0,
      eventLoopDelay: null,
      aof: null,
      rings: null,
    },
  );
  const aofFigures = { bytes: 12, fsync: 'always', open: true };
  const rings = { messages: 3 };
  const withAof = collectShardStats(engine, router, http, { stats: () => aofFigures }, rings);
  t.equal(withAof.aof, aofFigures);
  t.equal(withAof.rings, rings);
  t.same(JSON.parse(JSON.stringify(stats)).aof, null, 'null survives JSON');
});
