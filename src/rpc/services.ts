/**
 * The gRPC services of proto/lally.proto as grpc-js service definitions, built on the static
 * protobufjs code (no proto-loader, no reflection at run time). Request and response types here are
 * the wire's; src/rpc/codec.ts converts them to the cluster's. The replication stream's messages are
 * (de)serialized by the codec directly, the hot path.
 */
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import {
  asBuffer,
  decodeReplicateAck,
  decodeReplicateBatch,
  encodeReplicateAck,
  encodeReplicateBatch,
  type ReplicateAck,
  type ReplicateBatch,
  wire,
} from './codec.js';

/** A generated message class: its encoder takes plain objects of the message's shape. */
interface WireType<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(bytes: Uint8Array): T;
}

function unary<Req, Res>(
  path: string,
  request: WireType<Req>,
  response: WireType<Res>,
): MethodDefinition<Req, Res> {
  return {
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: (m: Req) => asBuffer(request.encode(m).finish()),
    requestDeserialize: (b: Buffer) => request.decode(b),
    responseSerialize: (m: Res) => asBuffer(response.encode(m).finish()),
    responseDeserialize: (b: Buffer) => response.decode(b),
  };
}

export const MembershipService = {
  ping: unary('/lally.v1.Membership/Ping', wire.Ping, wire.Ack),
  pingReq: unary('/lally.v1.Membership/PingReq', wire.PingReq, wire.Ack),
  gossip: unary('/lally.v1.Membership/Gossip', wire.Gossip, wire.GossipAck),
  sync: unary('/lally.v1.Membership/Sync', wire.StateSync, wire.StateSync),
  join: unary('/lally.v1.Membership/Join', wire.JoinRequest, wire.JoinResponse),
  leave: unary('/lally.v1.Membership/Leave', wire.LeaveRequest, wire.LeaveResponse),
} satisfies ServiceDefinition;

const replicate: MethodDefinition<ReplicateBatch, ReplicateAck> = {
  path: '/lally.v1.Replication/Replicate',
  requestStream: true,
  responseStream: true,
  requestSerialize: encodeReplicateBatch,
  requestDeserialize: decodeReplicateBatch,
  responseSerialize: encodeReplicateAck,
  responseDeserialize: decodeReplicateAck,
};

export const ReplicationService = {
  replicate,
  read: unary('/lally.v1.Replication/Read', wire.ReadRequest, wire.ReadResponse),
  snapshot: {
    ...unary('/lally.v1.Replication/Snapshot', wire.SnapshotRequest, wire.SnapshotPage),
    responseStream: true,
  },
  tree: unary('/lally.v1.Replication/Tree', wire.TreeRequest, wire.TreeResponse),
} satisfies ServiceDefinition;
