import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchContext } from '../context.js';
import { installed } from '../peers/installed.js';
import { LocalServer } from '../peers/local-server.js';
import { RedisServer } from '../peers/redis.js';
import { removeTempDir, trackTempDir } from '../proc/children.js';
import { LallyNode } from '../proc/lally-node.js';
import { RssSampler, serverResidentBytes, statusField, waitForRest } from '../proc/memory-sampler.js';
import type { MemoryFigures, MemoryResult, TargetName } from '../results/schema.js';
import { ratio } from '../stats/percentiles.js';
import { keyName } from '../workload/key-distribution.js';
import { liveKeys, preload } from './lally-api.js';

const KEY_BYTES = 16;
const VALUE_BYTES = 100;
/** Bytes of one AOF record of a 16 B key and a 100 B value (8 B prefix, 21 B fixed body). */
const RECORD_BYTES = 8 + 21 + KEY_BYTES + VALUE_BYTES;
/** The compaction thread is stopped right after its job (src/aof/rewrite-pool.ts): a margin for it. */
const REWRITE_THREAD_EXIT_MS = 1500;
/**
 * How long the RSS must stay within 1 MiB to count as at rest: longer than V8's own memory reducer
 * waits (8 s) and than a few periods of the shards' idle heap collector (2 s,
 * src/shard/idle-heap-collector.ts), which give the load's heap back in steps; with a 5 s window the
 * figure was read between two of them, 30 MiB too high.
 */
const REST_WINDOW_MS = 12_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function* indexes(count: number): Generator<number> {
  for (let i = 0; i < count; i++) yield i;
}

export function estimateMemory(ctx: BenchContext): number {
  // Loading runs at roughly 50k keys/s here, three times (Lally, node:http + Map, Redis), plus the
  // waits for the compactions to finish and the memory to settle, plus a replay.
  return 40 + (ctx.options.memoryKeys / 50_000) * 3;
}

/**
 * The compaction threshold for `keys` keys over `shards` shards: each shard's AOF passes it at about
 * 90% of the load, so that exactly one compaction runs per shard, over nearly all the keys (with 1M
 * keys and 2 shards it is the default, 64 MiB).
 */
export function rewriteMinSize(keys: number, shards: number): number {
  return Math.max(1 << 20, Math.floor((0.9 * keys * RECORD_BYTES) / shards));
}

function figures(
  target: TargetName,
  keys: number,
  before: number | null,
  after: number | null,
  extra: Partial<MemoryFigures> = {},
): MemoryFigures {
  const perKey = (bytes: number | null | undefined) =>
    before !== null && bytes !== null && bytes !== undefined ? Math.round((bytes - before) / keys) : null;
  const bytesPerKey = perKey(after);
  const peakBytesPerKey = extra.peakBytes === undefined ? undefined : perKey(extra.peakBytes);
  return {
    target,
    keys,
    rssBeforeBytes: before,
    rssAfterBytes: after,
    bytesPerKey,
    ratioToPayload: ratio(bytesPerKey, KEY_BYTES + VALUE_BYTES),
    ...extra,
    ...(peakBytesPerKey === undefined
      ? {}
      : { peakBytesPerKey, ratioPeakToRest: ratio(peakBytesPerKey, bytesPerKey) }),
  };
}

/** Loads keys, lets the server settle, and reads its resident memory (VmRSS): no compaction. */
async function measureLoad(
  target: TargetName,
  pid: number,
  keys: number,
  load: () => Promise<unknown>,
): Promise<MemoryFigures> {
  await sleep(300);
  const before = await serverResidentBytes(pid);
  await load();
  const rest = await waitForRest(pid, { timeoutMs: 20_000 });
  return figures(target, keys, before, rest.bytes, { restWaitMs: Math.round(rest.waitedMs) });
}

interface ShardMemoryStats {
  aof?: { rewrites?: number; rewriteInProgress?: boolean } | null;
  memory?: Record<string, number>;
}

async function shardStats(url: string): Promise<ShardMemoryStats[] | null> {
  try {
    const res = await fetch(`${url}/stats`, { signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as { shards?: ShardMemoryStats[] };
    return Array.isArray(body.shards) ? body.shards : null;
  } catch {
    return null;
  }
}

/**
 * Lally: the RSS of the empty daemon, then a /batch load during which each shard compacts once, then
 * the RSS at rest once every compaction finished, its thread exited and the RSS stopped moving. The
 * peak is sampled while a compaction runs.
 */
async function measureLally(node: LallyNode, keys: number, onLoaded: (sec: number) => void) {
  await sleep(1000);
  const before = await serverResidentBytes(node.pid);
  let compacting = false;
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const shards = await shardStats(node.url);
      if (shards !== null) compacting = shards.some((s) => s.aof?.rewriteInProgress === true);
      await sleep(200);
    }
  })();
  const sampler = new RssSampler(node.pid, () => compacting);
  const started = performance.now();
  onLoaded(await preload(node.url, indexes(keys), VALUE_BYTES));
  let compacted = false;
  for (let waited = 0; waited < 180_000; waited += 250) {
    const shards = await shardStats(node.url);
    if (shards?.every((s) => (s.aof?.rewrites ?? 0) >= 1 && s.aof?.rewriteInProgress !== true)) {
      compacted = true;
      break;
    }
    await sleep(250);
  }
  polling = false;
  await poller;
  const rest = await waitForRest(node.pid, { notBeforeMs: REWRITE_THREAD_EXIT_MS, windowMs: REST_WINDOW_MS });
  await sampler.stop();
  const shards = (await shardStats(node.url)) ?? [];
  const sum = (...fields: string[]) =>
    shards.reduce((total, s) => total + fields.reduce((t, f) => t + (s.memory?.[f] ?? 0), 0), 0);
  return figures('lally', keys, before, rest.bytes, {
    compacted,
    peakBytes: sampler.peakDuring || null,
    highWaterBytes: await statusField(node.pid, 'VmHWM'),
    restWaitMs: Math.round(performance.now() - started),
    tableBytes: sum('arenaTopBytes', 'indexBytes', 'directoryBytes'),
    shardHeapBytes: sum('heapTotalBytes'),
    ...(compacted ? {} : { note: 'no compaction finished within 180 s of the load' }),
    ...(rest.settled ? {} : { note: 'the RSS did not settle within 90 s' }),
  });
}

/** Redis measured the same way: AOF on, a BGREWRITEAOF after the load, peak while it runs. */
async function measureRedis(keys: number): Promise<MemoryFigures> {
  const dir = trackTempDir(mkdtempSync(join(tmpdir(), 'lally-bench-redis-mem-')));
  const redis = await RedisServer.start({ aofDir: dir });
  try {
    await sleep(300);
    const before = await serverResidentBytes(redis.pid);
    await redis.preload(keys, VALUE_BYTES, keyName);
    let compacting = true;
    const sampler = new RssSampler(redis.pid, () => compacting);
    const started = performance.now();
    await redis.command('BGREWRITEAOF');
    let compacted = false;
    for (let waited = 0; waited < 180_000; waited += 200) {
      const info = await redis.command('INFO', 'persistence');
      if (/aof_rewrite_in_progress:0/.test(info) && /aof_rewrite_scheduled:0/.test(info)) {
        compacted = true;
        break;
      }
      await sleep(200);
    }
    compacting = false;
    const rest = await waitForRest(redis.pid, { windowMs: REST_WINDOW_MS });
    await sampler.stop();
    return figures('redis', keys, before, rest.bytes, {
      compacted,
      peakBytes: sampler.peakDuring || null,
      highWaterBytes: await statusField(redis.pid, 'VmHWM'),
      restWaitMs: Math.round(performance.now() - started),
    });
  } finally {
    await redis.stop();
    removeTempDir(dir);
  }
}

export async function runMemory(ctx: BenchContext): Promise<void> {
  const { options, progress } = ctx;
  const keys = options.memoryKeys;
  const minSize = rewriteMinSize(keys, options.shards);
  progress.step(
    `memory: start Lally (${options.shards} shards, AOF everysec, rewrite at ${minSize} B), load ${keys} keys via /batch, wait for the compaction and the rest`,
    keys / 50_000 + 15,
  );
  const first = await LallyNode.start({
    cliPath: ctx.cliPath,
    shards: options.shards,
    aof: 'everysec',
    extraArgs: ['--aof-rewrite-min-size', String(minSize)],
  });
  let loadSec = 0;
  let lally: MemoryFigures;
  let replayMs: number | null = null;
  let keysAfterReplay: number | null = null;
  try {
    lally = await measureLally(first, keys, (sec) => {
      loadSec = sec;
    });
    const loadedKeys = await liveKeys(first.url);
    if (loadedKeys !== null && loadedKeys !== keys) lally.note = `GET /stats counts ${loadedKeys} live keys`;
    progress.note(
      `-> at rest after compaction ${lally.bytesPerKey} bytes/key, peak during it ${lally.peakBytesPerKey} (${lally.ratioPeakToRest}x); loaded at ${Math.round(keys / loadSec)} keys/s`,
    );
    progress.step('memory: stop Lally (SIGTERM), restart on the same data dir, time the replay', 4);
    await first.stop();
    const second = await LallyNode.start({
      cliPath: ctx.cliPath,
      shards: options.shards,
      aof: 'everysec',
      dataDir: first.dataDir,
      readyTimeoutMs: 300_000,
    });
    replayMs = Math.round(second.startMs);
    keysAfterReplay = await liveKeys(second.url);
    await second.stop();
    progress.note(
      `-> replay: ready after ${replayMs} ms with ${keysAfterReplay ?? '?'} keys (empty start: ${Math.round(first.startMs)} ms)`,
    );
  } finally {
    await first.dispose();
  }

  const peers: MemoryFigures[] = [];
  progress.step(`memory: node:http + Map, ${keys} keys`, keys / 100_000 + 6);
  const map = await LocalServer.start('node-http-map', []);
  try {
    peers.push(
      await measureLoad('node-http-map', map.pid, keys, () => preload(map.url, indexes(keys), VALUE_BYTES)),
    );
  } finally {
    await map.stop();
  }
  if (installed('redis-server') && installed('redis-cli')) {
    progress.step(`memory: Redis (AOF, BGREWRITEAOF after the load), ${keys} keys`, keys / 100_000 + 10);
    const redis = await measureRedis(keys);
    peers.push(redis);
    progress.note(
      `-> Redis at rest ${redis.bytesPerKey} bytes/key, peak during BGREWRITEAOF ${redis.peakBytesPerKey} (${redis.ratioPeakToRest}x)`,
    );
  }

  const result: MemoryResult = {
    keys,
    keyBytes: KEY_BYTES,
    valueBytes: VALUE_BYTES,
    loadSec: Math.round(loadSec * 100) / 100,
    loadOpsPerSec: Math.round(keys / loadSec),
    lally,
    peers,
    emptyStartMs: Math.round(first.startMs),
    replayMs,
    keysAfterReplay,
    ratioReplayToEmptyStart: ratio(replayMs, first.startMs),
  };
  ctx.results.memory = result;
}
