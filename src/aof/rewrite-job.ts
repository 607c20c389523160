/**
 * Compaction of one shard (runs in a piscina thread, see workers/aof-rewrite.ts): reads the base and the
 * sealed increments, keeps the newest record of each key (tombstones included, but those older than
 * `tombstonesBefore`: tombstone collection) and writes them into a new base file, fsynced. Dropping a
 * winning tombstone drops the key: every older record of it is in the inputs, none survives. The shard then
 * names that file in its manifest; until it does, the new file is an unreferenced leftover.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { compareVersions } from '../clock/hlc.js';
import { supersedesEncoded } from '../clock/last-writer-wins.js';
import { ErrorCodes, LallyError } from '../errors.js';
import { AofFileWriter } from './file-writer.js';
import { decodeKeyAt, decodeVersionAt, isTombstoneAt, RECORD_PREFIX_BYTES, valueBytesAt } from './format.js';
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
}

export interface RewriteResult {
  readonly inputRecords: number;
  readonly inputBytes: number;
  readonly records: number;
  readonly bytes: number;
}

/**
 * Where the newest record of a key is, and its version. Compaction keeps one of these per key and no
 * record bytes: a first pass over the files picks the winners, a second pass copies exactly those
 * records. Holding every record's bytes instead cost a compaction as much memory as the shard's data.
 */
interface Winner {
  input: number;
  fileOffset: number;
  wall: number;
  counter: number;
  node: number;
  tombstone: boolean;
}

function corrupt(path: string, bad: { offset: number; reason: string }): LallyError {
  return new LallyError(
    ErrorCodes.AOF_CORRUPT,
    `compaction stopped: ${path} has a bad record at offset ${bad.offset} (${bad.reason})`,
  );
}

/**
 * Last-writer-wins between the record at `offset` and the current winner. A tie on the version (rare:
 * imports, damaged clocks) is broken by content, so the winner's record is read back from its file.
 */
function replaces(
  job: RewriteJob,
  buf: Buffer,
  offset: number,
  version: ReturnType<typeof decodeVersionAt>,
  seen: Winner,
): boolean {
  const order = compareVersions(version, seen);
  if (order !== 0) return order > 0;
  const winner = readRecordSync(join(job.dir, job.inputs[seen.input]!), seen.fileOffset);
  return supersedesEncoded(
    version,
    isTombstoneAt(buf, offset),
    valueBytesAt(buf, offset),
    seen,
    isTombstoneAt(winner, 0),
    valueBytesAt(winner, 0),
  );
}

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

export async function rewriteShardFiles(job: RewriteJob): Promise<RewriteResult> {
  const winners = new Map<string, Winner>();
  let inputRecords = 0;
  let inputBytes = 0;
  for (const [input, name] of job.inputs.entries()) {
    const path = join(job.dir, name);
    const result = await scanAofFile(path, (buf, offset, _size, fileOffset) => {
      const key = decodeKeyAt(buf, offset);
      const version = decodeVersionAt(buf, offset);
      const seen = winners.get(key);
      if (seen === undefined) {
        winners.set(key, { input, fileOffset, ...version, tombstone: isTombstoneAt(buf, offset) });
      } else if (replaces(job, buf, offset, version, seen)) {
        seen.input = input;
        seen.fileOffset = fileOffset;
        seen.wall = version.wall;
        seen.counter = version.counter;
        seen.node = version.node;
        seen.tombstone = isTombstoneAt(buf, offset);
      }
    });
    if (result.bad !== undefined) throw corrupt(path, result.bad);
    inputRecords += result.records;
    inputBytes += result.fileBytes;
  }
  const before = job.tombstonesBefore;
  if (before !== undefined) {
    for (const [key, w] of winners) if (w.tombstone && w.wall < before) winners.delete(key);
  }
  const outPath = join(job.dir, job.output);
  const writer = await AofFileWriter.create(outPath, { kind: 'base', shard: job.shard, shards: job.shards });
  try {
    for (const [input, name] of job.inputs.entries()) {
      const path = join(job.dir, name);
      // The sealed inputs do not change between the passes (only the shard's new increment grows), and
      // the first pass verified their checksums: the second trusts them.
      const result = await scanAofFile(
        path,
        (buf, offset, size, fileOffset) => {
          const winner = winners.get(decodeKeyAt(buf, offset));
          if (winner !== undefined && winner.input === input && winner.fileOffset === fileOffset) {
            return writer.appendRaw(buf.subarray(offset, offset + size)); // copies before returning
          }
          return undefined;
        },
        { verifyChecksums: false },
      );
      if (result.bad !== undefined) throw corrupt(path, result.bad);
    }
    const { bytes, records } = await writer.finish();
    return { inputRecords, inputBytes, records, bytes };
  } catch (err) {
    await writer.abandon();
    await unlink(outPath).catch(() => undefined);
    throw err;
  }
}
