/**
 * Compaction of one shard (runs in a piscina thread, see workers/aof-rewrite.ts): reads the base and the
 * sealed increments, keeps the newest record of each key (tombstones included: only the cluster's
 * tombstone collection may drop them) and writes them into a new base file, fsynced. The shard then
 * names that file in its manifest; until it does, the new file is an unreferenced leftover.
 */
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { compareVersions, type Version } from '../clock/hlc.js';
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

interface Latest {
  version: Version;
  raw: Buffer;
}

export async function rewriteShardFiles(job: RewriteJob): Promise<RewriteResult> {
  const latest = new Map<string, Latest>();
  let inputRecords = 0;
  let inputBytes = 0;
  for (const name of job.inputs) {
    const path = join(job.dir, name);
    const result = await scanAofFile(path, (buf, offset, size) => {
      const key = decodeKeyAt(buf, offset);
      const version = decodeVersionAt(buf, offset);
      const seen = latest.get(key);
      // Equal versions: the later record in replay order wins, as it does on replay.
      if (seen === undefined || compareVersions(version, seen.version) >= 0) {
        latest.set(key, { version, raw: Buffer.from(buf.subarray(offset, offset + size)) });
      }
    });
    if (result.bad !== undefined) {
      throw new LallyError(
        ErrorCodes.AOF_CORRUPT,
        `compaction stopped: ${path} has a bad record at offset ${result.bad.offset} (${result.bad.reason})`,
      );
    }
    inputRecords += result.records;
    inputBytes += result.fileBytes;
  }
  const outPath = join(job.dir, job.output);
  const writer = await AofFileWriter.create(outPath, { kind: 'base', shard: job.shard, shards: job.shards });
  try {
    for (const entry of latest.values()) await writer.appendRaw(entry.raw);
    const { bytes, records } = await writer.finish();
    return { inputRecords, inputBytes, records, bytes };
  } catch (err) {
    await writer.abandon();
    await unlink(outPath).catch(() => undefined);
    throw err;
  }
}
