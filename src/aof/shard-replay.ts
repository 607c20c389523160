/**
 * Recovery of one shard: replays its files in manifest order, truncates a torn or garbage tail of the
 * increment that was being appended to, and refuses to start on damage anywhere else.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Version } from '../clock/hlc.js';
import { ErrorCodes, LallyError } from '../errors.js';
import { decodeRecordAt, encodeHeader, RECORD_PREFIX_BYTES, readU32 } from './format.js';
import { manifestFiles, type ShardManifest } from './layout.js';
import { type ScanResult, scanAofFile } from './scan.js';
import type { AofRecord } from './types.js';

export interface ShardReplayResult {
  records: number;
  bytes: number;
  truncatedBytes: number;
  maxVersion: Version | undefined;
}

/**
 * A record that checkRecordAt accepted, still encoded at `buf[offset]` (format.ts has the readers):
 * `buf` is valid only during the call. Replay hands records to the store this way, never as strings.
 */
export type EncodedRecordCallback = (buf: Buffer, offset: number) => void | Promise<void>;

/** replayEncodedShardFiles with every record decoded (for callers that keep or inspect records). */
export function replayShardFiles(
  genDir: string,
  manifest: ShardManifest,
  logger: Logger,
  onRecord: (record: AofRecord) => void | Promise<void>,
  /** Read-only: a damaged tail is skipped with a warning but not cut (reading someone else's files). */
  readOnly = false,
): Promise<ShardReplayResult> {
  return replayEncodedShardFiles(
    genDir,
    manifest,
    logger,
    (buf, offset) => onRecord(decodeRecordAt(buf, offset)),
    readOnly,
  );
}

export async function replayEncodedShardFiles(
  genDir: string,
  manifest: ShardManifest,
  logger: Logger,
  onRecord: EncodedRecordCallback,
  readOnly = false,
): Promise<ShardReplayResult> {
  const files = manifestFiles(manifest);
  let records = 0;
  let bytes = 0;
  let truncatedBytes = 0;
  // The largest version seen, as numbers (wall -1: none yet), so that no record allocates one.
  let maxWall = -1;
  let maxCounter = 0;
  let maxNode = 0;
  for (const [index, name] of files.entries()) {
    const path = join(genDir, name);
    const result = await scanAofFile(path, (buf, offset) => {
      const body = offset + RECORD_PREFIX_BYTES;
      const wall = readU32(buf, body + 1) + readU32(buf, body + 5) * 0x100000000;
      if (wall >= maxWall) {
        const counter = readU32(buf, body + 9);
        const node = readU32(buf, body + 13);
        if (wall > maxWall || counter > maxCounter || (counter === maxCounter && node > maxNode)) {
          maxWall = wall;
          maxCounter = counter;
          maxNode = node;
        }
      }
      return onRecord(buf, offset);
    });
    records += result.records;
    const verdict = judgeFile(result, index === files.length - 1, manifest);
    if (verdict.kind === 'refuse') throw verdict.error;
    if (verdict.kind === 'ok') {
      bytes += result.fileBytes;
      continue;
    }
    logger.warn(
      { file: path, offset: verdict.at, bytes: verdict.bytes, reason: verdict.reason },
      `AOF ${path}: ${readOnly ? 'ignoring' : 'truncating'} a damaged tail of ${verdict.bytes} bytes at offset ${verdict.at} (a write cut short by a crash)`,
    );
    if (!readOnly) await truncateTail(path, verdict.at, manifest);
    truncatedBytes += verdict.bytes;
    bytes += Math.max(verdict.at, 1);
  }
  const maxVersion: Version | undefined =
    maxWall < 0 ? undefined : { wall: maxWall, counter: maxCounter, node: maxNode };
  return { records, bytes, truncatedBytes, maxVersion };
}

/** What start-up does with one file of a shard, from its scan: shared with `lally aof check`. */
export type FileVerdict =
  | { readonly kind: 'ok' }
  | { readonly kind: 'truncate'; readonly at: number; readonly bytes: number; readonly reason: string }
  | { readonly kind: 'refuse'; readonly error: LallyError };

/**
 * Only the increment being appended to may end in a torn write (sealed files were synced whole before a
 * manifest named them sealed), and only a tail with nothing valid after it is a torn write.
 */
export function judgeFile(result: ScanResult, isActive: boolean, manifest: ShardManifest): FileVerdict {
  const header = result.header;
  if (header !== undefined && (header.shard !== manifest.shard || header.shards !== manifest.shards)) {
    const error = new LallyError(
      ErrorCodes.AOF_CORRUPT,
      `${result.path} belongs to shard ${header.shard} of ${header.shards}, but the manifest lists it for shard ${manifest.shard} of ${manifest.shards}`,
    );
    return { kind: 'refuse', error };
  }
  const bad = result.bad;
  if (bad === undefined) return { kind: 'ok' };
  if (!isActive || bad.kind === 'mid') return { kind: 'refuse', error: corruptionError(result.path, result) };
  return {
    kind: 'truncate',
    at: result.validEnd,
    bytes: result.fileBytes - result.validEnd,
    reason: bad.reason,
  };
}

export function corruptionError(path: string, result: ScanResult): LallyError {
  const bad = result.bad!;
  const where =
    bad.kind === 'tail'
      ? 'the file was sealed (complete and synced), so this is not a torn write'
      : bad.nextValidOffset !== undefined
        ? `valid records follow at offset ${bad.nextValidOffset}, so this is not a torn write`
        : 'the file header is damaged and no valid record follows it';
  return new LallyError(
    ErrorCodes.AOF_CORRUPT,
    `AOF file ${path} is corrupt at offset ${bad.offset} (${bad.reason}); ${where}. ` +
      `Inspect it with \`lally aof check <data-dir>\`; \`lally aof repair --force <data-dir>\` cuts out the damaged ` +
      `bytes and keeps every valid record around them (back the directory up first).`,
  );
}

/** Cuts `path` at `validEnd`; a file whose very header was torn gets a fresh header. */
async function truncateTail(path: string, validEnd: number, manifest: ShardManifest): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.truncate(validEnd);
    if (validEnd === 0) {
      await fh.write(
        encodeHeader({ kind: 'incr', shard: manifest.shard, shards: manifest.shards }),
        0,
        undefined,
        0,
      );
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
}
