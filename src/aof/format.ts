/**
 * The binary AOF format (docs/aof.md): a file header, then records. Encoder and decoder side by side.
 *
 * Header (little-endian):  "LALLYAOF" | u16 format | u8 kind | u8 hashNameLength | u32 shard |
 *                          u32 shards | hash name (ASCII) | u32 CRC32C of everything before it
 * Record:                  u32 bodyLength | u32 CRC32C(body) | body
 * Body:                    u8 op (1 ADD, 2 REMOVE) | u64 wall ms | u32 counter | u32 node |
 *                          u32 keyLength | key (UTF-8) | value (UTF-8, the rest of the body)
 */
import { copyBytes } from '../bytes/byte-copy.js';
import type { Version } from '../clock/hlc.js';
import { ErrorCodes, LallyError } from '../errors.js';
import { KEY_HASH_NAME } from '../hash/key-hash.js';
import { crc32c } from './crc32c.js';
import type { AofOp, AofRecord, AofWrite } from './types.js';

export const AOF_MAGIC = Buffer.from('LALLYAOF', 'latin1');
export const AOF_FORMAT_VERSION = 1;
export const RECORD_PREFIX_BYTES = 8;
export const RECORD_FIXED_BODY_BYTES = 21;
/** Smallest possible record on disk: prefix plus a body with an empty key and value. */
export const MIN_RECORD_BYTES = RECORD_PREFIX_BYTES + RECORD_FIXED_BODY_BYTES;
/**
 * A body longer than this is garbage, not a record. It must exceed the largest record the limits let a
 * client write (max_key_bytes is at most 1 MiB, max_value_bytes at most 512 MiB: 513 MiB + 21 bytes), or
 * the reader would take valid records for damage; the writer refuses anything longer (encodeRecordInto).
 */
export const MAX_RECORD_BODY_BYTES = 1024 * 1024 * 1024;
/** Largest possible header: the fixed 24 bytes and a key hash name of up to 255 bytes. */
export const MAX_HEADER_BYTES = 24 + 255;

/**
 * The unsigned little-endian 32-bit integer at `at`, bounds checked by the caller: Buffer#readUInt32LE
 * without its argument validation, which was a few percent of a replay (five reads per record).
 */
export function readU32(buf: Uint8Array, at: number): number {
  return (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16)) + buf[at + 3]! * 0x1000000;
}

export type AofFileKind = 'base' | 'incr';
const KIND_CODES: Record<AofFileKind, number> = { base: 1, incr: 2 };
const OP_ADD = 1;
const OP_REMOVE = 2;

export interface AofHeader {
  readonly format: number;
  readonly kind: AofFileKind;
  readonly shard: number;
  readonly shards: number;
  readonly keyHash: string;
}

export function encodeHeader(header: Omit<AofHeader, 'format' | 'keyHash'> & { keyHash?: string }): Buffer {
  const name = Buffer.from(header.keyHash ?? KEY_HASH_NAME, 'latin1');
  const buf = Buffer.alloc(24 + name.length);
  AOF_MAGIC.copy(buf, 0);
  buf.writeUInt16LE(AOF_FORMAT_VERSION, 8);
  buf.writeUInt8(KIND_CODES[header.kind], 10);
  buf.writeUInt8(name.length, 11);
  buf.writeUInt32LE(header.shard, 12);
  buf.writeUInt32LE(header.shards, 16);
  name.copy(buf, 20);
  buf.writeUInt32LE(crc32c(buf, 0, 0, 20 + name.length), 20 + name.length);
  return buf;
}

export type HeaderResult =
  | { readonly ok: true; readonly header: AofHeader; readonly size: number }
  | { readonly ok: false; readonly reason: string; readonly incomplete: boolean };

/** Decodes a header from the first bytes of a file (at least MAX_HEADER_BYTES, or the whole file). */
export function decodeHeader(buf: Uint8Array): HeaderResult {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 12) return { ok: false, reason: 'file shorter than a header', incomplete: true };
  if (!b.subarray(0, 8).equals(AOF_MAGIC))
    return { ok: false, reason: 'not a Lally AOF file (bad magic)', incomplete: false };
  const format = b.readUInt16LE(8);
  if (format !== AOF_FORMAT_VERSION) {
    return { ok: false, reason: `unsupported AOF format version ${format}`, incomplete: false };
  }
  const nameLength = b.readUInt8(11);
  const size = 24 + nameLength;
  if (b.length < size) return { ok: false, reason: 'file shorter than its header', incomplete: true };
  if (b.readUInt32LE(20 + nameLength) !== crc32c(b, 0, 0, 20 + nameLength)) {
    return { ok: false, reason: 'header checksum mismatch', incomplete: false };
  }
  const kindCode = b.readUInt8(10);
  const kind: AofFileKind | undefined = kindCode === 1 ? 'base' : kindCode === 2 ? 'incr' : undefined;
  if (kind === undefined) return { ok: false, reason: `unknown file kind ${kindCode}`, incomplete: false };
  const header: AofHeader = {
    format,
    kind,
    shard: b.readUInt32LE(12),
    shards: b.readUInt32LE(16),
    keyHash: b.toString('latin1', 20, 20 + nameLength),
  };
  return { ok: true, header, size };
}

/**
 * Upper bound of a record's encoded size: from string lengths (UTF-8 takes at most 3 bytes per unit),
 * exact for a value given as bytes.
 */
export function maxEncodedSize(record: AofWrite): number {
  const value = record.value;
  return (
    MIN_RECORD_BYTES +
    3 * record.key.length +
    (typeof value === 'string' ? 3 * value.length : value.byteLength)
  );
}

/**
 * Encodes `record` at `offset`; `buf` must have `maxEncodedSize(record)` bytes free there. Returns the
 * number of bytes written.
 */
export function encodeRecordInto(buf: Buffer, offset: number, record: AofWrite): number {
  const body = offset + RECORD_PREFIX_BYTES;
  const { wall, counter, node } = record.version;
  buf[body] = record.op === 'ADD' ? OP_ADD : OP_REMOVE;
  buf.writeUInt32LE(wall % 0x100000000, body + 1);
  buf.writeUInt32LE(Math.floor(wall / 0x100000000), body + 5);
  buf.writeUInt32LE(counter, body + 9);
  buf.writeUInt32LE(node, body + 13);
  const keyStart = body + RECORD_FIXED_BODY_BYTES;
  const keyBytes = record.key.length === 0 ? 0 : buf.write(record.key, keyStart, 'utf8');
  buf.writeUInt32LE(keyBytes, body + 17);
  const valueStart = keyStart + keyBytes;
  const value = record.value;
  let valueBytes = 0;
  if (typeof value !== 'string') {
    copyBytes(buf, valueStart, value);
    valueBytes = value.byteLength;
  } else if (value.length !== 0) valueBytes = buf.write(value, valueStart, 'utf8');
  const end = valueStart + valueBytes;
  const bodyLength = end - body;
  if (bodyLength > MAX_RECORD_BODY_BYTES) {
    // Unreachable within the configured limits; a record the reader would refuse must never be written.
    throw new LallyError(
      ErrorCodes.VALUE_TOO_LARGE,
      `a record of ${bodyLength} body bytes is larger than the AOF format allows (${MAX_RECORD_BODY_BYTES})`,
    );
  }
  buf.writeUInt32LE(bodyLength, offset);
  buf.writeUInt32LE(crc32c(buf, 0, body, end), offset + 4);
  return end - offset;
}

/** Encodes one record into a fresh buffer of exactly its size. */
export function encodeRecord(record: AofWrite): Buffer {
  const scratch = Buffer.allocUnsafe(maxEncodedSize(record));
  return Buffer.from(scratch.subarray(0, encodeRecordInto(scratch, 0, record)));
}

/**
 * `size` > 0: a valid record of that many bytes; 0: incomplete (more bytes needed); -1: invalid.
 * `verifyChecksum: false` trusts the CRC (only for bytes that a previous pass already verified).
 */
export function checkRecordAt(buf: Buffer, offset: number, end: number, verifyChecksum = true): number {
  if (end - offset < RECORD_PREFIX_BYTES) return 0;
  const bodyLength = readU32(buf, offset);
  if (bodyLength < RECORD_FIXED_BODY_BYTES || bodyLength > MAX_RECORD_BODY_BYTES) return -1;
  const body = offset + RECORD_PREFIX_BYTES;
  if (end - body < bodyLength) {
    // Reject an impossible op or key length early so that garbage is not mistaken for a torn write.
    if (end - body >= RECORD_FIXED_BODY_BYTES && !plausibleBody(buf, body, bodyLength)) return -1;
    return 0;
  }
  if (!plausibleBody(buf, body, bodyLength)) return -1;
  if (verifyChecksum && crc32c(buf, 0, body, body + bodyLength) !== readU32(buf, offset + 4)) return -1;
  return RECORD_PREFIX_BYTES + bodyLength;
}

function plausibleBody(buf: Buffer, body: number, bodyLength: number): boolean {
  const op = buf[body];
  if (op !== OP_ADD && op !== OP_REMOVE) return false;
  return readU32(buf, body + 17) <= bodyLength - RECORD_FIXED_BODY_BYTES;
}

/** Why `checkRecordAt` refused a record, for messages. */
export function describeBadRecord(buf: Buffer, offset: number, end: number): string {
  if (end - offset < RECORD_PREFIX_BYTES) return 'truncated record prefix';
  const bodyLength = buf.readUInt32LE(offset);
  if (bodyLength < RECORD_FIXED_BODY_BYTES || bodyLength > MAX_RECORD_BODY_BYTES) {
    return `impossible record length ${bodyLength}`;
  }
  const body = offset + RECORD_PREFIX_BYTES;
  if (end - body >= RECORD_FIXED_BODY_BYTES && !plausibleBody(buf, body, bodyLength)) {
    return 'bad operation code or key length';
  }
  if (end - body < bodyLength) return `truncated record (needs ${bodyLength} body bytes, has ${end - body})`;
  return 'checksum mismatch';
}

/** Decodes a record that `checkRecordAt` accepted. */
export function decodeRecordAt(buf: Buffer, offset: number): AofRecord {
  const body = offset + RECORD_PREFIX_BYTES;
  const end = body + buf.readUInt32LE(offset);
  const op: AofOp = buf[body] === OP_ADD ? 'ADD' : 'REMOVE';
  const version: Version = {
    wall: buf.readUInt32LE(body + 1) + buf.readUInt32LE(body + 5) * 0x100000000,
    counter: buf.readUInt32LE(body + 9),
    node: buf.readUInt32LE(body + 13),
  };
  const keyStart = body + RECORD_FIXED_BODY_BYTES;
  const keyEnd = keyStart + buf.readUInt32LE(body + 17);
  return {
    op,
    key: buf.toString('utf8', keyStart, keyEnd),
    value: keyEnd === end ? '' : buf.toString('utf8', keyEnd, end),
    version,
  };
}

/** Where the parts of an encoded record are (readRecordAt fills one, reused record after record). */
export interface RecordSpans {
  tombstone: boolean;
  wall: number;
  counter: number;
  node: number;
  /** The key is buf[keyStart, keyEnd), the value buf[keyEnd, valueEnd), both UTF-8. */
  keyStart: number;
  keyEnd: number;
  valueEnd: number;
}

export function emptyRecordSpans(): RecordSpans {
  return { tombstone: false, wall: 0, counter: 0, node: 0, keyStart: 0, keyEnd: 0, valueEnd: 0 };
}

/** The fields of a record that `checkRecordAt` accepted, without decoding its key or value. */
export function readRecordAt(buf: Buffer, offset: number, into: RecordSpans): RecordSpans {
  const body = offset + RECORD_PREFIX_BYTES;
  into.tombstone = buf[body] === OP_REMOVE;
  into.wall = readU32(buf, body + 1) + readU32(buf, body + 5) * 0x100000000;
  into.counter = readU32(buf, body + 9);
  into.node = readU32(buf, body + 13);
  into.keyStart = body + RECORD_FIXED_BODY_BYTES;
  into.keyEnd = into.keyStart + readU32(buf, body + 17);
  into.valueEnd = body + readU32(buf, offset);
  return into;
}

/** The key of a record that `checkRecordAt` accepted, without decoding its value. */
export function decodeKeyAt(buf: Buffer, offset: number): string {
  const keyStart = offset + RECORD_PREFIX_BYTES + RECORD_FIXED_BODY_BYTES;
  return buf.toString('utf8', keyStart, keyStart + buf.readUInt32LE(offset + RECORD_PREFIX_BYTES + 17));
}

/** The version of a record that `checkRecordAt` accepted, without decoding its key or value. */
export function decodeVersionAt(buf: Buffer, offset: number): Version {
  const body = offset + RECORD_PREFIX_BYTES;
  return {
    wall: buf.readUInt32LE(body + 1) + buf.readUInt32LE(body + 5) * 0x100000000,
    counter: buf.readUInt32LE(body + 9),
    node: buf.readUInt32LE(body + 13),
  };
}

/** Whether a record that `checkRecordAt` accepted is a delete. */
export function isTombstoneAt(buf: Buffer, offset: number): boolean {
  return buf[offset + RECORD_PREFIX_BYTES] === OP_REMOVE;
}

/** The value bytes of a record that `checkRecordAt` accepted (a view into `buf`). */
export function valueBytesAt(buf: Buffer, offset: number): Buffer {
  const body = offset + RECORD_PREFIX_BYTES;
  const keyEnd = body + RECORD_FIXED_BODY_BYTES + buf.readUInt32LE(body + 17);
  return buf.subarray(keyEnd, body + buf.readUInt32LE(offset));
}
