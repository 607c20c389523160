/**
 * The thread that runs a shard's compaction jobs (rewrite-job.ts): a piscina pool of at most one thread,
 * created on first use and let go when idle, replaced after any failure.
 */
import type { Logger } from 'pino';
import { Piscina } from 'piscina';
import { RateLimitedLog } from '../log/rate-limited.js';
import type { RewriteJob, RewriteResult } from './rewrite-job.js';

/**
 * How long the thread outlives its job. Short: compactions are minutes apart, a thread starts in tens
 * of ms, and until it exits its heap (the winners' table of a whole shard, freed but not returned)
 * stays in the daemon's resident memory.
 */
export const REWRITE_THREAD_IDLE_MS = 2000;

export class RewritePool {
  #pool: Piscina | undefined;
  /** A thread that cannot start may fail every retry for a long time: logged rate-limited. */
  readonly #threadLog: RateLimitedLog;

  constructor(logger: Logger) {
    this.#threadLog = new RateLimitedLog(logger, 'warn', 'AOF compaction thread failed');
  }

  async run(job: RewriteJob): Promise<RewriteResult> {
    const pool =
      this.#pool ??
      new Piscina({
        filename: rewriteWorkerUrl().href,
        minThreads: 0,
        maxThreads: 1,
        idleTimeout: REWRITE_THREAD_IDLE_MS,
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
