import type { AnswerCounts } from '../load/wrk-script.js';
import type { CpuWindow } from '../proc/cpu-time.js';
import type { RpcStreamFigures } from '../results/schema.js';

/** Answer counts of several runs added up (null if any run has none). */
export function sumAnswers(runs: readonly (AnswerCounts | null | undefined)[]): AnswerCounts | null {
  if (runs.length === 0 || runs.some((r) => !r)) return null;
  const total: AnswerCounts = {
    answers: 0,
    success: 0,
    partial: 0,
    otherStatus: 0,
    achievedSum: 0,
    achievedSeen: 0,
    perThread: [],
  };
  for (const r of runs as AnswerCounts[]) {
    total.answers += r.answers;
    total.success += r.success;
    total.partial += r.partial;
    total.otherStatus += r.otherStatus;
    total.achievedSum += r.achievedSum;
    total.achievedSeen += r.achievedSeen;
    r.perThread.forEach((n, i) => {
      total.perThread[i] = (total.perThread[i] ?? 0) + n;
    });
  }
  return total;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** Share of `partial` answers, and the mean `quorum.achieved`. */
export function quorumFigures(a: AnswerCounts | null): {
  partialShare: number | null;
  meanAchieved: number | null;
} {
  if (!a || a.answers === 0) return { partialShare: null, meanAchieved: null };
  return {
    partialShare: round3(a.partial / a.answers),
    meanAchieved: a.achievedSeen > 0 ? round3(a.achievedSum / a.achievedSeen) : null,
  };
}

/** Mean of each figure over the windows of a node (one per round). */
export function meanCpu(windows: readonly CpuWindow[]): CpuWindow | null {
  if (windows.length === 0) return null;
  const mean = (f: (w: CpuWindow) => number) =>
    round3(windows.reduce((s, w) => s + f(w), 0) / windows.length);
  const shares = windows.map((w) => w.mainThreadShare).filter((s): s is number => s !== null);
  return {
    processCores: mean((w) => w.processCores),
    mainThreadCores: mean((w) => w.mainThreadCores),
    mainThreadShare: shares.length > 0 ? round3(shares.reduce((s, x) => s + x, 0) / shares.length) : null,
  };
}

/** At or above this many cores, a main thread counts as saturated. */
export const SATURATED_CORES = 0.9;

/**
 * Records per second that replication ships for a PUT rate: each write goes to the other replicas
 * (the coordinator keeps one copy itself).
 */
export function derivedReplicationRate(putOpsPerSec: number, replicas: number): number {
  return Math.round(putOpsPerSec * Math.max(0, replicas - 1));
}

/** A node's replication counters, summed over its peers. */
export interface ReplicationCounters {
  /** Records the peers acknowledged. */
  acknowledged: number;
  /** Batches and records its replication streams sent. */
  batches: number;
  records: number;
}

/**
 * A node's replication counters from its GET /stats (`replication.peers.<address>`: `acknowledged`,
 * and `stream.batches` / `stream.records`), summed over the peers; null when /stats has none.
 */
export function replicationFromStats(stats: unknown): ReplicationCounters | null {
  if (typeof stats !== 'object' || stats === null) return null;
  const peers = (stats as { replication?: { peers?: unknown } }).replication?.peers;
  if (typeof peers !== 'object' || peers === null) return null;
  const sum: ReplicationCounters = { acknowledged: 0, batches: 0, records: 0 };
  for (const peer of Object.values(peers)) {
    const p = peer as { acknowledged?: unknown; stream?: { batches?: unknown; records?: unknown } } | null;
    if (typeof p?.acknowledged !== 'number') return null;
    sum.acknowledged += p.acknowledged;
    if (typeof p.stream?.batches === 'number') sum.batches += p.stream.batches;
    if (typeof p.stream?.records === 'number') sum.records += p.stream.records;
  }
  return sum;
}

/** b - a, field by field; null if either is. */
export function replicationDelta(
  a: ReplicationCounters | null,
  b: ReplicationCounters | null,
): ReplicationCounters | null {
  if (!a || !b) return null;
  return {
    acknowledged: b.acknowledged - a.acknowledged,
    batches: b.batches - a.batches,
    records: b.records - a.records,
  };
}

/**
 * The three lines `bench/rpc-stream.ts` prints:
 * `sender       507,659 records/s      979,005 records/CPU-s   (...)`.
 */
export function parseRpcStreamOutput(stdout: string, records: number): RpcStreamFigures {
  const perCpu = (name: string): number | null => {
    const match = new RegExp(`^${name}\\s+[\\d,]+ records/s\\s+([\\d,]+) records/CPU-s`, 'm').exec(stdout);
    return match ? Number(match[1]!.replace(/,/g, '')) : null;
  };
  return {
    records,
    senderRecordsPerCpuSec: perCpu('sender'),
    receiverRecordsPerCpuSec: perCpu('receiver'),
    togetherRecordsPerCpuSec: perCpu('together'),
  };
}
