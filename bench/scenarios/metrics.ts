import type { BenchContext } from '../context.js';
import { runSeconds } from '../context.js';
import { sampleCpu } from '../proc/cpu-time.js';
import { LallyNode } from '../proc/lally-node.js';
import { combineRounds, roundFigures } from '../results/figures.js';
import type { MetricsOverheadResult, RoundFigures } from '../results/schema.js';
import { median, ratio } from '../stats/percentiles.js';
import { range } from '../workload/requests.js';
import { preload } from './lally-api.js';
import { planFor, workloadOf } from './throughput.js';

/** At least this many rounds per setting: the two settings differ by a few percent at most. */
const MIN_ROUNDS = 3;

function roundsOf(ctx: BenchContext): number {
  return Math.max(MIN_ROUNDS, ctx.options.rounds);
}

export function estimateMetrics(ctx: BenchContext): number {
  return 8 + roundsOf(ctx) * 2 * 2 * runSeconds(ctx);
}

/**
 * What the shards' metrics cost: GET and PUT (16 B, uniform) against two daemons alike but for
 * `--no-shard-metrics`, rounds alternated (on, off, on, off, ...) so that a change in the machine's load
 * falls on both. Both daemons run for the whole scenario (the one not measured is idle).
 */
export async function runMetrics(ctx: BenchContext): Promise<void> {
  const { progress, options } = ctx;
  const rounds = roundsOf(ctx);
  progress.step('metrics: start Lally with shard metrics on and off', 4);
  const start = (extraArgs: string[]) =>
    LallyNode.start({ cliPath: ctx.cliPath, shards: options.shards, aof: 'everysec', extraArgs });
  const on = await start([]);
  let off: LallyNode | undefined;
  try {
    off = await start(['--no-shard-metrics']);
    const result: MetricsOverheadResult = {
      method:
        'GET and PUT of 16 B values (uniform keys), the same load against two daemons alike but for --no-shard-metrics, ' +
        `${rounds} rounds each, alternated; medians over rounds.`,
      shards: options.shards,
      rounds,
      cases: [],
    };
    for (const kind of ['get', 'put'] as const) {
      const workload = workloadOf(kind, { quick: options.quick });
      const plan = planFor(workload);
      progress.step(`metrics: preload ${workload.keyCount} keys into both daemons`, 2);
      await Promise.all([on, off].map((n) => preload(n.url, range(workload.keyCount), workload.valueBytes)));
      const figures: Record<'on' | 'off', RoundFigures[]> = { on: [], off: [] };
      // CPU per request of the daemon (all its threads): far less sensitive to a loaded machine than
      // throughput, which on a shared machine swings with the other processes' load.
      const cpu: Record<'on' | 'off', number[]> = { on: [], off: [] };
      for (let r = 1; r <= rounds; r++) {
        for (const [setting, node] of [
          ['on', on],
          ['off', off],
        ] as const) {
          progress.step(
            `metrics: ${kind.toUpperCase()} shard metrics ${setting}, round ${r}/${rounds}`,
            runSeconds(ctx),
          );
          const before = await sampleCpu(node.pid);
          const load = await ctx.loads.run({
            url: node.url,
            plan,
            connections: options.connections,
            durationSec: options.durationSec,
          });
          const after = await sampleCpu(node.pid);
          figures[setting].push(roundFigures(load));
          if (before !== null && after !== null && load.requests > 0) {
            cpu[setting].push(((after.processSec - before.processSec) * 1e6) / load.requests);
          }
        }
      }
      const withMetrics = combineRounds(figures.on);
      const without = combineRounds(figures.off);
      const throughputRatio = ratio(withMetrics.opsPerSec, without.opsPerSec);
      const cpuOf = (list: number[]) => (list.length === 0 ? null : Math.round(median(list) * 100) / 100);
      const cpuOn = cpuOf(cpu.on);
      const cpuOff = cpuOf(cpu.off);
      result.cases.push({
        kind,
        on: { ...withMetrics, rounds: figures.on },
        off: { ...without, rounds: figures.off },
        ratioOnToOff: throughputRatio,
        p99RatioOnToOff: ratio(withMetrics.latencyMs.p99, without.latencyMs.p99),
        cpuUsPerRequest: { on: cpuOn, off: cpuOff, rounds: cpu },
        cpuRatioOnToOff: ratio(cpuOn, cpuOff),
      });
      progress.note(
        `-> ${kind.toUpperCase()}: ${Math.round(withMetrics.opsPerSec)} ops/s with metrics, ` +
          `${Math.round(without.opsPerSec)} without: ${throughputRatio ?? '?'}x; CPU per request ` +
          `${cpuOn ?? '?'} µs against ${cpuOff ?? '?'} µs: ${ratio(cpuOn, cpuOff) ?? '?'}x`,
      );
    }
    ctx.results.metricsOverhead = result;
  } finally {
    await Promise.all([on.dispose(), off?.dispose()]);
  }
}
