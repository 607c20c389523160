/**
 * The thread that runs a shard's compaction jobs (rewrite-job.ts): a piscina pool of at most one thread,
 * created for a job and stopped after it, replaced after any failure. With the node's compaction token
 * (compaction-token.ts), a job first waits until no other shard of the node compacts, and gives the
 * token back once its thread has exited.
 */
import type { Logger } from 'pino';
import { Piscina } from 'piscina';
import { RateLimitedLog } from '../log/rate-limited.js';
import type { CompactionToken } from './compaction-token.js';
import type { RewriteJob, RewriteResult } from './rewrite-job.js';

/**
 * How long the thread would outlive its job: not at all (it is stopped after each job, see run()), this
 * only bounds the wait of a thread whose job piscina still holds. Compactions are minutes apart, a
 * thread starts in tens of ms, and until it exits its heap (the winners' table of a whole shard, freed
 * but not returned) stays in the daemon's resident memory.
 */
export const REWRITE_THREAD_IDLE_MS = 2000;

/**
 * V8's young generation of the compaction thread, in MiB: the job's garbage is short-lived (records
 * decoded one by one into typed arrays), and the default (up to 48 MiB) is resident while it runs.
 */
export const REWRITE_YOUNG_GENERATION_MB = 3;

export interface NodeToken {
  readonly token: CompactionToken;
  readonly shard: number;
}

export class RewritePool {
  #pool: Piscina | undefined;
  /** A thread that cannot start may fail every retry for a long time: logged rate-limited. */
  readonly #threadLog: RateLimitedLog;
  readonly #token: NodeToken | undefined;
  /** Aborts a wait for the token when the shard closes. */
  readonly #closing = new AbortController();

  constructor(logger: Logger, token?: NodeToken) {
    this.#threadLog = new RateLimitedLog(logger, 'warn', 'AOF compaction thread failed');
    this.#token = token;
  }

  async run(job: RewriteJob): Promise<RewriteResult> {
    const token = this.#token;
    if (token !== undefined) await token.token.acquire(token.shard, this.#closing.signal);
    try {
      return await this.#runOnThread(job);
    } finally {
      // The thread's heap leaves the process before the next compaction (of any shard) starts.
      const pool = this.#pool;
      this.#pool = undefined;
      await pool?.destroy().catch(() => undefined);
      token?.token.release(token.shard);
    }
  }

  async #runOnThread(job: RewriteJob): Promise<RewriteResult> {
    const pool =
      this.#pool ??
      new Piscina({
        filename: rewriteWorkerUrl().href,
        minThreads: 0,
        maxThreads: 1,
        idleTimeout: REWRITE_THREAD_IDLE_MS,
        resourceLimits: { maxYoungGenerationSizeMb: REWRITE_YOUNG_GENERATION_MB },
      });
    this.#pool = pool;
    try {
      // A thread that cannot start (EMFILE, out of memory) is reported as the pool's 'error' event
      // only: unhandled it would crash the shard, and the job's promise would never settle.
      return await new Promise<RewriteResult>((resolve, reject) => {
        const onError = (err: unknown) => {
          this.#threadLog.log({ message: (err as Error)?.message });
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

  /** Flushes the rate-limited log, then stops the thread (a job running on it fails). */
  async destroy(): Promise<void> {
    this.#closing.abort(new Error('shard closing'));
    this.#threadLog.flush();
    await this.#pool?.destroy().catch(() => undefined);
  }
}

/** The compiled piscina entry, dist/workers/aof-rewrite.js, from dist/ or (in tests) from src/. */
export function rewriteWorkerUrl(): URL {
  const here = new URL(import.meta.url);
  return here.pathname.endsWith('.ts')
    ? new URL('../../dist/workers/aof-rewrite.js', here)
    : new URL('../../workers/aof-rewrite.js', here);
}
