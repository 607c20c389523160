/**
 * The hint file's record layout, encoder and decoder side by side. A file holds the hints for one
 * target member, appended in order; each record is
 *
 *   u32 payload length | u32 crc32c(payload) | payload
 *   payload: u8 flags (1: tombstone) | f64 wall | u32 counter | u32 node | f64 added at (ms)
 *            | u32 key length | key | value (the rest)
 *
 * little-endian. A record cut short or failing its CRC ends the readable part of the file (a torn
 * tail after a crash); everything before it is good.
 */
import { crc32c } from '../../aof/crc32c.js';
import type { ReplicaRecord } from '../../rpc/codec.js';

const FRAME_BYTES = 8;
const FIXED_PAYLOAD_BYTES = 1 + 8 + 4 + 4 + 8 + 4;
const TOMBSTONE = 1;
/** A payload longer than this is not a record of ours (a value is at most 512 MiB). */
const MAX_PAYLOAD_BYTES = 1024 * 1024 * 1024;

export interface Hint {
  readonly record: ReplicaRecord;
  /** When this node took the hint (ms since the epoch): the age bound counts from it. */
  readonly addedAt: number;
}

/** Bytes a hint takes in its file (and, about, in memory). */
export function hintBytes(record: ReplicaRecord): number {
  return FRAME_BYTES + FIXED_PAYLOAD_BYTES + record.key.length + record.value.length;
}

export function encodeHints(hints: readonly Hint[]): Buffer {
  let total = 0;
  for (const h of hints) total += hintBytes(h.record);
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const { record, addedAt } of hints) {
    const payload = FIXED_PAYLOAD_BYTES + record.key.length + record.value.length;
    const start = at + FRAME_BYTES;
    let p = start;
    out.writeUInt8(record.tombstone ? TOMBSTONE : 0, p);
    out.writeDoubleLE(record.version.wall, p + 1);
    out.writeUInt32LE(record.version.counter >>> 0, p + 9);
    out.writeUInt32LE(record.version.node >>> 0, p + 13);
    out.writeDoubleLE(addedAt, p + 17);
    out.writeUInt32LE(record.key.length, p + 25);
    p += FIXED_PAYLOAD_BYTES;
    out.set(record.key, p);
    out.set(record.value, p + record.key.length);
    out.writeUInt32LE(payload, at);
    out.writeUInt32LE(crc32c(out, 0, start, start + payload), at + 4);
    at = start + payload;
  }
  return out;
}

export interface DecodedHints {
  readonly hints: Hint[];
  /** Bytes of whole, checked records from the start; past it the file is torn or damaged. */
  readonly goodBytes: number;
}

export function decodeHints(bytes: Buffer): DecodedHints {
  const hints: Hint[] = [];
  let at = 0;
  while (at + FRAME_BYTES <= bytes.length) {
    const payload = bytes.readUInt32LE(at);
    const start = at + FRAME_BYTES;
    if (payload < FIXED_PAYLOAD_BYTES || payload > MAX_PAYLOAD_BYTES || start + payload > bytes.length) break;
    if (crc32c(bytes, 0, start, start + payload) !== bytes.readUInt32LE(at + 4)) break;
    const keyLength = bytes.readUInt32LE(start + 25);
    if (FIXED_PAYLOAD_BYTES + keyLength > payload) break;
    const keyStart = start + FIXED_PAYLOAD_BYTES;
    const tombstone = (bytes.readUInt8(start) & TOMBSTONE) !== 0;
    hints.push({
      record: {
        key: Buffer.from(bytes.subarray(keyStart, keyStart + keyLength)),
        value: Buffer.from(bytes.subarray(keyStart + keyLength, start + payload)),
        version: {
          wall: bytes.readDoubleLE(start + 1),
          counter: bytes.readUInt32LE(start + 9),
          node: bytes.readUInt32LE(start + 13),
        },
        tombstone,
      },
      addedAt: bytes.readDoubleLE(start + 17),
    });
    at = start + payload;
  }
  return { hints, goodBytes: at };
}
