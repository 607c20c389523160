/**
 * The I/O helpers of ShardAof's pump: a gathered write that survives short writes, and the LallyError
 * a failed write, sync or truncate of the active file turns into (a full disk told apart).
 */
import type { FileHandle } from 'node:fs/promises';
import { ErrorCodes, LallyError } from '../errors.js';

const MAX_IOVECS = 512;

/** The LallyError for a failed write, sync or truncate of `path`: a full disk is told apart. */
export function diskError(err: unknown, path: string, shard: number): LallyError {
  if (err instanceof LallyError) return err;
  const errno = errnoOf(err);
  if (errno === 'ENOSPC' || errno === 'EDQUOT') {
    return new LallyError(
      ErrorCodes.DISK_FULL,
      `shard ${shard} refuses writes: the disk holding ${path} is full (${errno}); they resume by themselves once space is freed`,
      { cause: err },
    );
  }
  return new LallyError(
    ErrorCodes.AOF_IO,
    `shard ${shard} refuses writes: writing ${path} failed (${errno ?? (err as Error)?.message}); retrying`,
    { cause: err },
  );
}

export function errnoOf(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Writes every buffer, in order, with as few writev calls as the OS allows; returns the bytes. */
export async function writeAll(fh: FileHandle, buffers: Buffer[]): Promise<number> {
  let total = 0;
  for (let i = 0; i < buffers.length; i += MAX_IOVECS) {
    let batch = buffers.slice(i, i + MAX_IOVECS);
    let want = 0;
    for (const b of batch) want += b.length;
    total += want;
    while (want > 0) {
      const { bytesWritten } = await fh.writev(batch);
      want -= bytesWritten;
      if (want > 0) batch = dropBytes(batch, bytesWritten);
    }
  }
  return total;
}

function dropBytes(buffers: Buffer[], bytes: number): Buffer[] {
  const rest: Buffer[] = [];
  for (const b of buffers) {
    if (bytes >= b.length) bytes -= b.length;
    else {
      rest.push(bytes > 0 ? b.subarray(bytes) : b);
      bytes = 0;
    }
  }
  return rest;
}
