/**
 * Compaction of one shard (runs in a piscina thread, see workers/aof-rewrite.ts): reads the base and the
 * sealed increments, keeps the newest record of each key (tombstones included, but those older than
 * `tombstonesBefore`: tombstone collection) and writes them into a new base file, fsynced. A first pass
 * finds the winners (a table of their positions and versions, src/aof/rewrite-winners.ts, no record
 * bytes), a second copies exactly those records. Inputs larger than `partInputBytes` are compacted in parts,
 * by ranges of the key's hash, each part's two passes over every input with one winners' table reused:
 * the table, the largest part of a compaction's memory (about 80 bytes per key), then holds one
 * part's keys, for one more read of the inputs per part. Dropping a
 * winning tombstone drops the key: every older record of it is in the inputs, none survives. The shard then
 * names that file in its manifest; until it does, the new file is an unreferenced leftover.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { compareVersions } from '../clock/hlc.js';
import { supersedesEncoded } from '../clock/last-writer-wins.js';
import { ErrorCodes, LallyError } from '../errors.js';
import { AofFileWriter } from './file-writer.js';
import {
  decodeVersionAt,
  isTombstoneAt,
  RECORD_FIXED_BODY_BYTES,
  RECORD_PREFIX_BYTES,
  valueBytesAt,
} from './format.js';
import { keyHash, WinnerTable, type WinnerVersion } from './rewrite-winners.js';
import { scanAofFile } from './scan.js';

export interface RewriteJob {
  /** The generation directory holding the shard's files. */
  readonly dir: string;
  /** File names in replay order (base first). */
  readonly inputs: readonly string[];
  /** Name of the new base file; it must not exist. */
  readonly output: string;
  readonly shard: number;
  readonly shards: number;
  /** Wall ms: a winning tombstone stamped before it is left out (the grace period passed). */
  readonly tombstonesBefore?: number | undefined;
  /** Input bytes per part (DEFAULT_PART_INPUT_BYTES unless told; tests make it small). */
  readonly partInputBytes?: number | undefined;
}

/**
 * 48 MiB of input per part: a shard's AOF of 500k records of 100-byte values (about 75 MiB) is
 * compacted in 2 parts, each table holding about 20 MiB instead of 40.
 */
export const DEFAULT_PART_INPUT_BYTES = 48 * 2 ** 20;
/** A bound on the passes: past it, parts grow instead. */
const MAX_PARTS = 16;

export interface RewriteResult {
  readonly inputRecords: number;
  readonly inputBytes: number;
  readonly records: number;
  readonly bytes: number;
  /** Memory of the winners' table (rewrite-winners.ts), and the thread's heap in use after the first pass. */
  readonly winnerBytes?: number;
  readonly heapBytes?: number;
  /** Parts the compaction took (partInputBytes). */
  readonly parts?: number;
}

function corrupt(path: string, bad: { offset: number; reason: string }): LallyError {
  return new LallyError(
    ErrorCodes.AOF_CORRUPT,
    `compaction stopped: ${path} has a bad record at offset ${bad.offset} (${bad.reason})`,
  );
}

/**
 * Last-writer-wins between the record at `offset` and the current winner of key `id`. A tie on the
 * version (rare: imports, damaged clocks) is broken by content, so the winner's record is read back
 * from its file.
 */
function replaces(
  job: RewriteJob,
  winners: WinnerTable,
  id: number,
  buf: Buffer,
  offset: number,
  version: WinnerVersion,
): boolean {
  const seen = winners.version(id, scratchVersion);
  const order = compareVersions(version, seen);
  if (order !== 0) return order > 0;
  const winner = readRecordSync(join(job.dir, job.inputs[winners.input(id)]!), winners.fileOffset(id));
  return supersedesEncoded(
    version,
    isTombstoneAt(buf, offset),
    valueBytesAt(buf, offset),
    seen,
    isTombstoneAt(winner, 0),
    valueBytesAt(winner, 0),
  );
}

const scratchVersion: WinnerVersion = { wall: 0, counter: 0, node: 0 };
const KEY_LENGTH_AT = RECORD_PREFIX_BYTES + 17;
const KEY_AT = RECORD_PREFIX_BYTES + RECORD_FIXED_BODY_BYTES;

function readRecordSync(path: string, fileOffset: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const prefix = Buffer.alloc(RECORD_PREFIX_BYTES);
    readSync(fd, prefix, 0, prefix.length, fileOffset);
    const record = Buffer.alloc(RECORD_PREFIX_BYTES + prefix.readUInt32LE(0));
    readSync(fd, record, 0, record.length, fileOffset);
    return record;
  } finally {
    closeSync(fd);
  }
}

/** The part (0 to parts - 1) of a key's hash: ranges of the hash, so the table's low bits stay spread. */
function partOf(hash: number, parts: number): number {
  return Math.floor((hash * parts) / 2 ** 32);
}

/** How many parts a compaction of these inputs takes. */
export async function partsFor(job: RewriteJob): Promise<number> {
  let bytes = 0;
  for (const name of job.inputs) bytes += (await stat(join(job.dir, name))).size;
  const parts = Math.ceil(bytes / (job.partInputBytes ?? DEFAULT_PART_INPUT_BYTES));
  return Math.min(MAX_PARTS, Math.max(1, parts));
}

export async function rewriteShardFiles(job: RewriteJob): Promise<RewriteResult> {
  const winners = new WinnerTable();
  const parts = await partsFor(job);
  let inputRecords = 0;
  let inputBytes = 0;
  let winnerBytes = 0;
  let heapBytes = 0;
  const outPath = join(job.dir, job.output);
  const writer = await AofFileWriter.create(outPath, { kind: 'base', shard: job.shard, shards: job.shards });
  try {
    for (let part = 0; part < parts; part++) {
      if (part > 0) winners.clear();
      for (const [input, name] of job.inputs.entries()) {
        const path = join(job.dir, name);
        const result = await scanAofFile(
          path,
          (buf, offset, _size, fileOffset) => {
            const keyLength = buf.readUInt32LE(offset + KEY_LENGTH_AT);
            const keyStart = offset + KEY_AT;
            const hash = keyHash(buf, keyStart, keyLength);
            if (parts > 1 && partOf(hash, parts) !== part) return;
            const version = decodeVersionAt(buf, offset);
            const id = winners.find(buf, keyStart, keyLength, hash);
            if (id < 0) {
              winners.add(
                buf,
                keyStart,
                keyLength,
                hash,
                input,
                fileOffset,
                version,
                isTombstoneAt(buf, offset),
              );
            } else if (replaces(job, winners, id, buf, offset, version)) {
              winners.set(id, input, fileOffset, version, isTombstoneAt(buf, offset));
            }
          },
          // The first part's pass verifies the checksums; the sealed inputs do not change meanwhile.
          { verifyChecksums: part === 0 },
        );
        if (result.bad !== undefined) throw corrupt(path, result.bad);
        if (part === 0) {
          inputRecords += result.records;
          inputBytes += result.fileBytes;
        }
      }
      const before = job.tombstonesBefore;
      if (before !== undefined) {
        for (let id = 0; id < winners.size; id++) {
          if (winners.tombstone(id) && winners.version(id, scratchVersion).wall < before) winners.drop(id);
        }
      }
      winnerBytes = Math.max(winnerBytes, winners.bytes);
      heapBytes = Math.max(heapBytes, getHeapStatistics().used_heap_size);
      for (const [input, name] of job.inputs.entries()) {
        const path = join(job.dir, name);
        // The sealed inputs do not change between the passes (only the shard's new increment grows), and
        // the first pass verified their checksums: the second trusts them.
        const result = await scanAofFile(
          path,
          (buf, offset, size, fileOffset) => {
            const keyLength = buf.readUInt32LE(offset + KEY_LENGTH_AT);
            const keyStart = offset + KEY_AT;
            const hash = keyHash(buf, keyStart, keyLength);
            if (parts > 1 && partOf(hash, parts) !== part) return undefined;
            const id = winners.find(buf, keyStart, keyLength, hash);
            if (id >= 0 && winners.keeps(id, input, fileOffset)) {
              return writer.appendRaw(buf.subarray(offset, offset + size)); // copies before returning
            }
            return undefined;
          },
          { verifyChecksums: false },
        );
        if (result.bad !== undefined) throw corrupt(path, result.bad);
      }
    }
    const { bytes, records } = await writer.finish();
    return { inputRecords, inputBytes, records, bytes, winnerBytes, heapBytes, parts };
  } catch (err) {
    await writer.abandon();
    await unlink(outPath).catch(() => undefined);
    throw err;
  }
}
