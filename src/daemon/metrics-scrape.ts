/**
 * A scrape of GET /metrics on the main thread: whichever shard received the request asked for it by
 * control message; the answer covers the whole node. The shards' request path is not involved: their
 * counters are read from shared memory, and their /stats figures come over the rings as a STATS hop,
 * which each shard answers between two batches of requests.
 */
import type { MemberView } from '../kv/member-view.js';
import { EventLoopDelayMonitor } from '../metrics/event-loop-delay.js';
import type { NodeFigures, NodeMetrics, ShardFigures } from '../metrics/node-metrics.js';
import { NodeStatus } from '../metrics/node-status.js';
import { allocateShardMetrics, readShardMetrics } from '../metrics/shard-metrics.js';
import type { ShardStats } from '../shard/shard-stats.js';
import type { MainEndpoint } from './main-endpoint.js';

/** How often the main thread publishes its event-loop delay to the shards (GET /stats `main`). */
const PUBLISH_MS = 1000;

export interface MetricsSources {
  readonly endpoint: MainEndpoint;
  readonly nodeId: string;
  readonly version: string;
  members(): readonly MemberView[];
  /** The coordinator's figures, or undefined on a node alone. */
  replication(): Record<string, unknown> | undefined;
}

function shardStats(endpoint: MainEndpoint, shard: number): Promise<ShardStats | undefined> {
  return new Promise((resolve) => {
    endpoint.stats(shard, (json, error) => {
      if (error !== undefined || json === undefined) resolve(undefined);
      else resolve(JSON.parse(json) as ShardStats);
    });
  });
}

/** The main thread's observability state: the node's phase, its event loop, the shards' blocks. */
export class NodeObservability {
  readonly status = new NodeStatus();
  /** One block per shard; empty with --no-shard-metrics. */
  readonly blocks: readonly SharedArrayBuffer[];
  readonly #eventLoop = new EventLoopDelayMonitor();
  readonly #publish: NodeJS.Timeout;
  #metrics: NodeMetrics | undefined;

  constructor(shards: number, shardMetrics: boolean) {
    this.blocks = shardMetrics ? Array.from({ length: shards }, () => allocateShardMetrics()) : [];
    this.#publish = setInterval(() => {
      this.status.mainEventLoopDelay = this.#eventLoop.read();
    }, PUBLISH_MS);
    this.#publish.unref();
  }

  /** The whole node's figures as Prometheus text, with its content type. */
  async scrape(sources: MetricsSources): Promise<{ contentType: string; text: string }> {
    // Loaded at the first scrape: prom-client took about a second to import on a loaded machine, a
    // cost every start would otherwise pay.
    if (this.#metrics === undefined) {
      const { NodeMetrics } = await import('../metrics/node-metrics.js');
      this.#metrics ??= new NodeMetrics();
    }
    const metrics = this.#metrics;
    const { endpoint } = sources;
    const stats = await Promise.all(
      Array.from({ length: endpoint.shards }, (_, shard) => shardStats(endpoint, shard)),
    );
    const shards: ShardFigures[] = stats.map((s, id) => {
      const block = this.blocks[id];
      return { id, stats: s, block: block === undefined ? undefined : readShardMetrics(block) };
    });
    const figures: NodeFigures = {
      nodeId: sources.nodeId,
      version: sources.version,
      phase: this.status.phase,
      shards,
      mainEventLoopDelay: this.#eventLoop.read(),
      members: sources.members(),
      replication: sources.replication(),
    };
    return { contentType: metrics.contentType, text: await metrics.render(figures) };
  }

  stop(): void {
    clearInterval(this.#publish);
    this.#eventLoop.stop();
  }
}
