import type { EventLoopDelay } from '../metrics/node-status.js';
import type { ShardEngine } from './shard-engine.js';
import type { ShardRouter } from './shard-router.js';

/** One shard's figures, as GET /stats lists them. */
export interface ShardStats {
  id: number;
  keys: number;
  tombstones: number;
  /** Tombstones dropped past the grace period (src/shard/tombstone-sweep.ts). */
  tombstonesCollected: number;
  gets: number;
  hits: number;
  puts: number;
  removes: number;
  hopsOut: number;
  hopsIn: number;
  /** GETs of other shards' keys read from their shared tables without a hop, and those that hopped after all. */
  directGets: number;
  directFallbacks: number;
  busy: number;
  /** Requests of other shards answered BUSY: the answers owed to that shard were over budget. */
  answersBusy: number;
  /** Hops that got no answer within hop_timeout_ms, and answers that came after that (ignored). */
  hopTimeouts: number;
  lateAnswers: number;
  /** Batches refused whole, and batch GET items answered BUSY (the batch answer budget). */
  batchesBusy: number;
  batchItemsBusy: number;
  httpRequests: number;
  httpErrors: number;
  inFlight: number;
  heapUsedBytes: number;
  /** This thread's V8 heap and the shard table's shared memory (where a daemon's RSS goes). */
  memory?: ShardMemory;
  /** The shard thread's event-loop delay over the last 10 to 20 s (src/metrics/event-loop-delay.ts). */
  eventLoopDelay: EventLoopDelay | null;
  aof: Record<string, number | string | boolean> | null;
  rings: Record<string, number> | null;
}

export interface ShardMemory {
  /** This shard thread's V8 heap (process.memoryUsage() is per thread for these figures). */
  heapTotalBytes: number;
  /** Memory outside the heap that this thread's objects hold (Buffers, ArrayBuffers). */
  externalBytes: number;
  /** The table's arena: bytes below its top (touched), its length (grown), blocks in use and free. */
  arenaTopBytes: number;
  arenaLengthBytes: number;
  arenaUsedBytes: number;
  arenaFreeBytes: number;
  /** The index and the directory buffers' lengths (all touched: the index is cleared when it grows). */
  indexBytes: number;
  directoryBytes: number;
}

function shardMemory(engine: ShardEngine, usage: NodeJS.MemoryUsage): ShardMemory {
  const table = engine.store.table;
  const { index, directory, arena } = table.buffers;
  return {
    heapTotalBytes: usage.heapTotal,
    externalBytes: usage.external,
    arenaTopBytes: table.arena.topBytes,
    arenaLengthBytes: arena.byteLength,
    arenaUsedBytes: table.arena.usedBytes,
    arenaFreeBytes: table.arena.freeBytes,
    indexBytes: index.byteLength,
    directoryBytes: directory.byteLength,
  };
}

export function collectShardStats(
  engine: ShardEngine,
  router: ShardRouter,
  http: {
    counters: { requests: number; errors: number };
    inFlight: number;
    batchCounters?: { batchesBusy: number; itemsBusy: number };
  },
  aof: { stats(): Record<string, number | string | boolean> } | undefined,
  rings: Record<string, number> | undefined,
  eventLoopDelay?: EventLoopDelay,
): ShardStats {
  // One reading for both figures: process.memoryUsage() also reads the resident set from the kernel.
  const usage = process.memoryUsage();
  return {
    id: engine.shard,
    keys: engine.store.size,
    tombstones: engine.store.tombstones,
    tombstonesCollected: engine.tombstonesCollected,
    gets: engine.counters.gets,
    hits: engine.counters.hits,
    puts: engine.counters.puts,
    removes: engine.counters.removes,
    hopsOut: router.counters.hopsOut,
    hopsIn: router.counters.hopsIn,
    directGets: router.counters.directGets,
    directFallbacks: router.counters.directFallbacks,
    busy: router.counters.busy,
    answersBusy: router.counters.answersBusy,
    hopTimeouts: router.counters.timeouts,
    lateAnswers: router.counters.lateAnswers,
    batchesBusy: http.batchCounters?.batchesBusy ?? 0,
    batchItemsBusy: http.batchCounters?.itemsBusy ?? 0,
    httpRequests: http.counters.requests,
    httpErrors: http.counters.errors,
    inFlight: http.inFlight,
    heapUsedBytes: usage.heapUsed,
    memory: shardMemory(engine, usage),
    eventLoopDelay: eventLoopDelay ?? null,
    aof: aof === undefined ? null : aof.stats(),
    rings: rings ?? null,
  };
}

export interface NodeStats {
  status: 'success';
  /** The node id as 8 hex digits (the version tiebreak; unique per node). */
  nodeId?: string;
  shards: ShardStats[];
  totals: { keys: number; tombstones: number; gets: number; puts: number; removes: number; hops: number };
  missingShards: number[];
  /** The main thread's figures (its event-loop delay, as it last wrote them: at most 1 s old). */
  main?: { eventLoopDelay: EventLoopDelay };
}

/** Combines the shards' figures (those that answered) into the node's. */
export function combineStats(shards: ShardStats[], missingShards: number[], nodeId?: number): NodeStats {
  const sorted = [...shards].sort((a, b) => a.id - b.id);
  const sum = (pick: (s: ShardStats) => number) => sorted.reduce((total, s) => total + pick(s), 0);
  return {
    status: 'success',
    ...(nodeId === undefined ? {} : { nodeId: (nodeId >>> 0).toString(16).padStart(8, '0') }),
    shards: sorted,
    totals: {
      keys: sum((s) => s.keys),
      tombstones: sum((s) => s.tombstones),
      gets: sum((s) => s.gets),
      puts: sum((s) => s.puts),
      removes: sum((s) => s.removes),
      hops: sum((s) => s.hopsOut),
    },
    missingShards,
  };
}
