import type { ClusterResult } from '../results/schema.js';

const fmt = (x: number | null | undefined, digits = 0) =>
  x === null || x === undefined || !Number.isFinite(x)
    ? '–'
    : x.toLocaleString('en-US', { maximumFractionDigits: digits });
const ratioText = (x: number | null) => (x === null ? '–' : `${x.toFixed(2)}x`);
const share = (x: number | null) => (x === null ? '–' : `${(x * 100).toFixed(1)}%`);

/** The `cluster` scenario's tables: throughput against one node, partial answers, main-thread CPU. */
export function clusterSection(c: ClusterResult | null | undefined): string[] {
  if (!c) return [];
  const out: string[] = ['', '## Cluster (issue 8)', '', c.method, ''];
  out.push(
    `${c.shardsPerNode} shard(s) per node, ${c.connections} connections, ${c.wrkThreads} wrk threads, ` +
      `${c.durationSec} s x ${c.rounds} round(s) per cell, ${c.replicas} replicas per key. Load average ` +
      `${c.loadAverageStart.map((x) => x.toFixed(2)).join(' ')} at the start, ` +
      `${c.loadAverageEnd.map((x) => x.toFixed(2)).join(' ')} at the end.`,
    '',
    '| cell | ops/s | ratio to 1 node | partial | mean achieved | quorum-met ops/s | ratio (quorum met) | per server CPU-s | ratio per CPU | p50 ms | p99 ms | process cores per node | main thread cores per node | main-thread share of the process | replication records/s | records per stream batch | main-thread µs per replicated record | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|---:|---:|---:|',
  );
  for (const cell of c.cells) {
    const processCores = cell.perNode.map((n) => fmt(n.processCores, 2)).join(' / ');
    const cores = cell.perNode.map((n) => fmt(n.mainThreadCores, 2)).join(' / ');
    const shares = cell.perNode.map((n) => share(n.mainThreadShare)).join(' / ');
    const repl =
      cell.replicationRecordsPerSec === null
        ? '–'
        : `${fmt(cell.replicationRecordsPerSec)} (${cell.replicationSource})`;
    out.push(
      `| ${cell.label} | ${fmt(cell.opsPerSec)} | ${ratioText(cell.ratioToSingle)} | ${share(cell.partialShare)} | ${fmt(cell.meanAchieved, 2)} | ${fmt(cell.successOpsPerSec)} | ${ratioText(cell.ratioSuccessToSingle)} | ${fmt(cell.opsPerCpuSec)} | ${ratioText(cell.ratioPerCpuToSingle)} | ${fmt(cell.latencyMs.p50, 2)} | ${fmt(cell.latencyMs.p99, 2)} | ${processCores} | ${cores}${cell.mainThreadSaturated ? ' **saturated**' : ''} | ${shares} | ${repl} | ${fmt(cell.recordsPerStreamBatch, 1)} | ${fmt(cell.mainThreadUsPerReplicatedRecord, 1)} | ${cell.errors + cell.non2xx} |`,
    );
  }
  const rpc = c.rpcStream;
  if (rpc) {
    out.push(
      '',
      `One replication stream (bench/rpc-stream.ts, ${fmt(rpc.records)} records): sender ${fmt(rpc.senderRecordsPerCpuSec)} records per CPU second, ` +
        `receiver ${fmt(rpc.receiverRecordsPerCpuSec)}, both in one process ${fmt(rpc.togetherRecordsPerCpuSec)}` +
        (rpc.senderRecordsPerCpuSec && rpc.receiverRecordsPerCpuSec
          ? `: ${fmt(1e6 / rpc.senderRecordsPerCpuSec + 1e6 / rpc.receiverRecordsPerCpuSec, 1)} µs of CPU per record, sender plus receiver.`
          : '.'),
    );
  }
  out.push(
    '',
    `Goal (issue 8): PUT at write quorum 2, counting only answers that met the quorum, at least 0.5x one node: ` +
      `${ratioText(c.goalPutW2ToSingle)}, ${c.goalMet === null ? 'not measured' : c.goalMet ? 'met' : 'not met'}.` +
      (c.note ? ` ${c.note}.` : ''),
  );
  return out;
}
