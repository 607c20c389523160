import type { LatencySummary } from '../stats/percentiles.js';
import type { OperationKind } from '../workload/requests.js';

/** Version of the result file layout; bump it when a field changes meaning. */
export const RESULTS_SCHEMA = 'lally-bench/1';

export type TargetName = 'lally' | 'uws-ceiling' | 'node-http-map' | 'redis' | 'webdis' | 'etcd';

export interface RoundFigures {
  requestsPerSec: number;
  opsPerSec: number;
  latencyMs: LatencySummary;
  errors: number;
  non2xx: number;
}

export interface CeilingFigures {
  threads: number;
  opsPerSec: number;
  requestsPerSec: number;
  latencyMs: LatencySummary;
  rounds: RoundFigures[];
}

export interface CaseResult {
  scenario: string;
  id: string;
  label: string;
  target: TargetName;
  /** Who generated the load: wrk, autocannon, or the peer's own tool (redis-benchmark). */
  generator: string;
  shards: number | null;
  aof: string | null;
  connections: number;
  rate: number | null;
  workload: { kind: OperationKind; distribution: string; valueBytes: number; keyCount: number; batchSize: number };
  /** Medians over the rounds. */
  requestsPerSec: number;
  opsPerSec: number;
  latencyMs: LatencySummary;
  errors: number;
  non2xx: number;
  rounds: RoundFigures[];
  ceiling: CeilingFigures | null;
  /** opsPerSec / ceiling.opsPerSec. */
  ratioToCeiling: number | null;
  /** latencyMs.p99 / ceiling.latencyMs.p99 (above 1: slower than the ceiling). */
  ratioP99ToCeiling: number | null;
  note?: string;
}

/** The `metrics` scenario: the same load with shard metrics on and off (--no-shard-metrics). */
export interface MetricsOverheadResult {
  method: string;
  shards: number;
  rounds: number;
  cases: {
    kind: 'get' | 'put';
    on: ReturnType<typeof import('./figures.js').combineRounds> & { rounds: RoundFigures[] };
    off: ReturnType<typeof import('./figures.js').combineRounds> & { rounds: RoundFigures[] };
    /** Throughput with metrics over throughput without: the goal is at least 0.97. */
    ratioOnToOff: number | null;
    p99RatioOnToOff: number | null;
    /** The daemon's CPU time (every thread) per request, µs: medians, and each round's. */
    cpuUsPerRequest: { on: number | null; off: number | null; rounds: { on: number[]; off: number[] } };
    /** CPU per request with metrics over without: the cost of the metrics, less noisy than throughput. */
    cpuRatioOnToOff: number | null;
  }[];
}

export interface HopResult {
  method: string;
  samples: number;
  /** Microseconds per GET over one keep-alive connection, one request in flight. */
  oneShardUs: LatencySummary;
  localUs: LatencySummary;
  remoteUs: LatencySummary;
  ceilingUs: LatencySummary | null;
  /** remote p50 - local p50: what a hop to the other shard and back adds. */
  hopCostUs: number;
  /** Requests sent per key set (warm-up included), and the hops the daemon counted meanwhile (GET /stats). */
  requestsPerSet: number;
  hopsObserved: number | null;
  ratioLocalP50ToCeiling: number | null;
  ratioRemoteP50ToCeiling: number | null;
  ratioOneShardP50ToCeiling: number | null;
  /**
   * The same method with PUTs (16 B values): a PUT of the other shard's key always hops, so the
   * difference of the medians is the hop itself. Absent in results from before it was measured.
   */
  put?: {
    oneShardUs: LatencySummary;
    localUs: LatencySummary;
    remoteUs: LatencySummary;
    hopCostUs: number;
    hopsObserved: number | null;
  };
}

/** CPU per request of one scale run, or the medians of a cell's runs (µs). */
export interface ScaleCpu {
  /** The whole daemon (every thread, exited ones included). */
  processUs: number;
  mainThreadUs: number;
  /** The shard threads together (the `shards` busiest threads after the main one). */
  shardThreadsUs: number;
  /** The other live threads (GC helpers, libuv pool, compaction workers) and threads that exited. */
  otherThreadsUs: number;
  /** wrk's own CPU per request, or null when not read. */
  clientUs: number | null;
}

export interface ScaleRun {
  kind: 'get' | 'put';
  shards: number;
  round: number;
  requests: number;
  requestsPerSec: number;
  /** Requests answered by another shard than the connection's (direct reads + hops, from /stats). */
  crossFraction: number | null;
  cpu: ScaleCpu;
  /** The shard threads' time runnable but waiting for a core, over the run's wall time (schedstat). */
  shardRunQueueWaitShare: (number | null)[];
  /** Cores the daemon and wrk used on average over the run. */
  daemonCores: number;
  clientCores: number | null;
  latencyMs: LatencySummary;
  errors: number;
}

export interface ScaleResult {
  method: string;
  valueBytes: number;
  keyCount: number;
  connections: number;
  rounds: number;
  /** Medians per kind and shard count. */
  cells: { kind: 'get' | 'put'; shards: number; requestsPerSec: number; crossFraction: number | null; cpu: ScaleCpu }[];
  runs: ScaleRun[];
  models: ({ kind: 'get' | 'put' } & import('../stats/scale-model.js').ScaleModel)[];
  /** What the model leaves out. */
  ignores: string[];
}

/** One data set of the key-count scenario: the daemon, its load, and its GET runs. */
export interface KeyCountSet {
  keys: number;
  loadSec: number;
  /** Seconds from the end of the load until no shard compacted any more (bounded; 21 s of idle follow). */
  settleSec: number;
  /** Each shard's eventLoopDelay.maxMs just before the first GET run (covers the 10-20 s before). */
  delayBeforeMs: (number | null)[];
  rssBytes: number | null;
  fixedRate: KeyCountRun[];
  throughput: KeyCountRun[];
}

export interface KeyCountRun {
  round: number;
  /** The rate asked for (fixed-rate runs) and reached. */
  rate: number | null;
  requestsPerSec: number;
  latencyMs: LatencySummary;
  errors: number;
  non2xx: number;
  /** Daemon CPU per GET (every thread), µs. */
  cpuUsPerRequest: number | null;
  /** Per shard: the highest eventLoopDelay.maxMs read from /stats (every second) while the load ran. */
  eventLoopDelay: import('../stats/event-loop.js').ShardDelay[];
  /** Each shard's reading just before the run (it covers the 10 to 20 s before). */
  delayBeforeMs: (number | null)[];
  /** The idle control process's event-loop max during the run (bench/proc/loop-probe.ts). */
  controlMaxMs: number | null;
  /** The shard threads' time runnable but waiting for a core, over the run's wall time (schedstat). */
  shardRunQueueWaitShare: (number | null)[];
}

export interface KeyCountResult {
  method: string;
  shards: number;
  valueBytes: number;
  connections: { fixedRate: number; throughput: number };
  rate: number;
  durationSec: { fixedRate: number; throughput: number };
  small: KeyCountSet;
  large: KeyCountSet;
  /** Large over small, medians over rounds: the goal is p99.9 at most 1.5x at the fixed rate. */
  ratios: {
    fixedRate: { p50: number | null; p99: number | null; p999: number | null; max: number | null };
    throughput: { requestsPerSec: number | null; p99: number | null; p999: number | null };
  };
  /** The highest stall lower bound over every shard and run of the large set (goal: none above 20 ms). */
  largestStallAtLeastMs: number | null;
}

export interface MemoryFigures {
  target: TargetName;
  keys: number;
  rssBeforeBytes: number | null;
  rssAfterBytes: number | null;
  bytesPerKey: number | null;
  /** bytesPerKey / payload bytes per key (key + value). */
  ratioToPayload: number | null;
  /**
   * Lally and Redis: rssAfterBytes is at rest after a compaction (Lally's automatic one, Redis's
   * BGREWRITEAOF), when the RSS stopped moving; peakBytes is the highest sample (every 100 ms) while
   * that compaction ran, forked children's own dirty pages included (bench/proc/memory-sampler.ts).
   */
  compacted?: boolean;
  peakBytes?: number | null;
  /** (peakBytes - rssBeforeBytes) / keys, and that over bytesPerKey (the peak/rest ratio). */
  peakBytesPerKey?: number | null;
  ratioPeakToRest?: number | null;
  /** VmHWM at the end: the highest RSS of the whole run (the load included). */
  highWaterBytes?: number | null;
  /** Milliseconds waited after the load for the compaction and for the RSS to settle. */
  restWaitMs?: number;
  /** Lally only, from GET /stats at rest: the shard tables' shared memory and the shard threads' heaps. */
  tableBytes?: number;
  shardHeapBytes?: number;
  note?: string;
}

export interface MemoryResult {
  keys: number;
  keyBytes: number;
  valueBytes: number;
  loadSec: number;
  loadOpsPerSec: number;
  lally: MemoryFigures;
  peers: MemoryFigures[];
  /** Milliseconds from spawn to ready: empty data dir, then replaying the loaded AOF. */
  emptyStartMs: number;
  replayMs: number | null;
  keysAfterReplay: number | null;
  ratioReplayToEmptyStart: number | null;
}

/** GET latency of one AOF setting while a PUT load runs against the same node (`aofreads`). */
export interface AofReadsCase {
  aof: string;
  /** Paced GETs, one connection, one in flight; microseconds. */
  getSamples: number;
  getRatePerSec: number;
  getUs: LatencySummary;
  /** The concurrent PUT load (throughput mode). */
  putOpsPerSec: number;
  putLatencyMs: LatencySummary;
  /** fdatasyncs the node counted (GET /stats, all shards) during the runs, per second. */
  syncsPerSec: number | null;
  /** getUs.p99 of this case / getUs.p99 of --no-aof. */
  ratioGetP99ToNoAof: number | null;
  ratioPutToNoAof: number | null;
}

export interface AofReadsResult {
  method: string;
  putConnections: number;
  keyCount: number;
  valueBytes: number;
  cases: AofReadsCase[];
}

export interface CompactionResult {
  updates: number;
  keys: number;
  valueBytes: number;
  rewriteMinSizeBytes: number;
  /** Bytes the log would hold without compaction (updates x record size, headers left out). */
  uncompactedBytes: number;
  /** Bytes of the newest record of every key (keys x record size), and the payload (keys x (key + value)). */
  liveRecordBytes: number;
  livePayloadBytes: number;
  /** Largest AOF size seen (sum over shards of each shard's largest, sampled). */
  peakBytes: number;
  /** Sum over shards of the size just before the last rewrite (sampled), and after it. */
  bytesBeforeLastRewrite: number | null;
  bytesAfterLastRewrite: number | null;
  /** AOF bytes once the writes and rewrites are over. */
  finalBytes: number;
  rewrites: number;
  loadSec: number;
  /** bytesAfterLastRewrite / bytesBeforeLastRewrite; finalBytes / uncompactedBytes; finalBytes / liveRecordBytes. */
  ratioAfterToBefore: number | null;
  ratioFinalToUncompacted: number | null;
  ratioFinalToLive: number | null;
  note?: string;
}

export interface ReplayServerFigures {
  target: TargetName;
  records: number;
  /** Bytes of the files replayed. */
  fileBytes: number | null;
  emptyStartMs: number | null;
  /** Spawn to ready (Lally: first 200 of GET /greet; Redis: INFO loading:0 with every key). */
  replayMs: number | null;
  recordsPerSec: number | null;
  /** Records over (replay - empty start): the replay without the process start. */
  recordsPerSecNetOfStart: number | null;
  keysAfterReplay: number | null;
  settings: string;
}

export interface ReplayResult {
  keys: number;
  keyBytes: number;
  valueBytes: number;
  lally: ReplayServerFigures;
  redis: ReplayServerFigures | null;
  /** Lally's records/s over Redis's (spawn to ready), and the same net of the process start. */
  ratioToRedis: number | null;
  ratioToRedisNetOfStart: number | null;
  note?: string;
}

/** One node's CPU over a cell's measurement windows (/proc/<pid>/stat and /proc/<pid>/task/<pid>/stat). */
export interface ClusterNodeCpu {
  node: number;
  /** Cores used by the whole process, and by its main thread alone (1 = one core saturated). */
  processCores: number | null;
  mainThreadCores: number | null;
  /** Main thread's CPU over the process's. */
  mainThreadShare: number | null;
  /** Answers this node gave (its wrk thread's count), per second. */
  opsPerSec: number | null;
}

/** One measured cell of the `cluster` scenario: a kind of request against one node or the three. */
export interface ClusterCell {
  id: string;
  label: string;
  kind: 'put' | 'get';
  nodes: number;
  writeQuorum: number;
  readQuorum: number;
  /** All nodes together, median over the rounds. */
  opsPerSec: number;
  roundsOpsPerSec: number[];
  latencyMs: LatencySummary;
  errors: number;
  non2xx: number;
  /** Answers counted by the wrk script over all rounds (null without wrk's counts). */
  answers: number | null;
  /** Share of answers with status `partial` (quorum not met), and the mean `quorum.achieved`. */
  partialShare: number | null;
  meanAchieved: number | null;
  /** opsPerSec x (1 - partialShare): answers that met their quorum, per second. */
  successOpsPerSec: number | null;
  perNode: ClusterNodeCpu[];
  /** Some node's main thread used 0.9 core or more. */
  mainThreadSaturated: boolean;
  /** PUT only: replication records per second over the cluster, and where the figure comes from. */
  replicationRecordsPerSec: number | null;
  replicationSource: 'stats' | 'derived' | null;
  /** Records per batch on the replication streams (from /stats), or null. */
  recordsPerStreamBatch: number | null;
  /**
   * PUT only: the main threads' CPU over the cluster per replicated record, in µs (it pays the send on
   * one node and the apply on another; compare with rpc-stream's sender + receiver µs per record).
   */
  mainThreadUsPerReplicatedRecord: number | null;
  /**
   * Quorum-met answers per CPU second of the nodes (wrk left out): successOpsPerSec over the sum of
   * the nodes' processCores. Steadier than ops/s when other processes share the machine, since more
   * processes also win more of the contended CPU.
   */
  opsPerCpuSec: number | null;
  /** opsPerSec / the single node's of the same kind; successOpsPerSec / the single node's; same per CPU. */
  ratioToSingle: number | null;
  ratioSuccessToSingle: number | null;
  ratioPerCpuToSingle: number | null;
}

export interface RpcStreamFigures {
  records: number;
  /** Records per CPU second on one stream: sender side alone, receiver alone, both in one process. */
  senderRecordsPerCpuSec: number | null;
  receiverRecordsPerCpuSec: number | null;
  togetherRecordsPerCpuSec: number | null;
}

export interface ClusterResult {
  method: string;
  shardsPerNode: number;
  connections: number;
  wrkThreads: number;
  durationSec: number;
  rounds: number;
  /** Replicas of each key (no --replication-factor: every node holds every key). */
  replicas: number;
  loadAverageStart: number[];
  loadAverageEnd: number[];
  cells: ClusterCell[];
  rpcStream: RpcStreamFigures | null;
  /** Issue 8's goal: PUT at write quorum 2 over the single node's PUT, at least 0.5. */
  goalPutW2ToSingle: number | null;
  goalMet: boolean | null;
  note?: string;
}

export interface PeerStatus {
  name: string;
  status: 'ran' | 'skipped';
  reason?: string;
  /** The command that installs the peer, when it is missing. */
  install?: string;
}

export interface SkippedScenario {
  scenario: string;
  reason: string;
}

export interface BenchResults {
  schema: typeof RESULTS_SCHEMA;
  startedAt: string;
  finishedAt: string;
  mode: 'quick' | 'full' | 'custom';
  options: {
    scenarios: string[];
    durationSec: number;
    connections: number;
    shards: number;
    rounds: number;
    rate: number | null;
    url: string | null;
  };
  machine: { nproc: number; cpuModel: string; node: string; platform: string; totalMemoryBytes: number; loadAverage: number[] };
  loadGenerator: {
    name: string;
    version: string;
    fixedRate: string;
    /** Requests/s the generator reaches against the cheapest server (uWS, 2-byte body). */
    ceilingRps: number | null;
    /** The uWS ceiling's GET rate in `core` over ceilingRps: near 1, the generator is what limits. */
    ratioCeilingToGenerator: number | null;
  };
  cases: CaseResult[];
  hop: HopResult | null;
  memory: MemoryResult | null;
  aofReads?: AofReadsResult | null;
  compaction?: CompactionResult | null;
  replay?: ReplayResult | null;
  cluster?: ClusterResult | null;
  metricsOverhead?: MetricsOverheadResult | null;
  scale?: ScaleResult | null;
  keyCount?: KeyCountResult | null;
  peers: PeerStatus[];
  skipped: SkippedScenario[];
}

/** Checks the shape of a parsed result file; returns the problems found (none: it is valid). */
export function checkResults(value: unknown): string[] {
  const problems: string[] = [];
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(value)) return ['not an object'];
  if (value.schema !== RESULTS_SCHEMA) problems.push(`schema is not ${RESULTS_SCHEMA}`);
  for (const key of ['startedAt', 'finishedAt', 'mode']) {
    if (typeof value[key] !== 'string') problems.push(`${key} is not a string`);
  }
  for (const key of ['options', 'machine', 'loadGenerator']) {
    if (!isObject(value[key])) problems.push(`${key} is not an object`);
  }
  for (const key of ['cases', 'peers', 'skipped']) {
    if (!Array.isArray(value[key])) problems.push(`${key} is not an array`);
  }
  const cases = Array.isArray(value.cases) ? value.cases : [];
  cases.forEach((c: unknown, i) => {
    if (!isObject(c)) {
      problems.push(`cases[${i}] is not an object`);
      return;
    }
    for (const key of ['scenario', 'id', 'label', 'target', 'generator']) {
      if (typeof c[key] !== 'string') problems.push(`cases[${i}].${key} is not a string`);
    }
    for (const key of ['requestsPerSec', 'opsPerSec', 'errors', 'non2xx', 'connections']) {
      if (typeof c[key] !== 'number') problems.push(`cases[${i}].${key} is not a number`);
    }
    const latency = c.latencyMs;
    if (!isObject(latency) || ['p50', 'p99', 'p999'].some((p) => typeof latency[p] !== 'number')) {
      problems.push(`cases[${i}].latencyMs lacks p50/p99/p999`);
    }
    for (const key of ['ratioToCeiling', 'ratioP99ToCeiling']) {
      if (!(key in c) || (c[key] !== null && typeof c[key] !== 'number')) {
        problems.push(`cases[${i}].${key} is neither a number nor null`);
      }
    }
    if (!Array.isArray(c.rounds) || c.rounds.length === 0) problems.push(`cases[${i}].rounds is empty`);
  });
  return problems;
}
