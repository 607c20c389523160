import { execFile } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { BenchContext } from '../context.js';
import { runSeconds } from '../context.js';
import { type CpuSample, cpuWindow, sampleCpu } from '../proc/cpu-time.js';
import { LallyNode } from '../proc/lally-node.js';
import type { ClusterCell, ClusterResult, RpcStreamFigures } from '../results/schema.js';
import {
  parseRpcStreamOutput,
  type ReplicationCounters,
  replicationDelta,
  replicationFromStats,
} from '../stats/cluster.js';
import { type ClusterKind, cellOf, describeCell, type Round } from '../stats/cluster-cell.js';
import { ratio } from '../stats/percentiles.js';
import { range } from '../workload/requests.js';
import type { Scenario } from './catalog.js';
import { preload } from './lally-api.js';
import { planFor, workloadOf } from './throughput.js';

const execFileAsync = promisify(execFile);

const NODES = 3;
/** Without --replication-factor every node holds every key. */
const REPLICAS = NODES;
const JOIN_TIMEOUT_MS = 10_000;
const RPC_STREAM_RECORDS = 200_000;
/** A little over the period at which the shards get the main thread's replication figures. */
const STATS_REFRESH_MS = 1100;

type Kind = ClusterKind;

/** The clusters started, in order, and what each measures (GET at read quorum 1 and 2). */
const CLUSTERS: readonly { writeQuorum: number; readQuorum: number; kinds: readonly Kind[] }[] = [
  { writeQuorum: 1, readQuorum: 1, kinds: ['put', 'get'] },
  { writeQuorum: 2, readQuorum: 2, kinds: ['put', 'get'] },
  { writeQuorum: 3, readQuorum: 1, kinds: ['put'] },
];

const METHOD =
  'One wrk process with 3 threads and the same connections for every cell. Against the cluster, thread i ' +
  'connects to node i (so each node gets a third of the connections and one wrk thread); against the ' +
  'single node, all 3 threads connect to it. Every node runs on 127.0.0.1 with the same shards and AOF ' +
  'everysec, all of them sharing the machine with wrk. Every answer is read by the wrk script, which ' +
  'counts status partial and quorum.achieved. CPU from /proc/<pid>/stat (process) and ' +
  '/proc/<pid>/task/<pid>/stat (main thread) over each wrk run. The single node is measured before ' +
  'the clusters and again after them (rounds split; it stays up, idle, in between), the clusters in between.';

async function statsOf(url: string): Promise<unknown> {
  try {
    const res = await fetch(`${url}/stats`, { signal: AbortSignal.timeout(5000) });
    return res.status === 200 ? await res.json() : null;
  } catch {
    return null;
  }
}

/**
 * The replication counters of all nodes, summed. GET /stats shows the main thread's figures as the
 * shards last got them (about once a second), so the reading waits that long first.
 */
async function replicationSoFar(nodes: readonly LallyNode[]): Promise<ReplicationCounters | null> {
  await new Promise((r) => setTimeout(r, STATS_REFRESH_MS));
  const counts = await Promise.all(nodes.map(async (n) => replicationFromStats(await statsOf(n.url))));
  let sum: ReplicationCounters | null = { acknowledged: 0, batches: 0, records: 0 };
  for (const c of counts) {
    if (!c || !sum) return null;
    sum = {
      acknowledged: sum.acknowledged + c.acknowledged,
      batches: sum.batches + c.batches,
      records: sum.records + c.records,
    };
  }
  return sum;
}

/** Until every node lists the other two in GET /nodes; a reason when they do not within the timeout. */
async function waitForMembers(nodes: readonly LallyNode[]): Promise<string | null> {
  const deadline = performance.now() + JOIN_TIMEOUT_MS;
  for (;;) {
    const seen = await Promise.all(
      nodes.map(async (n) => {
        const res = await fetch(`${n.url}/nodes`).catch(() => null);
        const body = res?.status === 200 ? ((await res.json()) as { nodes?: unknown }) : null;
        return Array.isArray(body?.nodes) ? body.nodes.length : 0;
      }),
    );
    if (seen.every((count) => count >= nodes.length - 1)) return null;
    if (performance.now() > deadline) {
      return `after ${JOIN_TIMEOUT_MS} ms the nodes' GET /nodes listed ${seen.join(', ')} other members, not ${nodes.length - 1} each`;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

function connectionsOf(ctx: BenchContext): number {
  return NODES * Math.max(1, Math.floor(ctx.options.connections / NODES));
}

async function measureRound(ctx: BenchContext, nodes: readonly LallyNode[], kind: Kind): Promise<Round> {
  const plan = planFor(workloadOf(kind, { quick: ctx.options.quick }));
  const targets = nodes.length > 1 ? nodes.map((n) => new URL(n.url).host) : undefined;
  const counting = kind === 'put' && nodes.length > 1;
  const replicationBefore = counting ? await replicationSoFar(nodes) : null;
  const before = await Promise.all(nodes.map((n) => sampleCpu(n.pid)));
  const started = performance.now();
  const result = await ctx.loads.throughput.run({
    url: nodes[0]!.url,
    plan,
    connections: connectionsOf(ctx),
    durationSec: ctx.options.durationSec,
    threads: NODES,
    countAnswers: true,
    ...(targets ? { targets } : {}),
  });
  const wallSec = (performance.now() - started) / 1000;
  const after = await Promise.all(nodes.map((n) => sampleCpu(n.pid)));
  const replicationAfter = replicationBefore === null ? null : await replicationSoFar(nodes);
  const cpu = nodes.map((_, i) => {
    const b: CpuSample | null | undefined = before[i];
    const a: CpuSample | null | undefined = after[i];
    return a && b ? cpuWindow(b, a) : null;
  });
  return {
    result,
    wallSec,
    cpu,
    replication: replicationDelta(replicationBefore, replicationAfter),
  };
}

/** bench/rpc-stream.ts on a small input: records per CPU second on one replication stream. */
async function measureRpcStream(ctx: BenchContext): Promise<RpcStreamFigures | null> {
  ctx.progress.step(`cluster: one replication stream (rpc-stream, ${RPC_STREAM_RECORDS} records)`, 3);
  const script = fileURLToPath(new URL('../rpc-stream.js', import.meta.url));
  try {
    const { stdout } = await execFileAsync(
      process.execPath,
      [script, '--records', String(RPC_STREAM_RECORDS)],
      {
        timeout: 60_000,
      },
    );
    return parseRpcStreamOutput(stdout, RPC_STREAM_RECORDS);
  } catch (error) {
    ctx.progress.note(`rpc-stream failed: ${error instanceof Error ? error.message.split('\n')[0] : error}`);
    return null;
  }
}

async function startCluster(
  ctx: BenchContext,
  writeQuorum: number,
  readQuorum: number,
): Promise<{ nodes: LallyNode[]; formed: string | null }> {
  const base = {
    cliPath: ctx.cliPath,
    shards: ctx.options.shards,
    aof: 'everysec' as const,
    writeQuorum,
    extraArgs: ['--read-quorum', String(readQuorum)],
  };
  const nodes: LallyNode[] = [];
  try {
    nodes.push(await LallyNode.start(base));
    const seedNode = `127.0.0.1:${nodes[0]!.grpcPort}`;
    for (let i = 1; i < NODES; i++) nodes.push(await LallyNode.start({ ...base, seedNode }));
    return { nodes, formed: await waitForMembers(nodes) };
  } catch (error) {
    for (const n of nodes) await n.dispose();
    throw error;
  }
}

async function preloadAll(ctx: BenchContext, nodes: readonly LallyNode[]): Promise<void> {
  const workload = workloadOf('get', { quick: ctx.options.quick });
  ctx.progress.step(`cluster: preload ${workload.keyCount} keys on each node`, nodes.length);
  // Every node: until writes replicate, a GET at another node would miss.
  for (const n of nodes) await preload(n.url, range(workload.keyCount), workload.valueBytes);
}

/** A one-second run of each kind, not counted: freshly started nodes have not compiled the hot paths yet. */
async function warmUp(ctx: BenchContext, nodes: readonly LallyNode[], kinds: readonly Kind[]): Promise<void> {
  ctx.progress.step('cluster: warm-up (not counted)', kinds.length * 1.4);
  for (const kind of kinds) {
    await ctx.loads.throughput.run({
      url: nodes[0]!.url,
      plan: planFor(workloadOf(kind, { quick: ctx.options.quick })),
      connections: connectionsOf(ctx),
      durationSec: 1,
      threads: NODES,
      ...(nodes.length > 1 ? { targets: nodes.map((n) => new URL(n.url).host) } : {}),
    });
  }
}

function estimate(ctx: BenchContext): number {
  const cells = 2 + CLUSTERS.reduce((s, c) => s + c.kinds.length, 0);
  const putCells = CLUSTERS.filter((c) => c.kinds.includes('put')).length;
  const statsWaits = putCells * ctx.options.rounds * 2 * (STATS_REFRESH_MS / 1000);
  return (
    3 +
    (1 + NODES * CLUSTERS.length) * 1.5 +
    cells * (1.4 + ctx.options.rounds * runSeconds(ctx)) +
    statsWaits
  );
}

async function run(ctx: BenchContext): Promise<void> {
  const { options, progress } = ctx;
  const loadAverageStart = loadavg();
  if (ctx.loads.throughput.name !== 'wrk') {
    ctx.results.skipped.push({
      scenario: 'cluster',
      reason: 'needs wrk (it drives the 3 nodes from one process)',
    });
    progress.note('-> skipped: needs wrk');
    return;
  }
  const rounds = options.rounds;
  const before = Math.ceil(rounds / 2);
  const single: Record<Kind, Round[]> = { put: [], get: [] };
  const cells: ClusterCell[] = [];

  progress.step('cluster: start the single node', 2);
  const one = await LallyNode.start({ cliPath: ctx.cliPath, shards: options.shards, aof: 'everysec' });
  try {
    await preloadAll(ctx, [one]);
    await warmUp(ctx, [one], ['put', 'get']);
    const measureSingle = async (count: number) => {
      for (const kind of ['put', 'get'] as const) {
        for (let r = 0; r < count; r++) {
          progress.step(`cluster: 1 node, ${kind.toUpperCase()}`, runSeconds(ctx));
          single[kind].push(await measureRound(ctx, [one], kind));
        }
      }
    };
    await measureSingle(before);

    for (const c of CLUSTERS) {
      progress.step(
        `cluster: start ${NODES} nodes, write quorum ${c.writeQuorum}, read quorum ${c.readQuorum}`,
        5,
      );
      const { nodes, formed } = await startCluster(ctx, c.writeQuorum, c.readQuorum);
      try {
        if (formed) {
          ctx.results.skipped.push({ scenario: 'cluster', reason: `cluster not available (${formed})` });
          progress.note(`-> skipped: ${formed}`);
          return;
        }
        if (c.kinds.includes('get')) await preloadAll(ctx, nodes);
        await warmUp(ctx, nodes, c.kinds);
        for (const kind of c.kinds) {
          const cellRounds: Round[] = [];
          for (let r = 0; r < rounds; r++) {
            progress.step(
              `cluster: ${describeCell(NODES, kind, c.writeQuorum, c.readQuorum)}, round ${r + 1}/${rounds}`,
              runSeconds(ctx),
            );
            cellRounds.push(await measureRound(ctx, nodes, kind));
          }
          const cell = cellOf({ nodes: NODES, kind, replicas: REPLICAS, ...c }, cellRounds);
          cells.push(cell);
          progress.note(
            `-> ${Math.round(cell.opsPerSec)} ops/s, partial ${cell.partialShare ?? '?'}, main threads ` +
              cell.perNode.map((n) => n.mainThreadCores ?? '?').join('/') +
              ' cores',
          );
        }
      } finally {
        for (const n of nodes.reverse()) await n.dispose();
      }
    }
    await measureSingle(rounds - before);
  } finally {
    await one.dispose();
  }

  const singleCells = (['put', 'get'] as const).map((kind) =>
    cellOf({ nodes: 1, kind, writeQuorum: 1, readQuorum: 1, replicas: 1 }, single[kind]),
  );
  for (const cell of cells) {
    const base = singleCells.find((s) => s.kind === cell.kind);
    cell.ratioToSingle = ratio(cell.opsPerSec, base?.opsPerSec);
    cell.ratioSuccessToSingle = ratio(cell.successOpsPerSec, base?.successOpsPerSec);
    cell.ratioPerCpuToSingle = ratio(cell.opsPerCpuSec, base?.opsPerCpuSec);
  }
  const rpcStream = await measureRpcStream(ctx);
  const w2 = cells.find((c) => c.id === 'cluster-put-w2');
  const anyPartial = cells.some((c) => c.kind === 'put' && c.writeQuorum > 1 && (c.partialShare ?? 0) > 0);
  const result: ClusterResult = {
    method: METHOD,
    shardsPerNode: options.shards,
    connections: connectionsOf(ctx),
    wrkThreads: NODES,
    durationSec: options.durationSec,
    rounds,
    replicas: REPLICAS,
    loadAverageStart,
    loadAverageEnd: loadavg(),
    cells: [...singleCells, ...cells],
    rpcStream,
    // Only answers that met their quorum count: a partial answer is a write that was not replicated.
    goalPutW2ToSingle: w2?.ratioSuccessToSingle ?? null,
    goalMet: w2?.ratioSuccessToSingle == null ? null : w2.ratioSuccessToSingle >= 0.5,
  };
  if (anyPartial) {
    result.note =
      'some writes at write quorum 2 or 3 answered partial: they were not acknowledged by enough replicas, ' +
      'so those figures are not replicated writes (see partialShare and successOpsPerSec)';
  }
  ctx.results.cluster = result;
  const single1 = singleCells[0]!;
  progress.note(
    `-> PUT 1 node ${Math.round(single1.opsPerSec)} ops/s; ` +
      cells
        .filter((c) => c.kind === 'put')
        .map((c) => `W${c.writeQuorum} ${c.ratioToSingle}x (partial ${c.partialShare})`)
        .join(', '),
  );
}

/**
 * Issue 8's cluster figures: PUT and GET of 3 nodes on this machine at write quorum 1, 2, 3 (read
 * quorum 1, 2) against one node in the same run, with each node's main-thread CPU and the share of
 * answers that missed their quorum. See docs/performance.md, "The cluster scenario".
 */
export const clusterScenario: Scenario = {
  name: 'cluster',
  description:
    '3 nodes on 127.0.0.1: PUT at write quorum 1, 2, 3 and GET at read quorum 1, 2 against one node; main-thread CPU, partial answers.',
  unavailable: (ctx) => (ctx.options.url ? 'it starts its own nodes (--url was given)' : null),
  estimateSec: estimate,
  run,
};
