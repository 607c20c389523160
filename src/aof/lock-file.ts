/**
 * The data directory's lock: a file created exclusively, holding the owner's pid, host, start time,
 * boot id, process start time and pid namespace. A lock whose owner is provably gone is taken over
 * with a warning; `judgeLock` says when (docs/operations.md#the-data-directory-lock).
 */

import { open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ErrorCodes, LallyError } from '../errors.js';
import { LOCK_FILE } from './layout.js';
import { currentProcessIdentity, isAlive, type ProcessIdentity, readStartTime } from './process-identity.js';

export interface LockContent {
  pid: number;
  host: string;
  startedAt: string;
  bootId?: string;
  /** The owner's start time in clock ticks since boot (/proc/<pid>/stat). */
  pidStart?: number;
  pidNamespace?: string;
}

export interface DataDirLock {
  readonly path: string;
  release(): Promise<void>;
}

/** How the judge looks at processes: the real /proc and kill(0) by default, fakes in tests. */
export interface ProcessProbe {
  isAlive(pid: number): boolean;
  startTime(pid: number): number | undefined;
}

const REAL_PROBE: ProcessProbe = { isAlive, startTime: readStartTime };

export type LockVerdict = { held: true } | { held: false; reason: string };

/**
 * Whether `owner` still holds the lock, seen from the process `me`. The rules, in order:
 * another boot id: the machine restarted, nothing from before runs; another pid namespace: the owner
 * ran in another container, whose processes this one cannot see (after an unclean stop a new
 * container's daemon is often pid 1 again, as its predecessor was); then within one namespace the
 * owner's pid must be alive and, where both are known, started at the recorded time (a pid reused by
 * another process, or our own pid recorded by an earlier daemon, does not hold it). A lock of
 * another host without a boot id (an older Lally, or no /proc) is held: it cannot be judged.
 */
export function judgeLock(
  owner: LockContent,
  me: ProcessIdentity & { host: string },
  probe: ProcessProbe = REAL_PROBE,
): LockVerdict {
  if (owner.bootId !== undefined && me.bootId !== undefined) {
    if (owner.bootId !== me.bootId) return { held: false, reason: 'the machine has restarted since' };
    if (
      owner.pidNamespace !== undefined &&
      me.pidNamespace !== undefined &&
      owner.pidNamespace !== me.pidNamespace
    ) {
      return {
        held: false,
        reason: `its process ran in another container (pid namespace ${owner.pidNamespace})`,
      };
    }
  } else if (owner.host !== me.host) {
    return { held: true };
  }
  if (owner.pid === me.pid) {
    if (owner.pidStart !== undefined && me.startTime !== undefined && owner.pidStart !== me.startTime) {
      return {
        held: false,
        reason: `pid ${owner.pid} is this process now, started after the lock was taken`,
      };
    }
    return { held: true }; // this very process holds it (a second open of the same directory)
  }
  if (!probe.isAlive(owner.pid)) return { held: false, reason: `process ${owner.pid} is gone` };
  const startTime = probe.startTime(owner.pid);
  if (owner.pidStart !== undefined && startTime !== undefined && startTime !== owner.pidStart) {
    return { held: false, reason: `pid ${owner.pid} now belongs to another process (started later)` };
  }
  return { held: true };
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

async function readLock(path: string): Promise<LockContent | undefined> {
  try {
    const raw = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    if (!Number.isSafeInteger(raw.pid)) return undefined;
    return {
      pid: raw.pid as number,
      host: String(raw.host ?? ''),
      startedAt: String(raw.startedAt ?? ''),
      bootId: optionalString(raw.bootId),
      pidStart: Number.isSafeInteger(raw.pidStart) ? (raw.pidStart as number) : undefined,
      pidNamespace: optionalString(raw.pidNamespace),
    };
  } catch {
    return undefined; // missing, or half written by a process that died while creating it
  }
}

export async function acquireDataDirLock(
  dataDir: string,
  logger: Logger,
  probe: ProcessProbe = REAL_PROBE,
): Promise<DataDirLock> {
  const path = join(dataDir, LOCK_FILE);
  const identity = { ...currentProcessIdentity(), host: hostname() };
  const mine: LockContent = {
    pid: identity.pid,
    host: identity.host,
    startedAt: new Date().toISOString(),
    bootId: identity.bootId,
    pidStart: identity.startTime,
    pidNamespace: identity.pidNamespace,
  };
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
    const verdict: LockVerdict =
      owner === undefined
        ? { held: false, reason: 'the lock file is empty or unreadable' }
        : judgeLock(owner, identity, probe);
    if (owner !== undefined && verdict.held) {
      const where = owner.host === mine.host ? '' : ` on host ${owner.host}`;
      throw new LallyError(
        ErrorCodes.DATA_DIR_LOCKED,
        `data directory ${dataDir} is in use by process ${owner.pid}${where} (since ${owner.startedAt}); ` +
          `stop that process or choose another --data-dir (lock file ${path})`,
      );
    }
    logger.warn(
      { lock: path, stalePid: owner?.pid, staleHost: owner?.host },
      `taking over the stale lock of ${dataDir}: ${verdict.held ? '' : verdict.reason}`,
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
