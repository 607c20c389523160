/**
 * A SWIM failure detector and membership protocol, after the SWIM paper and HashiCorp memberlist.
 *
 * Each probe interval the node probes one member (round-robin over a shuffled list): a direct ping,
 * and when no ack comes within the probe timeout, ping-reqs through `indirectChecks` other members,
 * all bounded by the end of the interval. A member that nobody could reach is suspected; unless it
 * refutes (by raising its incarnation) within the suspicion timeout, it is declared dead. Every change
 * is piggybacked on probes and acks and gossiped to a few members each gossip interval, a bounded
 * number of times (gossip-queue.ts). A full state exchange with a random live member repairs what gossip
 * missed, and one with a random dead member heals partitions. A graceful leave tells every member at
 * once. Precedence rules live in membership-list.ts.
 *
 * Pure logic on one thread: time, randomness and the network are injected, so the daemon runs it on
 * its main thread over gRPC and tests run whole clusters in memory on a fake clock.
 */

import { GossipQueue } from './gossip-queue.js';
import { isMemberUpdate, type Member, type MemberUpdate, toUpdate } from './member.js';
import { type ApplyOutcome, type MembershipEventKind, MembershipList } from './membership-list.js';
import { ProbeOrder } from './probe-order.js';
import { type Scheduler, settleWithin, systemScheduler } from './scheduler.js';
import { SuspicionTimers } from './suspicion-timers.js';
import { resolveSwimConfig, type SwimConfig, suspicionTimeoutMs } from './swim-config.js';
import type { Ack, Gossip, Ping, PingReq, StateSync, SwimTransport } from './swim-messages.js';

export type MembershipEvent =
  | { readonly kind: MembershipEventKind; readonly member: Member; readonly previous: Member | undefined }
  | { readonly kind: 'conflict'; readonly member: Member; readonly claim: MemberUpdate };

export interface SwimNodeOptions {
  readonly id: number;
  /** The address peers dial to reach this node (its advertised gRPC `host:port`). */
  readonly address: string;
  /** A restarted node may start above its last incarnation; refutation copes without it. */
  readonly incarnation?: number;
  readonly transport: SwimTransport;
  readonly scheduler?: Scheduler;
  /** Uniform in [0, 1). */
  readonly random?: () => number;
  readonly config?: Partial<SwimConfig>;
}

export interface SwimStats {
  probes: number;
  probesFailed: number;
  indirectProbes: number;
  suspicionsRaised: number;
  refutations: number;
  invalidUpdates: number;
}

type Listener = (event: MembershipEvent) => void;

export class SwimNode {
  readonly config: SwimConfig;
  readonly stats: SwimStats = {
    probes: 0,
    probesFailed: 0,
    indirectProbes: 0,
    suspicionsRaised: 0,
    refutations: 0,
    invalidUpdates: 0,
  };
  readonly #list: MembershipList;
  readonly #queue: GossipQueue;
  readonly #order = new ProbeOrder();
  readonly #transport: SwimTransport;
  readonly #scheduler: Scheduler;
  readonly #random: () => number;
  readonly #listeners = new Set<Listener>();
  readonly #suspicions: SuspicionTimers;
  readonly #loops = new Map<string, () => void>();
  #seq = 0;
  #running = false;

  constructor(opts: SwimNodeOptions) {
    this.config = resolveSwimConfig(opts.config);
    this.#transport = opts.transport;
    this.#scheduler = opts.scheduler ?? systemScheduler;
    this.#random = opts.random ?? Math.random;
    this.#queue = new GossipQueue(this.config.retransmitMult);
    this.#suspicions = new SuspicionTimers(this.#scheduler);
    const incarnation = opts.incarnation;
    this.#list = new MembershipList(
      incarnation === undefined
        ? { id: opts.id, address: opts.address }
        : { id: opts.id, address: opts.address, incarnation },
      () => this.#scheduler.now(),
    );
  }

  get self(): Member {
    return this.#list.self;
  }

  get running(): boolean {
    return this.#running;
  }

  /** Every member this node knows, itself included, ascending by id. */
  members(): Member[] {
    return this.#list.all();
  }

  get(id: number): Member | undefined {
    return this.#list.get(id);
  }

  /** The full membership, as a join answer or the data dir's list of last members carries it. */
  snapshot(): MemberUpdate[] {
    return this.#list.snapshot();
  }

  /** The member an incoming join would clash with (same id, another address, or this node), if any. */
  joinConflict(id: number, address: string): Member | undefined {
    return this.#list.joinConflict(id, address);
  }

  /**
   * Drops a dead or left member from the table, once the wiring has moved its data (placement.ts);
   * a live member is never forgotten. News of it from peers that still know it adds it back.
   */
  forget(id: number): boolean {
    const member = this.#list.get(id);
    if (member === undefined || member === this.#list.self) return false;
    if (member.state !== 'dead' && member.state !== 'left') return false;
    return this.#list.forget(id);
  }

  /** Subscribes to membership events; returns the unsubscribe function. */
  onEvent(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Starts probing and gossip, knowing `members` (from a join answer or the last members on disk). */
  start(members: readonly MemberUpdate[] = []): void {
    if (this.#running) return;
    this.#running = true;
    for (const update of members) this.#receive(update);
    const c = this.config;
    this.#every('probe', c.probeIntervalMs, () => this.#probeRound());
    this.#every('gossip', c.gossipIntervalMs, () => this.#gossipRound());
    this.#every('push-pull', c.pushPullIntervalMs, () => this.#syncWithOneOf(this.#list.othersIn('alive')));
    this.#every('reconnect', c.reconnectIntervalMs, () => this.#syncWithOneOf(this.#list.othersIn('dead')));
  }

  /** A full state exchange with the member at `address` (a seed node): true when it answered. */
  async join(address: string, timeoutMs = 5000): Promise<boolean> {
    if (!this.#running) return false;
    return this.#sync(address, timeoutMs);
  }

  /** Stops every timer. Handlers answer nothing from now on: to peers, the node is gone. */
  stop(): void {
    this.#running = false;
    for (const cancel of this.#loops.values()) cancel();
    this.#loops.clear();
    this.#suspicions.clear();
  }

  /** Graceful leave: every member is told at once (bounded by leaveTimeoutMs), then the node stops. */
  async leave(): Promise<void> {
    if (!this.#running) return;
    const left = this.#list.leave();
    this.#emit({ kind: 'left', member: this.#list.self, previous: undefined });
    const message: Gossip = { from: left.id, updates: [left] };
    const timeout = this.config.leaveTimeoutMs;
    const peers = this.#list.othersIn('alive', 'suspect');
    await Promise.all(
      peers.map((m) =>
        settleWithin(this.#scheduler, this.#transport.gossip(m.address, message, timeout), timeout),
      ),
    );
    this.stop();
  }

  // --- handlers: the transport calls these for incoming messages ---

  /** Answers a probe, or undefined when the probe is for another member (or this node stopped). */
  handlePing(message: Ping): Ack | undefined {
    if (!this.#running || message.target !== this.#list.self.id) return undefined;
    this.#receiveAll(message.updates, message.from);
    return { seq: message.seq, from: this.#list.self.id, updates: this.#piggyback() };
  }

  /** Probes `target` for another member; resolves with the relayed ack, or undefined if none came. */
  async handlePingReq(message: PingReq): Promise<Ack | undefined> {
    if (!this.#running) return undefined;
    this.#receiveAll(message.updates, message.from);
    const seq = ++this.#seq;
    const ping: Ping = { seq, from: this.#list.self.id, target: message.target, updates: this.#piggyback() };
    const timeout = this.config.probeTimeoutMs;
    const ok = await settleWithin(
      this.#scheduler,
      this.#checkAck(this.#transport.ping(message.targetAddress, ping, timeout), message.target, seq),
      timeout,
    );
    if (ok !== true || !this.#running) return undefined;
    return { seq: message.seq, from: message.target, updates: this.#piggyback() };
  }

  handleGossip(message: Gossip): void {
    if (!this.#running) return;
    this.#receiveAll(message.updates, message.from);
  }

  /** Merges another node's full state and answers with ours (after the merge, refutations included). */
  handleSync(message: StateSync): StateSync | undefined {
    if (!this.#running) return undefined;
    if (message.from === this.#list.self.id) {
      this.#emit({ kind: 'conflict', member: this.#list.self, claim: this.#list.self });
      return undefined;
    }
    this.#receiveAll(message.members, message.from);
    return { from: this.#list.self.id, members: this.#list.snapshot() };
  }

  // --- the protocol ---

  #every(name: string, intervalMs: number, fn: () => Promise<void> | void): void {
    if (intervalMs <= 0) return;
    const tick = (): void => {
      if (!this.#running) return;
      this.#loops.set(name, this.#scheduler.setTimeout(tick, intervalMs));
      Promise.resolve()
        .then(fn)
        .catch(() => {});
    };
    // Staggered start, so that members started together do not probe in lockstep.
    this.#loops.set(name, this.#scheduler.setTimeout(tick, Math.floor(this.#random() * intervalMs)));
  }

  async #probeRound(): Promise<void> {
    const candidates = this.#list.othersIn('alive', 'suspect').map((m) => m.id);
    const id = this.#order.next(candidates, this.#random);
    const target = id === undefined ? undefined : this.#list.get(id);
    if (target !== undefined) await this.#probe(target);
  }

  async #probe(target: Member): Promise<void> {
    const c = this.config;
    const start = this.#scheduler.now();
    const seq = ++this.#seq;
    this.stats.probes++;
    const ping: Ping = { seq, from: this.#list.self.id, target: target.id, updates: this.#piggyback(target) };
    // The direct ack may come late: it counts until the end of the interval, like an indirect one.
    const direct = this.#checkAck(
      this.#transport.ping(target.address, ping, c.probeIntervalMs),
      target.id,
      seq,
    );
    let ok = (await settleWithin(this.#scheduler, direct, c.probeTimeoutMs)) === true;
    if (!ok && this.#running) {
      const remaining = start + c.probeIntervalMs - this.#scheduler.now();
      const helpers = this.#pick(
        this.#list.othersIn('alive').filter((m) => m.id !== target.id),
        c.indirectChecks,
      );
      this.stats.indirectProbes += helpers.length;
      const attempts = helpers.map((helper) => {
        const req: PingReq = {
          seq,
          from: this.#list.self.id,
          target: target.id,
          targetAddress: target.address,
          updates: this.#piggyback(),
        };
        return this.#checkAck(this.#transport.pingReq(helper.address, req, remaining), target.id, seq);
      });
      ok = (await settleWithin(this.#scheduler, anyTrue([direct, ...attempts]), remaining)) === true;
    }
    if (ok || !this.#running) return;
    this.stats.probesFailed++;
    const now = this.#list.get(target.id);
    if (now === undefined || now.state !== 'alive') return;
    this.stats.suspicionsRaised++;
    this.#receive({ ...toUpdate(now), state: 'suspect', incarnation: target.incarnation });
  }

  /** True when the ack is the target's answer to this probe; its updates are taken in either way. */
  #checkAck(reply: Promise<Ack>, target: number, seq: number): Promise<boolean> {
    return reply.then(
      (ack) => {
        if (!this.#running) return false;
        this.#receiveAll(ack.updates, undefined);
        if (ack.from !== target || ack.seq !== seq) return false;
        this.#list.heard(target);
        return true;
      },
      () => false,
    );
  }

  #gossipRound(): void {
    if (this.#queue.size === 0) return;
    const targets = this.#pick(this.#list.othersIn('alive', 'suspect'), this.config.gossipNodes);
    if (targets.length === 0) return;
    // One round is one transmission of its updates, whatever its fan-out: counted per message, an
    // update retires after about one round at the first few members and misses some in small clusters.
    const message: Gossip = { from: this.#list.self.id, updates: this.#piggyback() };
    for (const target of targets) {
      this.#transport.gossip(target.address, message, this.config.probeTimeoutMs).catch(() => {});
    }
  }

  async #syncWithOneOf(candidates: readonly Member[]): Promise<void> {
    const [target] = this.#pick(candidates, 1);
    if (target !== undefined) await this.#sync(target.address, this.config.probeIntervalMs);
  }

  async #sync(address: string, timeoutMs: number): Promise<boolean> {
    const message: StateSync = { from: this.#list.self.id, members: this.#list.snapshot() };
    const reply = await settleWithin(
      this.#scheduler,
      this.#transport.sync(address, message, timeoutMs),
      timeoutMs,
    );
    if (reply === undefined || !this.#running) return false;
    if (reply.from === this.#list.self.id) {
      this.#emit({ kind: 'conflict', member: this.#list.self, claim: this.#list.self });
      return false;
    }
    this.#receiveAll(reply.members, reply.from);
    return true;
  }

  /** Updates for one message. A probe of a suspect carries the suspicion, so the target can refute it. */
  #piggyback(target?: Member): MemberUpdate[] {
    const updates = this.#queue.take(this.config.maxPiggyback, this.#list.liveCount());
    if (target?.state === 'suspect' && !updates.some((u) => u.id === target.id)) {
      updates.unshift(toUpdate(target));
    }
    return updates;
  }

  /** `count` distinct members at random (a partial Fisher-Yates shuffle). */
  #pick(members: readonly Member[], count: number): Member[] {
    const pool = [...members];
    const n = Math.min(count, pool.length);
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(this.#random() * (pool.length - i));
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    return pool.slice(0, n);
  }

  #receiveAll(updates: readonly unknown[], from: number | undefined): void {
    if (from !== undefined) this.#list.heard(from);
    if (!Array.isArray(updates)) {
      this.stats.invalidUpdates++;
      return;
    }
    for (const update of updates) this.#receive(update);
  }

  #receive(update: unknown): void {
    if (!isMemberUpdate(update)) {
      this.stats.invalidUpdates++;
      return;
    }
    const outcome: ApplyOutcome = this.#list.apply(update);
    switch (outcome.kind) {
      case 'ignored':
        return;
      case 'reannounce':
        this.#queue.enqueue(toUpdate(outcome.self));
        return;
      case 'refuted':
        this.stats.refutations++;
        this.#queue.enqueue(toUpdate(outcome.self));
        this.#emit({ kind: 'update', member: outcome.self, previous: undefined });
        return;
      case 'conflict':
        this.#emit(outcome);
        return;
      case 'changed':
        // Infection-style: what a node newly learns, it passes on.
        this.#queue.enqueue(toUpdate(outcome.member));
        if (outcome.member.state === 'suspect') this.#startSuspicion(outcome.member);
        else this.#suspicions.cancel(outcome.member.id);
        this.#emit({ kind: outcome.event, member: outcome.member, previous: outcome.previous });
        return;
    }
  }

  #startSuspicion(member: Member): void {
    const { id, incarnation } = member;
    this.#suspicions.start(id, suspicionTimeoutMs(this.config, this.#list.liveCount()), () => {
      const now = this.#list.get(id);
      if (!this.#running || now === undefined || now.state !== 'suspect' || now.incarnation !== incarnation)
        return;
      this.#receive({ ...toUpdate(now), state: 'dead' });
    });
  }

  #emit(event: MembershipEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A listener's bug must not stop failure detection.
      }
    }
  }
}

/** Resolves true as soon as one promise does, false when all resolved false. */
function anyTrue(promises: readonly Promise<boolean>[]): Promise<boolean> {
  if (promises.length === 0) return Promise.resolve(false);
  return new Promise((resolve) => {
    let pending = promises.length;
    for (const p of promises) {
      p.then((ok) => {
        if (ok) resolve(true);
        else if (--pending === 0) resolve(false);
      });
    }
  });
}
