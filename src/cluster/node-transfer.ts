/**
 * The data side of membership changes for one daemon (issue 8), on the main thread: it serves the
 * Snapshot rpc over the local shards, catches up from the members before the node serves (a join, a
 * restart), and hands the ranges it loses over before a graceful leave. See docs/cluster.md.
 */
import type { Logger } from 'pino';
import type { LallyConfig } from '../config/types.js';
import type { MainEndpoint } from '../daemon/main-endpoint.js';
import { snapshotHandler } from '../rpc/snapshot-transfer.js';
import type { AntiEntropy } from './anti-entropy/anti-entropy.js';
import type { ClusterNode } from './cluster-node.js';
import { catchUp } from './data-transfer.js';
import { handOff } from './handoff.js';
import type { LocalReplica } from './local-replica.js';
import { localPageReader } from './local-snapshot.js';
import type { PlanMember } from './transfer-plan.js';

export interface NodeTransferOptions {
  readonly cluster: ClusterNode;
  readonly endpoint: MainEndpoint;
  readonly replica: LocalReplica;
  /** This node's id (src/cluster/node-identity.ts). */
  readonly nodeId: number;
  readonly config: Pick<
    LallyConfig,
    'seedNode' | 'replicationFactor' | 'transferTimeoutMs' | 'shutdownTimeoutMs'
  >;
  readonly logger: Logger;
  /** A node that already holds data catches up by anti-entropy rounds instead of a full transfer. */
  readonly antiEntropy?: AntiEntropy;
}

/** Rounds per peer a restart's catch-up runs at most (each repairs all it finds; more come from writes). */
const CATCH_UP_PASSES = 3;

/** Keys and tombstones in every shard (for the expected total of a transfer). */
function countEntries(endpoint: MainEndpoint): Promise<number> {
  const one = (shard: number) =>
    new Promise<number>((resolve) => {
      endpoint.stats(shard, (json, error) => {
        if (error !== undefined || json === undefined) return resolve(0);
        const stats = JSON.parse(json) as { keys?: number; tombstones?: number };
        resolve((stats.keys ?? 0) + (stats.tombstones ?? 0));
      });
    });
  return Promise.all(Array.from({ length: endpoint.shards }, (_, s) => one(s))).then((n) =>
    n.reduce((a, b) => a + b, 0),
  );
}

export class NodeTransfer {
  readonly #opts: NodeTransferOptions;
  readonly #logger: Logger;
  readonly #readPage;

  constructor(opts: NodeTransferOptions) {
    this.#opts = opts;
    this.#logger = opts.logger.child({ component: 'transfer' });
    this.#readPage = localPageReader(opts.endpoint, {
      nodeId: opts.nodeId,
      countEntries: () => countEntries(opts.endpoint),
    });
  }

  /** Serves the Snapshot rpc (joins and restarts of other members pull from it). */
  serve(): void {
    this.#opts.cluster.serveReplication({ snapshot: snapshotHandler(this.#readPage) });
  }

  #members(): { self: number; members: PlanMember[] } | undefined {
    const swim = this.#opts.cluster.swim;
    if (swim === undefined) return undefined;
    return {
      self: swim.self.id,
      members: swim.members().map((m) => ({ id: m.id, address: m.address, state: m.state })),
    };
  }

  /**
   * Receives this node's data from the members, once joined and before it serves. A cluster of one
   * skips it; if no member can send, the node starts anyway (availability, as Dynamo) with a warning:
   * its data catches up by later writes (and anti-entropy, next issue). Past --transfer-timeout-ms the
   * start fails (LALLY_ERR_PEER_TIMEOUT).
   */
  async catchUp(signal: AbortSignal): Promise<void> {
    const known = this.#members();
    if (known === undefined) return;
    const { config } = this.#opts;
    const antiEntropy = this.#opts.antiEntropy;
    if (antiEntropy !== undefined && antiEntropy.peers().length > 0) {
      const held = await countEntries(this.#opts.endpoint);
      if (held > 0) {
        await this.#catchUpByTrees(antiEntropy, held, signal);
        return;
      }
    }
    const result = await catchUp({
      self: known.self,
      members: known.members,
      factor: config.replicationFactor,
      preferred: config.seedNode,
      timeoutMs: config.transferTimeoutMs,
      pool: this.#opts.cluster.pool,
      apply: (records) => this.#opts.replica.apply(records),
      logger: this.#logger,
      signal,
    });
    if (!result.needed) {
      const others = known.members.filter((m) => m.id !== known.self && m.state !== 'left');
      if (others.length > 0) {
        this.#logger.warn(
          { members: others.map((m) => `${m.address} (${m.state})`) },
          'no other member is alive: starting WITHOUT receiving data; this node serves what it has until writes and repair bring it up to date',
        );
      }
      return;
    }
    const missed = result.missed === 'all' ? 'all' : result.missed.length;
    if (result.sources.length === 0) {
      this.#logger.warn(
        { members: known.members.filter((m) => m.id !== known.self).map((m) => m.address) },
        'could not receive data from any member: starting WITHOUT it (availability first); ' +
          'this node serves what it has until writes and repair bring it up to date',
      );
      return;
    }
    if (missed !== 0) {
      this.#logger.warn(
        { missedRanges: missed, from: result.sources },
        'the catch-up could not reach every holder: starting with PART of the data (availability first); ' +
          'the missing keys come back with later writes and repair',
      );
    }
    this.#logger.info(
      {
        records: result.records,
        applied: result.applied,
        superseded: result.superseded,
        ms: result.ms,
        from: result.sources,
      },
      `caught up: ${result.records} records received (${result.applied} applied, ${result.superseded} older than the local ones) in ${result.ms} ms`,
    );
  }

  /**
   * The catch-up of a node that holds data (a restart): anti-entropy rounds with every live peer, each
   * moving only the entries that differ, until the trees agree or CATCH_UP_PASSES rounds per peer ran.
   * A peer that fails is skipped with a warning (availability first, as the bulk transfer).
   */
  async #catchUpByTrees(antiEntropy: AntiEntropy, held: number, signal: AbortSignal): Promise<void> {
    const started = Date.now();
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(this.#opts.config.transferTimeoutMs)]);
    const results = await antiEntropy.syncAll(CATCH_UP_PASSES, deadline);
    const sum = (pick: (r: (typeof results)[number]) => number) => results.reduce((n, r) => n + pick(r), 0);
    const peers = [...new Set(results.map((r) => r.peer))];
    const summary = {
      held,
      rounds: results.length,
      pulled: sum((r) => r.pulled),
      pushed: sum((r) => r.pushed),
      bytesSent: sum((r) => r.bytesSent),
      bytesReceived: sum((r) => r.bytesReceived),
      inSyncWith: results.filter((r) => r.inSync).map((r) => r.peer),
      from: peers,
      ms: Date.now() - started,
    };
    if (peers.length === 0) {
      this.#logger.warn(
        summary,
        'could not compare data with any member: starting with what this node has (availability first)',
      );
      return;
    }
    this.#logger.info(
      summary,
      `caught up by anti-entropy: ${summary.pulled} records received, ${summary.pushed} sent, ` +
        `${summary.bytesReceived + summary.bytesSent} bytes, in ${summary.ms} ms`,
    );
  }

  /**
   * Before a graceful leave, with a factor below the cluster's size: pushes the ranges this node
   * loses to the members that gain them, within half the shutdown budget. Never throws.
   */
  async handOff(): Promise<void> {
    const known = this.#members();
    if (known === undefined || !this.#opts.cluster.swim?.running) return;
    try {
      const result = await handOff({
        self: known.self,
        members: known.members,
        factor: this.#opts.config.replicationFactor,
        pool: this.#opts.cluster.pool,
        readPage: this.#readPage,
        logger: this.#logger,
        budgetMs: Math.floor(this.#opts.config.shutdownTimeoutMs * 0.5),
      });
      if (result.ranges === 0) return;
      this.#logger.info(
        { ranges: result.ranges, sent: result.sent, ms: result.ms, complete: result.complete },
        `handed ${result.ranges} ranges over in ${result.ms} ms${result.complete ? '' : ' (incomplete)'}`,
      );
    } catch (error) {
      this.#logger.warn({ err: error }, 'the handoff failed: leaving without it');
    }
  }
}
