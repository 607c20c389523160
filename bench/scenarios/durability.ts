import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BenchContext, runSeconds } from '../context.js';
import { rawGet, SequentialClient } from '../load/sequential-client.js';
import { installed } from '../peers/installed.js';
import { REDIS_INSTALL, RedisServer } from '../peers/redis.js';
import { removeTempDir, trackTempDir } from '../proc/children.js';
import { type AofMode, LallyNode } from '../proc/lally-node.js';
import type { AofReadsCase, CompactionResult, ReplayServerFigures, TargetName } from '../results/schema.js';
import {
  aofRecordBytes,
  CompactionTracker,
  parseAofStats,
  parseRedisInfo,
  recordsPerSec,
  redisKeyCount,
  redisLoaded,
  type ShardAofStats,
} from '../stats/durability.js';
import { type LatencySummary, median, ratio, summarize } from '../stats/percentiles.js';
import { keyName } from '../workload/key-distribution.js';
import { range } from '../workload/requests.js';
import { liveKeys, preload } from './lally-api.js';
import { planFor, workloadOf } from './throughput.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function aofStats(url: string): Promise<ShardAofStats[]> {
  const res = await fetch(`${url}/stats`, { signal: AbortSignal.timeout(10_000) });
  return parseAofStats(await res.json());
}

const totalSyncs = (shards: readonly ShardAofStats[]) => shards.reduce((sum, s) => sum + s.syncs, 0);

/** Total bytes of the files under `dir` (recursively). */
function dirBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += dirBytes(path);
    else if (entry.isFile()) total += statSync(path).size;
  }
  return total;
}

// ---------------------------------------------------------------------------------------------------
// aofreads: GET latency while a PUT load (and its syncs) runs on the same node

const READ_MODES: readonly AofMode[] = ['off', 'everysec', 'always'];
const GET_RATE = 1000;
const PUT_CONNECTIONS = 32;

export function estimateAofReads(ctx: BenchContext): number {
  return READ_MODES.length * (3 + ctx.options.rounds * runSeconds(ctx));
}

/**
 * Paced GETs on one keep-alive connection, one in flight, about `rate` per second, until `until`
 * resolves. Each sample is the time of one request in µs (sent to answered; no coordinated-omission
 * correction, but with one request in flight at a moderate rate, the queue is the server's).
 */
async function pacedGets(
  port: number,
  keys: number,
  rate: number,
  until: Promise<unknown>,
): Promise<number[]> {
  let done = false;
  void until.finally(() => {
    done = true;
  });
  const client = await SequentialClient.connect(port);
  const requests = Array.from({ length: 1024 }, (_, i) => rawGet(`/kv/${keyName((i * 7919) % keys)}`));
  const samples: number[] = [];
  const interval = 1000 / rate;
  const started = performance.now();
  try {
    for (let i = 0; !done; i++) {
      const due = started + i * interval;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      const t0 = process.hrtime.bigint();
      const status = await client.request(requests[i % requests.length]!);
      samples.push(Number(process.hrtime.bigint() - t0) / 1000);
      if (status !== 200) throw new Error(`GET answered ${status} in aofreads`);
    }
  } finally {
    client.close();
  }
  return samples;
}

export async function runAofReads(ctx: BenchContext): Promise<void> {
  const { options, progress } = ctx;
  const workload = { ...workloadOf('put', { quick: options.quick }), seed: 43 };
  const plan = planFor(workload);
  const nodes = new Map<AofMode, LallyNode>();
  const gets = new Map<AofMode, number[]>();
  const puts = new Map<AofMode, { ops: number[]; latency: LatencySummary[]; syncs: number; sec: number }>();
  try {
    for (const mode of READ_MODES) {
      progress.step(`aofreads: start Lally (AOF ${mode}), preload ${workload.keyCount} keys`, 3);
      const node = await LallyNode.start({ cliPath: ctx.cliPath, shards: options.shards, aof: mode });
      nodes.set(mode, node);
      await preload(node.url, range(workload.keyCount), workload.valueBytes);
      gets.set(mode, []);
      puts.set(mode, { ops: [], latency: [], syncs: 0, sec: 0 });
    }
    for (let r = 1; r <= options.rounds; r++) {
      for (const mode of READ_MODES) {
        const node = nodes.get(mode)!;
        progress.step(
          `aofreads: AOF ${mode}, PUT load (${PUT_CONNECTIONS} connections) + GETs at ${GET_RATE}/s, round ${r}/${options.rounds}`,
          runSeconds(ctx),
        );
        const syncsBefore = totalSyncs(await aofStats(node.url));
        const started = performance.now();
        const putRun = ctx.loads.throughput.run({
          url: node.url,
          plan,
          connections: PUT_CONNECTIONS,
          durationSec: options.durationSec,
        });
        // Let the PUT load get going before sampling reads.
        await sleep(100);
        const samples = await pacedGets(Number(new URL(node.url).port), workload.keyCount, GET_RATE, putRun);
        const put = await putRun;
        const sec = (performance.now() - started) / 1000;
        const acc = puts.get(mode)!;
        acc.ops.push(put.opsPerSec);
        acc.latency.push(put.latencyMs);
        acc.syncs += totalSyncs(await aofStats(node.url)) - syncsBefore;
        acc.sec += sec;
        gets.get(mode)!.push(...samples);
        const s = summarize(samples);
        progress.note(
          `-> GET p50 ${s.p50.toFixed(0)} µs, p99 ${s.p99.toFixed(0)} µs (${samples.length} samples); PUT ${Math.round(put.opsPerSec)} ops/s`,
        );
      }
    }
  } finally {
    for (const node of nodes.values()) await node.dispose();
  }
  const summaries = new Map([...gets].map(([mode, samples]) => [mode, summarize(samples)]));
  const base = summaries.get('off');
  const basePut = median(puts.get('off')?.ops ?? []);
  const cases: AofReadsCase[] = READ_MODES.map((mode) => {
    const getUs = summaries.get(mode)!;
    const put = puts.get(mode)!;
    const putOps = median(put.ops);
    const mid = [...put.latency].sort((a, b) => a.p99 - b.p99)[put.latency.length >> 1]!;
    return {
      aof: mode,
      getSamples: gets.get(mode)!.length,
      getRatePerSec: GET_RATE,
      getUs,
      putOpsPerSec: Math.round(putOps),
      putLatencyMs: mid,
      syncsPerSec: mode === 'off' ? 0 : Math.round(put.syncs / put.sec),
      ratioGetP99ToNoAof: ratio(getUs.p99, base?.p99),
      ratioPutToNoAof: ratio(putOps, basePut),
    };
  });
  ctx.results.aofReads = {
    method:
      `${options.shards} shard(s); ${workload.keyCount} keys of ${workload.valueBytes} B; wrk PUTs with ${PUT_CONNECTIONS} connections ` +
      `while the bench sends GETs at ${GET_RATE}/s on one keep-alive connection (one in flight, µs timer); ` +
      `${options.rounds} round(s) of ${options.durationSec} s per setting, settings alternated, samples pooled.`,
    putConnections: PUT_CONNECTIONS,
    keyCount: workload.keyCount,
    valueBytes: workload.valueBytes,
    cases,
  };
}

// ---------------------------------------------------------------------------------------------------
// compaction: automatic rewrites seen through GET /stats

const COMPACTION_MIN_SIZE = 4 * 1024 * 1024;
const COMPACTION_KEYS = 20_000;
const COMPACTION_UPDATES = 200_000;
const COMPACTION_VALUE = 100;

export function estimateCompaction(): number {
  return 12;
}

export async function runCompaction(ctx: BenchContext): Promise<void> {
  const { options, progress } = ctx;
  progress.step(
    `compaction: ${COMPACTION_UPDATES} PUTs over ${COMPACTION_KEYS} keys (${COMPACTION_VALUE} B) via /batch, --aof-rewrite-min-size 4M`,
    estimateCompaction(),
  );
  const node = await LallyNode.start({
    cliPath: ctx.cliPath,
    shards: options.shards,
    aof: 'everysec',
    extraArgs: ['--aof-rewrite-min-size', String(COMPACTION_MIN_SIZE)],
  });
  const tracker = new CompactionTracker();
  let loadSec = 0;
  try {
    tracker.observe(await aofStats(node.url));
    let loading = true;
    const poller = (async () => {
      while (loading) {
        tracker.observe(await aofStats(node.url));
        await sleep(25);
      }
    })();
    const keys = function* () {
      for (let i = 0; i < COMPACTION_UPDATES; i++) yield i % COMPACTION_KEYS;
    };
    try {
      loadSec = await preload(node.url, keys(), COMPACTION_VALUE);
    } finally {
      loading = false;
      await poller;
    }
    // Wait (bounded) until no rewrite runs and the count has stopped growing for a second.
    const deadline = performance.now() + 30_000;
    let stableSince = performance.now();
    let lastCount = -1;
    while (performance.now() < deadline) {
      const shards = await aofStats(node.url);
      tracker.observe(shards);
      const count = shards.reduce((sum, s) => sum + s.rewrites, 0);
      const busy = shards.some((s) => s.rewriteInProgress);
      if (count !== lastCount || busy) {
        lastCount = count;
        stableSince = performance.now();
      } else if (performance.now() - stableSince > 1000) break;
      await sleep(50);
    }
  } finally {
    await node.dispose();
  }
  const latest = tracker.latest;
  const recordBytes = aofRecordBytes(16, COMPACTION_VALUE);
  const finalBytes = latest.reduce((sum, s) => sum + s.bytes, 0);
  const rewrites = latest.reduce((sum, s) => sum + s.rewrites, 0);
  const before = tracker.sumBeforeLastRewrite();
  const after = before === null ? null : latest.reduce((sum, s) => sum + s.sizeAfterLastRewrite, 0);
  const uncompactedBytes = COMPACTION_UPDATES * recordBytes;
  const liveRecordBytes = COMPACTION_KEYS * recordBytes;
  const result: CompactionResult = {
    updates: COMPACTION_UPDATES,
    keys: COMPACTION_KEYS,
    valueBytes: COMPACTION_VALUE,
    rewriteMinSizeBytes: COMPACTION_MIN_SIZE,
    uncompactedBytes,
    liveRecordBytes,
    livePayloadBytes: COMPACTION_KEYS * (16 + COMPACTION_VALUE),
    peakBytes: tracker.sumPeak(),
    bytesBeforeLastRewrite: before,
    bytesAfterLastRewrite: after,
    finalBytes,
    rewrites,
    loadSec: Math.round(loadSec * 100) / 100,
    ratioAfterToBefore: ratio(after, before),
    ratioFinalToUncompacted: ratio(finalBytes, uncompactedBytes),
    ratioFinalToLive: ratio(finalBytes, liveRecordBytes),
  };
  if (rewrites === 0) result.note = 'no automatic rewrite happened within 30 s after the writes';
  ctx.results.compaction = result;
  progress.note(
    `-> ${rewrites} rewrites; peak ${(result.peakBytes / 2 ** 20).toFixed(1)} MiB, final ${(finalBytes / 2 ** 20).toFixed(1)} MiB ` +
      `(uncompacted ${(uncompactedBytes / 2 ** 20).toFixed(1)} MiB, live ${(liveRecordBytes / 2 ** 20).toFixed(1)} MiB)`,
  );
}

// ---------------------------------------------------------------------------------------------------
// replay: restart time with 1M records, Lally against redis-server with appendonly

export function estimateReplay(ctx: BenchContext): number {
  const reuse = ctx.options.scenarios.includes('memory');
  return 6 + (ctx.options.memoryKeys / 100_000) * (reuse ? 1 : 2);
}

function serverFigures(
  target: TargetName,
  records: number,
  fileBytes: number | null,
  emptyStartMs: number | null,
  replayMs: number | null,
  keysAfterReplay: number | null,
  settings: string,
): ReplayServerFigures {
  return {
    target,
    records,
    fileBytes,
    emptyStartMs: emptyStartMs === null ? null : Math.round(emptyStartMs),
    replayMs: replayMs === null ? null : Math.round(replayMs),
    recordsPerSec: recordsPerSec(records, replayMs),
    recordsPerSecNetOfStart:
      replayMs === null || emptyStartMs === null ? null : recordsPerSec(records, replayMs - emptyStartMs),
    keysAfterReplay,
    settings,
  };
}

async function lallyReplay(ctx: BenchContext, keys: number): Promise<ReplayServerFigures> {
  const { options, progress } = ctx;
  const settings = `${options.shards} shards, AOF everysec, SIGTERM then restart on the same data dir`;
  const mem = ctx.results.memory;
  if (mem && mem.keys === keys && mem.replayMs !== null && mem.valueBytes === 100) {
    progress.note('replay: Lally figures from the memory scenario of this run');
    return serverFigures('lally', keys, null, mem.emptyStartMs, mem.replayMs, mem.keysAfterReplay, settings);
  }
  progress.step(`replay: Lally, load ${keys} keys via /batch, stop, restart`, keys / 100_000 + 4);
  const first = await LallyNode.start({ cliPath: ctx.cliPath, shards: options.shards, aof: 'everysec' });
  try {
    await preload(first.url, range(keys), 100);
    await first.stop();
    const fileBytes = dirBytes(first.dataDir);
    const second = await LallyNode.start({
      cliPath: ctx.cliPath,
      shards: options.shards,
      aof: 'everysec',
      dataDir: first.dataDir,
      readyTimeoutMs: 300_000,
    });
    const after = await liveKeys(second.url);
    await second.stop();
    return serverFigures('lally', keys, fileBytes, first.startMs, second.startMs, after, settings);
  } finally {
    await first.dispose();
  }
}

async function redisInfo(redis: RedisServer): Promise<Map<string, string> | null> {
  try {
    return parseRedisInfo(await redis.command('INFO'));
  } catch {
    return null;
  }
}

async function redisReplay(ctx: BenchContext, keys: number): Promise<ReplayServerFigures> {
  const { progress } = ctx;
  progress.step(
    `replay: Redis (appendonly, everysec), load ${keys} keys with redis-cli --pipe, restart`,
    keys / 200_000 + 4,
  );
  const dir = trackTempDir(mkdtempSync(join(tmpdir(), 'lally-bench-redis-aof-')));
  try {
    const spawnAt = performance.now();
    const first = await RedisServer.start({ aofDir: dir });
    const emptyStartMs = performance.now() - spawnAt;
    await first.preload(keys, 100, keyName);
    await first.command('SHUTDOWN').catch(() => '');
    await first.stop(60_000);
    const fileBytes = dirBytes(dir);
    const started = performance.now();
    const second = await RedisServer.start({ aofDir: dir, port: first.port, waitTcp: false });
    let replayMs: number | null = null;
    let count: number | null = null;
    try {
      const deadline = started + 300_000;
      while (performance.now() < deadline) {
        const info = await redisInfo(second);
        if (info && redisLoaded(info, keys)) {
          replayMs = performance.now() - started;
          count = redisKeyCount(info);
          break;
        }
        await sleep(5);
      }
    } finally {
      await second.stop(60_000);
    }
    return serverFigures(
      'redis',
      keys,
      fileBytes,
      emptyStartMs,
      replayMs,
      count,
      'appendonly yes, appendfsync everysec, no RDB preamble, no automatic rewrite; ready = INFO loading:0 and every key in db0',
    );
  } finally {
    removeTempDir(dir);
  }
}

export async function runReplay(ctx: BenchContext): Promise<void> {
  const keys = ctx.options.memoryKeys;
  const lally = await lallyReplay(ctx, keys);
  ctx.progress.note(`-> Lally: ${lally.replayMs} ms, ${lally.recordsPerSec} records/s`);
  let redis: ReplayServerFigures | null = null;
  let note: string | undefined;
  if (installed('redis-server') && installed('redis-cli')) {
    redis = await redisReplay(ctx, keys);
    ctx.progress.note(`-> Redis: ${redis.replayMs} ms, ${redis.recordsPerSec} records/s`);
  } else {
    note = `redis-server is not installed (${REDIS_INSTALL})`;
  }
  ctx.results.replay = {
    keys,
    keyBytes: 16,
    valueBytes: 100,
    lally,
    redis,
    ratioToRedis: ratio(lally.recordsPerSec, redis?.recordsPerSec),
    ratioToRedisNetOfStart: ratio(lally.recordsPerSecNetOfStart, redis?.recordsPerSecNetOfStart),
    ...(note ? { note } : {}),
  };
}
