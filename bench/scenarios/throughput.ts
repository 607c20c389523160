import { type BenchContext, runSeconds } from '../context.js';
import type { BodySizes, LocalServer } from '../peers/local-server.js';
import { type AofMode, LallyNode } from '../proc/lally-node.js';
import { ceilingFigures, ceilingRatios, combineRounds, roundFigures } from '../results/figures.js';
import type { CaseResult, RoundFigures } from '../results/schema.js';
import type { DistributionName } from '../workload/key-distribution.js';
import {
  buildRequestPlan,
  type OperationKind,
  type RequestPlan,
  range,
  type Workload,
} from '../workload/requests.js';
import { preload, sampleBodySizes } from './lally-api.js';

export interface ThroughputCase {
  id: string;
  label: string;
  shards: number;
  aof: AofMode;
  workload: Workload;
  connections: number;
}

/** Keys in a data set: 100k (20k quick) small values, fewer big ones (at most about 64 MiB of values). */
export function keyCountFor(valueBytes: number, quick: boolean): number {
  return Math.max(256, Math.min(quick ? 20_000 : 100_000, Math.floor((64 * 1024 * 1024) / valueBytes)));
}

export function workloadOf(
  kind: OperationKind,
  options: {
    distribution?: DistributionName;
    valueBytes?: number;
    quick: boolean;
    batchSize?: number;
    /** Share of PUTs in a mix or a batch (default 0.1); 0 makes a batch of GETs only. */
    writeShare?: number;
  },
): Workload {
  const valueBytes = options.valueBytes ?? 16;
  return {
    kind,
    distribution: options.distribution ?? 'uniform',
    valueBytes,
    keyCount: keyCountFor(valueBytes, options.quick),
    batchSize: kind === 'batch' ? (options.batchSize ?? 100) : 1,
    writeShare: kind === 'mix' || kind === 'batch' ? (options.writeShare ?? 0.1) : kind === 'put' ? 1 : 0,
    seed: 42,
  };
}

const KIND_LABEL: Record<OperationKind, string> = {
  get: 'GET',
  put: 'PUT',
  mix: '90/10 mix',
  batch: 'batch',
};

/** `GET uniform 16 B`, `batch(100) zipf 1 KiB`. */
export function describeWorkload(w: Workload): string {
  const size = w.valueBytes >= 1024 ? `${w.valueBytes / 1024} KiB` : `${w.valueBytes} B`;
  const kind =
    w.kind === 'batch' ? `batch(${w.batchSize}${w.writeShare === 0 ? ' GETs' : ''})` : KIND_LABEL[w.kind];
  return `${kind} ${w.distribution} ${size}`;
}

const plans = new Map<string, RequestPlan>();
/** One plan per distinct workload, so that wrk scripts are written once per run. */
export function planFor(workload: Workload): RequestPlan {
  const key = JSON.stringify(workload);
  let plan = plans.get(key);
  if (!plan) {
    plan = buildRequestPlan(workload);
    plans.set(key, plan);
  }
  return plan;
}

function ceilingKey(
  threads: number,
  sizes: BodySizes,
  workload: Workload,
  connections: number,
  rate: number | null,
) {
  return JSON.stringify({ threads, sizes, workload, connections, rate });
}

export function estimateCases(ctx: BenchContext, cases: readonly ThroughputCase[], rounds: number): number {
  const configs = new Set(cases.map((c) => `${c.shards}|${c.aof}`)).size;
  return configs * 2 + cases.length * (1 + rounds * 2 * runSeconds(ctx));
}

/**
 * Runs cases against Lally (started here, one daemon per shards/AOF setting, or the --url target),
 * alternating each round with the same load against the uWS ceiling with as many threads as shards.
 * With `reuseCeiling`, a case whose ceiling was already measured in this run does not measure it again
 * (quick runs); otherwise every round is Lally then ceiling, A B A B.
 */
export async function runThroughputCases(
  ctx: BenchContext,
  scenario: string,
  cases: readonly ThroughputCase[],
  settings: { rounds: number; reuseCeiling: boolean; rate?: number | null },
): Promise<void> {
  const { options, progress } = ctx;
  const { rounds, reuseCeiling } = settings;
  const rate = settings.rate === undefined ? options.rate : settings.rate;
  const groups = new Map<string, ThroughputCase[]>();
  for (const c of cases) {
    const key = options.url ? 'external' : `${c.shards}|${c.aof}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  for (const group of groups.values()) {
    const first = group[0]!;
    let node: LallyNode | null = null;
    let url = options.url ?? '';
    if (!options.url) {
      progress.step(`${scenario}: start Lally, ${first.shards} shard(s), AOF ${first.aof}`, 2);
      node = await LallyNode.start({ cliPath: ctx.cliPath, shards: first.shards, aof: first.aof });
      url = node.url;
    }
    let loaded = '';
    try {
      for (const c of group) {
        const plan = planFor(c.workload);
        const dataSet = `${c.workload.keyCount}|${c.workload.valueBytes}`;
        if (loaded !== dataSet) {
          progress.step(`${scenario}: preload ${c.workload.keyCount} keys of ${c.workload.valueBytes} B`, 1);
          await preload(url, range(c.workload.keyCount), c.workload.valueBytes);
          loaded = dataSet;
        }
        const sizes = await sampleBodySizes(url, c.workload.valueBytes, plan);
        const threads = c.shards;
        const pool = ceilingKey(threads, sizes, c.workload, c.connections, rate);
        const ceilingRounds = ctx.ceilingPool.get(pool) ?? [];
        ctx.ceilingPool.set(pool, ceilingRounds);
        let ceiling: LocalServer | null = null;
        const lallyRounds: RoundFigures[] = [];
        let generator = '';
        for (let r = 1; r <= rounds; r++) {
          const load = {
            plan,
            connections: c.connections,
            durationSec: options.durationSec,
            rate: rate ?? undefined,
          };
          progress.step(`${scenario}: Lally   ${c.label}, round ${r}/${rounds}`, runSeconds(ctx));
          const result = await ctx.loads.run({ ...load, url });
          generator = result.generator;
          lallyRounds.push(roundFigures(result));
          if (reuseCeiling && ceilingRounds.length >= r) continue;
          ceiling ??= await ctx.ceilings.get(threads, sizes);
          progress.step(
            `${scenario}: ceiling ${c.label} (uWS, ${threads} thread(s)), round ${r}/${rounds}`,
            runSeconds(ctx),
          );
          ceilingRounds.push(roundFigures(await ctx.loads.run({ ...load, url: ceiling.url })));
        }
        const figures = combineRounds(lallyRounds);
        const ceilingResult = ceilingFigures(threads, ceilingRounds);
        const result: CaseResult = {
          scenario,
          id: c.id,
          label: c.label,
          target: 'lally',
          generator,
          shards: options.url ? null : c.shards,
          aof: options.url ? null : c.aof,
          connections: c.connections,
          rate,
          workload: {
            kind: c.workload.kind,
            distribution: c.workload.distribution,
            valueBytes: c.workload.valueBytes,
            keyCount: c.workload.keyCount,
            batchSize: c.workload.batchSize,
          },
          ...figures,
          rounds: lallyRounds,
          ceiling: ceilingResult,
          ...ceilingRatios(figures, ceilingResult),
        };
        if (figures.errors + figures.non2xx > 0) {
          result.note = `${figures.errors} socket errors and ${figures.non2xx} non-2xx answers`;
        }
        ctx.results.cases.push(result);
        const ratio = result.ratioToCeiling === null ? '' : `, ${result.ratioToCeiling}x ceiling`;
        progress.note(
          `-> ${Math.round(result.opsPerSec)} ops/s, p99 ${result.latencyMs.p99} ms${ratio}${result.note ? ` (${result.note})` : ''}`,
        );
      }
    } finally {
      await node?.dispose();
    }
  }
  await ctx.ceilings.stop();
}
