/**
 * GET /metrics for the whole node, rendered on the main thread at scrape time from: every shard's
 * shared block (operations, latency, AOF syncs), every shard's /stats figures (asked over the rings:
 * keys, hops, AOF, event loop), the coordinator's figures (replication, hints) and the member table.
 * prom-client adds the process's and the main thread's default metrics. See docs/operations.md.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { MemberView } from '../kv/member-view.js';
import type { ShardStats } from '../shard/shard-stats.js';
import { writeClusterFigures } from './cluster-metrics.js';
import { Exposition, flatten, numeric } from './exposition.js';
import type { EventLoopDelay, NodePhase } from './node-status.js';
import { REQUEST_BUCKETS, type ShardMetricsSnapshot, SYNC_BUCKETS } from './shard-metrics.js';

export interface ShardFigures {
  readonly id: number;
  /** The shard's /stats figures, or undefined when it did not answer. */
  readonly stats: ShardStats | undefined;
  /** Its shared block, or undefined when shard metrics are off (--no-shard-metrics). */
  readonly block: ShardMetricsSnapshot | undefined;
}

export interface NodeFigures {
  readonly nodeId: string;
  readonly version: string;
  readonly phase: NodePhase;
  readonly shards: readonly ShardFigures[];
  readonly mainEventLoopDelay: EventLoopDelay;
  readonly members: readonly MemberView[];
  /** The coordinator's figures (Coordinator.stats()), or undefined on a node alone. */
  readonly replication: Record<string, unknown> | undefined;
}

/** Per-shard counters of /stats: field, metric name, help. */
const SHARD_COUNTERS: readonly [keyof ShardStats, string, string][] = [
  ['httpRequests', 'lally_http_requests_total', 'HTTP requests answered by the shard'],
  ['httpErrors', 'lally_http_errors_total', 'HTTP requests answered with a status other than 200'],
  ['hopsOut', 'lally_hops_out_total', 'requests received by the shard and sent to the owning shard'],
  ['hopsIn', 'lally_hops_in_total', 'requests the shard served for other shards'],
  [
    'directGets',
    'lally_direct_gets_total',
    "GETs of other shards' keys answered from their shared tables, without a hop",
  ],
  [
    'directFallbacks',
    'lally_direct_get_fallbacks_total',
    'direct GETs that hopped after all (the owner kept rewriting the key)',
  ],
  ['busy', 'lally_hops_busy_total', 'requests refused because a ring was full or too many waited (503)'],
  [
    'answersBusy',
    'lally_hop_answers_busy_total',
    "other shards' requests refused: the answers owed were over budget",
  ],
  ['hopTimeouts', 'lally_hop_timeouts_total', 'hops with no answer within hop_timeout_ms (504)'],
  ['lateAnswers', 'lally_hop_late_answers_total', 'hop answers that came after their timeout (ignored)'],
  ['batchesBusy', 'lally_batches_busy_total', 'batches refused whole by the batch budget'],
  ['batchItemsBusy', 'lally_batch_items_busy_total', 'batch GET items refused by the batch budget'],
];

const SHARD_GAUGES: readonly [keyof ShardStats, string, string][] = [
  ['keys', 'lally_keys', 'live keys held by the shard'],
  ['tombstones', 'lally_tombstones', 'tombstones (deleted keys kept for replication) held by the shard'],
  ['inFlight', 'lally_http_in_flight', 'requests accepted by the shard and not answered yet'],
  ['heapUsedBytes', 'lally_shard_heap_used_bytes', "the shard thread's V8 heap in use"],
];

/** AOF figures of /stats: field, metric name, type, help. */
const AOF_FIGURES: readonly [string, string, 'counter' | 'gauge', string][] = [
  ['writtenBytes', 'lally_aof_written_bytes_total', 'counter', 'bytes written to the AOF'],
  ['writes', 'lally_aof_writes_total', 'counter', 'write calls to the AOF (one per group of records)'],
  ['syncs', 'lally_aof_syncs_total', 'counter', 'fdatasync calls on the AOF'],
  ['rewrites', 'lally_aof_rewrites_total', 'counter', 'AOF compactions (rewrites) completed'],
  ['rewriteFailures', 'lally_aof_rewrite_failures_total', 'counter', 'AOF compactions that failed'],
  [
    'outages',
    'lally_aof_outages_total',
    'counter',
    'times the AOF stopped taking writes (disk full, I/O error)',
  ],
  ['bytes', 'lally_aof_bytes', 'gauge', "bytes of the shard's AOF files"],
  ['backlogBytes', 'lally_aof_backlog_bytes', 'gauge', 'bytes appended and not written yet'],
  ['failed', 'lally_aof_failed', 'gauge', '1 while the AOF refuses writes'],
  ['rewriteInProgress', 'lally_aof_rewrite_in_progress', 'gauge', '1 while a compaction runs'],
];

function shardFigures(out: Exposition, figures: NodeFigures): void {
  out.declare(
    'lally_operations_total',
    'counter',
    'key operations by the route that received them, operation and outcome',
  );
  const latency = new Map<string, { route: string; op: string; counts: number[]; sum: number }>();
  const sync = { counts: new Array<number>(SYNC_BUCKETS.length + 1).fill(0), sum: 0 };
  for (const shard of figures.shards) {
    const labels = { shard: shard.id };
    out.sample(
      'lally_shard_up',
      'gauge',
      '1 if the shard answered this scrape',
      shard.stats === undefined ? 0 : 1,
      labels,
    );
    const block = shard.block;
    if (block !== undefined) {
      for (const o of block.operations) {
        out.sample('lally_operations_total', 'counter', '', o.count, {
          shard: shard.id,
          route: o.route,
          op: o.op,
          outcome: o.outcome,
        });
      }
      for (const l of block.latency) {
        const key = `${l.route}/${l.op}`;
        let sum = latency.get(key);
        if (sum === undefined) {
          sum = {
            route: l.route,
            op: l.op,
            counts: new Array<number>(REQUEST_BUCKETS.length + 1).fill(0),
            sum: 0,
          };
          latency.set(key, sum);
        }
        for (let i = 0; i < l.histogram.buckets.length; i++) sum.counts[i]! += l.histogram.buckets[i]!;
        sum.sum += l.histogram.sum;
      }
      for (let i = 0; i < block.sync.buckets.length; i++) sync.counts[i]! += block.sync.buckets[i]!;
      sync.sum += block.sync.sum;
    }
    const stats = shard.stats;
    if (stats === undefined) continue;
    for (const [field, name, help] of SHARD_COUNTERS)
      out.sample(name, 'counter', help, numeric(stats[field]) ?? 0, labels);
    for (const [field, name, help] of SHARD_GAUGES)
      out.sample(name, 'gauge', help, numeric(stats[field]) ?? 0, labels);
    const eld = stats.eventLoopDelay;
    if (eld !== undefined && eld !== null) eventLoop(out, eld, `shard-${shard.id}`);
    if (stats.aof !== null && stats.aof !== undefined) {
      for (const [field, name, type, help] of AOF_FIGURES) {
        const value = numeric(stats.aof[field]);
        if (value !== undefined) out.sample(name, type, help, value, labels);
      }
    }
    if (stats.rings !== null && stats.rings !== undefined) {
      flatten(
        out,
        'lally_ring',
        stats.rings,
        new Set([
          'messagesSent',
          'doorbellsRung',
          'overflowQueued',
          'overflowRejected',
          'answersQueued',
          'messagesReceived',
          'receiveBatches',
          'sleeps',
        ]),
        labels,
        "the shard's rings to the other threads (docs/rings.md)",
      );
    }
  }
  for (const l of latency.values()) {
    out.histogram(
      'lally_request_duration_seconds',
      'key operations from the call to the answer (hops, syncs and quorums included), by route and operation',
      REQUEST_BUCKETS,
      l.counts,
      l.sum,
      { route: l.route, op: l.op },
    );
  }
  if (figures.shards.some((s) => s.block !== undefined)) {
    out.histogram(
      'lally_aof_sync_duration_seconds',
      'fdatasync calls on the AOF, every shard',
      SYNC_BUCKETS,
      sync.counts,
      sync.sum,
    );
  }
}

function eventLoop(out: Exposition, delay: EventLoopDelay, thread: string): void {
  const help = '(over the last 10 to 20 s) of the thread, by node:perf_hooks monitorEventLoopDelay';
  out.sample(
    'lally_event_loop_delay_max_seconds',
    'gauge',
    `max event-loop delay ${help}`,
    delay.maxMs / 1000,
    { thread },
  );
  out.sample(
    'lally_event_loop_delay_p99_seconds',
    'gauge',
    `p99 event-loop delay ${help}`,
    delay.p99Ms / 1000,
    { thread },
  );
}

/** Lally's own figures as Prometheus text. */
export function renderLallyMetrics(figures: NodeFigures): string {
  const out = new Exposition();
  out.sample('lally_node_info', 'gauge', 'the node id and the version (always 1)', 1, {
    node_id: figures.nodeId,
    version: figures.version,
  });
  out.sample('lally_ready', 'gauge', '1 when GET /readyz answers 200', figures.phase === 'ready' ? 1 : 0);
  eventLoop(out, figures.mainEventLoopDelay, 'main');
  shardFigures(out, figures);
  writeClusterFigures(out, figures.members, figures.replication);
  return out.render();
}

/** The main thread's metrics registry: prom-client's defaults (process, Node, main thread) plus Lally's. */
export class NodeMetrics {
  readonly #registry = new Registry();

  constructor() {
    collectDefaultMetrics({ register: this.#registry });
  }

  get contentType(): string {
    return this.#registry.contentType;
  }

  async render(figures: NodeFigures): Promise<string> {
    return `${await this.#registry.metrics()}\n${renderLallyMetrics(figures)}`;
  }
}
