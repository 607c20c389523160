/**
 * One shard's append-only files, driven from inside the shard's worker thread.
 *
 * Hot path: `append` encodes a record into an in-memory chunk (no I/O, no promise). A single "pump" moves
 * buffered bytes to disk with async writes and fdatasync (libuv's thread pool), so the shard's event loop
 * never blocks on the disk. With fsync `always` the pump is a group commit: while one fdatasync runs,
 * records pile up, and the next round writes and syncs all of them at once; `flushed()` resolves when a
 * sync covering the caller's records has completed. With `everysec` and `no`, a timer flushes every
 * `flushIntervalMs` (upstream aof_flush_interval) and `everysec` adds an fdatasync once a second.
 *
 * Compaction (see docs/aof.md): seal the current increment, go on appending into a new one, let a piscina
 * job write a new base from the sealed files, then switch the manifest atomically. A compaction that fails
 * at any step leaves the live file writable and is retried after an exponential back-off.
 *
 * A failed write or sync (full disk, I/O error) starts an outage: see #enterOutage.
 */
import { type FileHandle, open, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Piscina } from 'piscina';
import type { Version } from '../clock/hlc.js';
import type { FsyncPolicy } from '../config/types.js';
import { ErrorCodes, LallyError } from '../errors.js';
import { RateLimitedLog } from '../log/rate-limited.js';
import { diskError, errnoOf, writeAll } from './append-io.js';
import { encodeRecordInto, maxEncodedSize } from './format.js';
import {
  baseName,
  createIncrement,
  ensureLayout,
  incrName,
  manifestFiles,
  readManifest,
  type ShardManifest,
  writeManifest,
} from './layout.js';
import { planShard, refusalError } from './recovery-plan.js';
import type { RewriteJob, RewriteResult } from './rewrite-job.js';
import { replayShardFiles } from './shard-replay.js';
import type { AofRecord } from './types.js';

export interface ShardAofOptions {
  readonly dataDir: string;
  readonly shard: number;
  readonly shards: number;
  readonly fsync: FsyncPolicy;
  readonly flushIntervalMs: number;
  readonly rewriteMinSize: number;
  readonly rewritePercentage: number;
  readonly logger: Logger;
  /**
   * Bytes appended but not yet written out past which writers wait (`backlogged()`), so that a disk
   * slower than the writes holds the writers back instead of growing memory without bound. Default 64 MiB.
   */
  readonly backlogLimitBytes?: number;
  /** Runs a compaction job; default: a lazily created piscina pool of one thread. Tests pass their own. */
  readonly runRewrite?: (job: RewriteJob) => Promise<RewriteResult>;
  /** Test hook: called between compaction steps; throwing from it abandons the compaction there. */
  readonly onRewriteStep?: (step: 'sealed' | 'written' | 'switched') => void | Promise<void>;
}

export interface ReplayResult {
  records: number;
  bytes: number;
  truncatedBytes: number;
  /** Highest version replayed (the shard's clock must resume above it), or undefined when empty. */
  maxVersion: Version | undefined;
}

const CHUNK_BYTES = 256 * 1024;
const DEFAULT_BACKLOG_LIMIT_BYTES = 64 * 1024 * 1024;
/** With `everysec`/`no`, flush early once this much is buffered, to bound memory. */
const EAGER_FLUSH_BYTES = 4 * 1024 * 1024;
const SYNC_INTERVAL_MS = 1000;
/** Retries of a failed write: 50 ms, doubling up to 2 s (Redis retries its AOF write once a second). */
const RETRY_FIRST_MS = 50;
const RETRY_MAX_MS = 2000;
/** Retries of a failed compaction: 1 s, doubling up to 5 minutes. */
const REWRITE_RETRY_FIRST_MS = 1000;
const REWRITE_RETRY_MAX_MS = 5 * 60_000;
const REWRITE_CHECK_MS = 1000;

/** Where a round of the pump failed: cutting the file back, writing, or syncing. */
type FailedStep = 'cut' | 'write' | 'sync';

interface Waiter {
  readonly seq: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

export class ShardAof {
  readonly waitsForSync: boolean;
  readonly #o: ShardAofOptions;
  readonly #genDir: string;
  #manifest: ShardManifest;
  #fh: FileHandle;
  #ready: boolean;

  // Buffered records: full chunks, then the current chunk from #curSent to #curLen.
  #chunks: Buffer[] = [];
  #cur = Buffer.allocUnsafe(CHUNK_BYTES);
  #curSent = 0;
  #curLen = 0;
  #pendingBytes = 0;
  /** Bytes the pump took and is writing now (counted in the backlog until the write returns). */
  #writingBytes = 0;
  #backlogWaiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];

  #seqAppended = 0;
  #seqWritten = 0;
  #seqSynced = 0;
  #waiters: Waiter[] = [];
  #pumping = false;
  #kickScheduled = false;
  #rerun = false;
  #syncRequested = false;
  #sealRequest: { resolve: (sealed: string[]) => void; reject: (err: Error) => void } | undefined;
  /** Set while appends are refused (during an outage, see #enterOutage). */
  #failure: LallyError | undefined;
  /** Set during an outage: the active file must be cut back to this size before anything else goes in. */
  #rewindTo: number | undefined;
  /** Size of the active file up to which nothing is ever cut: the last synced (with `no`: written) size. */
  #keepBytes = 0;
  /** Bytes to write again after the cut (everysec/no: acknowledged records of a failed write or sync). */
  #retry: Buffer[] = [];
  #retryBytes = 0;
  /** everysec: the buffers written since the last fdatasync, to write again if that sync fails. */
  #unsynced: Buffer[] = [];
  #outage: { since: number; retries: number; delayMs: number } | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryDue = false;
  #closing = false;
  #closed: Promise<void> = Promise.resolve();
  #pumpDone: Promise<void> = Promise.resolve();
  #timers: NodeJS.Timeout[] = [];

  #sealedBytes = 0; // base + sealed increments
  #activeBytes = 0; // the increment being appended to, as written
  #sizeAfterRewrite = 0;
  #rewrite: Promise<void> | undefined;
  #rewriteRetryAt = 0;
  #rewriteDelayMs = 0;
  #pool: Piscina | undefined;
  #stats = {
    writes: 0,
    syncs: 0,
    rewrites: 0,
    rewriteFailures: 0,
    lastRewriteMs: 0,
    lastRewriteAt: '',
    outages: 0,
    writeRetries: 0,
  };
  #replayStats = { records: 0, truncatedBytes: 0 };
  /** Compaction retries may fail for a long time (a full disk, no descriptors): logged rate-limited. */
  readonly #rewriteFailedLog: RateLimitedLog;
  readonly #rewriteThreadLog: RateLimitedLog;

  private constructor(
    o: ShardAofOptions,
    genDir: string,
    manifest: ShardManifest,
    fh: FileHandle,
    fresh: boolean,
  ) {
    this.#o = o;
    this.#genDir = genDir;
    this.#manifest = manifest;
    this.#fh = fh;
    this.#ready = fresh;
    this.waitsForSync = o.fsync === 'always';
    this.#rewriteFailedLog = new RateLimitedLog(o.logger, 'error', 'AOF compaction failed: retrying later');
    this.#rewriteThreadLog = new RateLimitedLog(o.logger, 'warn', 'AOF compaction thread failed');
  }

  static async open(o: ShardAofOptions): Promise<ShardAof> {
    const layout = await ensureLayout(o.dataDir, o.shards);
    if (layout.shards !== o.shards) {
      throw new LallyError(
        ErrorCodes.AOF_CORRUPT,
        `${o.dataDir} holds files for ${layout.shards} shards, not ${o.shards}: prepareDataDir re-routes them first`,
      );
    }
    const genDir = join(o.dataDir, layout.dir);
    // The same plan as start-up's and `aof check`'s (recovery-plan.ts): files proven redundant go, files
    // the manifest does not account for (or a manifest naming missing files) refuse the open.
    const plan = await planShard(genDir, o.shard, o.shards);
    if (plan.problems.length > 0) throw refusalError(o.dataDir, plan.problems);
    for (const deletion of plan.deletions) await unlink(deletion.path).catch(() => undefined);
    if (plan.deletions.length > 0) {
      o.logger.warn(
        { removed: plan.deletions.map((d) => ({ path: d.path, why: d.why })) },
        'removed AOF leftovers proven redundant',
      );
    }
    let manifest = plan.manifest;
    const fresh = manifest === undefined;
    if (manifest === undefined) {
      // No manifest and no files of this shard at all (the plan refuses files without a manifest).
      manifest = {
        format: 1,
        shard: o.shard,
        shards: o.shards,
        seq: 1,
        base: null,
        incrs: [incrName(o.shard, 1)],
      };
      await createIncrement(genDir, manifest.incrs[0]!, o.shard, o.shards);
      await writeManifest(genDir, manifest);
    }
    // The plan checked that the file exists ('a' would otherwise recreate a lost increment, empty).
    const active = join(genDir, manifest.incrs.at(-1)!);
    const fh = await open(active, 'a');
    const aof = new ShardAof(o, genDir, manifest, fh, fresh);
    await aof.#measure();
    aof.#startTimers();
    return aof;
  }

  async replay(onRecord: (record: AofRecord) => void): Promise<ReplayResult> {
    const result = await replayShardFiles(this.#genDir, this.#manifest, this.#o.logger, onRecord);
    await this.#measure();
    this.#sizeAfterRewrite = this.#sealedBytes + this.#activeBytes;
    this.#replayStats = { records: result.records, truncatedBytes: result.truncatedBytes };
    this.#ready = true;
    return result;
  }

  append(record: AofRecord): void {
    // While the disk refuses (see #enterOutage), a write is refused before it reaches the buffer: it is
    // neither applied nor ever written, and the caller answers it with this error.
    if (this.#failure !== undefined) throw this.#failure;
    if (!this.#ready) {
      throw new LallyError(
        ErrorCodes.INTERNAL,
        'ShardAof.append before replay(): the tail is not checked yet',
      );
    }
    const need = maxEncodedSize(record);
    if (this.#cur.length - this.#curLen < need) this.#nextChunk(need);
    const size = encodeRecordInto(this.#cur, this.#curLen, record);
    this.#curLen += size;
    this.#pendingBytes += size;
    this.#seqAppended++;
    if (this.waitsForSync || this.#pendingBytes >= EAGER_FLUSH_BYTES) this.#scheduleKick();
  }

  flushed(): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (!this.waitsForSync || this.#seqSynced >= this.#seqAppended) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#waiters.push({ seq: this.#seqAppended, resolve, reject });
      this.#scheduleKick();
    });
  }

  /** Bytes appended and not yet handed to the OS (including bytes kept to be written again). */
  get backlogBytes(): number {
    return this.#pendingBytes + this.#writingBytes + this.#retryBytes;
  }

  /**
   * Undefined while the backlog is under its limit (the common case: no promise is made). Past it, a
   * promise that resolves once the backlog is written out below half the limit: the shard waits for it
   * before acknowledging, which slows the writers down to the disk's pace. The writes waiting here are
   * already applied and buffered, so a disk outage does not fail them: they are written once the disk
   * takes them again (or rejected by close() if it never does).
   */
  backlogged(): Promise<void> | undefined {
    const limit = this.#o.backlogLimitBytes ?? DEFAULT_BACKLOG_LIMIT_BYTES;
    if (this.backlogBytes < limit) return undefined;
    if (this.#closing && this.#failure !== undefined) return Promise.reject(this.#failure);
    this.#scheduleKick();
    return new Promise((resolve, reject) => this.#backlogWaiters.push({ resolve, reject }));
  }

  /** Writes and fdatasyncs everything appended so far, whatever the policy. */
  async sync(): Promise<void> {
    this.#syncRequested = true;
    await this.#kickNow();
    if (this.#failure !== undefined) throw this.#failure;
  }

  stats(): Record<string, number | string | boolean> {
    return {
      fsync: this.#o.fsync,
      bytes: this.#sealedBytes + this.#activeBytes,
      baseAndSealedBytes: this.#sealedBytes,
      activeBytes: this.#activeBytes,
      pendingBytes: this.#pendingBytes,
      backlogBytes: this.backlogBytes,
      files: manifestFiles(this.#manifest).length,
      appended: this.#seqAppended,
      syncedRecords: this.#seqSynced,
      replayedRecords: this.#replayStats.records,
      truncatedBytes: this.#replayStats.truncatedBytes,
      writes: this.#stats.writes,
      syncs: this.#stats.syncs,
      rewriteInProgress: this.#rewrite !== undefined,
      rewrites: this.#stats.rewrites,
      rewriteFailures: this.#stats.rewriteFailures,
      lastRewriteAt: this.#stats.lastRewriteAt,
      lastRewriteMs: this.#stats.lastRewriteMs,
      sizeAfterLastRewrite: this.#sizeAfterRewrite,
      failed: this.#failure !== undefined,
      failure: this.#failure?.code ?? '',
      outages: this.#stats.outages,
      writeRetries: this.#stats.writeRetries,
    };
  }

  /** Starts a compaction now if none runs (the automatic trigger calls this too). */
  rewriteNow(): Promise<void> {
    if (this.#rewrite === undefined && !this.#closing) {
      this.#rewrite = this.#runRewrite().finally(() => {
        this.#rewrite = undefined;
      });
    }
    return this.#rewrite ?? Promise.resolve();
  }

  /**
   * Writes and syncs what is buffered, then closes the file. Bounded on a failing disk: if the AOF is in
   * an outage, it gets one more attempt (cut back to the clean boundary, write, sync), not a retry loop.
   * Throws when acknowledged bytes could not be written, so that the node exits non-zero.
   */
  async close(): Promise<void> {
    if (this.#closing) return this.#closed;
    this.#closing = true;
    this.#closed = this.#closeNow();
    return this.#closed;
  }

  async #closeNow(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    clearTimeout(this.#retryTimer);
    this.#rewriteFailedLog.flush();
    this.#rewriteThreadLog.flush();
    // A running compaction is abandoned (its output is deleted; the next open compacts again).
    await this.#pool?.destroy().catch(() => undefined);
    await this.#rewrite?.catch(() => undefined);
    await this.#pumpDone;
    this.#retryDue = true; // the last attempt, if an outage is on
    this.#syncRequested = true;
    await this.#kickNow();
    await this.#cutNow(); // if the last attempt failed too: at least nothing torn is left
    await this.#fh.close().catch((err: unknown) => {
      this.#failure ??= diskError(err, this.#activePath(), this.#o.shard);
    });
    const failure = this.#failure;
    if (failure === undefined) return;
    const lostBytes = this.#retryBytes + this.#pendingBytes;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(failure);
    for (const waiter of this.#backlogWaiters.splice(0)) waiter.reject(failure);
    const cut =
      this.#rewindTo === undefined ? '' : `; the file could not be cut back to offset ${this.#rewindTo}`;
    const error = new LallyError(
      failure.code,
      `${failure.message}; at close ${lostBytes} buffered bytes of acknowledged writes could not be written${cut}`,
    );
    this.#o.logger.error(
      { code: failure.code, lostBytes, file: this.#activePath(), rewindTo: this.#rewindTo },
      'AOF closed with unwritten data',
    );
    throw error;
  }

  // ---- writing -------------------------------------------------------------------------------------

  #nextChunk(need: number): void {
    if (this.#curLen > this.#curSent) this.#chunks.push(this.#cur.subarray(this.#curSent, this.#curLen));
    this.#cur = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, need));
    this.#curSent = 0;
    this.#curLen = 0;
  }

  /** The bytes to write next: those kept from a failed write first, then the appended ones. */
  #takePending(): Buffer[] {
    const buffers = this.#retry;
    this.#retry = [];
    this.#retryBytes = 0;
    buffers.push(...this.#chunks);
    if (this.#curLen > this.#curSent) {
      // The bytes handed out are never written again: appends continue after them in the same chunk.
      buffers.push(this.#cur.subarray(this.#curSent, this.#curLen));
      this.#curSent = this.#curLen;
    }
    this.#chunks = [];
    this.#pendingBytes = 0;
    return buffers;
  }

  /** Forgets every appended byte not yet written (fsync always: none of them was acknowledged). */
  #dropPending(): void {
    this.#chunks = [];
    this.#curSent = this.#curLen;
    this.#pendingBytes = 0;
    this.#retry = [];
    this.#retryBytes = 0;
  }

  #scheduleKick(): void {
    if (this.#pumping) {
      this.#rerun = true;
      return;
    }
    if (this.#kickScheduled) return;
    this.#kickScheduled = true;
    // setImmediate, not a microtask: every record appended in this turn of the event loop joins the batch.
    setImmediate(() => {
      this.#kickScheduled = false;
      void this.#kickNow();
    });
  }

  /** Runs the pump, or asks the running one for another round; resolves when that round is done. */
  #kickNow(): Promise<void> {
    if (this.#pumping) {
      this.#rerun = true;
      return this.#pumpDone;
    }
    this.#pumping = true;
    this.#pumpDone = this.#pump();
    return this.#pumpDone;
  }

  async #pump(): Promise<void> {
    for (;;) {
      this.#rerun = false;
      if (this.#failure !== undefined && !this.#retryDue) break; // in an outage: the retry timer kicks
      let batch: Buffer[] | undefined;
      let phase: FailedStep = 'cut';
      let batchStart = this.#activeBytes;
      try {
        if (this.#retryDue) await this.#recover();
        phase = 'write';
        batchStart = this.#activeBytes; // after the cut, if the retry made one
        const seq = this.#seqAppended;
        this.#writingBytes = this.backlogBytes;
        batch = this.#takePending();
        let wrote = false;
        if (batch.length > 0) {
          const bytes = await writeAll(this.#fh, batch);
          wrote = true;
          this.#stats.writes++;
          this.#activeBytes += bytes;
          this.#seqWritten = seq;
          if (this.#o.fsync === 'everysec') {
            this.#unsynced.push(...batch);
          } else if (this.#o.fsync === 'no') {
            this.#keepBytes = this.#activeBytes;
          }
        }
        batch = undefined;
        this.#writingBytes = 0;
        this.#releaseBacklogWaiters();
        const seal = this.#sealRequest;
        const wantSync = this.waitsForSync || this.#syncRequested;
        this.#syncRequested = false;
        // A file is always synced before it is sealed: sealed files must be whole.
        if (seal !== undefined || (wantSync && this.#seqSynced < this.#seqWritten)) {
          const covered = this.#seqWritten;
          phase = 'sync';
          await this.#fh.datasync();
          this.#stats.syncs++;
          this.#seqSynced = covered;
          this.#keepBytes = this.#activeBytes;
          this.#unsynced = [];
          this.#releaseWaiters();
        }
        if (wrote && this.#outage !== undefined) this.#outageOver();
        if (seal !== undefined) {
          this.#sealRequest = undefined;
          // A failed seal fails the compaction only: the live file stays as it was, writable.
          await this.#sealActive().then(seal.resolve, seal.reject);
        }
      } catch (err) {
        this.#writingBytes = 0;
        const refused = this.#enterOutage(err, phase, batch, phase === 'cut' ? this.#rewindTo! : batchStart);
        // Cut at once, before any writer hears of the failure: a refused record must not be replayed
        // even if the process is killed right after answering. If the cut fails, the retry does it.
        await this.#cutNow();
        for (const waiter of refused) waiter.reject(this.#failure!);
        break;
      }
      const more =
        this.#rerun ||
        this.#syncRequested ||
        this.#sealRequest !== undefined ||
        (this.backlogBytes > 0 && (this.waitsForSync || this.#closing));
      if (!more) break;
    }
    // Cleared in the same synchronous step as the last check above, so no kick can fall in between.
    this.#pumping = false;
    // Cheap, and here at most once per batch: the check after appends that starts a compaction.
    this.#maybeRewrite();
  }

  /**
   * A write or sync of the active file failed (ENOSPC, EIO, EMFILE...). The file may now end in a torn
   * record, or hold records no sync covers. Nothing is appended after it: the file is first cut back to
   * a clean record boundary (the size before the failed write; after a failed sync, the size the last
   * good sync covered), then the acknowledged bytes past it are written again from memory.
   *
   * - fsync `always`: nothing past the last sync was acknowledged. Those records are dropped and their
   *   writers get the error; as the engine applies a write to the store only after its sync (see
   *   src/shard/shard-engine.ts), a refused write was never visible, and the cut makes sure it is never
   *   replayed either.
   * - `everysec`/`no`: every appended record was acknowledged; none is dropped. The failed batch (and,
   *   with everysec, everything written since the last sync: a failed fdatasync may have lost those
   *   pages) is kept and written again after the cut.
   *
   * Meanwhile new writes are refused with the error (507 LALLY_ERR_DISK_FULL for ENOSPC/EDQUOT, else
   * LALLY_ERR_AOF_IO) and a timer retries with exponential back-off, so the shard recovers by itself
   * once the disk takes writes again. Logged once per outage, not per write or per retry.
   */
  #enterOutage(err: unknown, step: FailedStep, batch: Buffer[] | undefined, batchStart: number): Waiter[] {
    const failure = diskError(err, this.#activePath(), this.#o.shard);
    this.#failure = failure;
    // A failed write leaves the bytes before it as they were; a failed sync puts in doubt everything
    // since the last good one (Linux may drop the dirty pages of a failed writeback); a failed cut
    // keeps its target.
    const always = this.#o.fsync === 'always';
    let refused: Waiter[] = [];
    this.#rewindTo =
      always || step === 'sync' ? this.#keepBytes : Math.min(batchStart, this.#rewindTo ?? batchStart);
    if (always) {
      this.#dropPending();
      this.#unsynced = [];
      refused = this.#waiters.splice(0);
      // The dropped records count as settled: the next sync covers only records appended after them.
      this.#seqWritten = this.#seqAppended;
      this.#seqSynced = this.#seqAppended;
    } else {
      const kept = [...(step === 'sync' ? this.#unsynced : []), ...(batch ?? []), ...this.#retry];
      if (step === 'sync') this.#unsynced = [];
      this.#retry = kept;
      this.#retryBytes = kept.reduce((sum, b) => sum + b.length, 0);
    }
    this.#sealRequest?.reject(failure);
    this.#sealRequest = undefined;
    if (this.#outage === undefined) {
      this.#stats.outages++;
      this.#outage = { since: Date.now(), retries: 0, delayMs: RETRY_FIRST_MS };
      this.#o.logger.error(
        {
          code: failure.code,
          cause: errnoOf(err) ?? (err as Error)?.message,
          file: this.#activePath(),
          cutBackTo: this.#rewindTo,
          keptBytes: this.#retryBytes,
        },
        `AOF write failed: ${failure.message}`,
      );
    } else {
      this.#outage.retries++;
      this.#outage.delayMs = Math.min(this.#outage.delayMs * 2, RETRY_MAX_MS);
      this.#o.logger.debug({ code: failure.code, retries: this.#outage.retries }, 'AOF retry failed');
    }
    if (this.#closing) return refused;
    this.#retryDue = false;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      this.#retryDue = true;
      void this.#kickNow();
    }, this.#outage.delayMs);
    this.#retryTimer.unref();
    return refused;
  }

  /** Cuts the active file back to its clean boundary, if a cut is due; failures are left to the retry. */
  async #cutNow(): Promise<void> {
    const to = this.#rewindTo;
    if (to === undefined) return;
    try {
      await this.#fh.truncate(to);
      await this.#fh.datasync();
      this.#activeBytes = to;
      this.#rewindTo = undefined;
    } catch {
      // still due: #recover tries again before anything is appended
    }
  }

  /** First step of a retry: cut the file back to its clean boundary (if not done yet); then write. */
  async #recover(): Promise<void> {
    this.#retryDue = false;
    if (this.#failure === undefined) return; // not in an outage (close sets retryDue regardless)
    this.#stats.writeRetries++;
    const to = this.#rewindTo;
    if (to !== undefined) {
      await this.#fh.truncate(to);
      await this.#fh.datasync();
      this.#activeBytes = to;
      this.#rewindTo = undefined;
    }
    if (this.#o.fsync === 'always') {
      // Nothing was kept: the next append is the probe, so appends resume now.
      this.#failure = undefined;
    } else if (this.#retryBytes === 0 && this.#pendingBytes === 0) {
      this.#outageOver();
    } else {
      // Appends stay refused until the kept bytes are written and synced (this same pump round).
      this.#syncRequested = true;
    }
  }

  #outageOver(): void {
    const outage = this.#outage!;
    this.#outage = undefined;
    this.#failure = undefined;
    this.#o.logger.warn(
      { downMs: Date.now() - outage.since, retries: outage.retries },
      'AOF writes resumed: the disk takes writes again',
    );
    this.#releaseBacklogWaiters();
  }

  #activePath(): string {
    return join(this.#genDir, this.#manifest.incrs.at(-1)!);
  }

  #releaseBacklogWaiters(): void {
    if (this.#backlogWaiters.length === 0) return;
    const limit = this.#o.backlogLimitBytes ?? DEFAULT_BACKLOG_LIMIT_BYTES;
    if (this.backlogBytes >= limit / 2) {
      this.#rerun = true; // keep writing: waiters are held until the backlog is down
      return;
    }
    for (const waiter of this.#backlogWaiters.splice(0)) waiter.resolve();
  }

  #releaseWaiters(): void {
    const synced = this.#seqSynced;
    let i = 0;
    while (i < this.#waiters.length && this.#waiters[i]!.seq <= synced) this.#waiters[i++]!.resolve();
    if (i > 0) this.#waiters.splice(0, i);
  }

  #startTimers(): void {
    const { fsync, flushIntervalMs } = this.#o;
    if (fsync !== 'always') {
      const flush = setInterval(
        () => {
          if (this.#pendingBytes > 0) void this.#kickNow();
        },
        Math.max(1, flushIntervalMs),
      );
      this.#timers.push(flush);
    }
    if (fsync === 'everysec') {
      this.#timers.push(
        setInterval(() => {
          if (this.#seqSynced < this.#seqAppended) {
            this.#syncRequested = true;
            void this.#kickNow();
          }
        }, SYNC_INTERVAL_MS),
      );
    }
    // The size check also runs on a timer, so that a shard that stopped writing still compacts (and a
    // failed compaction is retried once its back-off has passed).
    this.#timers.push(setInterval(() => this.#maybeRewrite(), REWRITE_CHECK_MS));
    for (const timer of this.#timers) timer.unref();
  }

  // ---- compaction ----------------------------------------------------------------------------------

  #maybeRewrite(): void {
    const { rewriteMinSize, rewritePercentage } = this.#o;
    if (this.#rewrite !== undefined || this.#closing || this.#failure !== undefined || !this.#ready) return;
    if (rewritePercentage <= 0 || Date.now() < this.#rewriteRetryAt) return;
    const size = this.#sealedBytes + this.#activeBytes;
    if (size < rewriteMinSize || size < this.#sizeAfterRewrite * (1 + rewritePercentage / 100)) return;
    void this.rewriteNow().catch(() => undefined);
  }

  async #runRewrite(): Promise<void> {
    const started = Date.now();
    const { logger } = this.#o;
    let output: string | undefined;
    try {
      // 1. Seal: the pump syncs the current increment and switches appends to a new one.
      const sealed = await new Promise<string[]>((resolve, reject) => {
        this.#sealRequest = { resolve, reject };
        void this.#kickNow();
      });
      await this.#o.onRewriteStep?.('sealed');
      // 2. A piscina thread writes the compacted base from the sealed files.
      const seq = this.#manifest.seq + 1;
      this.#manifest = { ...this.#manifest, seq };
      output = baseName(this.#o.shard, seq);
      const job: RewriteJob = {
        dir: this.#genDir,
        inputs: sealed,
        output,
        shard: this.#o.shard,
        shards: this.#o.shards,
      };
      const result = await (this.#o.runRewrite ?? ((j: RewriteJob) => this.#runInPool(j)))(job);
      await this.#o.onRewriteStep?.('written');
      if (this.#closing) throw new Error('shard closing');
      if (this.#failure !== undefined) throw this.#failure;
      // 3. Switch the manifest to the new base plus the increments written since the seal.
      const sealedSet = new Set(sealed);
      const next: ShardManifest = {
        ...this.#manifest,
        base: output,
        incrs: this.#manifest.incrs.filter((name) => !sealedSet.has(name)),
      };
      await this.#writeManifestChecked(next, output);
      this.#manifest = next;
      output = undefined;
      await this.#o.onRewriteStep?.('switched');
      for (const name of sealed) await unlink(join(this.#genDir, name)).catch(() => undefined);
      this.#sealedBytes = result.bytes;
      // Growth is measured from the new base alone (the live data), not from base + the increment
      // written during the rewrite: otherwise files that stopped growing stay several times the data.
      this.#sizeAfterRewrite = this.#sealedBytes;
      this.#stats.rewrites++;
      this.#stats.lastRewriteMs = Date.now() - started;
      this.#stats.lastRewriteAt = new Date().toISOString();
      this.#rewriteDelayMs = 0;
      this.#rewriteRetryAt = 0;
      logger.info(
        { inputBytes: result.inputBytes, bytes: result.bytes, records: result.records },
        'AOF compacted',
      );
    } catch (err) {
      this.#stats.rewriteFailures++;
      if (output !== undefined) await unlink(join(this.#genDir, output)).catch(() => undefined);
      if (!this.#closing) {
        this.#rewriteFailedLog.log({
          code: (err as { code?: unknown })?.code,
          message: (err as Error)?.message,
          retryInMs: Math.min(
            Math.max(REWRITE_RETRY_FIRST_MS, this.#rewriteDelayMs * 2),
            REWRITE_RETRY_MAX_MS,
          ),
        });
      }
      this.#rewriteDelayMs = Math.min(
        Math.max(REWRITE_RETRY_FIRST_MS, this.#rewriteDelayMs * 2),
        REWRITE_RETRY_MAX_MS,
      );
      this.#rewriteRetryAt = Date.now() + this.#rewriteDelayMs;
      throw err;
    }
  }

  /**
   * Writes a manifest; when the write reports an error, reads the manifest back: the rename may have
   * happened before the directory fsync failed, and then the switch did take place. `mustName` is the
   * file the new manifest adds. Throws only when the old manifest is known to be the one on disk.
   */
  async #writeManifestChecked(next: ShardManifest, mustName: string): Promise<void> {
    try {
      await writeManifest(this.#genDir, next);
    } catch (err) {
      const onDisk = await readManifest(this.#genDir, this.#o.shard).catch(() => undefined);
      if (onDisk !== undefined && manifestFiles(onDisk).includes(mustName)) return;
      throw err;
    }
  }

  /**
   * Runs inside the pump (no write in flight): new increment, manifest switch, returns the sealed files.
   * Any step may fail (EMFILE, ENOSPC): then the new increment is removed and appends go on into the
   * current file, which is untouched.
   */
  async #sealActive(): Promise<string[]> {
    const { shard, shards } = this.#o;
    const sealed = manifestFiles(this.#manifest);
    const seq = this.#manifest.seq + 1;
    const name = incrName(shard, seq);
    const path = join(this.#genDir, name);
    const next: ShardManifest = { ...this.#manifest, seq, incrs: [...this.#manifest.incrs, name] };
    let fh: FileHandle | undefined;
    try {
      await createIncrement(this.#genDir, name, shard, shards);
      fh = await open(path, 'a');
      await this.#writeManifestChecked(next, name);
    } catch (err) {
      await fh?.close().catch(() => undefined);
      await unlink(path).catch(() => undefined);
      throw err;
    }
    await this.#fh.close().catch(() => undefined); // synced above: nothing is left to lose
    this.#fh = fh;
    this.#manifest = next;
    this.#sealedBytes += this.#activeBytes;
    this.#activeBytes = (await fh.stat()).size;
    this.#keepBytes = this.#activeBytes;
    return sealed;
  }

  async #runInPool(job: RewriteJob): Promise<RewriteResult> {
    if (this.#closing) throw new Error('shard closing');
    const pool =
      this.#pool ??
      new Piscina({
        filename: rewriteWorkerUrl().href,
        minThreads: 0,
        maxThreads: 1,
        idleTimeout: 30_000,
      });
    this.#pool = pool;
    try {
      // A thread that cannot start (EMFILE, out of memory) is reported as the pool's 'error' event
      // only: unhandled it would crash the shard, and the job's promise would never settle.
      return await new Promise<RewriteResult>((resolve, reject) => {
        const onError = (err: unknown) => {
          this.#rewriteThreadLog.log({ message: (err as Error)?.message });
          reject(err);
        };
        pool.on('error', onError);
        (pool.run(job) as Promise<RewriteResult>)
          .then(resolve, reject)
          .finally(() => pool.off('error', onError));
      });
    } catch (err) {
      // The next attempt gets a fresh pool rather than one whose thread may be broken.
      this.#pool = undefined;
      pool.on('error', () => undefined); // late events of the pool being torn down
      await pool.destroy().catch(() => undefined);
      throw err;
    }
  }

  async #measure(): Promise<void> {
    const files = manifestFiles(this.#manifest);
    let sealed = 0;
    for (const name of files.slice(0, -1)) sealed += (await stat(join(this.#genDir, name))).size;
    this.#sealedBytes = sealed;
    this.#activeBytes = (await this.#fh.stat()).size;
    this.#keepBytes = this.#activeBytes;
  }
}

/** The compiled piscina entry, dist/workers/aof-rewrite.js, from dist/ or (in tests) from src/. */
export function rewriteWorkerUrl(): URL {
  const here = new URL(import.meta.url);
  return here.pathname.endsWith('.ts')
    ? new URL('../../dist/workers/aof-rewrite.js', here)
    : new URL('../../workers/aof-rewrite.js', here);
}
