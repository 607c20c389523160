import type { LoadResult } from '../load/types.js';
import type { CpuWindow } from '../proc/cpu-time.js';
import { combineRounds, roundFigures } from '../results/figures.js';
import type { ClusterCell } from '../results/schema.js';
import {
  derivedReplicationRate,
  meanCpu,
  quorumFigures,
  type ReplicationCounters,
  SATURATED_CORES,
  sumAnswers,
} from './cluster.js';

export type ClusterKind = 'put' | 'get';

export interface ClusterCellSpec {
  nodes: number;
  kind: ClusterKind;
  writeQuorum: number;
  readQuorum: number;
  /** Replicas of each key, for the derived replication rate. */
  replicas: number;
}

/** What one round of one cell gave. */
export interface Round {
  result: LoadResult;
  wallSec: number;
  cpu: (CpuWindow | null)[];
  /** What the nodes' /stats say they replicated during the round (all nodes summed), or null. */
  replication: ReplicationCounters | null;
}

export function describeCell(
  nodes: number,
  kind: ClusterKind,
  writeQuorum: number,
  readQuorum: number,
): string {
  if (nodes === 1) return `1 node: ${kind.toUpperCase()}`;
  return kind === 'put'
    ? `${nodes} nodes: PUT at write quorum ${writeQuorum}`
    : `${nodes} nodes: GET at read quorum ${readQuorum}`;
}

/** The figures of a cell from its rounds (ratios to the single node are filled in later). */
export function cellOf(spec: ClusterCellSpec, rounds: readonly Round[]): ClusterCell {
  const figures = combineRounds(rounds.map((r) => roundFigures(r.result)));
  const answers = sumAnswers(rounds.map((r) => r.result.answers));
  const { partialShare, meanAchieved } = quorumFigures(answers);
  const measuredSec = rounds.reduce((s, r) => s + r.result.durationSec, 0);
  const perNode = Array.from({ length: spec.nodes }, (_, i) => {
    const cpu = meanCpu(rounds.map((r) => r.cpu[i]).filter((w): w is CpuWindow => !!w));
    // With one target all threads hit node 1; with several, thread i hit node i.
    const count =
      answers === null
        ? null
        : spec.nodes === 1
          ? answers.perThread.reduce((s, n) => s + n, 0)
          : (answers.perThread[i] ?? 0);
    return {
      node: i + 1,
      processCores: cpu?.processCores ?? null,
      mainThreadCores: cpu?.mainThreadCores ?? null,
      mainThreadShare: cpu?.mainThreadShare ?? null,
      opsPerSec: count === null || measuredSec <= 0 ? null : Math.round(count / measuredSec),
    };
  });
  let replicationRecordsPerSec: number | null = null;
  let replicationSource: ClusterCell['replicationSource'] = null;
  let recordsPerStreamBatch: number | null = null;
  if (spec.kind === 'put' && spec.nodes > 1) {
    const counted = rounds.map((r) => r.replication);
    if (counted.every((c) => c !== null) && measuredSec > 0) {
      const acknowledged = counted.reduce((sum, c) => sum + (c?.acknowledged ?? 0), 0);
      const batches = counted.reduce((sum, c) => sum + (c?.batches ?? 0), 0);
      const records = counted.reduce((sum, c) => sum + (c?.records ?? 0), 0);
      replicationRecordsPerSec = Math.round(acknowledged / measuredSec);
      replicationSource = 'stats';
      recordsPerStreamBatch = batches > 0 ? Math.round((records / batches) * 10) / 10 : null;
    } else {
      replicationRecordsPerSec = derivedReplicationRate(figures.opsPerSec, spec.replicas);
      replicationSource = 'derived';
    }
  }
  const mainCores = perNode.reduce((sum, n) => sum + (n.mainThreadCores ?? 0), 0);
  const mainThreadUsPerReplicatedRecord =
    replicationRecordsPerSec && perNode.every((n) => n.mainThreadCores !== null)
      ? Math.round((mainCores / replicationRecordsPerSec) * 1e7) / 10
      : null;
  const serverCores = perNode.every((n) => n.processCores !== null)
    ? perNode.reduce((sum, n) => sum + (n.processCores ?? 0), 0)
    : 0;
  const successOpsPerSec = partialShare === null ? null : Math.round(figures.opsPerSec * (1 - partialShare));
  const id =
    spec.nodes === 1
      ? `single-${spec.kind}`
      : `cluster-${spec.kind}-${spec.kind === 'put' ? `w${spec.writeQuorum}` : `r${spec.readQuorum}`}`;
  return {
    id,
    label: describeCell(spec.nodes, spec.kind, spec.writeQuorum, spec.readQuorum),
    kind: spec.kind,
    nodes: spec.nodes,
    writeQuorum: spec.writeQuorum,
    readQuorum: spec.readQuorum,
    opsPerSec: figures.opsPerSec,
    roundsOpsPerSec: rounds.map((r) => Math.round(r.result.opsPerSec)),
    latencyMs: figures.latencyMs,
    errors: figures.errors,
    non2xx: figures.non2xx,
    answers: answers?.answers ?? null,
    partialShare,
    meanAchieved,
    successOpsPerSec,
    perNode,
    mainThreadSaturated: perNode.some((n) => (n.mainThreadCores ?? 0) >= SATURATED_CORES),
    replicationRecordsPerSec,
    replicationSource,
    recordsPerStreamBatch,
    mainThreadUsPerReplicatedRecord,
    opsPerCpuSec:
      successOpsPerSec !== null && serverCores > 0 ? Math.round(successOpsPerSec / serverCores) : null,
    ratioToSingle: null,
    ratioSuccessToSingle: null,
    ratioPerCpuToSingle: null,
  };
}
