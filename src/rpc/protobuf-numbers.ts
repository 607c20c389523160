/**
 * Imported before the generated code (src/rpc/generated/lally.js) so that protobufjs reads uint64
 * fields as JavaScript numbers, not `long` objects: every uint64 of the schema (wall ms,
 * incarnations, batch ids) stays below 2^53, and a Long per record would cost an allocation and a
 * conversion on the replication hot path. protobufjs documents this switch (util.Long + configure).
 */
import protobuf from 'protobufjs/minimal.js';

protobuf.util.Long = undefined as unknown as typeof protobuf.util.Long;
protobuf.configure();

/** A uint64 as read: a number once configured; a Long-like defensively (another copy of protobufjs). */
export function toSafeNumber(value: number | { toNumber(): number }): number {
  return typeof value === 'number' ? value : value.toNumber();
}
