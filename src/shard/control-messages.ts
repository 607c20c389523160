/**
 * Lifecycle messages between the main thread and a shard worker. They are rare (start, listen,
 * shutdown), so they travel by postMessage; requests and answers never do (they use the rings).
 */

import type { LallyConfig } from '../config/types.js';
import type { MemberView } from '../kv/member-view.js';
import type { SharedTableBuffers } from '../store/table-layout.js';

export type MainToShard =
  | { readonly type: 'listen'; readonly port: number }
  /** Stop accepting; answer what was accepted, failing whatever is still waiting after `deadlineMs`. */
  | { readonly type: 'drain'; readonly deadlineMs: number }
  | { readonly type: 'close' }
  /** The member table, on every change and once a second (src/cluster/cluster-node.ts). */
  | { readonly type: 'members'; readonly members: readonly MemberView[] }
  /** The coordinator's figures (GET /stats `replication`), sent with the member table (at most 1 s old). */
  | { readonly type: 'replication'; readonly stats: Record<string, unknown> }
  /** The answer to a shard's `metrics` request: the node's Prometheus text, or an error code. */
  | {
      readonly type: 'metrics';
      readonly id: number;
      readonly contentType: string;
      readonly text: string | undefined;
      readonly code?: string;
      readonly message?: string;
    };

export type ShardToMain =
  | { readonly type: 'ready'; readonly shard: number; readonly records: number; readonly replayMs: number }
  | { readonly type: 'listening'; readonly shard: number; readonly port: number }
  | { readonly type: 'drained'; readonly shard: number }
  | { readonly type: 'closed'; readonly shard: number }
  | { readonly type: 'fatal'; readonly shard: number; readonly code: string; readonly message: string }
  /** GET /metrics reached this shard: the main thread renders the whole node's figures (a scrape: rare). */
  | { readonly type: 'metrics'; readonly shard: number; readonly id: number };

/** Shared memory a shard needs; thread ids: shards are 0..shards-1, the main thread is `shards`. */
export interface ShardRings {
  /**
   * inbound[t]: the ring carrying messages from thread t to this shard (undefined for itself). The
   * node gives every thread one shared inbound ring (an MpscRing), so every entry is that one buffer.
   */
  readonly inbound: readonly (SharedArrayBuffer | undefined)[];
  /** outbound[t]: the ring carrying messages from this shard to thread t (thread t's inbound ring). */
  readonly outbound: readonly (SharedArrayBuffer | undefined)[];
  /** doorbells[t]: thread t's inbox doorbell. */
  readonly doorbells: readonly SharedArrayBuffer[];
}

export interface ShardWorkerData {
  readonly shard: number;
  readonly shards: number;
  readonly nodeId: number;
  readonly config: LallyConfig;
  /** Added to the wall clock of this shard's version stamps (a fault for tests: src/clock/fault-clock.ts). */
  readonly clockOffsetMs?: number;
  readonly rings: ShardRings;
  /** The node's phase and the main thread's event-loop delay (src/metrics/node-status.ts). */
  readonly status?: SharedArrayBuffer;
  /** This shard's metrics block (src/metrics/shard-metrics.ts); undefined with --no-shard-metrics. */
  readonly metrics?: SharedArrayBuffer;
  /**
   * tables[n]: the shared memory of shard n's store (src/store/shared-table.ts), the same buffers in
   * every shard: shard n writes its own, the others read it for GETs without a hop. Absent (tests),
   * a shard allocates its own and hops for every other shard's key.
   */
  readonly tables?: readonly SharedTableBuffers[];
  /** One AOF compaction at a time per node (src/aof/compaction-token.ts): the same buffer in every shard. */
  readonly compactionToken?: SharedArrayBuffer;
}
