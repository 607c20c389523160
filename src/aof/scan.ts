/**
 * Reads an AOF file front to back in large chunks, hands every valid record to a callback, and, when it
 * meets a bad record, tells a torn or garbage tail (nothing valid after it: safe to truncate) from
 * corruption in the middle (valid records follow: truncating would lose them).
 *
 * A record may be of any size the writer can write (up to MAX_RECORD_BODY_BYTES, many times the chunk)
 * and may start anywhere in a chunk, even with only part of its length prefix read: the buffer slides
 * and grows until it holds the whole record or the file ends. Only then is a record judged incomplete.
 */
import { type FileHandle, open } from 'node:fs/promises';
import {
  type AofHeader,
  checkRecordAt,
  decodeHeader,
  describeBadRecord,
  MAX_HEADER_BYTES,
  MIN_RECORD_BYTES,
  RECORD_PREFIX_BYTES,
} from './format.js';

/** Default read size; a record larger than this grows the buffer to its size. */
export const SCAN_CHUNK_BYTES = 1 << 20;

export interface BadSpot {
  /** File offset of the first byte that is not part of a valid record. */
  readonly offset: number;
  readonly reason: string;
  /**
   * 'tail': nothing valid follows (a torn write or garbage); 'mid': valid records follow it, or the
   * file's header is damaged (offset 0: never a torn write, since a header is written whole and synced).
   */
  readonly kind: 'tail' | 'mid';
  /** For 'mid': offset of the next valid record found after the bad spot (none: a bad header alone). */
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
  /** Bytes read at a time (default SCAN_CHUNK_BYTES). Tests make it small to hit every boundary cheaply. */
  readonly chunkBytes?: number;
  /**
   * Start at this offset (a record found by an earlier scan's `nextValidOffset`) instead of after the
   * header, which is then not read (`header` is undefined). For salvaging the records behind damage.
   */
  readonly from?: number;
}

export async function scanAofFile(
  path: string,
  onRecord?: RawRecordCallback,
  options: ScanOptions = {},
): Promise<ScanResult> {
  const fh = await open(path, 'r');
  try {
    return await scanOpenFile(fh, path, onRecord, options);
  } finally {
    await fh.close();
  }
}

/**
 * A window onto a file: `buf[0..len)` holds the file's bytes from `start`. `ensure` makes it hold the
 * bytes [at, at + need) or, when the file ends first, every byte from `at` to the end.
 */
class FileWindow {
  buf: Buffer;
  start = 0;
  len = 0;
  readonly #fh: FileHandle;
  readonly #fileBytes: number;
  readonly #chunk: number;

  constructor(fh: FileHandle, fileBytes: number, chunk: number) {
    this.#fh = fh;
    this.#fileBytes = fileBytes;
    this.#chunk = chunk;
    this.buf = Buffer.allocUnsafe(chunk);
  }

  /** True when every byte of the file from `at` on is in the window. */
  holdsRestFrom(at: number): boolean {
    return at >= this.start && this.start + this.len >= this.#fileBytes;
  }

  async ensure(at: number, need: number): Promise<void> {
    const want = Math.max(0, Math.min(need, this.#fileBytes - at));
    if (at >= this.start && at + want <= this.start + this.len) return;
    // Slide what is already read of [at, ...) to the front (or start afresh), growing to fit `want`.
    const keep = at >= this.start && at < this.start + this.len ? this.start + this.len - at : 0;
    const size = Math.max(this.#chunk, want);
    const next = size > this.buf.length ? Buffer.allocUnsafe(size) : this.buf;
    if (keep > 0) this.buf.copy(next, 0, at - this.start, at - this.start + keep);
    this.buf = next;
    this.start = at;
    this.len = keep;
    // Fill the whole buffer (reads may return less than asked), but never past the end of the file.
    const end = Math.min(this.buf.length, this.#fileBytes - at);
    while (this.len < end) {
      const { bytesRead } = await this.#fh.read(this.buf, this.len, end - this.len, at + this.len);
      if (bytesRead === 0) break; // the file shrank under us: what is there is all there is
      this.len += bytesRead;
    }
  }
}

async function scanOpenFile(
  fh: FileHandle,
  path: string,
  onRecord: RawRecordCallback | undefined,
  options: ScanOptions,
): Promise<ScanResult> {
  const verify = options.verifyChecksums ?? true;
  const chunk = options.chunkBytes ?? SCAN_CHUNK_BYTES;
  const fileBytes = (await fh.stat()).size;
  const win = new FileWindow(fh, fileBytes, chunk);
  let header: AofHeader | undefined;
  let pos: number;
  if (options.from !== undefined) {
    pos = options.from;
  } else {
    await win.ensure(0, MAX_HEADER_BYTES);
    const head = decodeHeader(win.buf.subarray(0, win.len));
    if (!head.ok) {
      // A file cut inside its header holds nothing. A damaged header may still be followed by good
      // records: find the first, so that repair can keep them behind a rewritten header.
      const next = head.incomplete ? -1 : await findNextValidRecord(fh, 1, fileBytes, chunk);
      const bad: BadSpot = head.incomplete
        ? { offset: 0, reason: head.reason, kind: 'tail' }
        : next < 0
          ? { offset: 0, reason: head.reason, kind: 'mid' }
          : { offset: 0, reason: head.reason, kind: 'mid', nextValidOffset: next };
      return { path, header: undefined, fileBytes, records: 0, validEnd: 0, bad };
    }
    header = head.header;
    pos = head.size;
  }
  let records = 0;
  while (pos < fileBytes) {
    let size = checkRecordAt(win.buf, pos - win.start, win.len, verify);
    // Incomplete in the window: read on until the record is whole or the file ends. The first round
    // may only learn the length prefix (fewer than 4 bytes of it were buffered); the next reads the body.
    while (size === 0 && !win.holdsRestFrom(pos)) {
      const local = pos - win.start;
      const known = win.len - local >= 4;
      await win.ensure(pos, known ? RECORD_PREFIX_BYTES + win.buf.readUInt32LE(local) : MIN_RECORD_BYTES);
      size = checkRecordAt(win.buf, pos - win.start, win.len, verify);
    }
    if (size <= 0) {
      const reason = describeBadRecord(win.buf, pos - win.start, win.len);
      const nextValid = await findNextValidRecord(fh, pos + 1, fileBytes, chunk);
      const bad: BadSpot =
        nextValid < 0
          ? { offset: pos, reason, kind: 'tail' }
          : { offset: pos, reason, kind: 'mid', nextValidOffset: nextValid };
      return { path, header, fileBytes, records, validEnd: pos, bad };
    }
    const pending = onRecord?.(win.buf, pos - win.start, size, pos);
    // Await only real promises (a writer downstream applying back-pressure): a callback that happens to
    // return a value (`(r) => map.set(...)`) must not cost a microtask per record.
    if (pending instanceof Promise) await pending;
    records++;
    pos += size;
  }
  return { path, header, fileBytes, records, validEnd: pos, bad: undefined };
}

/**
 * The offset of the first valid record at or after `from`, or -1. Cheap checks (plausible length,
 * operation and key length, all within the first bytes of a candidate) reject nearly every offset
 * before a record is read whole and its checksum computed.
 */
export async function findNextValidRecord(
  fh: FileHandle,
  from: number,
  fileBytes: number,
  chunk = SCAN_CHUNK_BYTES,
): Promise<number> {
  const win = new FileWindow(fh, fileBytes, Math.max(chunk, MIN_RECORD_BYTES));
  let record: FileWindow | undefined;
  for (let p = from; p + MIN_RECORD_BYTES <= fileBytes; p++) {
    if (p + MIN_RECORD_BYTES > win.start + win.len) await win.ensure(p, chunk);
    const local = p - win.start;
    const verdict = checkRecordAt(win.buf, local, win.len);
    if (verdict > 0) return p;
    if (verdict < 0 || win.holdsRestFrom(p)) continue;
    // Plausible, but longer than the window: read it whole (into a second window, so the scan's stays).
    const need = RECORD_PREFIX_BYTES + win.buf.readUInt32LE(local);
    if (p + need > fileBytes) continue;
    record ??= new FileWindow(fh, fileBytes, chunk);
    await record.ensure(p, need);
    if (checkRecordAt(record.buf, p - record.start, record.len) > 0) return p;
  }
  return -1;
}
