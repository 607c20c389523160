import type { BenchContext } from '../context.js';
import { runSeconds } from '../context.js';
import { LallyNode } from '../proc/lally-node.js';
import { combineRounds, roundFigures } from '../results/figures.js';
import { ratio } from '../stats/percentiles.js';
import { range } from '../workload/requests.js';
import type { Scenario } from './catalog.js';
import { preload } from './lally-api.js';
import { planFor, workloadOf } from './throughput.js';

/** 3 nodes joined through the first, write quorum `quorum`; PUT load on the three at once. */
async function measureCluster(ctx: BenchContext, quorum: number): Promise<void> {
  const { options, progress } = ctx;
  progress.step(`cluster: start 3 nodes, write quorum ${quorum}`, 5);
  const nodes: LallyNode[] = [];
  try {
    const base = {
      cliPath: ctx.cliPath,
      shards: options.shards,
      aof: 'everysec' as const,
      writeQuorum: quorum,
    };
    nodes.push(await LallyNode.start(base));
    const seedNode = `127.0.0.1:${nodes[0]!.grpcPort}`;
    nodes.push(await LallyNode.start({ ...base, seedNode }), await LallyNode.start({ ...base, seedNode }));
    const workload = workloadOf('put', { quick: options.quick });
    await preload(nodes[0]!.url, range(workload.keyCount), workload.valueBytes);
    const plan = planFor(workload);
    const connections = Math.max(1, Math.round(options.connections / 3));
    progress.step(`cluster: PUT on the 3 nodes at once, write quorum ${quorum}`, ctx.options.durationSec + 1);
    const results = await Promise.all(
      nodes.map((n) => ctx.loads.run({ url: n.url, plan, connections, durationSec: options.durationSec })),
    );
    const perNode = results.map((r) => combineRounds([roundFigures(r)]));
    const total = perNode.reduce((s, f) => s + f.opsPerSec, 0);
    ctx.results.cases.push(
      ...perNode.map((f, i) => ({
        scenario: 'cluster',
        id: `cluster-put-q${quorum}-node${i + 1}`,
        label: `3 nodes, write quorum ${quorum}: PUT at node ${i + 1}`,
        target: 'lally' as const,
        generator: results[i]!.generator,
        shards: options.shards,
        aof: 'everysec',
        connections,
        rate: null,
        workload: {
          kind: 'put' as const,
          distribution: 'uniform',
          valueBytes: 16,
          keyCount: workload.keyCount,
          batchSize: 1,
        },
        ...f,
        rounds: [roundFigures(results[i]!)],
        ceiling: null,
        ratioToCeiling: null,
        ratioP99ToCeiling: null,
        note: `the 3 nodes together: ${Math.round(total)} ops/s (ratio to one node: ${ratio(total, f.opsPerSec)})`,
      })),
    );
    progress.note(`-> quorum ${quorum}: ${Math.round(total)} ops/s in total`);
  } finally {
    for (const n of nodes.reverse()) await n.dispose();
  }
}

const JOIN_TIMEOUT_MS = 5000;

/**
 * Whether this daemon forms a cluster: a second node started with --seed-node must show up in the
 * first node's GET /nodes (upstream lists the other members' gRPC addresses) within a few seconds.
 */
async function clusterSupported(ctx: BenchContext): Promise<string | null> {
  const seed = await LallyNode.start({ cliPath: ctx.cliPath, shards: 1, aof: 'off' });
  let joiner: LallyNode | null = null;
  try {
    joiner = await LallyNode.start({
      cliPath: ctx.cliPath,
      shards: 1,
      aof: 'off',
      seedNode: `127.0.0.1:${seed.grpcPort}`,
      readyTimeoutMs: 10_000,
    });
    const deadline = performance.now() + JOIN_TIMEOUT_MS;
    while (performance.now() < deadline) {
      const res = await fetch(`${seed.url}/nodes`).catch(() => null);
      const text = res ? await res.text() : '';
      if (res?.status === 200 && text.includes(String(joiner.grpcPort))) return null;
      await new Promise((r) => setTimeout(r, 200));
    }
    return `a node started with --seed-node did not appear in the seed's GET /nodes within ${JOIN_TIMEOUT_MS} ms`;
  } catch (error) {
    return `a node started with --seed-node failed: ${error instanceof Error ? error.message.split('\n')[0] : error}`;
  } finally {
    await joiner?.dispose();
    await seed.dispose();
  }
}

/**
 * Declared now, measured once the cluster exists (a later issue): 3 nodes, write quorum 1, 2 and 3,
 * PUT throughput at each node and in total. Until a joining node shows up in /nodes it reports
 * "skipped: cluster not available yet".
 */
export const clusterScenario: Scenario = {
  name: 'cluster',
  description: '3 nodes with write quorum 1, 2, 3: PUT throughput at each node and in total.',
  unavailable: (ctx) => (ctx.options.url ? 'it starts its own nodes (--url was given)' : null),
  estimateSec: (ctx) => 8 + 3 * 2 * runSeconds(ctx),
  async run(ctx) {
    ctx.progress.step('cluster: does a node started with --seed-node join?', 6);
    const reason = await clusterSupported(ctx);
    if (reason) {
      ctx.results.skipped.push({ scenario: 'cluster', reason: `cluster not available yet (${reason})` });
      ctx.progress.note('-> skipped: cluster not available yet');
      return;
    }
    for (const quorum of [1, 2, 3]) await measureCluster(ctx, quorum);
  },
};
