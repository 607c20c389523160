import type { BenchContext } from '../context.js';
import { installed } from '../peers/installed.js';
import { LocalServer } from '../peers/local-server.js';
import { RedisServer } from '../peers/redis.js';
import { LallyNode } from '../proc/lally-node.js';
import { residentBytes } from '../proc/wait-ready.js';
import type { MemoryFigures, MemoryResult, TargetName } from '../results/schema.js';
import { ratio } from '../stats/percentiles.js';
import { keyName } from '../workload/key-distribution.js';
import { liveKeys, preload } from './lally-api.js';

const KEY_BYTES = 16;
const VALUE_BYTES = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function* indexes(count: number): Generator<number> {
  for (let i = 0; i < count; i++) yield i;
}

export function estimateMemory(ctx: BenchContext): number {
  // Loading runs at roughly 100k keys/s here, three times (Lally, node:http + Map, Redis), plus a replay.
  return 8 + (ctx.options.memoryKeys / 100_000) * 3;
}

function figures(
  target: TargetName,
  keys: number,
  before: number | null,
  after: number | null,
): MemoryFigures {
  const bytesPerKey = before !== null && after !== null ? Math.round((after - before) / keys) : null;
  return {
    target,
    keys,
    rssBeforeBytes: before,
    rssAfterBytes: after,
    bytesPerKey,
    ratioToPayload: ratio(bytesPerKey, KEY_BYTES + VALUE_BYTES),
  };
}

/** Loads keys, lets the servers settle, and reads their resident memory (VmRSS). */
async function measure(
  target: TargetName,
  pid: number,
  keys: number,
  load: () => Promise<unknown>,
): Promise<MemoryFigures> {
  await sleep(300);
  const before = await residentBytes(pid);
  await load();
  // Garbage from the load (request bodies) is still on the heap for a moment; give the GC a chance.
  await sleep(2000);
  return figures(target, keys, before, await residentBytes(pid));
}

export async function runMemory(ctx: BenchContext): Promise<void> {
  const { options, progress } = ctx;
  const keys = options.memoryKeys;
  progress.step(
    `memory: start Lally (${options.shards} shards, AOF everysec), load ${keys} keys via /batch`,
    keys / 100_000 + 4,
  );
  const first = await LallyNode.start({ cliPath: ctx.cliPath, shards: options.shards, aof: 'everysec' });
  let loadSec = 0;
  let lally: MemoryFigures;
  let replayMs: number | null = null;
  let keysAfterReplay: number | null = null;
  try {
    lally = await measure('lally', first.pid, keys, async () => {
      loadSec = await preload(first.url, indexes(keys), VALUE_BYTES);
    });
    const loadedKeys = await liveKeys(first.url);
    if (loadedKeys !== null && loadedKeys !== keys) lally.note = `GET /stats counts ${loadedKeys} live keys`;
    progress.note(
      `-> ${lally.bytesPerKey} bytes/key resident, loaded at ${Math.round(keys / loadSec)} keys/s`,
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
  progress.step(`memory: node:http + Map, ${keys} keys`, keys / 100_000 + 2);
  const map = await LocalServer.start('node-http-map', []);
  try {
    peers.push(
      await measure('node-http-map', map.pid, keys, () => preload(map.url, indexes(keys), VALUE_BYTES)),
    );
  } finally {
    await map.stop();
  }
  if (installed('redis-server') && installed('redis-cli')) {
    progress.step(`memory: Redis, ${keys} keys`, keys / 200_000 + 2);
    const redis = await RedisServer.start();
    try {
      peers.push(await measure('redis', redis.pid, keys, () => redis.preload(keys, VALUE_BYTES, keyName)));
    } finally {
      await redis.stop();
    }
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
