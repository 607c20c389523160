/**
 * Reads an AOF file front to back in large chunks, hands every valid record to a callback, and, when it
 * meets a bad record, tells a torn or garbage tail (nothing valid after it: safe to truncate) from
 * corruption in the middle (valid records follow: truncating would lose them).
 */
import { type FileHandle, open } from 'node:fs/promises';
import {
  type AofHeader,
  checkRecordAt,
  decodeHeader,
  describeBadRecord,
  MAX_RECORD_BODY_BYTES,
  MIN_RECORD_BYTES,
  RECORD_FIXED_BODY_BYTES,
  RECORD_PREFIX_BYTES,
} from './format.js';

const CHUNK_BYTES = 1 << 20;

export interface BadSpot {
  /** File offset of the first byte that is not part of a valid record. */
  readonly offset: number;
  readonly reason: string;
  /** 'tail': nothing valid follows (a torn write or garbage); 'mid': valid records follow it. */
  readonly kind: 'tail' | 'mid';
  /** For 'mid': offset of the next valid record found after the bad spot. */
  readonly nextValidOffset?: number;
}

export interface ScanResult {
  readonly path: string;
  readonly header: AofHeader | undefined;
  readonly fileBytes: number;
  readonly records: number;
  /** Offset just past the last valid record (the file's size when it is intact). */
  readonly validEnd: number;
  readonly bad: BadSpot | undefined;
}

/** Called for each valid record; `buf` is only valid during the call. */
export type RawRecordCallback = (
  buf: Buffer,
  offset: number,
  size: number,
  fileOffset: number,
) => void | Promise<void>;

export interface ScanOptions {
  /**
   * Check every record's CRC (default). Only a second pass over sealed files that a first pass
   * already verified (compaction) may skip it: the checksum is most of the cost of a scan.
   */
  readonly verifyChecksums?: boolean;
}

export async function scanAofFile(
  path: string,
  onRecord?: RawRecordCallback,
  options: ScanOptions = {},
): Promise<ScanResult> {
  const fh = await open(path, 'r');
  try {
    return await scanOpenFile(fh, path, onRecord, options.verifyChecksums ?? true);
  } finally {
    await fh.close();
  }
}

async function scanOpenFile(
  fh: FileHandle,
  path: string,
  onRecord: RawRecordCallback | undefined,
  verify: boolean,
): Promise<ScanResult> {
  const fileBytes = (await fh.stat()).size;
  let buf = Buffer.allocUnsafe(CHUNK_BYTES);
  let bufStart = 0; // file offset of buf[0]
  let bufLen = (await fh.read(buf, 0, buf.length, 0)).bytesRead;

  const head = decodeHeader(buf.subarray(0, bufLen));
  if (!head.ok) {
    const bad: BadSpot = { offset: 0, reason: head.reason, kind: head.incomplete ? 'tail' : 'mid' };
    return { path, header: undefined, fileBytes, records: 0, validEnd: 0, bad };
  }
  let pos = head.size;
  let records = 0;
  while (pos < fileBytes) {
    let local = pos - bufStart;
    let size = checkRecordAt(buf, local, bufLen, verify);
    if (size === 0 && bufStart + bufLen < fileBytes) {
      // The record runs past the chunk: slide it to the front (growing the buffer if needed) and read on.
      const declared = bufLen - local >= 4 ? RECORD_PREFIX_BYTES + buf.readUInt32LE(local) : 0;
      const want = Math.max(CHUNK_BYTES, declared);
      const next = want > buf.length ? Buffer.allocUnsafe(want) : buf;
      buf.copy(next, 0, local, bufLen);
      bufLen -= local;
      buf = next;
      bufStart = pos;
      local = 0;
      bufLen += (await fh.read(buf, bufLen, buf.length - bufLen, bufStart + bufLen)).bytesRead;
      size = checkRecordAt(buf, 0, bufLen, verify);
    }
    if (size <= 0) {
      const reason = describeBadRecord(buf, local, bufLen);
      const nextValid = await findNextValidRecord(fh, pos + 1, fileBytes);
      const bad: BadSpot =
        nextValid < 0
          ? { offset: pos, reason, kind: 'tail' }
          : { offset: pos, reason, kind: 'mid', nextValidOffset: nextValid };
      return { path, header: head.header, fileBytes, records, validEnd: pos, bad };
    }
    const pending = onRecord?.(buf, local, size, pos);
    // Await only real promises (a writer downstream applying back-pressure): a callback that happens to
    // return a value (`(r) => map.set(...)`) must not cost a microtask per record.
    if (pending instanceof Promise) await pending;
    records++;
    pos += size;
  }
  return { path, header: head.header, fileBytes, records, validEnd: pos, bad: undefined };
}

/**
 * The offset of the first valid record at or after `from`, or -1. Cheap checks (plausible length,
 * operation and key length) reject nearly every offset before a checksum is computed.
 */
async function findNextValidRecord(fh: FileHandle, from: number, fileBytes: number): Promise<number> {
  const window = Buffer.allocUnsafe(CHUNK_BYTES);
  for (let start = from; start + MIN_RECORD_BYTES <= fileBytes; ) {
    const length = (await fh.read(window, 0, window.length, start)).bytesRead;
    const lastCandidate = Math.min(length - MIN_RECORD_BYTES, fileBytes - start - MIN_RECORD_BYTES);
    for (let p = 0; p <= lastCandidate; p++) {
      const bodyLength = window.readUInt32LE(p);
      if (bodyLength < RECORD_FIXED_BODY_BYTES || bodyLength > MAX_RECORD_BODY_BYTES) continue;
      if (start + p + RECORD_PREFIX_BYTES + bodyLength > fileBytes) continue;
      if (p + RECORD_PREFIX_BYTES + bodyLength <= length) {
        if (checkRecordAt(window, p, length) > 0) return start + p;
        continue;
      }
      const record = Buffer.allocUnsafe(RECORD_PREFIX_BYTES + bodyLength);
      await fh.read(record, 0, record.length, start + p);
      if (checkRecordAt(record, 0, record.length) > 0) return start + p;
    }
    if (lastCandidate < 0) break;
    start += lastCandidate + 1;
  }
  return -1;
}
