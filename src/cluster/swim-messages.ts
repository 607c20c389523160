/**
 * What the failure detector sends, and the transport it sends it through. The transport is injected:
 * the daemon plugs in gRPC (src/rpc/), tests an in-memory network with faults. Every call carries a
 * timeout, and the detector also bounds each call itself, so a transport that never answers cannot
 * stall it. Handlers on the receiving side are the SwimNode's handle* methods.
 */
import type { MemberUpdate } from './member.js';

/** A direct probe. `target` lets a node that took over the address say it is not the member probed. */
export interface Ping {
  readonly seq: number;
  readonly from: number;
  readonly target: number;
  readonly updates: readonly MemberUpdate[];
}

export interface Ack {
  readonly seq: number;
  readonly from: number;
  readonly updates: readonly MemberUpdate[];
}

/** A request to probe `target` on the sender's behalf; the answer is the target's ack, relayed. */
export interface PingReq {
  readonly seq: number;
  readonly from: number;
  readonly target: number;
  readonly targetAddress: string;
  readonly updates: readonly MemberUpdate[];
}

export interface Gossip {
  readonly from: number;
  readonly updates: readonly MemberUpdate[];
}

/** A full state exchange (push-pull): a join, a periodic repair, a reconnect after a partition. */
export interface StateSync {
  readonly from: number;
  readonly members: readonly MemberUpdate[];
}

export interface SwimTransport {
  /** Resolves with the target's ack; rejects on any failure (including "not that member"). */
  ping(address: string, message: Ping, timeoutMs: number): Promise<Ack>;
  /** Resolves with the target's ack relayed by the member at `address`; rejects when none came. */
  pingReq(address: string, message: PingReq, timeoutMs: number): Promise<Ack>;
  /** Resolves once the member at `address` took the message. */
  gossip(address: string, message: Gossip, timeoutMs: number): Promise<void>;
  /** Sends this node's state; resolves with the other's (after it merged ours). */
  sync(address: string, message: StateSync, timeoutMs: number): Promise<StateSync>;
}
