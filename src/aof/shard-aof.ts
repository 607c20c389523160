/**
 * One shard's append-only files, driven from inside the shard's worker thread. ShardAof owns the active
 * file's handle and the manifest, and wires the pieces of one concern each:
 *
 * - append-buffer.ts: the hot path. `append` encodes a record into an in-memory chunk (no I/O, no
 *   promise).
 * - the pump (here): a single loop that moves buffered bytes to disk with async writes and fdatasync
 *   (libuv's thread pool), so the shard's event loop never blocks on the disk. With fsync `always` it is
 *   a group commit: while one fdatasync runs, records pile up, and the next round writes and syncs all
 *   of them at once; `flushed()` resolves when a sync covering the caller's records has completed. With
 *   `everysec` and `no`, a timer flushes every `flushIntervalMs` (upstream aof_flush_interval) and
 *   `everysec` adds an fdatasync once a second.
 * - disk-outage.ts: a failed write or sync (full disk, I/O error) starts an outage: cut back to a record
 *   boundary, refuse writes, retry with back-off.
 * - shard-compaction.ts: when to compact, the steps (seal, piscina job, manifest switch), the retry.
 * - shard-files.ts: opening the shard's files, their sizes, the next increment (the seal).
 */
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Version } from '../clock/hlc.js';
import type { FsyncPolicy } from '../config/types.js';
import { ErrorCodes, LallyError } from '../errors.js';
import { AppendBuffer } from './append-buffer.js';
import { diskError, writeAll } from './append-io.js';
import { DiskOutage, type FailedStep } from './disk-outage.js';
import { manifestFiles, type ShardManifest } from './layout.js';
import type { RewriteJob, RewriteResult } from './rewrite-job.js';
import { ShardCompaction } from './shard-compaction.js';
import { openNextIncrement, openShardFiles, sealedBytesOf } from './shard-files.js';
import { type EncodedRecordCallback, replayEncodedShardFiles, replayShardFiles } from './shard-replay.js';
import type { AofRecord, AofWrite } from './types.js';

export { rewriteWorkerUrl } from './rewrite-pool.js';

export interface ShardAofOptions {
  readonly dataDir: string;
  readonly shard: number;
  readonly shards: number;
  readonly fsync: FsyncPolicy;
  readonly flushIntervalMs: number;
  readonly rewriteMinSize: number;
  readonly rewritePercentage: number;
  /** Tombstones older than this are left out of a compaction's output (tombstone collection). */
  readonly tombstoneGraceMs?: number;
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
  /** Called after each fdatasync of the pump with its duration (GET /metrics' sync histogram). */
  readonly onSync?: (elapsedMs: number) => void;
}

export interface ReplayResult {
  records: number;
  bytes: number;
  truncatedBytes: number;
  /** Highest version replayed (the shard's clock must resume above it), or undefined when empty. */
  maxVersion: Version | undefined;
}

const DEFAULT_BACKLOG_LIMIT_BYTES = 64 * 1024 * 1024;
/** With `everysec`/`no`, flush early once this much is buffered, to bound memory. */
const EAGER_FLUSH_BYTES = 4 * 1024 * 1024;
const SYNC_INTERVAL_MS = 1000;
const REWRITE_CHECK_MS = 1000;

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

  readonly #buffer = new AppendBuffer();
  /** Bytes the pump took and is writing now (counted in the backlog until the write returns). */
  #writingBytes = 0;
  #backlogWaiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];

  #seqWritten = 0;
  #seqSynced = 0;
  #waiters: Waiter[] = [];
  #pumping = false;
  #kickScheduled = false;
  #rerun = false;
  #syncRequested = false;
  #sealRequest: { resolve: (sealed: string[]) => void; reject: (err: Error) => void } | undefined;
  readonly #disk: DiskOutage;
  #closing = false;
  #closed: Promise<void> = Promise.resolve();
  #pumpDone: Promise<void> = Promise.resolve();
  #timers: NodeJS.Timeout[] = [];

  #sealedBytes = 0; // base + sealed increments
  #activeBytes = 0; // the increment being appended to, as written
  readonly #compaction: ShardCompaction;
  #writes = 0;
  #writtenBytes = 0;
  #syncs = 0;
  #replayStats = { records: 0, truncatedBytes: 0 };

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
    this.#disk = new DiskOutage(o.logger, () => void this.#kickNow());
    this.#compaction = new ShardCompaction(o, {
      genDir,
      manifest: () => this.#manifest,
      setManifest: (next) => {
        this.#manifest = next;
      },
      seal: () =>
        new Promise<string[]>((resolve, reject) => {
          this.#sealRequest = { resolve, reject };
          void this.#kickNow();
        }),
      failure: () => this.#disk.failure,
      replacedSealed: (bytes) => {
        this.#sealedBytes = bytes;
      },
    });
  }

  static async open(o: ShardAofOptions): Promise<ShardAof> {
    const { genDir, manifest, fh, fresh } = await openShardFiles(o);
    const aof = new ShardAof(o, genDir, manifest, fh, fresh);
    await aof.#measure();
    aof.#startTimers();
    return aof;
  }

  async replay(onRecord: (record: AofRecord) => void): Promise<ReplayResult> {
    return this.#replayed(await replayShardFiles(this.#genDir, this.#manifest, this.#o.logger, onRecord));
  }

  /** replay(), with each record still encoded (the engine applies it from its bytes). */
  /** The records of the base file, as its compaction counted them (0 when the manifest has none). */
  expectedKeys(): number {
    return this.#manifest.baseRecords ?? 0;
  }

  async replayEncoded(onRecord: EncodedRecordCallback): Promise<ReplayResult> {
    return this.#replayed(
      await replayEncodedShardFiles(this.#genDir, this.#manifest, this.#o.logger, onRecord),
    );
  }

  async #replayed(result: ReplayResult): Promise<ReplayResult> {
    await this.#measure();
    this.#compaction.sizeAfterRewrite = this.#sealedBytes + this.#activeBytes;
    this.#replayStats = { records: result.records, truncatedBytes: result.truncatedBytes };
    this.#ready = true;
    return result;
  }

  append(record: AofWrite): void {
    // While the disk refuses (see disk-outage.ts), a write is refused before it reaches the buffer: it is
    // neither applied nor ever written, and the caller answers it with this error.
    const failure = this.#disk.failure;
    if (failure !== undefined) throw failure;
    if (!this.#ready) {
      throw new LallyError(
        ErrorCodes.INTERNAL,
        'ShardAof.append before replay(): the tail is not checked yet',
      );
    }
    this.#buffer.append(record);
    if (this.waitsForSync || this.#buffer.pendingBytes >= EAGER_FLUSH_BYTES) this.#scheduleKick();
  }

  flushed(): Promise<void> {
    const failure = this.#disk.failure;
    if (failure !== undefined) return Promise.reject(failure);
    if (!this.waitsForSync || this.#seqSynced >= this.#buffer.appended) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#waiters.push({ seq: this.#buffer.appended, resolve, reject });
      this.#scheduleKick();
    });
  }

  /** Bytes appended and not yet handed to the OS (including bytes kept to be written again). */
  get backlogBytes(): number {
    return this.#buffer.pendingBytes + this.#writingBytes + this.#disk.keptBytes;
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
    const failure = this.#disk.failure;
    if (this.#closing && failure !== undefined) return Promise.reject(failure);
    this.#scheduleKick();
    return new Promise((resolve, reject) => this.#backlogWaiters.push({ resolve, reject }));
  }

  /** Writes and fdatasyncs everything appended so far, whatever the policy. */
  async sync(): Promise<void> {
    this.#syncRequested = true;
    await this.#kickNow();
    const failure = this.#disk.failure;
    if (failure !== undefined) throw failure;
  }

  stats(): Record<string, number | string | boolean> {
    const compaction = this.#compaction;
    const failure = this.#disk.failure;
    return {
      fsync: this.#o.fsync,
      bytes: this.#sealedBytes + this.#activeBytes,
      baseAndSealedBytes: this.#sealedBytes,
      activeBytes: this.#activeBytes,
      pendingBytes: this.#buffer.pendingBytes,
      backlogBytes: this.backlogBytes,
      files: manifestFiles(this.#manifest).length,
      appended: this.#buffer.appended,
      syncedRecords: this.#seqSynced,
      replayedRecords: this.#replayStats.records,
      truncatedBytes: this.#replayStats.truncatedBytes,
      writes: this.#writes,
      writtenBytes: this.#writtenBytes,
      syncs: this.#syncs,
      rewriteInProgress: compaction.running,
      rewrites: compaction.rewrites,
      rewriteFailures: compaction.failures,
      lastRewriteAt: compaction.lastRewriteAt,
      lastRewriteMs: compaction.lastRewriteMs,
      sizeAfterLastRewrite: compaction.sizeAfterRewrite,
      failed: failure !== undefined,
      failure: failure?.code ?? '',
      outages: this.#disk.outages,
      writeRetries: this.#disk.retries,
    };
  }

  /** Starts a compaction now if none runs (the automatic trigger calls this too). */
  rewriteNow(): Promise<void> {
    return this.#compaction.start();
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
    this.#disk.stopRetries();
    await this.#compaction.close();
    await this.#pumpDone;
    this.#disk.lastAttempt(); // if an outage is on
    this.#syncRequested = true;
    await this.#kickNow();
    await this.#cutNow(); // if the last attempt failed too: at least nothing torn is left
    await this.#fh.close().catch((err: unknown) => {
      this.#disk.failAtClose(diskError(err, this.#activePath(), this.#o.shard));
    });
    const failure = this.#disk.failure;
    if (failure === undefined) return;
    const lostBytes = this.#disk.keptBytes + this.#buffer.pendingBytes;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(failure);
    for (const waiter of this.#backlogWaiters.splice(0)) waiter.reject(failure);
    const rewindTo = this.#disk.rewindTo;
    const cut = rewindTo === undefined ? '' : `; the file could not be cut back to offset ${rewindTo}`;
    const error = new LallyError(
      failure.code,
      `${failure.message}; at close ${lostBytes} buffered bytes of acknowledged writes could not be written${cut}`,
    );
    this.#o.logger.error(
      { code: failure.code, lostBytes, file: this.#activePath(), rewindTo },
      'AOF closed with unwritten data',
    );
    throw error;
  }

  // ---- the pump ------------------------------------------------------------------------------------

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
    const disk = this.#disk;
    for (;;) {
      this.#rerun = false;
      if (disk.failure !== undefined && !disk.retryDue) break; // in an outage: the retry timer kicks
      let batch: Buffer[] | undefined;
      let phase: FailedStep = 'cut';
      let batchStart = this.#activeBytes;
      try {
        if (disk.retryDue) await this.#recover();
        phase = 'write';
        batchStart = this.#activeBytes; // after the cut, if the retry made one
        const seq = this.#buffer.appended;
        this.#writingBytes = this.backlogBytes;
        // The bytes kept from a failed write go first, then the appended ones.
        batch = disk.takeKept();
        this.#buffer.takeInto(batch);
        let wrote = false;
        let synced = false;
        if (batch.length > 0) {
          const bytes = await writeAll(this.#fh, batch);
          wrote = true;
          this.#writes++;
          this.#writtenBytes += bytes;
          this.#activeBytes += bytes;
          this.#seqWritten = seq;
          if (this.#o.fsync === 'everysec') {
            disk.written(batch);
          } else if (this.#o.fsync === 'no') {
            disk.cleanUpTo(this.#activeBytes);
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
          const syncStarted = performance.now();
          await this.#fh.datasync();
          synced = true;
          this.#syncs++;
          this.#o.onSync?.(performance.now() - syncStarted);
          this.#seqSynced = covered;
          disk.synced(this.#activeBytes);
          this.#releaseWaiters();
        }
        if (wrote && disk.inOutage) this.#outageOver();
        // Once the bytes handed out are durable as the policy asks (written with `no`; else synced, as
        // everysec keeps what a failed sync would need written again) and no failure keeps any, their
        // chunks take new records.
        if (!disk.inOutage && disk.keptBytes === 0 && (this.#o.fsync === 'no' ? wrote : synced)) {
          this.#buffer.recycle();
        }
        if (seal !== undefined) {
          this.#sealRequest = undefined;
          // A failed seal fails the compaction only: the live file stays as it was, writable.
          await this.#sealActive().then(seal.resolve, seal.reject);
        }
      } catch (err) {
        this.#writingBytes = 0;
        const refused = this.#enterOutage(err, phase, batch, phase === 'cut' ? disk.rewindTo! : batchStart);
        // Cut at once, before any writer hears of the failure: a refused record must not be replayed
        // even if the process is killed right after answering. If the cut fails, the retry does it.
        await this.#cutNow();
        for (const waiter of refused) waiter.reject(disk.failure!);
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

  // ---- a failing disk (disk-outage.ts holds the state) ---------------------------------------------

  /**
   * A step of the pump failed: the outage starts (or goes on). With fsync `always`, every record not
   * yet synced is dropped and its writer refused (returned, to be rejected after the cut); with
   * `everysec`/`no` they were acknowledged, and the outage keeps them to write again.
   */
  #enterOutage(err: unknown, step: FailedStep, batch: Buffer[] | undefined, batchStart: number): Waiter[] {
    const path = this.#activePath();
    const failure = diskError(err, path, this.#o.shard);
    const always = this.#o.fsync === 'always';
    let refused: Waiter[] = [];
    if (always) {
      this.#buffer.drop();
      refused = this.#waiters.splice(0);
      // The dropped records count as settled: the next sync covers only records appended after them.
      this.#seqWritten = this.#buffer.appended;
      this.#seqSynced = this.#buffer.appended;
    }
    this.#disk.fail(failure, err, step, batch, batchStart, always, path);
    this.#sealRequest?.reject(failure);
    this.#sealRequest = undefined;
    if (!this.#closing) this.#disk.scheduleRetry();
    return refused;
  }

  /** Cuts the active file back to its clean boundary, if a cut is due; failures are left to the retry. */
  async #cutNow(): Promise<void> {
    try {
      const size = await this.#disk.cut(this.#fh);
      if (size !== undefined) this.#activeBytes = size;
    } catch {
      // still due: #recover tries again before anything is appended
    }
  }

  /** First step of a retry: cut the file back to its clean boundary (if not done yet); then write. */
  async #recover(): Promise<void> {
    if (!this.#disk.startRetry()) return; // not in an outage (close sets retryDue regardless)
    const size = await this.#disk.cut(this.#fh);
    if (size !== undefined) this.#activeBytes = size;
    if (this.#o.fsync === 'always') {
      this.#disk.resumeAppends();
    } else if (this.#disk.keptBytes === 0 && this.#buffer.pendingBytes === 0) {
      this.#outageOver();
    } else {
      // Appends stay refused until the kept bytes are written and synced (this same pump round).
      this.#syncRequested = true;
    }
  }

  #outageOver(): void {
    this.#disk.end();
    this.#releaseBacklogWaiters();
  }

  // ---- waiters, timers -----------------------------------------------------------------------------

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
          if (this.#buffer.pendingBytes > 0) void this.#kickNow();
        },
        Math.max(1, flushIntervalMs),
      );
      this.#timers.push(flush);
    }
    if (fsync === 'everysec') {
      this.#timers.push(
        setInterval(() => {
          if (this.#seqSynced < this.#buffer.appended) {
            this.#syncRequested = true;
            void this.#kickNow();
          }
        }, SYNC_INTERVAL_MS),
      );
    }
    // The size check also runs on a timer, so that a shard that stopped writing still compacts (and a
    // failed compaction is retried once its back-off has passed).
    this.#timers.push(
      setInterval(() => {
        this.#maybeRewrite();
        this.#buffer.trimIfIdle(); // an idle shard does not keep its write chunks resident
      }, REWRITE_CHECK_MS),
    );
    for (const timer of this.#timers) timer.unref();
  }

  // ---- compaction (shard-compaction.ts runs it; the seal is the pump's) ----------------------------

  #maybeRewrite(): void {
    if (this.#closing || this.#disk.failure !== undefined || !this.#ready) return;
    if (!this.#compaction.due(this.#sealedBytes + this.#activeBytes)) return;
    void this.rewriteNow().catch(() => undefined);
  }

  /** Runs inside the pump (no write in flight, the file synced): seals the active file, see shard-files.ts. */
  async #sealActive(): Promise<string[]> {
    const sealed = manifestFiles(this.#manifest);
    const next = await openNextIncrement(this.#genDir, this.#manifest, this.#o.shard, this.#o.shards);
    await this.#fh.close().catch(() => undefined); // synced above: nothing is left to lose
    this.#fh = next.fh;
    this.#manifest = next.manifest;
    this.#sealedBytes += this.#activeBytes;
    this.#activeBytes = (await next.fh.stat()).size;
    this.#disk.cleanUpTo(this.#activeBytes);
    return sealed;
  }

  async #measure(): Promise<void> {
    this.#sealedBytes = await sealedBytesOf(this.#genDir, this.#manifest);
    this.#activeBytes = (await this.#fh.stat()).size;
    this.#disk.cleanUpTo(this.#activeBytes);
  }
}
