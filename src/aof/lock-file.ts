/**
 * The data directory's lock: a file created exclusively, holding the owner's pid, host and start time.
 * A lock whose process is gone (a crash, kill -9) is taken over with a warning.
 */

import { open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ErrorCodes, LallyError } from '../errors.js';
import { LOCK_FILE } from './layout.js';

interface LockContent {
  pid: number;
  host: string;
  startedAt: string;
}

export interface DataDirLock {
  readonly path: string;
  release(): Promise<void>;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readLock(path: string): Promise<LockContent | undefined> {
  try {
    const raw = JSON.parse(await readFile(path, 'utf8')) as Partial<LockContent>;
    if (!Number.isSafeInteger(raw.pid)) return undefined;
    return { pid: raw.pid!, host: String(raw.host ?? ''), startedAt: String(raw.startedAt ?? '') };
  } catch {
    return undefined; // missing, or half written by a process that died while creating it
  }
}

export async function acquireDataDirLock(dataDir: string, logger: Logger): Promise<DataDirLock> {
  const path = join(dataDir, LOCK_FILE);
  const mine: LockContent = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(path, 'wx');
      try {
        await fh.writeFile(`${JSON.stringify(mine)}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 2) {
        throw new LallyError(ErrorCodes.AOF_IO, `cannot create ${path}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
    const owner = await readLock(path);
    if (owner !== undefined && (owner.host !== mine.host || isAlive(owner.pid))) {
      const where = owner.host === mine.host ? '' : ` on host ${owner.host}`;
      throw new LallyError(
        ErrorCodes.DATA_DIR_LOCKED,
        `data directory ${dataDir} is in use by process ${owner.pid}${where} (since ${owner.startedAt}); ` +
          `stop that process or choose another --data-dir (lock file ${path})`,
      );
    }
    logger.warn(
      { lock: path, stalePid: owner?.pid },
      `taking over the stale lock of ${dataDir}: process ${owner?.pid ?? '(unknown)'} is gone`,
    );
    await unlink(path).catch(() => undefined);
  }
  return {
    path,
    async release() {
      const owner = await readLock(path);
      if (owner?.pid === mine.pid && owner.startedAt === mine.startedAt)
        await unlink(path).catch(() => undefined);
    },
  };
}
