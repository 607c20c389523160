/**
 * Replica reads for quorum reads and read repair: the entries of some keys on one peer, tombstones
 * included (a delete must win over an older value on another replica), as one unary call with a
 * deadline. A key the replica has no record of comes back as undefined.
 */
import type { handleUnaryCall } from '@grpc/grpc-js';
import { ErrorCodes, LallyError } from '../errors.js';
import { checkRecord, type ReplicaRecord } from './codec.js';
import type { lally } from './generated/lally.js';
import { unaryHandler } from './grpc-server.js';
import type { PeerChannel } from './peer-channel.js';
import { toSafeNumber } from './protobuf-numbers.js';
import { ReplicationService } from './services.js';

/** Keys in one read: a quorum read of a batch fits, a scan does not (that is a snapshot). */
export const MAX_READ_KEYS = 4096;

/** Looks the keys up on this node (the wiring asks the owning shards); one entry per key, in order. */
export type LookupEntries = (
  keys: readonly Uint8Array[],
) => Promise<readonly (ReplicaRecord | undefined)[]> | readonly (ReplicaRecord | undefined)[];

export function readHandler(
  lookup: LookupEntries,
): handleUnaryCall<lally.v1.ReadRequest, lally.v1.ReadResponse.$Properties> {
  return unaryHandler(async (request: lally.v1.ReadRequest) => {
    const keys = request.keys ?? [];
    if (keys.length > MAX_READ_KEYS) {
      throw new LallyError(
        ErrorCodes.BATCH_TOO_LARGE,
        `a read of ${keys.length} keys (at most ${MAX_READ_KEYS})`,
      );
    }
    if (keys.some((k) => k.length === 0))
      throw new LallyError(ErrorCodes.INVALID_FIELD, 'a read of an empty key');
    const entries = await lookup(keys);
    if (entries.length !== keys.length) {
      throw new LallyError(
        ErrorCodes.INTERNAL,
        `the lookup gave ${entries.length} entries for ${keys.length} keys`,
      );
    }
    return {
      requestId: request.requestId,
      entries: entries.map((record) =>
        record === undefined
          ? { found: false }
          : { found: true, record: record as lally.v1.Record.$Properties },
      ),
    };
  });
}

/** The peer's entries of `keys`, in order; rejects with LALLY_ERR_PEER_TIMEOUT after `timeoutMs`. */
export async function readReplica(
  channel: PeerChannel,
  keys: readonly Uint8Array[],
  timeoutMs: number,
  requestId = 0,
): Promise<(ReplicaRecord | undefined)[]> {
  const response = await channel.unary(ReplicationService.read, { requestId, keys: [...keys] }, timeoutMs);
  const entries = response.entries ?? [];
  if (entries.length !== keys.length || toSafeNumber(response.requestId ?? 0) !== requestId) {
    throw new LallyError(
      ErrorCodes.INTERNAL,
      `${channel.address} answered ${entries.length} entries to a read of ${keys.length} keys`,
    );
  }
  return entries.map((entry, i) => {
    if (entry.found !== true) return undefined;
    const record = entry.record as unknown as ReplicaRecord;
    checkRecord(record, i);
    return record;
  });
}
