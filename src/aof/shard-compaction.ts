/**
 * Compaction of one shard's AOF (docs/aof.md): when to start one, its steps, and its retry.
 *
 * The steps: seal the current increment (ShardAof's pump syncs it and switches appends to a new one), let
 * a piscina thread write a new base from the sealed files, then switch the manifest atomically to that
 * base plus the increments written since the seal. A compaction that fails at any step leaves the live
 * file writable and is retried after an exponential back-off (1 s, doubling up to 5 minutes).
 */
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { RateLimitedLog } from '../log/rate-limited.js';
import { ExponentialBackoff } from './backoff.js';
import { type CompactionToken, threadCompactionToken } from './compaction-token.js';
import { baseName, type ShardManifest, writeManifestChecked } from './layout.js';
import type { RewriteJob, RewriteResult } from './rewrite-job.js';
import { RewritePool } from './rewrite-pool.js';

export const REWRITE_RETRY_FIRST_MS = 1000;
export const REWRITE_RETRY_MAX_MS = 5 * 60_000;

export type RewriteStep = 'sealed' | 'written' | 'switched';

export interface CompactionOptions {
  readonly shard: number;
  readonly shards: number;
  readonly rewriteMinSize: number;
  readonly rewritePercentage: number;
  /** Tombstones older than this are left out of the new base (tombstone collection). */
  readonly tombstoneGraceMs?: number;
  readonly logger: Logger;
  readonly runRewrite?: (job: RewriteJob) => Promise<RewriteResult>;
  /**
   * The node's compaction token (one compaction at a time per node); by default the one the daemon
   * gave this shard thread, none on the main thread (tests).
   */
  readonly token?: CompactionToken;
  readonly onRewriteStep?: (step: RewriteStep) => void | Promise<void>;
}

/** What a compaction needs of the ShardAof it compacts (which owns the manifest and the active file). */
export interface CompactedLog {
  readonly genDir: string;
  /** The manifest now: the pump may change it (a seal) while a job runs. */
  manifest(): ShardManifest;
  setManifest(manifest: ShardManifest): void;
  /** Asks the pump to sync and seal the active increment; resolves with the sealed files. */
  seal(): Promise<string[]>;
  /** The error appends are refused with, if any: a compaction does not switch during a disk outage. */
  failure(): Error | undefined;
  /** The new base, `bytes` long, replaced the sealed files. */
  replacedSealed(bytes: number): void;
}

/**
 * Whether a log of `size` bytes is due for compaction: past the minimum size, and grown by
 * `percentage` % over its size after the last compaction (upstream's auto-aof-rewrite-* settings).
 */
export function compactionDue(
  size: number,
  sizeAfterRewrite: number,
  minSize: number,
  percentage: number,
): boolean {
  if (percentage <= 0) return false;
  return size >= minSize && size >= sizeAfterRewrite * (1 + percentage / 100);
}

export class ShardCompaction {
  readonly #o: CompactionOptions;
  readonly #log: CompactedLog;
  readonly #pool: RewritePool;
  /** Compaction retries may fail for a long time (a full disk, no descriptors): logged rate-limited. */
  readonly #failedLog: RateLimitedLog;
  readonly #backoff = new ExponentialBackoff(REWRITE_RETRY_FIRST_MS, REWRITE_RETRY_MAX_MS);
  #running: Promise<void> | undefined;
  #retryAt = 0;
  #closing = false;
  /** The size growth is measured from (see the end of #run). */
  sizeAfterRewrite = 0;
  rewrites = 0;
  failures = 0;
  lastRewriteMs = 0;
  lastRewriteAt = '';

  constructor(o: CompactionOptions, log: CompactedLog) {
    this.#o = o;
    this.#log = log;
    const token = o.token ?? threadCompactionToken();
    this.#pool = new RewritePool(o.logger, token === undefined ? undefined : { token, shard: o.shard });
    this.#failedLog = new RateLimitedLog(o.logger, 'error', 'AOF compaction failed: retrying later');
  }

  get running(): boolean {
    return this.#running !== undefined;
  }

  /** Whether a compaction should start now, for a log of `size` bytes (not while one runs or backs off). */
  due(size: number): boolean {
    if (this.#running !== undefined || Date.now() < this.#retryAt) return false;
    return compactionDue(size, this.sizeAfterRewrite, this.#o.rewriteMinSize, this.#o.rewritePercentage);
  }

  /** Starts a compaction now if none runs; resolves or rejects with the running one. */
  start(): Promise<void> {
    if (this.#running === undefined && !this.#closing) {
      this.#running = this.#run().finally(() => {
        this.#running = undefined;
      });
    }
    return this.#running ?? Promise.resolve();
  }

  /** Abandons a running compaction (its output is deleted; the next open compacts again). */
  async close(): Promise<void> {
    this.#closing = true;
    this.#failedLog.flush();
    await this.#pool.destroy();
    await this.#running?.catch(() => undefined);
  }

  async #run(): Promise<void> {
    const started = Date.now();
    const log = this.#log;
    let output: string | undefined;
    try {
      // 1. Seal: the pump syncs the current increment and switches appends to a new one.
      const sealed = await log.seal();
      await this.#o.onRewriteStep?.('sealed');
      // 2. A piscina thread writes the compacted base from the sealed files.
      const seq = log.manifest().seq + 1;
      log.setManifest({ ...log.manifest(), seq });
      output = baseName(this.#o.shard, seq);
      const job: RewriteJob = {
        dir: log.genDir,
        inputs: sealed,
        output,
        shard: this.#o.shard,
        shards: this.#o.shards,
        tombstonesBefore:
          this.#o.tombstoneGraceMs === undefined ? undefined : Date.now() - this.#o.tombstoneGraceMs,
      };
      const result = await (this.#o.runRewrite ?? ((j: RewriteJob) => this.#runInPool(j)))(job);
      await this.#o.onRewriteStep?.('written');
      if (this.#closing) throw new Error('shard closing');
      const failure = log.failure();
      if (failure !== undefined) throw failure;
      // 3. Switch the manifest to the new base plus the increments written since the seal.
      const sealedSet = new Set(sealed);
      const now = log.manifest();
      const next: ShardManifest = {
        ...now,
        base: output,
        baseRecords: result.records,
        incrs: now.incrs.filter((name) => !sealedSet.has(name)),
      };
      await writeManifestChecked(log.genDir, next, output);
      log.setManifest(next);
      output = undefined;
      await this.#o.onRewriteStep?.('switched');
      for (const name of sealed) await unlink(join(log.genDir, name)).catch(() => undefined);
      log.replacedSealed(result.bytes);
      // Growth is measured from the new base alone (the live data), not from base + the increment
      // written during the rewrite: otherwise files that stopped growing stay several times the data.
      this.sizeAfterRewrite = result.bytes;
      this.rewrites++;
      this.lastRewriteMs = Date.now() - started;
      this.lastRewriteAt = new Date().toISOString();
      this.#backoff.reset();
      this.#retryAt = 0;
      this.#o.logger.info(
        {
          inputBytes: result.inputBytes,
          bytes: result.bytes,
          records: result.records,
          winnerBytes: result.winnerBytes,
          heapBytes: result.heapBytes,
          parts: result.parts,
        },
        'AOF compacted',
      );
    } catch (err) {
      this.failures++;
      if (output !== undefined) await unlink(join(log.genDir, output)).catch(() => undefined);
      const delayMs = this.#backoff.next();
      if (!this.#closing) {
        this.#failedLog.log({
          code: (err as { code?: unknown })?.code,
          message: (err as Error)?.message,
          retryInMs: delayMs,
        });
      }
      this.#retryAt = Date.now() + delayMs;
      throw err;
    }
  }

  #runInPool(job: RewriteJob): Promise<RewriteResult> {
    if (this.#closing) return Promise.reject(new Error('shard closing'));
    return this.#pool.run(job);
  }
}
