/**
 * The server side of the Membership service: each call is checked (codec.ts parsers, isMemberUpdate
 * on every update) and handed to the node's SwimNode. A node that does not answer a probe (stopped,
 * or not the member probed) answers UNAVAILABLE, which the prober takes as no ack.
 */
import type { ServerUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { SwimNode } from '../cluster/swim.js';
import { ErrorCodes, LallyError } from '../errors.js';
import { formatAddress } from './channel-options.js';
import {
  checkNodeId,
  encodeAck,
  encodeSync,
  parseGossip,
  parsePing,
  parsePingReq,
  parseSync,
  wire,
} from './codec.js';
import type { lally } from './generated/lally.js';
import { unaryHandler } from './grpc-server.js';
import { isPeerAddress } from './peer-pool.js';
import { toSafeNumber } from './protobuf-numbers.js';

export interface MembershipServiceStats {
  /** Malformed member updates dropped from incoming messages. */
  invalidUpdates: number;
  joins: number;
  joinsRefused: number;
}

function noAnswer(what: string): LallyError {
  return new LallyError(
    ErrorCodes.PEER_UNAVAILABLE,
    `no ${what}: this node is not that member or is stopping`,
  );
}

/** The host part of a grpc-js peer string (`1.2.3.4:5`, `[::1]:5`, `[::ffff:1.2.3.4]:5`). */
export function peerHost(peer: string): string | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):\d+$/.exec(peer);
  const host = match?.[1] ?? match?.[2];
  if (host === undefined) return undefined;
  return host.startsWith('::ffff:') && host.includes('.') ? host.slice(7) : host;
}

/** The Membership implementation over `node` (grpc-server.ts addService with MembershipService). */
export function membershipImplementation(
  node: SwimNode,
  stats: MembershipServiceStats = { invalidUpdates: 0, joins: 0, joinsRefused: 0 },
): UntypedServiceImplementation {
  const take = <T>(parsed: { message: T; invalid: number }): T => {
    stats.invalidUpdates += parsed.invalid;
    return parsed.message;
  };
  return {
    ping: unaryHandler((request: lally.v1.Ping) => {
      const ack = node.handlePing(take(parsePing(request)));
      if (ack === undefined) throw noAnswer('ack');
      return encodeAck(ack);
    }),
    pingReq: unaryHandler(async (request: lally.v1.PingReq) => {
      const ack = await node.handlePingReq(take(parsePingReq(request)));
      if (ack === undefined) throw noAnswer('ack from the target');
      return encodeAck(ack);
    }),
    gossip: unaryHandler((request: lally.v1.Gossip) => {
      node.handleGossip(take(parseGossip(request)));
      return {};
    }),
    sync: unaryHandler((request: lally.v1.StateSync) => {
      const reply = node.handleSync(take(parseSync(request)));
      if (reply === undefined) throw noAnswer('state');
      return encodeSync(reply);
    }),
    join: unaryHandler(
      (request: lally.v1.JoinRequest, call: ServerUnaryCall<lally.v1.JoinRequest, unknown>) => {
        const id = checkNodeId(request.id, 'id');
        const address = joinerAddress(request, call.getPeer());
        const incarnation = toSafeNumber(request.incarnation);
        const conflict = node.joinConflict(id, address);
        if (conflict !== undefined) {
          stats.joinsRefused++;
          throw new LallyError(
            ErrorCodes.CONFIG,
            `node id ${conflict.hex} is already member ${conflict.address} (${conflict.state}): a copied data dir? ` +
              'delete its node-id file to join as a new member',
          );
        }
        const reply = node.handleSync({ from: id, members: [{ id, address, state: 'alive', incarnation }] });
        if (reply === undefined) throw noAnswer('join');
        stats.joins++;
        return { seedId: reply.from, address, members: encodeSync(reply).members };
      },
    ),
    leave: unaryHandler((request: lally.v1.LeaveRequest) => {
      const id = checkNodeId(request.id, 'id');
      const left = { ...request, state: wire.MemberState.MEMBER_STATE_LEFT };
      node.handleGossip(take(parseGossip({ from: id, updates: [left] })));
      return {};
    }),
  };
}

/** The address a joiner is known by: the one it sent, or the host its call came from with its port. */
function joinerAddress(request: lally.v1.JoinRequest, peer: string): string {
  let address = request.address;
  if (address === '') {
    const host = peerHost(peer);
    if (host === undefined || request.port < 1 || request.port > 65535) {
      throw new LallyError(ErrorCodes.INVALID_FIELD, `a join without an address needs a port (peer ${peer})`);
    }
    address = formatAddress(host, request.port);
  }
  if (!isPeerAddress(address)) {
    throw new LallyError(ErrorCodes.INVALID_FIELD, `'${address}' is not a peer address (host:port)`);
  }
  return address;
}
