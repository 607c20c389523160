import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import type { Logger } from 'pino';
import { offsetClock } from '../clock/fault-clock.js';
import { HybridLogicalClock } from '../clock/hlc.js';
import { ErrorCodes, isErrorCode, LallyError } from '../errors.js';
import { HookRunner } from '../hooks/hook-runner.js';
import { AcceptGuard } from '../http/accept-guard.js';
import { createHttpApp, HttpApi } from '../http/http-app.js';
import { httpSecurityOf } from '../http/http-security.js';
import { loadNativeUws, type UwsModule } from '../http/uws-native.js';
import type { MemberView } from '../kv/member-view.js';
import { EventLoopDelayMonitor } from '../metrics/event-loop-delay.js';
import { meteredService } from '../metrics/metered-service.js';
import { NodeStatus, PHASE_REASONS } from '../metrics/node-status.js';
import { ShardMetricsWriter } from '../metrics/shard-metrics.js';
import { mallocControls } from '../native/malloc-tuning.js';
import { ShardStore } from '../store/shard-store.js';
import { TableReader } from '../store/table-reader.js';
import { ClusterService } from './cluster-service.js';
import type { MainToShard, ShardToMain, ShardWorkerData } from './control-messages.js';
import { IdleHeapCollector } from './idle-heap-collector.js';
import { ShardEngine, type WriteAheadLog } from './shard-engine.js';
import { ShardRouter } from './shard-router.js';
import { collectShardStats, combineStats, type ShardStats } from './shard-stats.js';
import type { ShardTransport } from './shard-transport.js';
import { TombstoneSweep } from './tombstone-sweep.js';

/** The AOF as the runtime drives it (src/aof/shard-aof.ts). */
export interface ShardLog extends WriteAheadLog {
  replay(onRecord: (record: import('../aof/types.js').AofRecord) => void): Promise<{ records: number }>;
  /** replay() with each record still encoded (ShardAof has it; the engine then decodes nothing). */
  replayEncoded?(onRecord: (buf: Buffer, offset: number) => void): Promise<{ records: number }>;
  /** Keys the replay will bring at least, when known (the compacted base's records), else 0. */
  expectedKeys?(): number;
  stats(): Record<string, number | string | boolean>;
  close(): Promise<void>;
}

/** How the runtime talks to the main thread (a worker's parentPort, or a stand-in in tests). */
export interface ControlChannel {
  postMessage(message: ShardToMain): void;
  on(event: 'message', listener: (message: MainToShard) => void): unknown;
  close?(): void;
}

export interface ShardRuntimeDeps {
  readonly data: ShardWorkerData;
  readonly control: ControlChannel;
  readonly logger: Logger;
  readonly transport: ShardTransport;
  /** Opens this shard's AOF, or undefined when the AOF is off; `onSync` times its fdatasyncs. */
  openLog(onSync?: (elapsedMs: number) => void): Promise<ShardLog | undefined>;
  readonly uws?: UwsModule;
}

const DRAIN_POLL_MS = 5;
/** How long GET /metrics waits for the main thread to render the node's figures. */
const METRICS_TIMEOUT_MS = 5000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Thrown inside boot() once a drain or close has arrived: the start is abandoned, not failed. */
class BootAbandoned extends Error {
  constructor() {
    super('the shard was told to stop while it was starting');
  }
}

/**
 * Everything one shard runs: its store and engine, its share of the HTTP port, the router to the other
 * shards, its AOF and hooks. The worker entry (workers/shard-worker.ts) only builds the dependencies
 * and calls start(); tests run it on the main thread.
 */
export class ShardRuntime {
  readonly #deps: ShardRuntimeDeps;
  readonly #logger: Logger;
  #engine: ShardEngine | undefined;
  #router: ShardRouter | undefined;
  #sweep: TombstoneSweep | undefined;
  #service: ClusterService | undefined;
  /** The main thread's replication figures as last sent (undefined on a single node). */
  #replication: Record<string, unknown> | undefined;
  #http: HttpApi | undefined;
  /** The member table as the main thread last sent it (GET /nodes, GET /cluster). */
  #members: readonly MemberView[] = [];
  #app: TemplatedApp | undefined;
  #listenSocket: us_listen_socket | undefined;
  #log: ShardLog | undefined;
  #hooks: HookRunner | undefined;
  #uws: UwsModule | undefined;
  #acceptGuard: AcceptGuard | undefined;
  /** Set by the first drain or close: a boot still running stops at its next step. */
  #stopping = false;
  #booting: Promise<void> = Promise.resolve();
  /** Set once it has told the main thread it listens: a failure after that is a crash, logged as fatal. */
  #listening = false;
  #closing: Promise<void> | undefined;
  /** The node's phase as the main thread writes it (a shard tested alone is always ready). */
  readonly #status: NodeStatus;
  readonly #metrics: ShardMetricsWriter | undefined;
  #eventLoop: EventLoopDelayMonitor | undefined;
  #idleHeap: IdleHeapCollector | undefined;
  /** GET /metrics requests waiting for the main thread, by id. */
  readonly #metricsWaiting = new Map<number, (message: Extract<MainToShard, { type: 'metrics' }>) => void>();
  #nextMetricsId = 1;

  constructor(deps: ShardRuntimeDeps) {
    this.#deps = deps;
    this.#logger = deps.logger;
    const { status, metrics } = deps.data;
    if (status !== undefined) this.#status = new NodeStatus(status);
    else {
      this.#status = new NodeStatus();
      this.#status.phase = 'ready';
    }
    this.#metrics = metrics === undefined ? undefined : new ShardMetricsWriter(metrics);
  }

  get router(): ShardRouter | undefined {
    return this.#router;
  }

  async start(): Promise<void> {
    this.#deps.control.on('message', (message) => {
      this.#onControl(message).catch((error: unknown) => this.#fatal(error));
    });
    this.#booting = this.#boot().catch((error: unknown) => {
      if (!(error instanceof BootAbandoned)) this.#fatal(error);
    });
    await this.#booting;
  }

  /**
   * The node may be stopped while this shard still loads hooks or replays a large AOF (another shard
   * failed its start): boot then stops at its next step instead of going on to start the transport and
   * the HTTP app after close() released everything, which kept the thread (and the node) alive.
   */
  #checkStopping(): void {
    if (this.#stopping) throw new BootAbandoned();
  }

  async #boot(): Promise<void> {
    const { data, transport } = this.#deps;
    const { config, shard, shards } = data;
    this.#uws = this.#deps.uws ?? loadNativeUws();
    this.#eventLoop = new EventLoopDelayMonitor();
    const malloc = mallocControls();
    this.#idleHeap = new IdleHeapCollector({ release: malloc === null ? undefined : () => malloc.trim() });
    this.#hooks = await HookRunner.load(config.hooks, process.cwd(), { shard, shards, logger: this.#logger });
    this.#checkStopping();
    const store = new ShardStore(data.tables?.[shard]);
    const clock = new HybridLogicalClock(data.nodeId, offsetClock(data.clockOffsetMs ?? 0));
    const metrics = this.#metrics;
    this.#log = await this.#deps.openLog(metrics === undefined ? undefined : (ms) => metrics.sync(ms));
    this.#checkStopping();
    const engine = new ShardEngine({
      shard,
      store,
      clock,
      wal: this.#log,
    });
    // No listener without hooks: a write then pays one length check for the event.
    if (this.#hooks.active) engine.onCommitted(this.#hooks.onCommitted);
    this.#engine = engine;
    const started = performance.now();
    let records = 0;
    if (this.#log !== undefined) {
      const log = this.#log;
      store.reserve(log.expectedKeys?.() ?? 0);
      // A boolean per record; the scan reads between chunks, so a stop is seen.
      ({ records } =
        log.replayEncoded === undefined
          ? await log.replay((record) => {
              this.#checkStopping();
              engine.applyRecord(record);
            })
          : await log.replayEncoded((buf, offset) => {
              this.#checkStopping();
              engine.applyEncodedRecord(buf, offset);
            }));
      engine.endReplay();
      this.#checkStopping();
    }
    const replayMs = Math.round(performance.now() - started);
    const router = new ShardRouter({
      engine,
      shard,
      shards,
      links: transport.links,
      logger: this.#logger,
      hopTimeoutMs: config.hopTimeoutMs,
      readQuorum: config.readQuorum,
      writeQuorum: config.writeQuorum,
      peerTables: data.tables?.map((buffers, n) => (n === shard ? undefined : new TableReader(buffers))),
    });
    this.#router = router;
    this.#sweep = new TombstoneSweep(engine, config.tombstoneGraceMs);
    this.#sweep.start();
    const service = new ClusterService({
      router,
      selfId: data.nodeId,
      replicationFactor: config.replicationFactor,
      readQuorum: config.readQuorum,
      writeQuorum: config.writeQuorum,
    });
    service.setMembers(this.#members);
    this.#service = service;
    const http = new HttpApi({
      service,
      limits: config,
      bodyTimeoutMs: config.bodyTimeoutMs,
      logger: this.#logger,
      // Alive only, as upstream lists the peers it can reach: a suspect drops out at once (it comes
      // back if it refutes), so a killed node leaves the list within about 2 s (cluster-design.md).
      nodes: () => this.#members.filter((m) => !m.self && m.state === 'alive').map((m) => m.address),
      cluster: () => this.#members,
      stats: (callback) => this.#gatherStats(callback),
      metrics: (callback) => this.#askMetrics(callback),
      notReady: () => this.#notReady(),
      ...(metrics === undefined ? {} : { meter: (route, inner) => meteredService(inner, route, metrics) }),
    });
    this.#http = http;
    router.statsProvider = () => JSON.stringify(this.#ownStats());
    transport.start((from, message) => router.receive(from, message));
    this.#app = createHttpApp(this.#uws, http, httpSecurityOf(config));
    this.#deps.control.postMessage({ type: 'ready', shard, records, replayMs });
  }

  #ownStats(): ShardStats {
    return collectShardStats(
      this.#engine!,
      this.#router!,
      this.#http!,
      this.#log,
      this.#deps.transport.stats?.(),
      this.#eventLoop?.read(),
    );
  }

  /** Undefined when ready; otherwise the phase and why (GET /readyz). */
  #notReady(): { phase: string; reason: string } | undefined {
    // This shard stops before the main thread says so when it drains.
    const phase = this.#stopping || this.#http?.closing ? 'stopping' : this.#status.phase;
    return phase === 'ready' ? undefined : { phase, reason: PHASE_REASONS[phase] };
  }

  /** GET /metrics: the main thread renders the node's figures; a shard never does. */
  #askMetrics(callback: (answer: { contentType: string; text: string } | LallyError) => void): void {
    const id = this.#nextMetricsId++;
    const timer = setTimeout(() => {
      this.#metricsWaiting.delete(id);
      callback(
        new LallyError(
          ErrorCodes.TIMEOUT,
          `the main thread did not render the metrics within ${METRICS_TIMEOUT_MS} ms`,
        ),
      );
    }, METRICS_TIMEOUT_MS);
    timer.unref();
    this.#metricsWaiting.set(id, (message) => {
      clearTimeout(timer);
      if (message.text !== undefined) callback({ contentType: message.contentType, text: message.text });
      else {
        const code = isErrorCode(message.code) ? message.code : ErrorCodes.INTERNAL;
        callback(new LallyError(code, message.message ?? 'the metrics could not be rendered'));
      }
    });
    this.#deps.control.postMessage({ type: 'metrics', shard: this.#deps.data.shard, id });
  }

  #gatherStats(callback: (json: string) => void): void {
    const { shard, shards } = this.#deps.data;
    const collected: ShardStats[] = [this.#ownStats()];
    const missing: number[] = [];
    let waiting = shards - 1;
    const finish = () => {
      const stats = combineStats(collected, missing, this.#deps.data.nodeId);
      if (this.#deps.data.status !== undefined)
        stats.main = { eventLoopDelay: this.#status.mainEventLoopDelay };
      callback(
        JSON.stringify(
          this.#replication === undefined ? stats : { ...stats, replication: this.#replication },
        ),
      );
    };
    if (waiting === 0) {
      finish();
      return;
    }
    for (let other = 0; other < shards; other++) {
      if (other === shard) continue;
      this.#router!.stats(other, (json, error) => {
        if (json !== undefined && error === undefined) collected.push(JSON.parse(json) as ShardStats);
        else missing.push(other);
        if (--waiting === 0) finish();
      });
    }
  }

  async #onControl(message: MainToShard): Promise<void> {
    switch (message.type) {
      case 'listen':
        this.#listen(message.port);
        return;
      case 'drain':
        await this.#drain(message.deadlineMs);
        return;
      case 'close':
        await this.#close();
        return;
      case 'members':
        this.#members = message.members;
        this.#service?.setMembers(message.members);
        return;
      case 'replication':
        this.#replication = message.stats;
        return;
      case 'metrics': {
        const waiting = this.#metricsWaiting.get(message.id);
        this.#metricsWaiting.delete(message.id);
        waiting?.(message);
        return;
      }
    }
  }

  #listen(port: number): void {
    const { config, shard } = this.#deps.data;
    this.#app!.listen(config.host, port, (socket) => {
      if (socket === false) {
        this.#fatal(
          new LallyError(
            ErrorCodes.CONFIG,
            `shard ${shard} could not listen on ${config.host}:${port} (in use?)`,
          ),
        );
        return;
      }
      this.#listenSocket = socket;
      const bound = this.#uws!.us_socket_local_port(socket);
      this.#guardAccepts(bound);
      this.#listening = true;
      this.#deps.control.postMessage({ type: 'listening', shard, port: bound });
    });
  }

  /** Out of file descriptors, uWS's native accept loop spins: see src/http/accept-guard.ts. */
  #guardAccepts(port: number): void {
    const { host } = this.#deps.data.config;
    this.#acceptGuard ??= new AcceptGuard({
      logger: this.#logger,
      pause: () => {
        if (this.#listenSocket !== undefined) this.#uws!.us_listen_socket_close(this.#listenSocket);
        this.#listenSocket = undefined;
      },
      resume: () => {
        let listening = false;
        this.#app?.listen(host, port, (socket) => {
          if (socket === false) return;
          this.#listenSocket = socket;
          listening = true;
        });
        return listening;
      },
    });
    this.#acceptGuard.start();
  }

  /**
   * Stops accepting connections and waits until every accepted request is answered. A request still
   * waiting for another shard at the deadline (say, one that died) is answered 503 rather than held
   * forever; a local write still waiting for its fsync is not failed (it may yet be durable): its
   * connection closes with the node.
   */
  async #drain(deadlineMs: number): Promise<void> {
    this.#acceptGuard?.stop();
    this.#stopping = true;
    await this.#booting;
    if (this.#listenSocket !== undefined) {
      this.#uws!.us_listen_socket_close(this.#listenSocket);
      this.#listenSocket = undefined;
    }
    const deadline = Date.now() + deadlineMs;
    const busy = () => (this.#http?.inFlight ?? 0) > 0 || (this.#router?.pendingCount ?? 0) > 0;
    if (this.#http !== undefined) this.#http.closing = true;
    while (busy() && Date.now() < deadline) await sleep(DRAIN_POLL_MS);
    if (busy()) {
      this.#logger.warn(
        { inFlight: this.#http?.inFlight, waitingForShards: this.#router?.pendingCount },
        'requests still open at the shutdown deadline: answering them 503',
      );
      this.#router?.failPending(ErrorCodes.SHUTTING_DOWN, 'the node is shutting down');
    }
    this.#deps.control.postMessage({ type: 'drained', shard: this.#deps.data.shard });
  }

  /** Closes the listening socket and every connection at once (idempotent). */
  closeSockets(): void {
    this.#acceptGuard?.stop();
    // uWS's App.close() (closes every socket so the thread can end) is missing from its typings.
    (this.#app as (TemplatedApp & { close(): void }) | undefined)?.close();
    this.#app = undefined;
    this.#listenSocket = undefined;
  }

  /** Tells the main thread that this shard cannot go on. */
  reportFatal(code: string, message: string): void {
    this.#deps.control.postMessage({ type: 'fatal', shard: this.#deps.data.shard, code, message });
  }

  /**
   * Closes every connection and resource so that the worker thread can end on its own (idempotent).
   * Each step runs even if an earlier one failed, and `closed` is always reported: a thread left with
   * an open channel or inbox would keep the whole node alive.
   */
  #close(): Promise<void> {
    this.#stopping = true;
    this.#closing ??= this.#closeOnce();
    return this.#closing;
  }

  async #closeOnce(): Promise<void> {
    await this.#booting;
    this.closeSockets();
    this.#eventLoop?.stop();
    this.#idleHeap?.stop();
    const steps: [string, () => Promise<void> | void][] = [
      ['the shard links', () => this.#deps.transport.close()],
      [
        'waiting requests',
        () => {
          this.#router?.close();
          this.#sweep?.stop();
          this.#router?.failPending(ErrorCodes.SHUTTING_DOWN, 'the node is shutting down');
        },
      ],
      ['the AOF', () => this.#log?.close()],
      ['the hooks', () => this.#hooks?.close()],
    ];
    let failure: unknown;
    for (const [what, step] of steps) {
      try {
        await step();
      } catch (error) {
        this.#logger.error({ err: error }, `closing ${what} failed`);
        failure ??= error;
      }
    }
    // A failed last flush of the AOF is a failure of the stop (the node exits 1), not a clean one.
    if (failure !== undefined) this.#fatal(failure);
    this.#deps.control.postMessage({ type: 'closed', shard: this.#deps.data.shard });
    this.#deps.control.close?.();
  }

  #fatal(error: unknown): void {
    const code = error instanceof LallyError ? error.code : ErrorCodes.INTERNAL;
    const message = error instanceof Error ? error.message : String(error);
    // Before it listens, the node's start fails with this error and the CLI prints it once, on one
    // line: the details (the stack) stay at debug level.
    if (this.#listening) this.#logger.fatal({ err: error }, 'shard failed');
    else this.#logger.debug({ err: error }, 'shard failed to start');
    this.#deps.control.postMessage({ type: 'fatal', shard: this.#deps.data.shard, code, message });
  }
}
