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
 * job write a new base from the sealed files, then switch the manifest atomically.
 */
import { type FileHandle, open, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Version } from '../clock/hlc.js';
import type { FsyncPolicy } from '../config/types.js';
import { ErrorCodes, LallyError } from '../errors.js';
import { encodeRecordInto, maxEncodedSize } from './format.js';
import {
  baseName,
  createIncrement,
  ensureLayout,
  incrName,
  manifestFiles,
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
const MAX_IOVECS = 512;
const SYNC_INTERVAL_MS = 1000;

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
  #failure: LallyError | undefined;
  #closing = false;
  #pumpDone: Promise<void> = Promise.resolve();
  #timers: NodeJS.Timeout[] = [];

  #sealedBytes = 0; // base + sealed increments
  #activeBytes = 0; // the increment being appended to, as written
  #sizeAfterRewrite = 0;
  #rewrite: Promise<void> | undefined;
  #pool: { run(job: RewriteJob): Promise<RewriteResult>; destroy(): Promise<void> } | undefined;
  #stats = { writes: 0, syncs: 0, rewrites: 0, rewriteFailures: 0, lastRewriteMs: 0, lastRewriteAt: '' };
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

  /** Bytes appended and not yet handed to the OS. */
  get backlogBytes(): number {
    return this.#pendingBytes + this.#writingBytes;
  }

  /**
   * Undefined while the backlog is under its limit (the common case: no promise is made). Past it, a
   * promise that resolves once the backlog is written out below half the limit: the shard waits for it
   * before acknowledging, which slows the writers down to the disk's pace.
   */
  backlogged(): Promise<void> | undefined {
    const limit = this.#o.backlogLimitBytes ?? DEFAULT_BACKLOG_LIMIT_BYTES;
    if (this.backlogBytes < limit) return undefined;
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
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

  async close(): Promise<void> {
    if (this.#closing) return this.#pumpDone;
    this.#closing = true;
    for (const timer of this.#timers) clearInterval(timer);
    // A running compaction is abandoned (its output is deleted; the next open compacts again).
    await this.#pool?.destroy().catch(() => undefined);
    await this.#rewrite?.catch(() => undefined);
    this.#syncRequested = true;
    await this.#kickNow();
    await this.#fh.close();
    if (this.#failure !== undefined) throw this.#failure;
  }

  // ---- writing -------------------------------------------------------------------------------------

  #nextChunk(need: number): void {
    if (this.#curLen > this.#curSent) this.#chunks.push(this.#cur.subarray(this.#curSent, this.#curLen));
    this.#cur = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, need));
    this.#curSent = 0;
    this.#curLen = 0;
  }

  #takePending(): Buffer[] {
    const buffers = this.#chunks;
    if (this.#curLen > this.#curSent) {
      // The bytes handed out are never written again: appends continue after them in the same chunk.
      buffers.push(this.#cur.subarray(this.#curSent, this.#curLen));
      this.#curSent = this.#curLen;
    }
    this.#chunks = [];
    this.#pendingBytes = 0;
    return buffers;
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
    try {
      for (;;) {
        this.#rerun = false;
        const seq = this.#seqAppended;
        this.#writingBytes = this.#pendingBytes;
        const buffers = this.#takePending();
        if (buffers.length > 0) {
          const bytes = await writeAll(this.#fh, buffers);
          this.#stats.writes++;
          this.#activeBytes += bytes;
          this.#seqWritten = seq;
        }
        this.#writingBytes = 0;
        this.#releaseBacklogWaiters();
        const seal = this.#sealRequest;
        const wantSync = this.waitsForSync || this.#syncRequested;
        this.#syncRequested = false;
        // A file is always synced before it is sealed: sealed files must be whole.
        if (seal !== undefined || (wantSync && this.#seqSynced < this.#seqWritten)) {
          const covered = this.#seqWritten;
          await this.#fh.datasync();
          this.#stats.syncs++;
          this.#seqSynced = covered;
          this.#releaseWaiters();
        }
        if (seal !== undefined) {
          this.#sealRequest = undefined;
          seal.resolve(await this.#sealActive());
        }
        const more =
          this.#rerun ||
          this.#syncRequested ||
          this.#sealRequest !== undefined ||
          (this.#pendingBytes > 0 && (this.waitsForSync || this.#closing));
        if (!more) break;
      }
    } catch (err) {
      this.#fail(err);
    }
    // Cleared in the same synchronous step as the last check above, so no kick can fall in between.
    this.#pumping = false;
    // Cheap, and here at most once per batch: the check after appends that starts a compaction.
    this.#maybeRewrite();
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

  #fail(err: unknown): void {
    const failure =
      err instanceof LallyError
        ? err
        : new LallyError(ErrorCodes.AOF_IO, `AOF write failed: ${(err as Error).message}`, { cause: err });
    this.#failure ??= failure;
    this.#o.logger.error({ err }, 'AOF write failed: this shard refuses further writes');
    for (const waiter of this.#waiters.splice(0)) waiter.reject(failure);
    for (const waiter of this.#backlogWaiters.splice(0)) waiter.reject(failure);
    this.#sealRequest?.reject(failure);
    this.#sealRequest = undefined;
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
    // The size check also runs on a timer, so that a shard that stopped writing still compacts.
    this.#timers.push(setInterval(() => this.#maybeRewrite(), 5000));
    for (const timer of this.#timers) timer.unref();
  }

  // ---- compaction ----------------------------------------------------------------------------------

  #maybeRewrite(): void {
    const { rewriteMinSize, rewritePercentage } = this.#o;
    if (this.#rewrite !== undefined || this.#closing || this.#failure !== undefined || !this.#ready) return;
    if (rewritePercentage <= 0) return;
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
      if (this.#closing || this.#failure !== undefined) throw new Error('shard closing');
      // 3. Switch the manifest to the new base plus the increments written since the seal.
      const sealedSet = new Set(sealed);
      const next: ShardManifest = {
        ...this.#manifest,
        base: output,
        incrs: this.#manifest.incrs.filter((name) => !sealedSet.has(name)),
      };
      await writeManifest(this.#genDir, next);
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
      logger.info(
        { shard: this.#o.shard, inputBytes: result.inputBytes, bytes: result.bytes, records: result.records },
        'AOF compacted',
      );
    } catch (err) {
      this.#stats.rewriteFailures++;
      if (output !== undefined) await unlink(join(this.#genDir, output)).catch(() => undefined);
      if (!this.#closing) logger.error({ err, shard: this.#o.shard }, 'AOF compaction failed');
      // Do not retry at once: wait until the files grow again by the configured percentage.
      this.#sizeAfterRewrite = this.#sealedBytes + this.#activeBytes;
      throw err;
    }
  }

  /** Runs inside the pump (no write in flight): new increment, manifest switch, returns the sealed files. */
  async #sealActive(): Promise<string[]> {
    const { shard, shards } = this.#o;
    const sealed = manifestFiles(this.#manifest);
    const seq = this.#manifest.seq + 1;
    const name = incrName(shard, seq);
    await createIncrement(this.#genDir, name, shard, shards);
    const next: ShardManifest = { ...this.#manifest, seq, incrs: [...this.#manifest.incrs, name] };
    await writeManifest(this.#genDir, next);
    const fh = await open(join(this.#genDir, name), 'a');
    await this.#fh.close();
    this.#fh = fh;
    this.#manifest = next;
    this.#sealedBytes += this.#activeBytes;
    this.#activeBytes = (await fh.stat()).size;
    return sealed;
  }

  async #runInPool(job: RewriteJob): Promise<RewriteResult> {
    if (this.#closing) throw new Error('shard closing');
    if (this.#pool === undefined) {
      const { Piscina } = await import('piscina');
      this.#pool = new Piscina({
        filename: rewriteWorkerUrl().href,
        minThreads: 0,
        maxThreads: 1,
        idleTimeout: 30_000,
      }) as unknown as { run(job: RewriteJob): Promise<RewriteResult>; destroy(): Promise<void> };
    }
    return this.#pool.run(job);
  }

  async #measure(): Promise<void> {
    const files = manifestFiles(this.#manifest);
    let sealed = 0;
    for (const name of files.slice(0, -1)) sealed += (await stat(join(this.#genDir, name))).size;
    this.#sealedBytes = sealed;
    this.#activeBytes = (await this.#fh.stat()).size;
  }
}

/** The compiled piscina entry, dist/workers/aof-rewrite.js, from dist/ or (in tests) from src/. */
export function rewriteWorkerUrl(): URL {
  const here = new URL(import.meta.url);
  return here.pathname.endsWith('.ts')
    ? new URL('../../dist/workers/aof-rewrite.js', here)
    : new URL('../../workers/aof-rewrite.js', here);
}

async function writeAll(fh: FileHandle, buffers: Buffer[]): Promise<number> {
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
