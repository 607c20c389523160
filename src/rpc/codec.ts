/**
 * Between the wire (the static protobufjs code generated from proto/lally.proto) and the cluster's
 * types: replica records, member updates and the SWIM messages of src/cluster/swim-messages.ts.
 * Encoders take plain objects (protobufjs encodes them without building message instances); decoders
 * check what the schema cannot (ids above 0, a version on every record, known member states) and throw
 * LALLY_ERR_INVALID_FIELD, which the server answers as INVALID_ARGUMENT. Decoded bytes are views of
 * the received buffer, not copies: whoever keeps one for long (the store) copies it.
 */
import './protobuf-numbers.js';
import type { Version } from '../clock/hlc.js';
import { isMemberUpdate, MEMBER_STATES, type MemberState, type MemberUpdate } from '../cluster/member.js';
import type { Ack, Gossip, Ping, PingReq, StateSync } from '../cluster/swim-messages.js';
import { ErrorCodes, LallyError } from '../errors.js';
import { lally } from './generated/lally.js';
import { toSafeNumber } from './protobuf-numbers.js';

export const wire = lally.v1;

/** One write as replicas exchange it; a tombstone has an empty value. */
export interface ReplicaRecord {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly version: Version;
  readonly tombstone: boolean;
}

export interface ReplicateBatch {
  readonly batchId: number;
  readonly records: readonly ReplicaRecord[];
}

export interface ReplicateAck {
  readonly batchId: number;
  readonly applied: number;
  readonly superseded: number;
}

/** A protobufjs writer's output as the Buffer grpc-js wants (it already is one on Node). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function invalid(message: string): LallyError {
  return new LallyError(ErrorCodes.INVALID_FIELD, message);
}

function nodeId(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 1 || value > 0xffffffff) {
    throw invalid(`${field} must be a node id (1..4294967295), not ${value}`);
  }
  return value;
}

// --- records ---

export function encodeReplicateBatch(batch: ReplicateBatch): Buffer {
  // The records are plain objects of the wire's shape: protobufjs encodes them as they are.
  return asBuffer(wire.ReplicateBatch.encode(batch as lally.v1.ReplicateBatch.$Properties).finish());
}

/**
 * Decodes a batch without checking it (a throw here would reach the caller as a bare INTERNAL status):
 * the receiving handler checks it with `checkReplicateBatch`.
 */
export function decodeReplicateBatch(bytes: Uint8Array): ReplicateBatch {
  const message = wire.ReplicateBatch.decode(bytes);
  return { batchId: toSafeNumber(message.batchId), records: message.records as unknown as ReplicaRecord[] };
}

/** Every record must carry a version from a real node and a non-empty key, and a tombstone no value. */
export function checkReplicateBatch(batch: ReplicateBatch): void {
  const records = batch.records;
  for (let i = 0; i < records.length; i++) checkRecord(records[i]!, i);
}

/**
 * Checks a decoded record in place. The decoded message already has the ReplicaRecord shape (key and
 * value as Buffers, a version object), so nothing is copied: this matters at hundreds of thousands of
 * records a second.
 */
export function checkRecord(record: ReplicaRecord, index: number): void {
  const version = record.version as Version | null;
  if (version === null || version === undefined) throw invalid(`record ${index} has no version`);
  if (typeof version.wall !== 'number') {
    (version as { wall: number }).wall = toSafeNumber(version.wall as { toNumber(): number });
  }
  if (version.node === 0) throw invalid(`record ${index} has version node 0 (no node made it)`);
  if (record.key.length === 0) throw invalid(`record ${index} has an empty key`);
  if (record.tombstone && record.value.length !== 0)
    throw invalid(`record ${index}: a tombstone with a value`);
}

export function encodeReplicateAck(ack: ReplicateAck): Buffer {
  return asBuffer(wire.ReplicateAck.encode(ack).finish());
}

export function decodeReplicateAck(bytes: Uint8Array): ReplicateAck {
  const m = wire.ReplicateAck.decode(bytes);
  return { batchId: toSafeNumber(m.batchId), applied: m.applied, superseded: m.superseded };
}

// --- members ---

const STATE_NUMBER: Readonly<Record<MemberState, lally.v1.MemberState>> = {
  alive: wire.MemberState.MEMBER_STATE_ALIVE,
  suspect: wire.MemberState.MEMBER_STATE_SUSPECT,
  dead: wire.MemberState.MEMBER_STATE_DEAD,
  left: wire.MemberState.MEMBER_STATE_LEFT,
};

export function encodeUpdate(update: MemberUpdate): lally.v1.MemberUpdate.$Properties {
  return {
    id: update.id,
    address: update.address,
    state: STATE_NUMBER[update.state],
    incarnation: update.incarnation,
  };
}

/** The well-formed updates of a list, and how many were not (they are dropped, never applied). */
export function decodeUpdates(list: readonly lally.v1.MemberUpdate.$Properties[] | null | undefined): {
  updates: MemberUpdate[];
  invalid: number;
} {
  const updates: MemberUpdate[] = [];
  let dropped = 0;
  for (const m of list ?? []) {
    const candidate = {
      id: m.id ?? 0,
      address: m.address ?? '',
      state: MEMBER_STATES[(m.state ?? 0) - 1],
      incarnation: toSafeNumber(m.incarnation ?? 0),
    };
    if (isMemberUpdate(candidate)) updates.push(candidate);
    else dropped++;
  }
  return { updates, invalid: dropped };
}

// --- SWIM messages: encoders give wire objects, parsers check the decoded messages ---

export interface Parsed<T> {
  readonly message: T;
  /** Updates dropped as malformed. */
  readonly invalid: number;
}

export function encodePing(m: Ping): lally.v1.Ping.$Properties {
  return { seq: m.seq, from: m.from, target: m.target, updates: m.updates.map(encodeUpdate) };
}

export function parsePing(m: lally.v1.Ping.$Properties): Parsed<Ping> {
  const { updates, invalid } = decodeUpdates(m.updates);
  return {
    message: {
      seq: m.seq ?? 0,
      from: nodeId(m.from ?? 0, 'from'),
      target: nodeId(m.target ?? 0, 'target'),
      updates,
    },
    invalid,
  };
}

export function encodeAck(m: Ack): lally.v1.Ack.$Properties {
  return { seq: m.seq, from: m.from, updates: m.updates.map(encodeUpdate) };
}

export function parseAck(m: lally.v1.Ack.$Properties): Parsed<Ack> {
  const { updates, invalid } = decodeUpdates(m.updates);
  return { message: { seq: m.seq ?? 0, from: nodeId(m.from ?? 0, 'from'), updates }, invalid };
}

export function encodePingReq(m: PingReq): lally.v1.PingReq.$Properties {
  return {
    seq: m.seq,
    from: m.from,
    target: m.target,
    targetAddress: m.targetAddress,
    updates: m.updates.map(encodeUpdate),
  };
}

export function parsePingReq(m: lally.v1.PingReq.$Properties): Parsed<PingReq> {
  const { updates, invalid: dropped } = decodeUpdates(m.updates);
  const target = m.target ?? 0;
  const targetAddress = m.targetAddress ?? '';
  const probe = { id: target, address: targetAddress, state: 'alive', incarnation: 0 };
  if (!isMemberUpdate(probe)) throw invalid(`target ${target} at '${targetAddress}' is not a member`);
  return {
    message: {
      seq: m.seq ?? 0,
      from: nodeId(m.from ?? 0, 'from'),
      target,
      targetAddress,
      updates,
    },
    invalid: dropped,
  };
}

export function encodeGossip(m: Gossip): lally.v1.Gossip.$Properties {
  return { from: m.from, updates: m.updates.map(encodeUpdate) };
}

export function parseGossip(m: lally.v1.Gossip.$Properties): Parsed<Gossip> {
  const { updates, invalid } = decodeUpdates(m.updates);
  return { message: { from: nodeId(m.from ?? 0, 'from'), updates }, invalid };
}

export function encodeSync(m: StateSync): lally.v1.StateSync.$Properties {
  return { from: m.from, members: m.members.map(encodeUpdate) };
}

export function parseSync(m: lally.v1.StateSync.$Properties): Parsed<StateSync> {
  const { updates, invalid } = decodeUpdates(m.members);
  return { message: { from: nodeId(m.from ?? 0, 'from'), members: updates }, invalid };
}

export { nodeId as checkNodeId };
