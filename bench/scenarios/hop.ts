import { shardOfKey } from '../../src/hash/key-hash.js';
import type { BenchContext } from '../context.js';
import { rawGet, rawPut, SequentialClient } from '../load/sequential-client.js';
import { LallyNode } from '../proc/lally-node.js';
import type { HopResult } from '../results/schema.js';
import { type LatencySummary, ratio, summarize } from '../stats/percentiles.js';
import { fixedValue, keyName } from '../workload/key-distribution.js';
import { range } from '../workload/requests.js';
import { preload, sampleBodySizes } from './lally-api.js';
import { keyCountFor, planFor, workloadOf } from './throughput.js';

const WARM_UP = 500;

function samplesPerSet(ctx: BenchContext): number {
  return ctx.options.quick ? 3000 : 20_000;
}

/** Hops counted by the daemon (`totals.hops` of GET /stats), or null if it does not say. */
async function countedHops(url: string): Promise<number | null> {
  try {
    const res = await fetch(`${url}/stats`);
    const stats = (await res.json()) as { totals?: { hops?: unknown } };
    return typeof stats.totals?.hops === 'number' ? stats.totals.hops : null;
  } catch {
    return null;
  }
}

export function estimateHop(ctx: BenchContext): number {
  // Two daemons, a ceiling, and about 100 µs per request: GETs (5 sets) and PUTs (3 sets).
  return 6 + (samplesPerSet(ctx) * 8 * 100) / 1e6;
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

/**
 * Latency of requests in µs, `sets` taking turns on one connection (request i goes to set i mod n), so
 * that every set sees the same connection, the same worker thread and the same moment.
 */
async function alternate(url: string, sets: Buffer[][], perSet: number): Promise<LatencySummary[]> {
  const client = await SequentialClient.connect(portOf(url));
  try {
    const samples = sets.map(() => new Float64Array(perSet));
    for (let i = 0; i < WARM_UP + perSet; i++) {
      for (let s = 0; s < sets.length; s++) {
        const requests = sets[s]!;
        const started = process.hrtime.bigint();
        const status = await client.request(requests[i % requests.length]!);
        const micros = Number(process.hrtime.bigint() - started) / 1000;
        if (status !== 200) throw new Error(`a request answered ${status} in the hop scenario`);
        if (i >= WARM_UP) samples[s]![i - WARM_UP] = micros;
      }
    }
    return samples.map((s) => summarize(s));
  } finally {
    client.close();
  }
}

/**
 * The cost of a shard hop. With 2 shards a connection is held by one worker; keys that this worker
 * owns are answered inline. A GET of the other shard's key is read from its shared table (a direct
 * read, no hop); a PUT of it hops to the other shard over the rings and back. GETs measure the
 * direct read, PUTs the hop itself. Both key sets
 * take turns on one connection; the faster set is the local one, and the difference of the medians is
 * the hop. A 1-shard daemon (no hop ever) and the 2-thread uWS ceiling give the floor.
 */
export async function runHop(ctx: BenchContext): Promise<void> {
  const { progress } = ctx;
  const perSet = samplesPerSet(ctx);
  const keyCount = keyCountFor(16, ctx.options.quick);
  const bySet: Buffer[][] = [[], []];
  const putsBySet: Buffer[][] = [[], []];
  const value = fixedValue(16);
  for (let i = 0; i < keyCount; i++) {
    const shard = shardOfKey(keyName(i), 2);
    bySet[shard]!.push(rawGet(`/kv/${keyName(i)}`));
    putsBySet[shard]!.push(rawPut(`/kv/${keyName(i)}`, value));
  }

  progress.step('hop: 1 shard, one connection, one request in flight', 3);
  const one = await LallyNode.start({ cliPath: ctx.cliPath, shards: 1, aof: 'everysec' });
  let oneShard: LatencySummary;
  let oneShardPut: LatencySummary;
  try {
    await preload(one.url, range(keyCount), 16);
    [oneShard] = (await alternate(one.url, [[...bySet[0]!, ...bySet[1]!]], perSet)) as [LatencySummary];
    [oneShardPut] = (await alternate(one.url, [[...putsBySet[0]!, ...putsBySet[1]!]], perSet)) as [
      LatencySummary,
    ];
  } finally {
    await one.dispose();
  }

  progress.step('hop: 2 shards, keys of shard 0 and of shard 1 in turn on one connection', 4);
  const two = await LallyNode.start({ cliPath: ctx.cliPath, shards: 2, aof: 'everysec' });
  let sets: LatencySummary[];
  let putSets: LatencySummary[];
  let hopsObserved: number | null = null;
  let putHopsObserved: number | null = null;
  let sizes: Awaited<ReturnType<typeof sampleBodySizes>>;
  try {
    await preload(two.url, range(keyCount), 16);
    sizes = await sampleBodySizes(two.url, 16, planFor(workloadOf('get', { quick: ctx.options.quick })));
    const hopsBefore = await countedHops(two.url);
    sets = await alternate(two.url, bySet, perSet);
    const hopsAfter = await countedHops(two.url);
    hopsObserved = hopsBefore !== null && hopsAfter !== null ? hopsAfter - hopsBefore : null;
    // PUTs: a PUT of the other shard's key always hops (the owner writes its table and its AOF).
    progress.step('hop: 2 shards, PUTs of keys of shard 0 and of shard 1 in turn on one connection', 4);
    const putHopsBefore = await countedHops(two.url);
    putSets = await alternate(two.url, putsBySet, perSet);
    const putHopsAfter = await countedHops(two.url);
    putHopsObserved = putHopsBefore !== null && putHopsAfter !== null ? putHopsAfter - putHopsBefore : null;
  } finally {
    await two.dispose();
  }
  const [a, b] = sets as [LatencySummary, LatencySummary];
  const [local, remote] = a.p50 <= b.p50 ? [a, b] : [b, a];
  const [putA, putB] = putSets as [LatencySummary, LatencySummary];
  const [putLocal, putRemote] = putA.p50 <= putB.p50 ? [putA, putB] : [putB, putA];

  progress.step('hop: the uWS ceiling, 2 threads, one connection', 2);
  let ceiling: LatencySummary | null = null;
  try {
    const server = await ctx.ceilings.get(2, sizes);
    [ceiling] = (await alternate(server.url, [[...bySet[0]!, ...bySet[1]!]], perSet)) as [LatencySummary];
  } finally {
    await ctx.ceilings.stop();
  }

  const r = (x: LatencySummary): LatencySummary => ({
    p50: Math.round(x.p50 * 10) / 10,
    p99: Math.round(x.p99 * 10) / 10,
    p999: Math.round(x.p999 * 10) / 10,
    max: Math.round(x.max * 10) / 10,
    mean: Math.round(x.mean * 10) / 10,
  });
  const hop: HopResult = {
    method:
      'GET, then PUT (16 B values), over one keep-alive connection, one request in flight, raw-socket client; with 2 ' +
      'shards the keys of shard 0 and shard 1 take turns on the same connection, the faster set is local. A GET of the ' +
      "other shard's key is a direct read of its table; a PUT of it hops.",
    samples: perSet,
    oneShardUs: r(oneShard),
    localUs: r(local),
    remoteUs: r(remote),
    ceilingUs: ceiling ? r(ceiling) : null,
    hopCostUs: Math.round((remote.p50 - local.p50) * 10) / 10,
    requestsPerSet: WARM_UP + perSet,
    hopsObserved,
    ratioLocalP50ToCeiling: ratio(local.p50, ceiling?.p50),
    ratioRemoteP50ToCeiling: ratio(remote.p50, ceiling?.p50),
    ratioOneShardP50ToCeiling: ratio(oneShard.p50, ceiling?.p50),
    put: {
      oneShardUs: r(oneShardPut),
      localUs: r(putLocal),
      remoteUs: r(putRemote),
      hopCostUs: Math.round((putRemote.p50 - putLocal.p50) * 10) / 10,
      hopsObserved: putHopsObserved,
    },
  };
  ctx.results.hop = hop;
  progress.note(
    `-> p50 local ${hop.localUs.p50} µs, remote ${hop.remoteUs.p50} µs: a hop costs ${hop.hopCostUs} µs ` +
      `(1 shard ${hop.oneShardUs.p50} µs, ceiling ${hop.ceilingUs?.p50 ?? '?'} µs)`,
  );
  const put = hop.put!;
  progress.note(
    `-> PUT p50 local ${put.localUs.p50} µs, remote ${put.remoteUs.p50} µs: a hop costs ${put.hopCostUs} µs ` +
      `(1 shard ${put.oneShardUs.p50} µs; ${put.hopsObserved ?? '?'} hops counted for ${WARM_UP + perSet} PUTs per set)`,
  );
}
