/**
 * The disk-outage state of one shard's active AOF file (docs/aof.md, "A full or failing disk").
 *
 * A failed write or sync (ENOSPC, EIO, EMFILE...) may leave the file ending in a torn record, or holding
 * records no sync covers. Nothing is appended after it: the file is first cut back to a clean record
 * boundary (the size before the failed write; after a failed sync, the size the last good sync covered),
 * then the acknowledged bytes past it are written again from memory.
 *
 * - fsync `always`: nothing past the last sync was acknowledged, so nothing is kept: ShardAof drops those
 *   records and fails their writers; as the engine applies a write to the store only after its sync (see
 *   src/shard/shard-engine.ts), a refused write was never visible, and the cut makes sure it is never
 *   replayed either.
 * - `everysec`/`no`: every appended record was acknowledged; none is dropped. The failed batch (and, with
 *   everysec, everything written since the last sync: a failed fdatasync may have lost those pages) is
 *   kept here and written again after the cut.
 *
 * Meanwhile new writes are refused with the error (507 LALLY_ERR_DISK_FULL for ENOSPC/EDQUOT, else
 * LALLY_ERR_AOF_IO) and a timer retries with exponential back-off, so the shard recovers by itself once
 * the disk takes writes again. Logged once per outage, not per write or per retry.
 *
 * This class holds that state and its transitions; ShardAof's pump decides when they happen.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { LallyError } from '../errors.js';
import { errnoOf } from './append-io.js';
import { ExponentialBackoff } from './backoff.js';

/** Retries of a failed write: 50 ms, doubling up to 2 s (Redis retries its AOF write once a second). */
export const RETRY_FIRST_MS = 50;
export const RETRY_MAX_MS = 2000;

/** Where a round of the pump failed: cutting the file back, writing, or syncing. */
export type FailedStep = 'cut' | 'write' | 'sync';

export class DiskOutage {
  readonly #logger: Logger;
  readonly #onRetryDue: () => void;
  /** Set while appends are refused. */
  #failure: LallyError | undefined;
  /** Set during an outage: the active file must be cut back to this size before anything else goes in. */
  #rewindTo: number | undefined;
  /** Size of the active file up to which nothing is ever cut: the last synced (with `no`: written) size. */
  #cleanBytes = 0;
  /** Bytes to write again after the cut (everysec/no: acknowledged records of a failed write or sync). */
  #kept: Buffer[] = [];
  #keptBytes = 0;
  /** everysec: the buffers written since the last fdatasync, to write again if that sync fails. */
  #unsynced: Buffer[] = [];
  /** From the first failure until a write goes through again (outlives #failure with fsync `always`). */
  #outage: { since: number; retries: number } | undefined;
  readonly #backoff = new ExponentialBackoff(RETRY_FIRST_MS, RETRY_MAX_MS);
  #retryTimer: NodeJS.Timeout | undefined;
  #retryDue = false;
  #outages = 0;
  #retries = 0;

  /** `onRetryDue` runs when a retry's back-off has passed: it kicks the pump, which calls startRetry. */
  constructor(logger: Logger, onRetryDue: () => void) {
    this.#logger = logger;
    this.#onRetryDue = onRetryDue;
  }

  /** The error appends are refused with, or undefined while the disk takes writes. */
  get failure(): LallyError | undefined {
    return this.#failure;
  }

  get inOutage(): boolean {
    return this.#outage !== undefined;
  }

  /** The size the file must still be cut back to, if a cut is due. */
  get rewindTo(): number | undefined {
    return this.#rewindTo;
  }

  get keptBytes(): number {
    return this.#keptBytes;
  }

  /** The back-off before the next retry (0 before the first failure). */
  get retryDelayMs(): number {
    return this.#backoff.delayMs;
  }

  /** Whether the pump's next round is a retry (the back-off has passed, or close asked for a last one). */
  get retryDue(): boolean {
    return this.#retryDue;
  }

  /** Outages started, and retries made, since the file was opened (for stats()). */
  get outages(): number {
    return this.#outages;
  }

  get retries(): number {
    return this.#retries;
  }

  /** The file is clean (synced; with fsync `no`: written) up to `size`: a cut never goes below it. */
  cleanUpTo(size: number): void {
    this.#cleanBytes = size;
  }

  /** everysec: `batch` was written and waits for the next sync. */
  written(batch: Buffer[]): void {
    this.#unsynced.push(...batch);
  }

  /** A sync covered the file up to `size`. */
  synced(size: number): void {
    this.#cleanBytes = size;
    this.#unsynced = [];
  }

  /** The kept bytes, to be written first; the returned array is the caller's to extend. */
  takeKept(): Buffer[] {
    const kept = this.#kept;
    this.#kept = [];
    this.#keptBytes = 0;
    return kept;
  }

  /**
   * A step of the pump failed with `failure`. `batch` is what the failed write was writing (undefined
   * once written), `batchStart` the file's size before it. `keepNothing` (fsync `always`): nothing
   * past the last sync was acknowledged, so nothing is kept to be written again.
   */
  fail(
    failure: LallyError,
    cause: unknown,
    step: FailedStep,
    batch: Buffer[] | undefined,
    batchStart: number,
    keepNothing: boolean,
    file: string,
  ): void {
    this.#failure = failure;
    // A failed write leaves the bytes before it as they were; a failed sync puts in doubt everything
    // since the last good one (Linux may drop the dirty pages of a failed writeback); a failed cut
    // keeps its target.
    this.#rewindTo =
      keepNothing || step === 'sync' ? this.#cleanBytes : Math.min(batchStart, this.#rewindTo ?? batchStart);
    if (keepNothing) {
      this.#unsynced = [];
      this.#kept = [];
      this.#keptBytes = 0;
    } else {
      const kept = [...(step === 'sync' ? this.#unsynced : []), ...(batch ?? []), ...this.#kept];
      if (step === 'sync') this.#unsynced = [];
      this.#kept = kept;
      this.#keptBytes = kept.reduce((sum, b) => sum + b.length, 0);
    }
    if (this.#outage === undefined) {
      this.#outages++;
      this.#outage = { since: Date.now(), retries: 0 };
      this.#backoff.reset();
      this.#backoff.next();
      this.#logger.error(
        {
          code: failure.code,
          cause: errnoOf(cause) ?? (cause as Error)?.message,
          file,
          cutBackTo: this.#rewindTo,
          keptBytes: this.#keptBytes,
        },
        `AOF write failed: ${failure.message}`,
      );
    } else {
      this.#outage.retries++;
      this.#backoff.next();
      this.#logger.debug({ code: failure.code, retries: this.#outage.retries }, 'AOF retry failed');
    }
  }

  /** Arms the retry timer for the current back-off delay (not while closing: close makes one attempt). */
  scheduleRetry(): void {
    this.#retryDue = false;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      this.#retryDue = true;
      this.#onRetryDue();
    }, this.#backoff.delayMs);
    this.#retryTimer.unref();
  }

  /** close(): no more timed retries (cleared first, before close waits for the running work). */
  stopRetries(): void {
    clearTimeout(this.#retryTimer);
  }

  /** close(): the one last attempt, made by the pump round close runs, if an outage is on. */
  lastAttempt(): void {
    this.#retryDue = true;
  }

  /** The pump starts a retry round; false when there is no outage to retry (close sets retryDue anyway). */
  startRetry(): boolean {
    this.#retryDue = false;
    if (this.#failure === undefined) return false;
    this.#retries++;
    return true;
  }

  /**
   * Cuts `fh` back to the clean boundary, if a cut is due, and syncs the cut. Returns the file's new
   * size, or undefined when no cut was due; throws if the cut failed (it stays due).
   */
  async cut(fh: FileHandle): Promise<number | undefined> {
    const to = this.#rewindTo;
    if (to === undefined) return undefined;
    await fh.truncate(to);
    await fh.datasync();
    this.#rewindTo = undefined;
    return to;
  }

  /** fsync `always`, after the cut: nothing was kept, the next append is the probe, so appends resume. */
  resumeAppends(): void {
    this.#failure = undefined;
  }

  /** A write went through (or nothing was left to write): the outage is over. */
  end(): void {
    const outage = this.#outage;
    this.#outage = undefined;
    this.#failure = undefined;
    if (outage === undefined) return;
    this.#logger.warn(
      { downMs: Date.now() - outage.since, retries: outage.retries },
      'AOF writes resumed: the disk takes writes again',
    );
  }

  /** Closing on a failure the last attempt did not cure: a failed final close of the file counts too. */
  failAtClose(failure: LallyError): void {
    this.#failure ??= failure;
  }
}
