/**
 * Salvage: every record of a damaged file that its checksum proves valid, also those behind the damage
 * (a scan stops at the first bad record; this one skips to the next valid record and reads on). Used by
 * `lally aof repair`, which rewrites a damaged file (or a whole data directory) from what it salvages.
 */
import { rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fsyncPath } from '../fs/durable-file.js';
import { AofFileWriter } from './file-writer.js';
import type { AofFileKind, AofHeader } from './format.js';
import { type RawRecordCallback, scanAofFile } from './scan.js';

export interface SkippedRange {
  readonly offset: number;
  readonly bytes: number;
  readonly reason: string;
}

export interface SalvageResult {
  readonly path: string;
  readonly header: AofHeader | undefined;
  readonly fileBytes: number;
  readonly records: number;
  /** Byte ranges that hold no valid record (damage, a torn tail, a bad header). */
  readonly skipped: SkippedRange[];
}

export async function salvageRecords(path: string, onRecord: RawRecordCallback): Promise<SalvageResult> {
  const skipped: SkippedRange[] = [];
  let result = await scanAofFile(path, onRecord);
  const header = result.header;
  let records = result.records;
  while (result.bad !== undefined) {
    const bad = result.bad;
    const next = bad.kind === 'mid' ? bad.nextValidOffset : undefined;
    skipped.push({ offset: bad.offset, bytes: (next ?? result.fileBytes) - bad.offset, reason: bad.reason });
    if (next === undefined) break;
    result = await scanAofFile(path, onRecord, { from: next });
    records += result.records;
  }
  return { path, header, fileBytes: result.fileBytes, records, skipped };
}

/**
 * Rewrites `path` as `header` followed by every record salvaged from it, through a temp file renamed
 * over the original (a crash leaves one or the other, whole).
 */
export async function rewriteSalvaged(
  path: string,
  header: { kind: AofFileKind; shard: number; shards: number },
): Promise<SalvageResult> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}-salvage.tmp`);
  const writer = await AofFileWriter.create(temp, header);
  let result: SalvageResult;
  try {
    result = await salvageRecords(path, (buf, offset, size) =>
      writer.appendRaw(buf.subarray(offset, offset + size)),
    );
    await writer.finish();
  } catch (err) {
    await writer.abandon();
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await rename(temp, path);
  await fsyncPath(dirname(path));
  return result;
}
