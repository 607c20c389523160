/**
 * Compaction of one shard (runs in a piscina thread, see workers/aof-rewrite.ts): reads the base and the
 * sealed increments, keeps the newest record of each key (tombstones included: only the cluster's
 * tombstone collection may drop them) and writes them into a new base file, fsynced. The shard then
 * names that file in its manifest; until it does, the new file is an unreferenced leftover.
 */
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { compareVersions } from '../clock/hlc.js';
import { ErrorCodes, LallyError } from '../errors.js';
import { AofFileWriter } from './file-writer.js';
import { decodeKeyAt, decodeVersionAt } from './format.js';
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
}

function corrupt(path: string, bad: { offset: number; reason: string }): LallyError {
  return new LallyError(
    ErrorCodes.AOF_CORRUPT,
    `compaction stopped: ${path} has a bad record at offset ${bad.offset} (${bad.reason})`,
  );
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
        winners.set(key, { input, fileOffset, ...version });
      } else if (compareVersions(version, seen) >= 0) {
        // Equal versions: the later record in replay order wins, as it does on replay.
        seen.input = input;
        seen.fileOffset = fileOffset;
        seen.wall = version.wall;
        seen.counter = version.counter;
        seen.node = version.node;
      }
    });
    if (result.bad !== undefined) throw corrupt(path, result.bad);
    inputRecords += result.records;
    inputBytes += result.fileBytes;
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
