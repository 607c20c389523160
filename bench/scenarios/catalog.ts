import type { ScenarioName } from '../args.js';
import type { BenchContext } from '../context.js';
import type { AofMode } from '../proc/lally-node.js';
import { clusterScenario } from './cluster.js';
import {
  estimateAofReads,
  estimateCompaction,
  estimateReplay,
  runAofReads,
  runCompaction,
  runReplay,
} from './durability.js';
import { estimateHop, runHop } from './hop.js';
import { estimateKeyCount, runKeyCount } from './key-count.js';
import { estimateMemory, runMemory } from './memory.js';
import { estimateMetrics, runMetrics } from './metrics.js';
import { estimatePeers, runPeers } from './peers.js';
import { estimateScale, runScale } from './scale.js';
import {
  describeWorkload,
  estimateCases,
  runThroughputCases,
  type ThroughputCase,
  workloadOf,
} from './throughput.js';

export interface Scenario {
  name: ScenarioName;
  description: string;
  /** Why it cannot run with these options (it is then listed as skipped), or null. */
  unavailable(ctx: BenchContext): string | null;
  estimateSec(ctx: BenchContext): number;
  run(ctx: BenchContext): Promise<void>;
}

/** Cases of a throughput scenario, with a case id built from its settings. */
function cases(
  ctx: BenchContext,
  specs: {
    kind: ThroughputCase['workload']['kind'];
    shards?: number;
    aof?: AofMode;
    valueBytes?: number;
    distribution?: 'uniform' | 'zipf';
    writeShare?: number;
  }[],
): ThroughputCase[] {
  const { options } = ctx;
  return specs.map((s) => {
    const shards = s.shards ?? options.shards;
    const aof = s.aof ?? 'everysec';
    const workload = workloadOf(s.kind, { ...s, quick: options.quick });
    const showAof = s.aof !== undefined;
    const label = `${describeWorkload(workload)}, ${shards} shard(s)${showAof ? `, AOF ${aof}` : ''}`;
    const reads = workload.kind === 'batch' && workload.writeShare === 0 ? '-reads' : '';
    const id = `${workload.kind}${reads}-${workload.distribution}-${workload.valueBytes}b-${shards}s-aof-${aof}`;
    return { id, label, shards, aof, workload, connections: options.connections };
  });
}

function throughputScenario(
  name: ScenarioName,
  description: string,
  build: (ctx: BenchContext) => ThroughputCase[],
  options: {
    minRounds?: number;
    /** One round more than the other scenarios: the core figure deserves the least noise. */
    extraCoreRound?: boolean;
    alwaysAlternate?: boolean;
    ownDaemons?: boolean;
    fixedRate?: boolean;
  } = {},
): Scenario {
  const rounds = (ctx: BenchContext) =>
    Math.max(
      options.minRounds ?? 1,
      ctx.options.rounds + (options.extraCoreRound && !ctx.options.quick ? 1 : 0),
    );
  const rate = (ctx: BenchContext) =>
    options.fixedRate ? (ctx.options.rate ?? ctx.options.defaultRate) : undefined;
  return {
    name,
    description,
    unavailable: (ctx) =>
      options.ownDaemons && ctx.options.url
        ? 'it starts daemons with its own settings (--url was given)'
        : null,
    estimateSec: (ctx) => estimateCases(ctx, build(ctx), rounds(ctx)),
    run: (ctx) =>
      runThroughputCases(ctx, name, build(ctx), {
        rounds: rounds(ctx),
        reuseCeiling: ctx.options.quick && !options.alwaysAlternate,
        rate: rate(ctx),
      }),
  };
}

/** The suite, in the order it runs. Adding a scenario is adding an entry here. */
export const SCENARIOS: readonly Scenario[] = [
  throughputScenario(
    'core',
    "Issue 2's core figure: GET and PUT of Lally with N shards against the bare uWS app with N threads, rounds alternated.",
    (ctx) => cases(ctx, [{ kind: 'get' }, { kind: 'put' }]),
    { minRounds: 2, extraCoreRound: true, alwaysAlternate: true },
  ),
  throughputScenario(
    'ops',
    'The 90/10 GET/PUT mix, /batch of 100 operations (90/10) and /batch of 100 GETs, ops/s counted per operation.',
    (ctx) => cases(ctx, [{ kind: 'mix' }, { kind: 'batch' }, { kind: 'batch', writeShare: 0 }]),
  ),
  throughputScenario('keys', 'Uniform against Zipfian keys (theta 0.99, fixed seed), GET and mix.', (ctx) =>
    cases(ctx, [
      { kind: 'get', distribution: 'uniform' },
      { kind: 'get', distribution: 'zipf' },
      { kind: 'mix', distribution: 'uniform' },
      { kind: 'mix', distribution: 'zipf' },
    ]),
  ),
  throughputScenario('values', 'Values of 16 B, 1 KiB and 64 KiB, GET and PUT.', (ctx) =>
    cases(
      ctx,
      [16, 1024, 65536].flatMap((valueBytes) => [
        { kind: 'get' as const, valueBytes },
        { kind: 'put' as const, valueBytes },
      ]),
    ),
  ),
  throughputScenario(
    'shards',
    'Throughput against shards: 1, 2, 4, ... N shards, each against the ceiling with as many threads.',
    (ctx) => {
      const counts: number[] = [];
      for (let s = 1; s < ctx.options.shards; s *= 2) counts.push(s);
      counts.push(ctx.options.shards);
      return cases(
        ctx,
        counts.flatMap((shards) => [
          { kind: 'get' as const, shards },
          { kind: 'put' as const, shards },
        ]),
      );
    },
    { ownDaemons: true },
  ),
  {
    name: 'hop',
    description:
      'Cost of a shard hop: one connection, keys owned by the receiving shard against keys of another.',
    unavailable: (ctx) =>
      ctx.options.url ? 'it starts daemons with its own settings (--url was given)' : null,
    estimateSec: estimateHop,
    run: runHop,
  },
  {
    name: 'scale',
    description:
      'CPU µs per GET and per PUT (100 B values) with 1 and 2 shards, by thread (main, shards, rest) and for wrk, from /proc; the model it fits predicts 16 and 64 cores.',
    unavailable: (ctx) =>
      ctx.options.url ? 'it starts daemons with its own settings (--url was given)' : null,
    estimateSec: estimateScale,
    run: runScale,
  },
  {
    name: 'keycount',
    description:
      "GET p50/p99/p99.9 with 10k keys against 5M keys (100 B values), at a fixed rate (wrk) and as fast as possible, and each shard's event-loop delay during the runs.",
    unavailable: (ctx) =>
      ctx.options.url ? 'it starts daemons with its own settings (--url was given)' : null,
    estimateSec: estimateKeyCount,
    run: runKeyCount,
  },
  throughputScenario(
    'aof',
    'PUT with the AOF off (--no-aof) and with fsync no, everysec and always.',
    (ctx) =>
      cases(
        ctx,
        (['off', 'no', 'everysec', 'always'] as const).map((aof) => ({ kind: 'put' as const, aof })),
      ),
    { ownDaemons: true },
  ),
  {
    name: 'aofreads',
    description:
      'GET p50/p99/p99.9 at 1000/s (one connection) while a wrk PUT load runs on the same node: --no-aof, everysec, always.',
    unavailable: (ctx) =>
      ctx.options.url ? 'it starts daemons with its own settings (--url was given)' : null,
    estimateSec: estimateAofReads,
    run: runAofReads,
  },
  {
    name: 'compaction',
    description:
      'Automatic AOF rewrite over HTTP: 200k PUTs over 20k keys (100 B) with --aof-rewrite-min-size 4M; sizes from GET /stats.',
    unavailable: (ctx) =>
      ctx.options.url ? 'it starts daemons with its own settings (--url was given)' : null,
    estimateSec: estimateCompaction,
    run: runCompaction,
  },
  throughputScenario(
    'rate',
    'Fixed-rate GET and PUT (autocannon overallRate, --rate or 10000/s): p99 at a given load, Lally and ceiling.',
    (ctx) => cases(ctx, [{ kind: 'get' }, { kind: 'put' }]),
    { fixedRate: true, alwaysAlternate: true },
  ),
  {
    name: 'peers',
    description:
      'node:http + Map, Redis (redis-benchmark), Webdis and the etcd HTTP gateway, GET and PUT 16 B.',
    unavailable: () => null,
    estimateSec: estimatePeers,
    run: runPeers,
  },
  {
    name: 'memory',
    description:
      'Resident memory and bytes per key after loading 1M keys (16 B keys, 100 B values), then replay time.',
    unavailable: (ctx) =>
      ctx.options.url ? 'it starts daemons with its own settings (--url was given)' : null,
    estimateSec: estimateMemory,
    run: runMemory,
  },
  {
    name: 'replay',
    description:
      'Replay of 1M records (16 B keys, 100 B values): Lally restarting on its AOF against redis-server loading its appendonly file.',
    unavailable: (ctx) =>
      ctx.options.url ? 'it starts daemons with its own settings (--url was given)' : null,
    estimateSec: estimateReplay,
    run: runReplay,
  },
  clusterScenario,
  {
    name: 'metrics',
    description:
      'The cost of the shard metrics (GET /metrics): GET and PUT against a daemon with them and one with --no-shard-metrics, rounds alternated.',
    unavailable: (ctx) =>
      ctx.options.url ? 'it starts daemons with its own settings (--url was given)' : null,
    estimateSec: estimateMetrics,
    run: runMetrics,
  },
];
