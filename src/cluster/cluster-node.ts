/**
 * The membership of one node, on the daemon's main thread: the gRPC server (Membership service), the
 * peer pool, the SWIM transport and detector, the join (through --seed-node, or through the members
 * remembered in <dataDir>/members.json), the debounced member file, and the graceful leave. Every
 * change of the member table is handed to `onChange` (the daemon sends it to the shards).
 */
import type { handleUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { advertisedAddress, isWildcardHost, joinHostPort } from '../config/advertise.js';
import type { LallyConfig } from '../config/types.js';
import { ErrorCodes, LallyError } from '../errors.js';
import type { MemberView } from '../kv/member-view.js';
import type { HashRing } from '../placement/placement.js';
import { Topology } from '../placement/topology.js';
import { Backoff } from '../rpc/backoff.js';
import { peerSettingsFor } from '../rpc/channel-options.js';
import { routeGrpcLogs } from '../rpc/grpc-logging.js';
import { RpcServer } from '../rpc/grpc-server.js';
import { membershipImplementation } from '../rpc/membership-service.js';
import { PeerPool } from '../rpc/peer-pool.js';
import { toStatusError } from '../rpc/rpc-errors.js';
import type { RpcSecurity } from '../rpc/rpc-security.js';
import { MembershipService, ReplicationService } from '../rpc/services.js';
import { GrpcSwimTransport, type JoinAnswer } from '../rpc/swim-transport.js';
import type { Member, MemberUpdate } from './member.js';
import { readMemberFile, writeMemberFile } from './member-file.js';
import type { NodeIdentity } from './node-identity.js';
import { SwimNode } from './swim.js';

export type { MemberView };

export interface ClusterNodeOptions {
  readonly config: Pick<
    LallyConfig,
    | 'host'
    | 'grpcPort'
    | 'advertise'
    | 'seedNode'
    | 'joinTimeoutMs'
    | 'shutdownTimeoutMs'
    | 'replicationFactor'
    | 'maxKeyBytes'
    | 'maxValueBytes'
  >;
  readonly identity: NodeIdentity;
  /** Where members.json lives; undefined (no AOF): nothing is remembered. */
  readonly dataDir: string | undefined;
  readonly logger: Logger;
  readonly onChange: (members: readonly MemberView[]) => void;
  /** TLS and the cluster secret of the gRPC port and of calls to peers (docs/security.md). */
  readonly security?: RpcSecurity;
}

const JOIN_CALL_TIMEOUT_MS = 2000;
const MEMBER_FILE_DEBOUNCE_MS = 200;
/** last heard changes with every probe: the shards get a fresh view this often even without changes. */
const REFRESH_MS = 1000;

export class ClusterNode {
  readonly #opts: ClusterNodeOptions;
  readonly #logger: Logger;
  readonly #pool: PeerPool;
  readonly #transport: GrpcSwimTransport;
  readonly #server: RpcServer;
  /** Where keys live as this node sees the members now (the coordinator routes by it). */
  readonly topology: Topology;
  #swim: SwimNode | undefined;
  #implementation: UntypedServiceImplementation | undefined;
  /** The Replication service's handlers, set by the data side of the cluster once the shards run. */
  #replication: UntypedServiceImplementation = {};
  #port = 0;
  #fileTimer: NodeJS.Timeout | undefined;
  #fileWrite: Promise<void> = Promise.resolve();
  #refresh: NodeJS.Timeout | undefined;
  #stopped = false;
  #sharesRing: HashRing | undefined;
  #shares = new Map<number, number>();

  constructor(opts: ClusterNodeOptions) {
    this.#opts = opts;
    this.#logger = opts.logger.child({ component: 'membership' });
    // grpc-js's own diagnostics join the daemon's log lines instead of going to stderr.
    routeGrpcLogs(opts.logger);
    const settings = peerSettingsFor(opts.config.maxKeyBytes, opts.config.maxValueBytes);
    this.#pool = new PeerPool(settings, opts.security);
    this.#transport = new GrpcSwimTransport(this.#pool);
    this.#server = new RpcServer({
      host: opts.config.host,
      port: opts.config.grpcPort,
      settings,
      security: opts.security,
      logger: opts.logger.child({ component: 'rpc' }),
    });
    this.topology = new Topology(opts.identity.id, opts.config.replicationFactor);
    // Calls that come before the detector exists (between the bind and the join) answer UNAVAILABLE,
    // which a prober takes as no ack.
    this.#server.addService(MembershipService, this.#delegate());
    this.#server.addService(ReplicationService, this.#replicationDelegate());
  }

  /**
   * Serves the Replication service's methods with these handlers (keyed as in ReplicationService);
   * a method without one answers UNAVAILABLE (a replica still starting) or UNIMPLEMENTED.
   */
  serveReplication(handlers: UntypedServiceImplementation): void {
    this.#replication = { ...this.#replication, ...handlers };
  }

  get swim(): SwimNode | undefined {
    return this.#swim;
  }

  get pool(): PeerPool {
    return this.#pool;
  }

  /** The bound gRPC port, once bound. */
  get port(): number {
    return this.#port;
  }

  /** Binds the gRPC port (a port in use is a config error: exit 2). */
  async bind(): Promise<number> {
    this.#port = await this.#server.listen();
    this.#logger.info({ grpc: joinHostPort(this.#opts.config.host, this.#port) }, 'gRPC server bound');
    return this.#port;
  }

  /**
   * Joins through the seed (retried with back-off up to the join timeout; failure is LALLY_ERR_PEER_
   * UNAVAILABLE, an id collision LALLY_ERR_CONFIG), else through the remembered members, else starts
   * a cluster of one. Resolves once the detector runs.
   */
  async join(): Promise<void> {
    const { config, identity, dataDir } = this.#opts;
    const remembered = dataDir === undefined ? undefined : await readMemberFile(dataDir, identity.id);
    const lastSelf = remembered?.members.find((m) => m.id === identity.id);
    // Above the last incarnation: whatever the others last said of this node (dead, left) is superseded.
    const incarnation = lastSelf === undefined ? 0 : lastSelf.incarnation + 1;
    let address = this.#ownAddress();
    let members: MemberUpdate[] = [];
    if (config.seedNode !== undefined) {
      const answer = await this.#joinSeed(config.seedNode, address, incarnation);
      address ??= answer.address;
      members = answer.members;
      this.#logger.info(
        { seed: config.seedNode, members: members.length, address },
        `joined the cluster through ${config.seedNode}`,
      );
    } else if (remembered !== undefined) {
      const others = remembered.members.filter((m) => m.id !== identity.id);
      for (const peer of others) {
        const answer = await this.#joinOnce(peer.address, address, incarnation).catch((error: unknown) => {
          if (error instanceof LallyError && error.code === ErrorCodes.CONFIG) throw error;
          if (error instanceof LallyError && error.code === ErrorCodes.UNAUTHENTICATED) {
            throw refusedJoin(`the remembered member ${peer.address}`, error);
          }
          return undefined;
        });
        if (answer !== undefined) {
          address ??= answer.address;
          members = answer.members;
          this.#logger.info({ through: peer.address }, 'rejoined the remembered cluster');
          break;
        }
      }
      if (members.length === 0 && others.length > 0) {
        // Nobody answered: start with the remembered members; the detector's reconnects find them.
        members = others;
        this.#logger.warn(
          { remembered: others.map((m) => m.address) },
          'no remembered member answered: starting with the last known members, reconnecting in the background',
        );
      }
    }
    // A wildcard host with nobody to ask: loopback is the one address sure to reach this node.
    address ??= joinHostPort('127.0.0.1', this.#port);
    if (this.#stopped) throw new LallyError(ErrorCodes.SHUTTING_DOWN, 'the node stopped while joining');
    // The leave comes out of the shutdown's budget: at most 1 s (memberlist's), less for a short one.
    const leaveTimeoutMs = Math.min(1000, Math.max(100, Math.floor(config.shutdownTimeoutMs * 0.1)));
    const swim = new SwimNode({
      id: identity.id,
      address,
      incarnation,
      transport: this.#transport,
      config: { leaveTimeoutMs },
    });
    this.#swim = swim;
    this.#implementation = membershipImplementation(swim);
    swim.onEvent((event) => {
      if (event.kind === 'conflict') {
        this.#logger.error(
          { member: event.member.hex, claim: event.claim },
          'another node claims this node id: was the data directory copied?',
        );
      } else if (event.member.id !== identity.id) {
        this.#logger.info(
          { member: event.member.hex, address: event.member.address, state: event.member.state },
          `member ${event.member.hex} is ${event.member.state}`,
        );
      }
      this.#changed();
    });
    swim.start(members.filter((m) => m.id !== identity.id));
    this.#refresh = setInterval(() => this.#publish(), REFRESH_MS);
    this.#refresh.unref();
    this.#changed();
  }

  /** Every member as the shards serve it. */
  view(): MemberView[] {
    const swim = this.#swim;
    if (swim === undefined) return [];
    const self = swim.self.id;
    const members = swim.members();
    const shares = this.#ringShares(members);
    return members.map((m) => ({
      id: m.hex,
      address: m.address,
      state: m.state,
      incarnation: m.incarnation,
      lastHeard: m.id === self ? undefined : m.lastHeard,
      self: m.id === self,
      ringShare: shares.get(m.id),
    }));
  }

  /**
   * The ring's shares, computed again only when the topology rebuilt its ring (its members changed). A
   * dead member stays on the ring (its keys go to the next live members); one that left is off it.
   */
  #ringShares(members: readonly Member[]): Map<number, number> {
    this.topology.update(members);
    const ring = this.topology.ring;
    if (ring !== this.#sharesRing) {
      this.#sharesRing = ring;
      this.#shares = ring.ownership(this.topology.factor);
    }
    return this.#shares;
  }

  /** Graceful leave: every member is told at once (bounded by the detector's leave timeout). */
  async leave(): Promise<void> {
    const swim = this.#swim;
    if (swim === undefined || !swim.running) return;
    const started = Date.now();
    await swim.leave();
    this.#logger.info({ ms: Date.now() - started }, 'left the cluster');
  }

  /** Stops the detector, writes the member file, and shuts the gRPC server and the pool down. */
  async stop(graceMs: number): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#swim?.stop();
    if (this.#refresh !== undefined) clearInterval(this.#refresh);
    if (this.#fileTimer !== undefined) {
      clearTimeout(this.#fileTimer);
      this.#fileTimer = undefined;
      this.#writeFile();
    }
    await Promise.all([this.#server.shutdown(graceMs), this.#fileWrite]);
    this.#pool.closeAll();
  }

  /** The advertised address, or undefined when the join decides it (a wildcard host). */
  #ownAddress(): string | undefined {
    const { config } = this.#opts;
    if (config.advertise !== undefined) return config.advertise;
    if (isWildcardHost(config.host)) return undefined;
    return advertisedAddress({ ...config, grpcPort: this.#port });
  }

  async #joinSeed(seed: string, address: string | undefined, incarnation: number): Promise<JoinAnswer> {
    const deadline = Date.now() + this.#opts.config.joinTimeoutMs;
    const backoff = new Backoff({ maxMs: 2000 });
    let last: unknown;
    for (;;) {
      try {
        return await this.#joinOnce(seed, address, incarnation);
      } catch (error) {
        // A refusal (an id collision) does not get better by retrying.
        if (error instanceof LallyError && error.code === ErrorCodes.CONFIG) throw error;
        // Nor does a secret the seed does not share: say so at once (exit 2), not after the timeout.
        if (error instanceof LallyError && error.code === ErrorCodes.UNAUTHENTICATED)
          throw refusedJoin(`the seed ${seed}`, error);
        last = error;
      }
      const delay = backoff.next();
      if (this.#stopped || Date.now() + delay > deadline) break;
      this.#logger.warn(
        { seed, attempt: backoff.failures, err: last },
        `the seed ${seed} did not answer the join: retrying in ${delay} ms`,
      );
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
    throw new LallyError(
      ErrorCodes.PEER_UNAVAILABLE,
      `cannot join the cluster through ${seed}: ${last instanceof Error ? last.message : String(last)}`,
      { cause: last },
    );
  }

  #joinOnce(peer: string, address: string | undefined, incarnation: number): Promise<JoinAnswer> {
    return this.#transport.join(
      peer,
      { id: this.#opts.identity.id, address: address ?? '', port: this.#port, incarnation },
      JOIN_CALL_TIMEOUT_MS,
    );
  }

  #delegate(): UntypedServiceImplementation {
    const unavailable = new LallyError(ErrorCodes.PEER_UNAVAILABLE, 'this node is still starting');
    // Every Membership method is unary (services.ts).
    const forward =
      (name: string): handleUnaryCall<unknown, unknown> =>
      (call, callback) => {
        const impl = this.#implementation?.[name] as handleUnaryCall<unknown, unknown> | undefined;
        if (impl === undefined) callback(toStatusError(unavailable), null);
        else impl(call, callback);
      };
    return Object.fromEntries(Object.keys(MembershipService).map((name) => [name, forward(name)]));
  }

  #replicationDelegate(): UntypedServiceImplementation {
    const unavailable = new LallyError(ErrorCodes.PEER_UNAVAILABLE, 'this node does not serve its data yet');
    const forward = (name: string) => {
      const method = ReplicationService[name as keyof typeof ReplicationService];
      if (!method.responseStream && !method.requestStream) {
        return ((call, callback) => {
          const impl = this.#replication[name] as handleUnaryCall<unknown, unknown> | undefined;
          if (impl === undefined) callback(toStatusError(unavailable), null);
          else impl(call, callback);
        }) satisfies handleUnaryCall<unknown, unknown>;
      }
      // A streaming call: fail it with the status, as its handler would.
      return (call: { emit(event: 'error', error: unknown): unknown }) => {
        const impl = this.#replication[name] as ((c: unknown) => void) | undefined;
        if (impl === undefined) call.emit('error', toStatusError(unavailable));
        else impl(call);
      };
    };
    return Object.fromEntries(Object.keys(ReplicationService).map((name) => [name, forward(name)]));
  }

  #changed(): void {
    this.#publish();
    if (this.#opts.dataDir === undefined || this.#stopped || this.#fileTimer !== undefined) return;
    this.#fileTimer = setTimeout(() => {
      this.#fileTimer = undefined;
      this.#writeFile();
    }, MEMBER_FILE_DEBOUNCE_MS);
    this.#fileTimer.unref();
  }

  #publish(): void {
    const swim = this.#swim;
    if (swim !== undefined) this.topology.update(swim.members());
    try {
      this.#opts.onChange(this.view());
    } catch (error) {
      this.#logger.error({ err: error }, 'cannot hand the members to the shards');
    }
  }

  #writeFile(): void {
    const swim = this.#swim;
    const dataDir = this.#opts.dataDir;
    if (swim === undefined || dataDir === undefined) return;
    const file = { self: swim.self.id, members: swim.snapshot() };
    // One write at a time, in order: the last one written is the newest state.
    this.#fileWrite = this.#fileWrite
      .then(() => writeMemberFile(dataDir, file))
      .catch((error: unknown) => this.#logger.error({ err: error }, 'cannot write the member file'));
  }
}

/** A member refused this node's join for its cluster secret: a configuration error (exit 2). */
function refusedJoin(who: string, error: LallyError): LallyError {
  return new LallyError(
    ErrorCodes.CONFIG,
    `${who} refused this node (UNAUTHENTICATED): ${error.message}; every node needs the same cluster_secret`,
    { cause: error },
  );
}
