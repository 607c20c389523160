import type { LatencySummary } from '../stats/percentiles.js';
import type { RequestPlan } from '../workload/requests.js';
import type { AnswerCounts } from './wrk-script.js';

export type LoadGeneratorName = 'wrk' | 'autocannon';

export interface LoadRun {
  /** Base URL of the target, such as http://127.0.0.1:40123 */
  url: string;
  plan: RequestPlan;
  connections: number;
  durationSec: number;
  /**
   * Requests per second to hold (fixed-rate mode); throughput mode when absent. `LoadGenerators.run`
   * gives fixed-rate runs to autocannon; wrk holds a rate too when called directly (a Lua `delay()`).
   */
  rate?: number | undefined;
  /** Extra request headers (the etcd gateway wants a JSON content type). */
  headers?: Record<string, string>;
  /** wrk only: `host:port` of several servers, thread i on target i mod n (the `url` gives the Host header). */
  targets?: readonly string[];
  /** wrk only: its threads (default: the generator's own setting). */
  threads?: number;
  /** wrk only: count the answers' `status` and `quorum.achieved` (LoadResult.answers). */
  countAnswers?: boolean;
}

export interface LoadResult {
  generator: LoadGeneratorName;
  requests: number;
  durationSec: number;
  requestsPerSec: number;
  /** Key-value operations per second: requests/s times operations per request. */
  opsPerSec: number;
  /** Milliseconds. */
  latencyMs: LatencySummary;
  /** Socket errors and timeouts. */
  errors: number;
  /** Answers with a status outside 2xx. */
  non2xx: number;
  /** With `countAnswers`: the answers by status. */
  answers?: AnswerCounts | null;
  /** wrk only: the CPU seconds wrk itself used (all its threads), or null when not read. */
  clientCpuSec?: number | null;
}

export interface LoadGenerator {
  readonly name: LoadGeneratorName;
  readonly version: string;
  run(load: LoadRun): Promise<LoadResult>;
}
