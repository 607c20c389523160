/**
 * The SwimTransport of src/cluster/swim-messages.ts over gRPC: each message is a unary call with the
 * detector's timeout as its deadline, on the peer's pooled channel. Also the join and leave calls the
 * wiring makes around a SwimNode (membership-service.ts serves them).
 */
import type { MemberUpdate } from '../cluster/member.js';
import type { Ack, Gossip, Ping, PingReq, StateSync, SwimTransport } from '../cluster/swim-messages.js';
import {
  checkNodeId,
  decodeUpdates,
  encodeGossip,
  encodePing,
  encodePingReq,
  encodeSync,
  parseAck,
  parseSync,
} from './codec.js';
import type { PeerPool } from './peer-pool.js';
import { MembershipService } from './services.js';

export interface JoinRequest {
  readonly id: number;
  /** The address to be known by; empty: the seed uses the host it sees the call come from, with `port`. */
  readonly address: string;
  readonly port: number;
  readonly incarnation: number;
}

export interface JoinAnswer {
  readonly seedId: number;
  /** The address the seed took the joiner in under (its advertised address). */
  readonly address: string;
  readonly members: MemberUpdate[];
}

export class GrpcSwimTransport implements SwimTransport {
  readonly #pool: PeerPool;
  /** Malformed updates dropped from answers. */
  invalidUpdates = 0;

  constructor(pool: PeerPool) {
    this.#pool = pool;
  }

  async ping(address: string, message: Ping, timeoutMs: number): Promise<Ack> {
    const ack = await this.#pool.get(address).unary(MembershipService.ping, encodePing(message), timeoutMs);
    return this.#count(parseAck(ack));
  }

  async pingReq(address: string, message: PingReq, timeoutMs: number): Promise<Ack> {
    const ack = await this.#pool
      .get(address)
      .unary(MembershipService.pingReq, encodePingReq(message), timeoutMs);
    return this.#count(parseAck(ack));
  }

  async gossip(address: string, message: Gossip, timeoutMs: number): Promise<void> {
    await this.#pool.get(address).unary(MembershipService.gossip, encodeGossip(message), timeoutMs);
  }

  async sync(address: string, message: StateSync, timeoutMs: number): Promise<StateSync> {
    const reply = await this.#pool.get(address).unary(MembershipService.sync, encodeSync(message), timeoutMs);
    return this.#count(parseSync(reply));
  }

  /** Asks the seed at `address` to take this node in; rejects with the seed's error (an id collision). */
  async join(address: string, request: JoinRequest, timeoutMs: number): Promise<JoinAnswer> {
    const reply = await this.#pool.get(address).unary(MembershipService.join, request, timeoutMs);
    const { updates, invalid } = decodeUpdates(reply.members);
    this.invalidUpdates += invalid;
    return {
      seedId: checkNodeId(reply.seedId ?? 0, 'seedId'),
      address: reply.address ?? '',
      members: updates,
    };
  }

  /** Tells the member at `address` that this node leaves. */
  async leave(address: string, self: MemberUpdate, timeoutMs: number): Promise<void> {
    await this.#pool
      .get(address)
      .unary(
        MembershipService.leave,
        { id: self.id, address: self.address, incarnation: self.incarnation },
        timeoutMs,
      );
  }

  #count<T>(parsed: { message: T; invalid: number }): T {
    this.invalidUpdates += parsed.invalid;
    return parsed.message;
  }
}
