import type { Server } from 'node:net';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { allocateCompactionToken } from '../aof/compaction-token.js';
import type { PreparedDataDir } from '../aof/data-dir.js';
import { CLOCK_OFFSET_ENV, clockOffsetFrom, offsetClock } from '../clock/fault-clock.js';
import type { AntiEntropy } from '../cluster/anti-entropy/anti-entropy.js';
import type { ClusterNode, MemberView } from '../cluster/cluster-node.js';
import type { Coordinator } from '../cluster/coordinator.js';
import type { HintStore } from '../cluster/hints/hint-store.js';
import { checkAwayTime, LastSeenClock } from '../cluster/last-seen.js';
import { readMemberFile } from '../cluster/member-file.js';
import { loadNodeIdentity, type NodeIdentity } from '../cluster/node-identity.js';
import type { NodeTransfer } from '../cluster/node-transfer.js';
import type { LallyConfig } from '../config/types.js';
import { readVersion } from '../config/version.js';
import { ErrorCodes, LallyError } from '../errors.js';
import { loadNativeUws } from '../http/uws-native.js';
import type { MainToShard, ShardToMain, ShardWorkerData } from '../shard/control-messages.js';
import { RingTransport } from '../shard/ring-transport.js';
import { allocateTableBuffers } from '../store/table-layout.js';
import { MainEndpoint } from './main-endpoint.js';
import { NodeObservability } from './metrics-scrape.js';
import { assertPortFree } from './port-check.js';
import { lockHttpPort } from './port-lock.js';
import { foreignListeners } from './port-owners.js';
import { ringCapacity, ThreadRings } from './thread-rings.js';

/**
 * The part of the shutdown timeout that requests may take to finish: 80%, but always leaving at least
 * a second (or a fifth) for the close itself (AOF flush and fsync, hooks, thread exits), which under
 * load took more than the 300 ms a 1.5 s timeout left before.
 */
export function drainBudgetMs(shutdownTimeoutMs: number): number {
  return Math.max(100, Math.min(Math.floor(shutdownTimeoutMs * 0.8), shutdownTimeoutMs - 1000));
}

/** How long the other shards may finish their requests once a shard is lost. */
const LOST_SHARD_DRAIN_MS = 1000;

/** How long shards may take to close (AOF, hooks) once drained, before the stop is forced. */
const MIN_CLOSE_GRACE_MS = 500;

const SHARD_WORKER_URL = new URL('../../workers/shard-worker.js', import.meta.url);

/**
 * V8's young generation of a shard thread, in MiB (semi-spaces of a third of it). V8's default grows
 * to 48 MiB under a burst of requests and gives it back only slowly once idle: with two shards, about
 * 100 MiB of resident garbage after a load (docs/perf-notes/memory.md). A request's garbage dies young
 * whatever the size, so a small one costs more frequent but shorter scavenges.
 */
export const SHARD_YOUNG_GENERATION_MB = 3;

/**
 * V8 lets a heap grow to its live size times a factor (up to 4) before the next full collection; a
 * shard's live heap is small (under 10 MiB: the keys are in the shared table) and a load of requests
 * leaves mostly garbage, so a factor of 1.3 holds the heaps to a few tens of MiB during a load instead
 * of 2 x 45-75 MiB (docs/perf-notes/memory.md). V8's flags are per process: this sets it for every
 * thread, before the shards start (V8 reads it at each collection).
 */
const HEAP_GROWING_PERCENT = 30;

export interface DaemonInfo {
  readonly httpPort: number;
  readonly shards: number;
  readonly records: number;
  readonly replayMs: number;
  /** The node id (8 hex digits): random, kept in the data dir (see src/cluster/node-identity.ts). */
  readonly nodeId: string;
  /** Whether the id was made by this start (first start, or a node without AOF). */
  readonly nodeIdCreated: boolean;
  /** The bound gRPC port (--grpc-port, or the one the kernel picked for 0). */
  readonly grpcPort: number;
  /** The address peers know this node by. */
  readonly address: string;
  /** How many members this node knows, itself included, once joined. */
  readonly members: number;
}

type ShardState =
  | 'starting'
  | 'ready'
  | 'listening'
  | 'draining'
  | 'drained'
  | 'closing'
  | 'closed'
  | 'exited';

interface ShardHandle {
  readonly id: number;
  readonly worker: Worker;
  state: ShardState;
  /**
   * Once told to listen, a shard may hold uWS sockets, and a worker terminated with uWS sockets open
   * aborts the whole process (Node checks its event loop): such a shard can only close itself.
   */
  listenSent: boolean;
}

/**
 * The main thread of a node: prepares the data directory, allocates the rings, starts one worker per
 * shard, puts them on the HTTP port, supervises them and shuts them down in order. The cluster
 * (gossip, replication) will live here too.
 */
export class Daemon {
  readonly #config: LallyConfig;
  readonly #logger: Logger;
  readonly #shards: ShardHandle[] = [];
  readonly #waiters = new Set<(message: ShardToMain) => void>();
  #dataDir: PreparedDataDir | undefined;
  #portLock: Server | undefined;
  #identity: NodeIdentity | undefined;
  #mainTransport: RingTransport | undefined;
  #endpoint: MainEndpoint | undefined;
  #cluster: ClusterNode | undefined;
  /** Join and restart catch-up, Snapshot serving, handoff on leave (src/cluster/node-transfer.ts). */
  #transfer: NodeTransfer | undefined;
  readonly #stopSignal = new AbortController();
  #coordinator: Coordinator | undefined;
  /** Background tree comparisons with the peers, and a restart's catch-up (src/cluster/anti-entropy/). */
  #antiEntropy: AntiEntropy | undefined;
  #lastSeen: LastSeenClock | undefined;
  #hints: HintStore | undefined;
  #members: readonly MemberView[] = [];
  #stopping: Promise<void> | undefined;
  #failure: LallyError | undefined;
  /** Set once start() has succeeded: a shard that fails before that fails the start (logged by the CLI). */
  #started = false;
  readonly #exited: Promise<number>;
  #resolveExited!: (code: number) => void;
  /** The node's phase (GET /readyz), the shards' metrics blocks and the scrapes (GET /metrics). */
  readonly #observe: NodeObservability;

  constructor(config: LallyConfig, logger: Logger) {
    this.#config = config;
    this.#logger = logger;
    this.#observe = new NodeObservability(config.shards, config.shardMetrics);
    this.#exited = new Promise((resolve) => {
      this.#resolveExited = resolve;
    });
  }

  /** The node's identity, once started. */
  get identity(): NodeIdentity | undefined {
    return this.#identity;
  }

  /**
   * The main thread's end of the rings to every shard (APPLY, READ_ENTRY, SNAPSHOT hops), once the
   * shards started: the cluster's replication, repair and transfer use it.
   */
  get endpoint(): MainEndpoint | undefined {
    return this.#endpoint;
  }

  /** Resolves with the process exit code once the daemon has stopped (0 after a clean shutdown). */
  get exited(): Promise<number> {
    return this.#exited;
  }

  async start(): Promise<DaemonInfo> {
    try {
      return await this.#start();
    } catch (error) {
      // Whatever failed, stop what started (if anything) so that `exited` settles.
      if (this.#failure === undefined) {
        this.#failure =
          error instanceof LallyError
            ? error
            : new LallyError(ErrorCodes.INTERNAL, String(error), { cause: error });
      }
      await this.shutdown();
      throw error;
    }
  }

  async #start(): Promise<DaemonInfo> {
    const config = this.#config;
    loadNativeUws(); // refuse early, before any thread starts, if only the slow fallback exists
    // The lock first: two nodes started at once could otherwise both find the port free.
    this.#portLock = await lockHttpPort(config.host, config.httpPort);
    await assertPortFree(config.host, config.httpPort, 'the HTTP port');
    if (config.aof) {
      // Loaded only when needed: a node without AOF (`--no-aof`) never touches the disk.
      const { prepareDataDir } = await import('../aof/data-dir.js');
      this.#dataDir = await prepareDataDir({
        dataDir: config.dataDir,
        shards: config.shards,
        fresh: config.fresh,
        replayLog: config.replayLog,
        logger: this.#logger,
      });
    }
    // After the data dir's lock: the id file is then this node's alone. Without AOF, an id for this run.
    const identity = await loadNodeIdentity({ dataDir: this.#dataDir?.dataDir });
    this.#identity = identity;
    const dataDir = this.#dataDir?.dataDir;
    if (dataDir !== undefined) {
      // The rejoin rule: data older than the tombstone grace period would bring deleted keys back.
      const remembered = await readMemberFile(dataDir, identity.id).catch(() => undefined);
      const rejoins =
        !config.fresh &&
        (config.seedNode !== undefined || (remembered?.members.some((m) => m.id !== identity.id) ?? false));
      await checkAwayTime({ dataDir, graceMs: config.tombstoneGraceMs, rejoins });
      this.#lastSeen = new LastSeenClock(dataDir, config.tombstoneGraceMs);
      await this.#lastSeen.start();
    }
    const nodeId = identity.id;
    const rings = new ThreadRings(config.shards, ringCapacity(config.maxKeyBytes, config.maxValueBytes));
    const main = config.shards; // the main thread's id on the rings
    this.#mainTransport = new RingTransport(main, rings.forThread(main));
    this.#endpoint = new MainEndpoint({
      self: main,
      shards: config.shards,
      links: this.#mainTransport.links,
      logger: this.#logger,
      hopTimeoutMs: config.hopTimeoutMs,
    });
    const endpoint = this.#endpoint;
    this.#mainTransport.start((from, message) => endpoint.receive(from, message));
    // Peers' batches and replica reads reach the shards through the endpoint (before the join: a
    // member that knows this node may send to it at once; the shards answer once they run).
    const clockOffsetMs = clockOffsetFrom(process.env);
    if (clockOffsetMs !== 0) {
      this.#logger.warn(
        { clockOffsetMs },
        `${CLOCK_OFFSET_ENV}: this node stamps its writes ${clockOffsetMs} ms off the real clock (a fault for tests)`,
      );
    }
    const now = offsetClock(clockOffsetMs);
    // The shards start first: their module loading and AOF replay are most of a start's time, and
    // need nothing of the cluster. Every shard's store in shared memory, handed to every shard: each
    // writes its own and reads the others' for GETs without a hop (docs/shared-store.md).
    const tables = Array.from({ length: config.shards }, () => allocateTableBuffers());
    const compactionToken = allocateCompactionToken();
    setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
    for (let id = 0; id < config.shards; id++) {
      const data: ShardWorkerData = {
        shard: id,
        shards: config.shards,
        nodeId,
        config,
        clockOffsetMs,
        rings: rings.forThread(id),
        status: this.#observe.status.buffer,
        ...(this.#observe.blocks[id] === undefined ? {} : { metrics: this.#observe.blocks[id] }),
        tables,
        compactionToken,
      };
      const worker = new Worker(SHARD_WORKER_URL, {
        workerData: data,
        name: `lally-shard-${id}`,
        resourceLimits: { maxYoungGenerationSizeMb: SHARD_YOUNG_GENERATION_MB },
      });
      const handle: ShardHandle = { id, worker, state: 'starting', listenSent: false };
      this.#shards.push(handle);
      this.#supervise(handle);
    }
    // Listened for at once: a shard may be ready (an empty AOF) before the cluster below is set up,
    // and a message nobody waits for is gone. Awaited below; a failure meanwhile is not unhandled.
    const shardsReady = Promise.all(this.#shards.map((s) => this.#await(s, 'ready')));
    shardsReady.catch(() => undefined);
    // The cluster's modules load now, while the shards load theirs and replay their AOF (the main
    // thread has nothing else to do meanwhile). A gRPC port in use still fails the start (exit 2): the
    // shards, still replaying, are stopped at their next record.
    const {
      AntiEntropy,
      ClusterNode,
      Coordinator,
      HintStore,
      LocalReplica,
      LocalTree,
      NodeTransfer,
      SkewGuard,
      readHandler,
      replicateHandler,
      rpcSecurityOf,
      treeHandler,
    } = await import('./cluster-modules.js');
    this.#cluster = new ClusterNode({
      config,
      identity,
      dataDir: this.#dataDir?.dataDir,
      logger: this.#logger,
      onChange: (members) => this.#membersChanged(members),
      security: rpcSecurityOf(config),
    });
    const grpcPort = await this.#cluster.bind();
    const skew = new SkewGuard({
      maxSkewMs: config.maxClockSkewMs,
      now,
      logger: this.#logger.child({ component: 'replication' }),
    });
    const replica = new LocalReplica(endpoint, identity.id, skew);
    const tree = new LocalTree(endpoint);
    this.#cluster.serveReplication({
      replicate: replicateHandler((records, peer) => replica.apply(records, peer)),
      read: readHandler((keys) => replica.lookup(keys)),
    });
    this.#antiEntropy = new AntiEntropy({
      selfId: identity.id,
      topology: this.#cluster.topology,
      pool: this.#cluster.pool,
      local: tree,
      replica,
      intervalMs: config.antiEntropyIntervalMs,
      maxKeys: config.antiEntropyMaxKeys,
      tombstoneGraceMs: config.tombstoneGraceMs,
      callTimeoutMs: Math.max(5000, config.hopTimeoutMs * 4),
      logger: this.#logger.child({ component: 'anti-entropy' }),
    });
    this.#transfer = new NodeTransfer({
      cluster: this.#cluster,
      endpoint,
      replica,
      nodeId,
      config,
      logger: this.#logger,
      antiEntropy: this.#antiEntropy,
    });
    this.#transfer.serve();
    // --- hinted handoff (src/cluster/hints/): files under <dataDir>/hints; memory only without AOF.
    this.#hints =
      config.hintMaxBytes > 0
        ? await HintStore.open({
            dir: this.#dataDir === undefined ? undefined : join(this.#dataDir.dataDir, 'hints'),
            maxBytes: config.hintMaxBytes,
            maxAgeMs: config.hintMaxAgeMs,
            logger: this.#logger.child({ component: 'hints' }),
          })
        : undefined;
    // --- end hinted handoff
    this.#coordinator = new Coordinator({
      hints: this.#hints,
      endpoint,
      local: replica,
      topology: this.#cluster.topology,
      pool: this.#cluster.pool,
      readQuorum: config.readQuorum,
      writeQuorum: config.writeQuorum,
      quorumTimeoutMs: config.quorumTimeoutMs,
      logger: this.#logger.child({ component: 'coordinator' }),
      dropReplication: process.env.LALLY_FAULT_DROP_REPLICATION === '1',
      now,
    });
    if (process.env.LALLY_FAULT_DROP_REPLICATION === '1') {
      this.#logger.warn(
        'LALLY_FAULT_DROP_REPLICATION=1: this node sends no writes to its peers (a fault for tests)',
      );
    }
    const ready = await shardsReady;
    const records = ready.reduce((sum, m) => sum + (m.type === 'ready' ? m.records : 0), 0);
    const replayMs = ready.reduce((max, m) => Math.max(max, m.type === 'ready' ? m.replayMs : 0), 0);
    // Joined before the HTTP port opens: a node that serves HTTP knows its cluster.
    this.#setPhase('joining');
    await this.#cluster.join();
    // The data before the HTTP port: a node that serves holds what its ranges held (docs/cluster.md).
    this.#setPhase('catching_up');
    await this.#transfer.catchUp(this.#stopSignal.signal);
    // Peers' anti-entropy rounds are answered once the data is in (before, they would see a node still
    // receiving it as different everywhere, and push what the transfer brings anyway).
    this.#cluster.serveReplication({
      tree: treeHandler(
        tree,
        (records, peer) => replica.apply(records, peer),
        (from) => this.#antiEntropy?.askedBy(from),
      ),
    });
    this.#setPhase('opening');
    // The first shard binds the port (which may be 0: ephemeral); the others join that same port.
    const first = await this.#listen(this.#shards[0]!, config.httpPort);
    await Promise.all(this.#shards.slice(1).map((s) => this.#listen(s, first)));
    await this.#assertPortOwned(first);
    this.#antiEntropy.start();
    this.#started = true;
    this.#setPhase('ready');
    return {
      httpPort: first,
      shards: config.shards,
      records,
      replayMs,
      nodeId: identity.hex,
      nodeIdCreated: identity.created,
      grpcPort,
      address: this.#cluster.swim?.self.address ?? '',
      members: this.#members.length,
    };
  }

  /**
   * The lock keeps other Lally nodes off the port; any other program that binds it with SO_REUSEPORT
   * (as the same user) between the probe and the shards' bind would go unnoticed, so the listeners
   * on the port are counted once the shards have it: every one must be this process's.
   */
  async #assertPortOwned(port: number): Promise<void> {
    const foreign = await foreignListeners(port);
    if (foreign !== undefined && foreign > 0) {
      throw new LallyError(
        ErrorCodes.CONFIG,
        `the HTTP port ${this.#config.host}:${port} is also listened on by another process (${foreign} socket(s) ` +
          'not ours, sharing it through SO_REUSEPORT): it would take part of the connections; stop it or choose another --http-port',
      );
    }
  }

  /** A phase once stopping stays stopping (a failed start may still be joining when the stop begins). */
  #setPhase(phase: 'joining' | 'catching_up' | 'opening' | 'ready'): void {
    if (this.#stopping === undefined) this.#observe.status.phase = phase;
  }

  /** GET /metrics reached shard `handle`: render the node's figures and hand them back to it. */
  #answerMetrics(handle: ShardHandle, id: number): void {
    const endpoint = this.#endpoint;
    const rendered =
      endpoint === undefined
        ? Promise.reject(new LallyError(ErrorCodes.SHUTTING_DOWN, 'the node is shutting down'))
        : readVersion().then((version) =>
            this.#observe.scrape({
              endpoint,
              nodeId: this.#identity?.hex ?? '',
              version,
              members: () => this.#members,
              replication: () => (this.#members.length > 1 ? this.#coordinator?.stats() : undefined),
            }),
          );
    rendered.then(
      (answer) => this.#send(handle, { type: 'metrics', id, ...answer }),
      (error: unknown) => {
        this.#logger.error({ err: error }, 'GET /metrics failed');
        const code = error instanceof LallyError ? error.code : ErrorCodes.INTERNAL;
        const message = error instanceof Error ? error.message : String(error);
        this.#send(handle, { type: 'metrics', id, contentType: '', text: undefined, code, message });
      },
    );
  }

  #supervise(handle: ShardHandle): void {
    handle.worker.on('message', (message: ShardToMain) => {
      if (message.type === 'metrics') {
        this.#answerMetrics(handle, message.id);
        return;
      }
      if (message.type === 'fatal') {
        // A shard's configuration problem (it could not listen on the port) stays one: exit 2, not 1.
        // A hook that does not load or a corrupt AOF keeps its code; any other failure is a crash.
        const code =
          message.code === ErrorCodes.CONFIG ||
          message.code === ErrorCodes.HOOK_LOAD ||
          message.code === ErrorCodes.AOF_CORRUPT
            ? message.code
            : ErrorCodes.SHARD_CRASHED;
        this.#shardFailed(handle, new LallyError(code, `shard ${handle.id}: ${message.message}`));
      }
      for (const waiter of [...this.#waiters]) waiter(message);
    });
    handle.worker.on('error', (error) => {
      this.#shardFailed(
        handle,
        new LallyError(ErrorCodes.SHARD_CRASHED, `shard ${handle.id} crashed: ${error.message}`, {
          cause: error,
        }),
      );
    });
    handle.worker.on('exit', (code) => {
      const expected = handle.state === 'closed' || handle.state === 'closing';
      handle.state = 'exited';
      if (!expected) {
        this.#shardFailed(
          handle,
          new LallyError(ErrorCodes.SHARD_CRASHED, `shard ${handle.id} exited unexpectedly (code ${code})`),
        );
      }
      for (const waiter of [...this.#waiters]) waiter({ type: 'closed', shard: handle.id });
      if (this.#shards.every((s) => s.state === 'exited')) this.#allExited();
    });
  }

  /** A node that lost a shard would serve a partial keyspace: it stops instead, and says so loudly. */
  #shardFailed(handle: ShardHandle, error: LallyError): void {
    if (this.#failure === undefined) this.#failure = error;
    // During the start, start() rejects with the first failure and the CLI prints it, once; every
    // shard's own failure (often the same: a hook that no shard can load) stays at debug level.
    this.#logger[this.#started ? 'fatal' : 'debug'](
      { shard: handle.id, code: error.code, err: error },
      `${error.message}; stopping the node`,
    );
    // Requests waiting for the lost shard will never be answered by it: fail them soon.
    void this.shutdown(LOST_SHARD_DRAIN_MS);
  }

  #allExited(): void {
    this.#observe.stop();
    // No shard is left to answer the main thread: fail what waits, and stop its inbox (it keeps the
    // process alive while open).
    this.#coordinator?.close();
    this.#endpoint?.failPending(ErrorCodes.SHUTTING_DOWN, 'the node is shutting down');
    this.#endpoint?.close();
    const inboxClosed = Promise.resolve(this.#mainTransport?.close()).catch(() => undefined);
    this.#mainTransport = undefined;
    // Every shard has let go of the port: another node may have it now.
    this.#portLock?.close();
    this.#portLock = undefined;
    // The gRPC server and the pool, bounded; the member file is written before the data dir is let go.
    const graceMs = Math.max(100, Math.floor(this.#config.shutdownTimeoutMs * 0.1));
    const clusterStopped = Promise.resolve(this.#cluster?.stop(graceMs)).catch(() => undefined);
    const hintsWritten = Promise.resolve(this.#hints?.close()).catch(() => undefined);
    const treesStopped = Promise.resolve(this.#antiEntropy?.stop()).catch(() => undefined);
    const lastSeen = Promise.resolve(this.#lastSeen?.stop()).catch(() => undefined);
    const released = Promise.all([clusterStopped, hintsWritten, treesStopped, lastSeen]).then(() =>
      this.#dataDir?.release(),
    );
    void Promise.all([inboxClosed, released]).finally(() => this.#resolveExited(this.#failure ? 1 : 0));
  }

  /** Every shard gets the member table on every change (GET /nodes, GET /cluster). */
  #membersChanged(members: readonly MemberView[]): void {
    this.#members = members;
    this.#coordinator?.membersChanged();
    const replication = members.length > 1 ? this.#coordinator?.stats() : undefined;
    const stats =
      replication === undefined ? undefined : { ...replication, antiEntropy: this.#antiEntropy?.stats() };
    for (const s of this.#shards) {
      if (s.state === 'closing' || s.state === 'closed') continue;
      this.#send(s, { type: 'members', members });
      if (stats !== undefined) this.#send(s, { type: 'replication', stats });
    }
  }

  #send(handle: ShardHandle, message: MainToShard): void {
    if (handle.state !== 'exited') handle.worker.postMessage(message);
  }

  /** Waits for a shard's event of `type`; rejects if the shard fails or exits first. */
  #await(handle: ShardHandle, type: ShardToMain['type']): Promise<ShardToMain> {
    return new Promise((resolve, reject) => {
      const waiter = (message: ShardToMain) => {
        if (message.shard !== handle.id) return;
        if (message.type === type) {
          this.#waiters.delete(waiter);
          resolve(message);
        } else if (message.type === 'fatal' || (message.type === 'closed' && type !== 'closed')) {
          this.#waiters.delete(waiter);
          reject(
            this.#failure ??
              new LallyError(ErrorCodes.SHARD_CRASHED, `shard ${handle.id} stopped while starting`),
          );
        }
      };
      if (handle.state === 'exited') {
        reject(this.#failure ?? new LallyError(ErrorCodes.SHARD_CRASHED, `shard ${handle.id} is gone`));
        return;
      }
      this.#waiters.add(waiter);
    });
  }

  async #listen(handle: ShardHandle, port: number): Promise<number> {
    const waiting = this.#await(handle, 'listening');
    handle.listenSent = true;
    this.#send(handle, { type: 'listen', port });
    const message = await waiting;
    handle.state = 'listening';
    return message.type === 'listening' ? message.port : port;
  }

  /**
   * Graceful stop: every shard stops accepting and answers what it accepted (shards keep serving each
   * other's hops meanwhile), then every shard closes its connections, AOF and hooks, and its thread ends.
   */
  shutdown(drainMs = drainBudgetMs(this.#config.shutdownTimeoutMs)): Promise<void> {
    this.#stopping ??= this.#stop(drainMs);
    return this.#stopping;
  }

  async #stop(drainMs: number): Promise<void> {
    this.#observe.status.phase = 'stopping';
    this.#stopSignal.abort();
    const graceMs = Math.max(MIN_CLOSE_GRACE_MS, Math.floor(this.#config.shutdownTimeoutMs * 0.1));
    const forced = setTimeout(() => this.#forceStop(drainMs + graceMs), drainMs + graceMs);
    forced.unref();
    try {
      await this.#stopInOrder(drainMs);
    } finally {
      clearTimeout(forced);
    }
  }

  /**
   * The stop's hard deadline. A shard that never listened holds no socket, so its thread can be
   * terminated whatever it is doing (a replay of a large AOF, a hook stuck in a loop): the node then
   * exits with its own exit code. A shard that listens and did not close cannot be terminated safely;
   * the CLI's forced exit (shutdown_timeout_ms) ends the process then.
   */
  #forceStop(afterMs: number): void {
    for (const handle of this.#shards) {
      if (handle.state === 'exited') continue;
      if (handle.listenSent) {
        this.#logger.error(
          { shard: handle.id },
          `shard ${handle.id} did not close within ${afterMs} ms and may hold sockets: waiting for the forced exit`,
        );
        continue;
      }
      this.#logger.warn(
        { shard: handle.id },
        `shard ${handle.id} did not stop within ${afterMs} ms: terminating its thread`,
      );
      handle.state = 'closing';
      void handle.worker.terminate();
    }
  }

  async #stopInOrder(drainMs: number): Promise<void> {
    const live = () => this.#shards.filter((s) => s.state !== 'exited');
    // No new anti-entropy round from here on (one in flight ends by itself, or fails with the shards).
    void this.#antiEntropy?.stop();
    // The ranges this node loses go to their new holders first (bounded by half the shutdown budget).
    await this.#transfer?.handOff();
    // Peers drop this node at once, before its shards stop answering (bounded by the leave timeout).
    await this.#cluster?.leave().catch((error: unknown) => this.#logger.warn({ err: error }, 'leave failed'));
    const drained = live().map((s) => this.#await(s, 'drained').catch(() => undefined));
    for (const s of live()) {
      s.state = 'draining';
      this.#send(s, { type: 'drain', deadlineMs: drainMs });
    }
    await Promise.all(drained);
    const closed = live().map((s) => this.#await(s, 'closed').catch(() => undefined));
    for (const s of live()) {
      s.state = 'closing';
      this.#send(s, { type: 'close' });
    }
    await Promise.all(closed);
    if (this.#shards.length === 0) this.#allExited();
    await this.#exited;
  }
}
