import { setTimeout as sleep } from 'node:timers/promises';
import { type BenchContext, runSeconds } from '../context.js';
import type { LoadResult } from '../load/types.js';
import { LallyNode } from '../proc/lally-node.js';
import { LoopProbe } from '../proc/loop-probe.js';
import { statusField } from '../proc/memory-sampler.js';
import { sampleThreads, splitThreadCpu } from '../proc/thread-cpu.js';
import type { KeyCountResult, KeyCountRun, KeyCountSet } from '../results/schema.js';
import { type DelayReading, delayReading, MONITOR_RESOLUTION_MS, maxDelays } from '../stats/event-loop.js';
import { median, ratio } from '../stats/percentiles.js';
import type { RequestPlan } from '../workload/requests.js';
import { range } from '../workload/requests.js';
import { preload, readStats } from './lally-api.js';
import { planFor, workloadOf } from './throughput.js';

const VALUE_BYTES = 100;
const SMALL_KEYS = 10_000;
const LARGE_KEYS = 5_000_000;
const QUICK_LARGE_KEYS = 500_000;
/** Fixed-rate runs: few connections, each well below its share of the rate's slots. */
const FIXED_RATE_CONNECTIONS = 16;
/** At least this long, so that p99.9 at 10,000/s rests on 100 samples or more. */
const MIN_FIXED_RATE_SEC = 10;
/** Three rounds: the p99.9 of one 10 s run rests on about 100 samples, and the machine is shared. */
const MIN_ROUNDS = 3;
/** How long to wait at most for the compactions after the load. */
const SETTLE_LIMIT_MS = 180_000;
/** Idle time after them, so that the monitors' two 10 s windows hold nothing of the load. */
const QUIET_MS = 21_000;

function largeKeys(ctx: BenchContext): number {
  return ctx.options.quick ? QUICK_LARGE_KEYS : LARGE_KEYS;
}
function roundsOf(ctx: BenchContext): number {
  return Math.max(MIN_ROUNDS, ctx.options.rounds);
}
function fixedRateSec(ctx: BenchContext): number {
  return Math.max(MIN_FIXED_RATE_SEC, ctx.options.durationSec);
}

export function estimateKeyCount(ctx: BenchContext): number {
  // The load of the large set (about 100k keys/s on 2 busy cores), the settling, the runs.
  const loadSec = largeKeys(ctx) / 100_000;
  return (
    10 + loadSec + 30 + QUIET_MS / 1000 + roundsOf(ctx) * 2 * (fixedRateSec(ctx) + 0.4 + runSeconds(ctx))
  );
}

/**
 * Waits until no shard compacts (bounded), then for the monitors' windows to hold only idle time.
 * (Waiting for a quiet reading does not work on a shared machine: an idle loop there reads 40 to 75 ms.)
 */
async function settle(url: string): Promise<{ settleSec: number; delayBeforeMs: DelayReading }> {
  const started = performance.now();
  while (performance.now() - started < SETTLE_LIMIT_MS) {
    const stats = await readStats(url);
    const shards =
      (stats as { shards?: { aof?: { rewriteInProgress?: unknown } | null }[] } | null)?.shards ?? [];
    if (!shards.some((s) => s.aof?.rewriteInProgress === true)) break;
    await sleep(1000);
  }
  const settleSec = Math.round((performance.now() - started) / 100) / 10;
  await sleep(QUIET_MS);
  return { settleSec, delayBeforeMs: delayReading(await readStats(url)) };
}

/** Runs a load while reading every shard's event-loop delay from /stats once a second. */
async function loadWithDelays(
  url: string,
  run: () => Promise<LoadResult>,
): Promise<{ load: LoadResult; readings: DelayReading[] }> {
  const readings: DelayReading[] = [];
  let running = true;
  const poller = (async () => {
    while (running) {
      await sleep(1000);
      if (!running) break;
      readings.push(delayReading(await readStats(url)));
    }
  })();
  try {
    const load = await run();
    // One reading right after the end: the monitors' windows still hold the run's last seconds.
    readings.push(delayReading(await readStats(url)));
    return { load, readings };
  } finally {
    running = false;
    await poller;
  }
}

interface DataSet {
  node: LallyNode;
  plan: RequestPlan;
  figures: KeyCountSet;
}

async function startSet(ctx: BenchContext, keys: number): Promise<DataSet> {
  const node = await LallyNode.start({ cliPath: ctx.cliPath, shards: ctx.options.shards, aof: 'everysec' });
  try {
    ctx.progress.step(
      `keycount: load ${keys} keys (16 B keys, ${VALUE_BYTES} B values) via /batch`,
      keys / 100_000,
    );
    const loadSec = await preload(node.url, range(keys), VALUE_BYTES);
    ctx.progress.note(`-> ${keys} keys in ${loadSec.toFixed(1)} s (${Math.round(keys / loadSec)} keys/s)`);
    const plan = planFor({ ...workloadOf('get', { valueBytes: VALUE_BYTES, quick: false }), keyCount: keys });
    return {
      node,
      plan,
      figures: {
        keys,
        loadSec: Math.round(loadSec * 10) / 10,
        settleSec: 0,
        delayBeforeMs: [],
        rssBytes: null,
        fixedRate: [],
        throughput: [],
      },
    };
  } catch (error) {
    await node.dispose();
    throw error;
  }
}

async function measure(
  ctx: BenchContext,
  set: DataSet,
  round: number,
  load: { connections: number; durationSec: number; rate?: number },
  probe: LoopProbe,
): Promise<KeyCountRun> {
  const delayBeforeMs = delayReading(await readStats(set.node.url));
  probe.mark();
  const before = await sampleThreads(set.node.pid);
  const { load: result, readings } = await loadWithDelays(set.node.url, () =>
    ctx.loads.throughput.run({ url: set.node.url, plan: set.plan, ...load }),
  );
  const after = await sampleThreads(set.node.pid);
  const split = before && after ? splitThreadCpu(before, after, set.node.pid, ctx.options.shards) : null;
  const cpu =
    split && result.requests > 0 ? Math.round((split.processSec * 1e8) / result.requests) / 100 : null;
  return {
    round,
    rate: load.rate ?? null,
    requestsPerSec: Math.round(result.requestsPerSec),
    latencyMs: result.latencyMs,
    errors: result.errors,
    non2xx: result.non2xx,
    cpuUsPerRequest: cpu,
    eventLoopDelay: maxDelays(readings),
    delayBeforeMs,
    controlMaxMs: probe.maxSinceMark(),
    shardRunQueueWaitShare: split?.shardRunQueueWaitShare ?? [],
  };
}

const med = (runs: KeyCountRun[], pick: (r: KeyCountRun) => number) => median(runs.map(pick));

/**
 * GET latency with 10k keys against 5M keys: two daemons alike (2 shards, AOF everysec), loaded via
 * /batch, then GETs of uniform keys at a fixed rate (wrk with a Lua schedule) and as fast as possible,
 * rounds alternated between the two. Each shard's event-loop delay is read from /stats every second
 * during each run.
 */
export async function runKeyCount(ctx: BenchContext): Promise<void> {
  const { progress, options } = ctx;
  if (ctx.loads.throughput.name !== 'wrk')
    throw new Error('keycount needs wrk (its fixed-rate runs are wrk scripts)');
  const rounds = roundsOf(ctx);
  const rate = options.rate ?? options.defaultRate;
  const sets: DataSet[] = [];
  const probe = LoopProbe.start();
  try {
    progress.step('keycount: start Lally for the small set', 2);
    sets.push(await startSet(ctx, SMALL_KEYS));
    progress.step('keycount: start Lally for the large set', 2);
    sets.push(await startSet(ctx, largeKeys(ctx)));
    progress.step('keycount: wait for compactions to end and the event loops to be quiet', 20);
    await Promise.all(
      sets.map(async (s) => {
        Object.assign(s.figures, await settle(s.node.url));
        s.figures.rssBytes = await statusField(s.node.pid, 'VmRSS');
      }),
    );
    for (let round = 1; round <= rounds; round++) {
      for (const s of sets) {
        progress.step(
          `keycount: ${s.figures.keys} keys, GET at ${rate}/s, round ${round}/${rounds}`,
          fixedRateSec(ctx),
        );
        const run = await measure(
          ctx,
          s,
          round,
          {
            connections: FIXED_RATE_CONNECTIONS,
            durationSec: fixedRateSec(ctx),
            rate,
          },
          probe,
        );
        s.figures.fixedRate.push(run);
        progress.note(
          `-> ${run.requestsPerSec} req/s, p99 ${run.latencyMs.p99} ms, p99.9 ${run.latencyMs.p999} ms, ` +
            `event loop max ${run.eventLoopDelay.map((d) => d.maxMs ?? '?').join(' / ')} ms (idle probe ${run.controlMaxMs ?? '?'} ms)`,
        );
      }
    }
    for (let round = 1; round <= rounds; round++) {
      for (const s of sets) {
        progress.step(
          `keycount: ${s.figures.keys} keys, GET throughput, round ${round}/${rounds}`,
          runSeconds(ctx),
        );
        const run = await measure(
          ctx,
          s,
          round,
          { connections: options.connections, durationSec: options.durationSec },
          probe,
        );
        s.figures.throughput.push(run);
        progress.note(
          `-> ${run.requestsPerSec} req/s, p99 ${run.latencyMs.p99} ms, p99.9 ${run.latencyMs.p999} ms, ` +
            `event loop max ${run.eventLoopDelay.map((d) => d.maxMs ?? '?').join(' / ')} ms (idle probe ${run.controlMaxMs ?? '?'} ms)`,
        );
      }
    }
    const [small, large] = sets.map((s) => s.figures) as [KeyCountSet, KeyCountSet];
    const fr = (set: KeyCountSet, pick: (r: KeyCountRun) => number) => med(set.fixedRate, pick);
    const tp = (set: KeyCountSet, pick: (r: KeyCountRun) => number) => med(set.throughput, pick);
    const stalls = [...large.fixedRate, ...large.throughput].flatMap((r) =>
      r.eventLoopDelay.map((d) => d.stallAtLeastMs).filter((v): v is number => v !== null),
    );
    const result: KeyCountResult = {
      method:
        `Two daemons (${options.shards} shards, AOF everysec), one loaded with ${small.keys} keys and one with ${large.keys} ` +
        `(16 B keys, ${VALUE_BYTES} B values, POST /batch, 4 in flight), both running; GETs of uniform keys (a plan of ` +
        `${sets[1]!.plan.requests.length} requests), rounds alternated: wrk at a fixed ${rate}/s (${FIXED_RATE_CONNECTIONS} ` +
        `connections, ${fixedRateSec(ctx)} s), then as fast as possible (${options.connections} connections, ` +
        `${options.durationSec} s). Event-loop delay: each shard's eventLoopDelay.maxMs from GET /stats every second ` +
        `during the run; the monitor's resolution (${MONITOR_RESOLUTION_MS} ms) is part of every reading, so a stall is at ` +
        'least maxMs - resolution. Control: an idle Node process with the same monitor, its max per run (the ' +
        "machine's own scheduling delay).",
      shards: options.shards,
      valueBytes: VALUE_BYTES,
      connections: { fixedRate: FIXED_RATE_CONNECTIONS, throughput: options.connections },
      rate,
      durationSec: { fixedRate: fixedRateSec(ctx), throughput: options.durationSec },
      small,
      large,
      ratios: {
        fixedRate: {
          p50: ratio(
            fr(large, (r) => r.latencyMs.p50),
            fr(small, (r) => r.latencyMs.p50),
          ),
          p99: ratio(
            fr(large, (r) => r.latencyMs.p99),
            fr(small, (r) => r.latencyMs.p99),
          ),
          p999: ratio(
            fr(large, (r) => r.latencyMs.p999),
            fr(small, (r) => r.latencyMs.p999),
          ),
          max: ratio(
            fr(large, (r) => r.latencyMs.max),
            fr(small, (r) => r.latencyMs.max),
          ),
        },
        throughput: {
          requestsPerSec: ratio(
            tp(large, (r) => r.requestsPerSec),
            tp(small, (r) => r.requestsPerSec),
          ),
          p99: ratio(
            tp(large, (r) => r.latencyMs.p99),
            tp(small, (r) => r.latencyMs.p99),
          ),
          p999: ratio(
            tp(large, (r) => r.latencyMs.p999),
            tp(small, (r) => r.latencyMs.p999),
          ),
        },
      },
      largestStallAtLeastMs: stalls.length === 0 ? null : Math.max(...stalls),
    };
    ctx.results.keyCount = result;
    progress.note(
      `-> fixed rate p99.9 ${large.keys} keys over ${small.keys}: ${result.ratios.fixedRate.p999 ?? '?'}x; ` +
        `largest stall at least ${result.largestStallAtLeastMs ?? '?'} ms`,
    );
  } finally {
    await Promise.all([probe.stop(), ...sets.map((s) => s.node.dispose())]);
  }
}
