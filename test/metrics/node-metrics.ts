import t from 'tap';
import type { MemberView } from '../../src/kv/member-view.js';
import { type NodeFigures, NodeMetrics, renderLallyMetrics } from '../../src/metrics/node-metrics.js';
import {
  allocateShardMetrics,
  readShardMetrics,
  ShardMetricsWriter,
} from '../../src/metrics/shard-metrics.js';
import type { ShardStats } from '../../src/shard/shard-stats.js';
import { parsePrometheusText } from '../fixtures/prometheus-text.js';

function shardStats(id: number, keys: number): ShardStats {
  return {
    id,
    keys,
    tombstones: 1,
    tombstonesCollected: 0,
    gets: 0,
    hits: 0,
    puts: 0,
    removes: 0,
    hopsOut: 4,
    hopsIn: 5,
    directGets: 6,
    directFallbacks: 0,
    busy: 0,
    answersBusy: 0,
    hopTimeouts: 0,
    lateAnswers: 0,
    batchesBusy: 0,
    batchItemsBusy: 0,
    httpRequests: 9,
    httpErrors: 1,
    inFlight: 0,
    heapUsedBytes: 1000,
    eventLoopDelay: { maxMs: 12, p99Ms: 3 },
    aof: { writtenBytes: 100, syncs: 2, rewrites: 1, failed: false, fsync: 'everysec' },
    rings: { messagesSent: 3, answerBacklogBytes: 0 },
  };
}

const member = (id: string, state: MemberView['state'], self = false): MemberView => ({
  id,
  address: `127.0.0.1:${id}`,
  state,
  incarnation: 1,
  lastHeard: undefined,
  self,
  ringShare: 0.5,
});

function figures(overrides: Partial<NodeFigures> = {}): NodeFigures {
  const block = allocateShardMetrics();
  const writer = new ShardMetricsWriter(block);
  writer.operation('kv', 'get', 'ok', 0.1);
  writer.operation('kv', 'put', 'ok', 2);
  writer.sync(1);
  return {
    nodeId: '0a0b0c0d',
    version: '9.9.9',
    phase: 'ready',
    shards: [
      { id: 0, stats: shardStats(0, 7), block: readShardMetrics(block) },
      { id: 1, stats: undefined, block: readShardMetrics(allocateShardMetrics()) },
    ],
    mainEventLoopDelay: { maxMs: 20, p99Ms: 5 },
    members: [member('1', 'alive', true), member('2', 'alive'), member('3', 'suspect')],
    replication: undefined,
    ...overrides,
  };
}

t.test("a node's figures render as valid Prometheus text", async (t) => {
  const scrape = parsePrometheusText(renderLallyMetrics(figures()));
  t.equal(scrape.value('lally_node_info', { node_id: '0a0b0c0d', version: '9.9.9' }), 1);
  t.equal(scrape.value('lally_ready'), 1);
  t.equal(scrape.value('lally_shard_up', { shard: '0' }), 1);
  t.equal(scrape.value('lally_shard_up', { shard: '1' }), 0, 'a shard that did not answer');
  t.equal(scrape.value('lally_keys', { shard: '0' }), 7);
  t.same(scrape.find('lally_keys', { shard: '1' }), [], 'no figures of a shard that did not answer');
  t.equal(scrape.value('lally_operations_total', { shard: '0', route: 'kv', op: 'get', outcome: 'ok' }), 1);
  t.equal(scrape.value('lally_request_duration_seconds_count', { route: 'kv', op: 'put' }), 1);
  t.equal(scrape.value('lally_aof_sync_duration_seconds_count'), 1);
  t.equal(scrape.value('lally_aof_written_bytes_total', { shard: '0' }), 100);
  t.equal(scrape.value('lally_aof_failed', { shard: '0' }), 0, 'a boolean as 0 or 1');
  t.same(scrape.find('lally_aof_fsync'), [], 'text figures are left out');
  t.equal(scrape.value('lally_ring_messages_sent_total', { shard: '0' }), 3);
  t.equal(scrape.value('lally_ring_answer_backlog_bytes', { shard: '0' }), 0);
  t.equal(scrape.value('lally_event_loop_delay_max_seconds', { thread: 'main' }), 0.02);
  t.equal(scrape.value('lally_event_loop_delay_p99_seconds', { thread: 'shard-0' }), 0.003);
  t.equal(scrape.value('lally_cluster_members', { state: 'alive' }), 2);
  t.equal(scrape.value('lally_cluster_members', { state: 'suspect' }), 1);
  t.equal(scrape.value('lally_cluster_members', { state: 'left' }), 0);
  t.equal(scrape.types.get('lally_operations_total'), 'counter');
  t.equal(scrape.types.get('lally_request_duration_seconds'), 'histogram');
});

t.test('not ready, and shard metrics off', async (t) => {
  const off = figures({
    phase: 'stopping',
    shards: [{ id: 0, stats: shardStats(0, 1), block: undefined }],
  });
  const scrape = parsePrometheusText(renderLallyMetrics(off));
  t.equal(scrape.value('lally_ready'), 0);
  t.same(scrape.find('lally_operations_total'), []);
  t.notOk(scrape.types.has('lally_request_duration_seconds'), 'no latency without shard metrics');
  t.equal(scrape.value('lally_keys', { shard: '0' }), 1, 'the /stats figures are there still');
});

t.test('the coordinator figures: counters, gauges, per peer, hints, and figures added later', async (t) => {
  const replication = {
    replicated: 10,
    coordinatedReads: 1,
    partial: 2,
    waiting: 3,
    timedOut: 4,
    peers: {
      '127.0.0.1:5001': { records: 8, acknowledged: 7, backlog: 1, stream: { batches: 2, opened: 1 } },
    },
    hints: {
      durable: true,
      queued: 5,
      bytes: 50,
      added: 6,
      delivered: 1,
      dropped: 0,
      targets: { abcd0123: 5 },
    },
    clockSkew: { refusedBatches: 1, refusedRecords: 2 },
    antiEntropy: { rounds: 3, repaired: 4, lastRound: 'text is skipped' },
  };
  const scrape = parsePrometheusText(renderLallyMetrics(figures({ replication })));
  t.equal(scrape.value('lally_replication_replicated_total'), 10);
  t.equal(scrape.value('lally_replication_coordinated_reads_total'), 1);
  t.equal(scrape.value('lally_replication_partial_total'), 2);
  t.equal(scrape.value('lally_replication_waiting'), 3);
  t.equal(scrape.types.get('lally_replication_waiting'), 'gauge');
  t.equal(scrape.value('lally_replication_quorum_timeouts_total'), 4);
  t.equal(scrape.value('lally_replication_peer_records_total', { peer: '127.0.0.1:5001' }), 8);
  t.equal(scrape.value('lally_replication_peer_backlog', { peer: '127.0.0.1:5001' }), 1);
  t.equal(scrape.value('lally_replication_peer_stream_batches', { peer: '127.0.0.1:5001' }), 2);
  t.equal(scrape.value('lally_hints_queued'), 5);
  t.equal(scrape.value('lally_hints_durable'), 1);
  t.equal(scrape.value('lally_hints_delivered_total'), 1);
  t.equal(scrape.value('lally_hints_dropped_total'), 0);
  t.equal(scrape.value('lally_hints_queued_for', { target: 'abcd0123' }), 5);
  t.equal(scrape.value('lally_clock_skew_refused_batches_total'), 1);
  t.equal(scrape.value('lally_replication_anti_entropy_repaired'), 4, 'a new section shows up as gauges');
});

t.test("NodeMetrics adds prom-client's process and Node metrics", async (t) => {
  const metrics = new NodeMetrics();
  t.match(metrics.contentType, /^text\/plain; version=0\.0\.4/);
  const scrape = parsePrometheusText(await metrics.render(figures()));
  t.ok(scrape.find('process_cpu_user_seconds_total').length === 1, 'process CPU');
  t.ok(scrape.find('nodejs_heap_size_used_bytes').length === 1, 'heap');
  t.equal(scrape.value('lally_ready'), 1);
});
