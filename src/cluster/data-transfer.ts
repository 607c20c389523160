/**
 * Pulling data from peers (issue 8): a joining or restarted node asks the members that hold its
 * ranges for their snapshot pages (src/rpc/snapshot-transfer.ts) and applies every record by
 * last-writer-wins through the local replica (an older record changes nothing), before it serves.
 *
 * A broken stream resumes from the last page applied, with back-off, a few times; then the source's
 * ranges go to their next holder. The whole catch-up has one deadline (--transfer-timeout-ms).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { ErrorCodes, LallyError } from '../errors.js';
import type { ReplicationFactor } from '../placement/placement.js';
import { Backoff } from '../rpc/backoff.js';
import type { ReplicaRecord } from '../rpc/codec.js';
import type { PeerPool } from '../rpc/peer-pool.js';
import type { ApplyResult } from '../rpc/replication-service.js';
import { PAGE_LIMITS, snapshotPages } from '../rpc/snapshot-transfer.js';
import { assignSources, type PlanMember, type PullTask, planCatchUp, type Range } from './transfer-plan.js';
import { TransferProgress } from './transfer-progress.js';

export type ApplyRecords = (records: readonly ReplicaRecord[]) => Promise<ApplyResult>;

/**
 * Records handed to the shards at once, and chunks in flight. LocalReplica sends a chunk as one
 * APPLY_BATCH page per shard (up to 1024 records each): 2048 records make about one full page per
 * shard on two shards; four in flight keep every shard busy while the next page is decoded.
 */
const APPLY_CHUNK = 2048;
const APPLY_WINDOW = 4;
const BUSY_RETRIES = 50;

export const TRANSFER_DEFAULTS = Object.freeze({
  /** Attempts to resume one source's broken stream before its ranges go to another member. */
  retries: 3,
  /** The largest pages a server gives: fewer round trips (measured with bench/join-transfer.ts). */
  pageRecords: PAGE_LIMITS.maxRecords,
  pageBytes: PAGE_LIMITS.maxBytes,
});

/**
 * Applies records in chunks, a few chunks at once, so that the shards' queues stay bounded; a chunk
 * answered BUSY (a shard's queue full) is applied again a moment later (LWW makes that harmless).
 */
export async function applyInChunks(
  apply: ApplyRecords,
  records: readonly ReplicaRecord[],
): Promise<ApplyResult> {
  let applied = 0;
  let superseded = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < records.length) {
      const chunk = records.slice(next, next + APPLY_CHUNK);
      next += APPLY_CHUNK;
      for (let attempt = 0; ; attempt++) {
        try {
          const result = await apply(chunk);
          applied += result.applied;
          superseded += result.superseded;
          break;
        } catch (error) {
          if (!(error instanceof LallyError && error.code === ErrorCodes.BUSY) || attempt >= BUSY_RETRIES) {
            throw error;
          }
          await sleep(5 + attempt * 5);
        }
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(APPLY_WINDOW, Math.ceil(records.length / APPLY_CHUNK)) }, worker),
  );
  return { applied, superseded };
}

export interface PullOptions {
  readonly pool: PeerPool;
  readonly apply: ApplyRecords;
  readonly logger: Logger;
  /** Epoch ms by which everything must be in. */
  readonly deadline: number;
  readonly signal?: AbortSignal;
  readonly retries?: number;
  readonly pageRecords?: number;
  readonly pageBytes?: number;
}

function stopped(): LallyError {
  return new LallyError(ErrorCodes.SHUTTING_DOWN, 'the node is stopping: the data transfer was cut short');
}

export function transferTimeout(timeoutMs: number): LallyError {
  return new LallyError(
    ErrorCodes.PEER_TIMEOUT,
    `the data transfer did not finish within ${timeoutMs} ms: raise --transfer-timeout-ms for this much data`,
  );
}

/**
 * Pulls `ranges` (empty: every key) from the member at `address` into the local replica, resuming a
 * broken stream from the last page applied (up to `retries` times in a row without progress).
 */
export async function pullFrom(
  options: PullOptions,
  address: string,
  ranges: readonly Range[],
  progress: TransferProgress,
): Promise<void> {
  const { logger, signal } = options;
  const retries = options.retries ?? TRANSFER_DEFAULTS.retries;
  const backoff = new Backoff({ maxMs: 2000 });
  let cursor: Uint8Array = new Uint8Array(0);
  let first = true;
  for (;;) {
    if (signal?.aborted) throw stopped();
    const remaining = options.deadline - Date.now();
    if (remaining <= 0)
      throw new LallyError(ErrorCodes.PEER_TIMEOUT, `the transfer from ${address} ran out of time`);
    try {
      const pages = snapshotPages(
        options.pool.get(address),
        {
          ranges,
          cursor,
          pageRecords: options.pageRecords ?? TRANSFER_DEFAULTS.pageRecords,
          pageBytes: options.pageBytes ?? TRANSFER_DEFAULTS.pageBytes,
        },
        remaining,
      );
      // One page is applied while the next one comes in; `cursor` is the last page applied.
      let applying: Promise<void> = Promise.resolve();
      try {
        for await (const page of pages) {
          if (first && page.total > 0) progress.total += page.total;
          first = false;
          await applying;
          if (signal?.aborted) throw stopped();
          applying = applyInChunks(options.apply, page.records).then((result) => {
            progress.add(page.records.length, result.applied, result.superseded);
            cursor = page.cursor;
            backoff.reset();
          });
          // Awaited before the next page or in `finally`; until then a failure must not count as unhandled.
          applying.catch(() => {});
        }
      } finally {
        await applying.catch(() => {}); // settled before a retry reads the cursor
      }
      await applying;
      return;
    } catch (error) {
      if (error instanceof LallyError && error.code === ErrorCodes.SHUTTING_DOWN) throw error;
      if (backoff.failures >= retries || Date.now() >= options.deadline) throw error;
      const delay = Math.min(backoff.next(), Math.max(0, options.deadline - Date.now()));
      logger.warn(
        { from: address, attempt: backoff.failures, err: error, resumeAfterRecords: progress.records },
        `the transfer from ${address} broke: resuming from its last page in ${delay} ms`,
      );
      await sleep(delay);
    }
  }
}

export interface CatchUpOptions extends Omit<PullOptions, 'deadline'> {
  readonly self: number;
  readonly members: readonly PlanMember[];
  readonly factor: ReplicationFactor | undefined;
  /** The seed's address: asked first where it holds a range. */
  readonly preferred?: string;
  readonly timeoutMs: number;
}

export interface CatchUpResult {
  /** False when there was nobody to ask (a cluster of one). */
  readonly needed: boolean;
  readonly records: number;
  readonly applied: number;
  readonly superseded: number;
  readonly ms: number;
  /** Addresses pulled from. */
  readonly sources: readonly string[];
  /** Ranges nobody could serve (every holder failed); `all` when the full ring was not received. */
  readonly missed: readonly Range[] | 'all';
}

/**
 * Receives what this node must hold from the members that hold it (see planCatchUp). Throws
 * LALLY_ERR_PEER_TIMEOUT past the deadline and LALLY_ERR_SHUTTING_DOWN when `signal` aborts; a range
 * that no holder could serve is reported in `missed`, not thrown (the caller decides).
 */
export async function catchUp(options: CatchUpOptions): Promise<CatchUpResult> {
  const { logger } = options;
  const tasks = planCatchUp(options.self, options.members, options.factor, options.preferred);
  const progress = new TransferProgress(logger, 'catch-up');
  if (tasks.length === 0) {
    return { needed: false, records: 0, applied: 0, superseded: 0, ms: 0, sources: [], missed: [] };
  }
  const deadline = Date.now() + options.timeoutMs;
  const failed = new Set<number>();
  const sources: string[] = [];
  const missed: PullTask[] = [];
  let pending: PullTask[] = tasks;
  while (pending.length > 0) {
    const { bySource, orphaned } = assignSources(pending, failed);
    missed.push(...orphaned);
    pending = [];
    for (const [source, list] of bySource) {
      const ranges = list.some((t) => t.ranges.length === 0) ? [] : list.flatMap((t) => t.ranges);
      logger.info(
        { from: source.address, ranges: ranges.length || 'all' },
        `catching up from ${source.address}`,
      );
      try {
        await pullFrom({ ...options, deadline }, source.address, ranges, progress);
        sources.push(source.address);
      } catch (error) {
        if (error instanceof LallyError && error.code === ErrorCodes.SHUTTING_DOWN) throw error;
        if (Date.now() >= deadline) throw transferTimeout(options.timeoutMs);
        logger.warn(
          { from: source.address, err: error },
          `cannot pull from ${source.address}: asking the next member that holds its ranges`,
        );
        failed.add(source.id);
        pending.push(...list);
      }
    }
  }
  const everything = tasks.length === 1 && tasks[0]!.ranges.length === 0;
  return {
    needed: true,
    ...progress.summary(),
    sources,
    missed: everything && missed.length > 0 ? 'all' : missed.flatMap((t) => t.ranges),
  };
}
