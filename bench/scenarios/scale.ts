import { type BenchContext, runSeconds } from '../context.js';
import { LallyNode } from '../proc/lally-node.js';
import { sampleThreads, splitThreadCpu } from '../proc/thread-cpu.js';
import type { ScaleCpu, ScaleResult, ScaleRun } from '../results/schema.js';
import { median } from '../stats/percentiles.js';
import { fitScaleModel } from '../stats/scale-model.js';
import { range } from '../workload/requests.js';
import { crossShardCount, preload, readStats } from './lally-api.js';
import { planFor, workloadOf } from './throughput.js';

const VALUE_BYTES = 100;
const SHARD_COUNTS = [1, 2] as const;
const PREDICTED_CORES = [1, 2, 4, 16, 64];
/** Three rounds: CPU per request moves by a third between rounds on the shared machine. */
const MIN_ROUNDS = 3;

const IGNORES = [
  'memory bandwidth and caches: every core is taken to run a request in the same time as one of two cores does',
  'the NIC and the kernel beyond loopback: measured over 127.0.0.1, where the kernel CPU of both ends is on these cores',
  'the load generator: here wrk shares the cores (its CPU per request is given; requestsPerSecWithClient charges it)',
  'contention on the shared inbound rings and on the shared tables as senders grow (measured with 2 threads only)',
  'keys that are not uniform (a hot shard saturates first) and connections that are not spread evenly over the shards',
  'per-shard fixed costs other than per request (timers, idle ring turns): they are counted in the cross cost',
];

function roundsOf(ctx: BenchContext): number {
  return Math.max(MIN_ROUNDS, ctx.options.rounds);
}

export function estimateScale(ctx: BenchContext): number {
  return 10 + 2 * SHARD_COUNTS.length * roundsOf(ctx) * runSeconds(ctx);
}

const r2 = (x: number) => Math.round(x * 100) / 100;

/**
 * CPU per GET and per PUT with 1 and 2 shards (AOF everysec, 16 B keys, 100 B values), both daemons
 * running and their rounds alternated, and the scale model fitted on them (bench/stats/scale-model.ts).
 * CPU comes from /proc: the process, and each of its threads (main, shards, the rest), around each run;
 * wrk's CPU from the shell that waited for it.
 */
export async function runScale(ctx: BenchContext): Promise<void> {
  const { progress, options } = ctx;
  const rounds = roundsOf(ctx);
  progress.step('scale: start Lally with 1 and 2 shards (AOF everysec)', 4);
  const nodes: LallyNode[] = [];
  try {
    for (const shards of SHARD_COUNTS) {
      nodes.push(await LallyNode.start({ cliPath: ctx.cliPath, shards, aof: 'everysec' }));
    }
    const runs: ScaleRun[] = [];
    let keyCount = 0;
    for (const kind of ['get', 'put'] as const) {
      const workload = workloadOf(kind, { valueBytes: VALUE_BYTES, quick: options.quick });
      keyCount = workload.keyCount;
      const plan = planFor(workload);
      if (kind === 'get') {
        progress.step(`scale: preload ${workload.keyCount} keys of ${VALUE_BYTES} B into both`, 3);
        await Promise.all(nodes.map((n) => preload(n.url, range(workload.keyCount), VALUE_BYTES)));
      }
      for (let round = 1; round <= rounds; round++) {
        for (const [i, shards] of SHARD_COUNTS.entries()) {
          const node = nodes[i]!;
          progress.step(
            `scale: ${kind.toUpperCase()} ${shards} shard(s), round ${round}/${rounds}`,
            runSeconds(ctx),
          );
          const statsBefore = await readStats(node.url);
          const before = await sampleThreads(node.pid);
          const load = await ctx.loads.throughput.run({
            url: node.url,
            plan,
            connections: options.connections,
            durationSec: options.durationSec,
          });
          const after = await sampleThreads(node.pid);
          const statsAfter = await readStats(node.url);
          if (!before || !after || load.requests === 0)
            throw new Error('scale: no CPU figures (is this Linux?)');
          const split = splitThreadCpu(before, after, node.pid, shards);
          const perRequest = (sec: number) => r2((sec * 1e6) / load.requests);
          const crossBefore = crossShardCount(statsBefore);
          const crossAfter = crossShardCount(statsAfter);
          const cpu: ScaleCpu = {
            processUs: perRequest(split.processSec),
            mainThreadUs: perRequest(split.mainSec),
            shardThreadsUs: perRequest(split.shardSec.reduce((a, b) => a + b, 0)),
            otherThreadsUs: perRequest(split.otherSec + split.exitedSec),
            clientUs: load.clientCpuSec == null ? null : perRequest(load.clientCpuSec),
          };
          runs.push({
            kind,
            shards,
            round,
            requests: load.requests,
            requestsPerSec: Math.round(load.requestsPerSec),
            crossFraction:
              crossBefore === null || crossAfter === null
                ? null
                : Math.round(Math.min(1, (crossAfter - crossBefore) / load.requests) * 10_000) / 10_000,
            cpu,
            shardRunQueueWaitShare: split.shardRunQueueWaitShare,
            daemonCores: r2(split.processSec / split.wallSec),
            clientCores: load.clientCpuSec == null ? null : r2(load.clientCpuSec / load.durationSec),
            latencyMs: load.latencyMs,
            errors: load.errors + load.non2xx,
          });
          progress.note(
            `-> ${Math.round(load.requestsPerSec)} req/s, ${cpu.processUs} µs CPU per request ` +
              `(shards ${cpu.shardThreadsUs}, main ${cpu.mainThreadUs}, other ${cpu.otherThreadsUs}; wrk ${cpu.clientUs ?? '?'})`,
          );
        }
      }
    }
    const cells = (['get', 'put'] as const).flatMap((kind) =>
      SHARD_COUNTS.map((shards) => {
        const mine = runs.filter((r) => r.kind === kind && r.shards === shards);
        const med = (pick: (r: ScaleRun) => number | null): number | null => {
          const values = mine.map(pick).filter((v): v is number => v !== null);
          return values.length === 0 ? null : r2(median(values));
        };
        return {
          kind,
          shards,
          requestsPerSec: Math.round(med((r) => r.requestsPerSec) ?? 0),
          crossFraction: med((r) => r.crossFraction),
          cpu: {
            processUs: med((r) => r.cpu.processUs) ?? 0,
            mainThreadUs: med((r) => r.cpu.mainThreadUs) ?? 0,
            shardThreadsUs: med((r) => r.cpu.shardThreadsUs) ?? 0,
            otherThreadsUs: med((r) => r.cpu.otherThreadsUs) ?? 0,
            clientUs: med((r) => r.cpu.clientUs),
          },
        };
      }),
    );
    const models = (['get', 'put'] as const).map((kind) => {
      const [one, two] = SHARD_COUNTS.map(
        (shards) => cells.find((c) => c.kind === kind && c.shards === shards)!,
      );
      const fit = (c: NonNullable<typeof one>) => ({
        processUs: c.cpu.processUs,
        clientUs: c.cpu.clientUs,
        crossFraction: c.crossFraction ?? 0,
      });
      return { kind, ...fitScaleModel(fit(one!), fit(two!), PREDICTED_CORES) };
    });
    const result: ScaleResult = {
      method:
        `wrk, ${options.connections} connections, ${options.durationSec} s per run, uniform keys (16 B) over ${keyCount} ` +
        `keys of ${VALUE_BYTES} B, AOF everysec; a 1-shard and a 2-shard daemon both running, rounds alternated, medians ` +
        'over rounds. CPU from /proc/<pid>/stat and /proc/<pid>/task/*/stat around each run; the cross fraction from ' +
        "the daemon's directGets + hopsOut counters. Model: cpu(N) = local + (N-1)/N x cross, throughput(N) = N x 1e6 / cpu(N).",
      valueBytes: VALUE_BYTES,
      keyCount,
      connections: options.connections,
      rounds,
      cells,
      runs,
      models,
      ignores: IGNORES,
    };
    ctx.results.scale = result;
    for (const m of models) {
      const at = (n: number) => m.predictions.find((p) => p.cores === n);
      progress.note(
        `-> ${m.kind.toUpperCase()}: local ${m.localUs} µs, cross +${m.crossExtraUs} µs; predicts ` +
          `${at(16)?.requestsPerSec ?? '?'} req/s at 16 cores, ${at(64)?.requestsPerSec ?? '?'} at 64`,
      );
    }
  } finally {
    await Promise.all(nodes.map((n) => n.dispose()));
  }
}
