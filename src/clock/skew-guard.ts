/**
 * The clock-skew guard of replicated writes. A hybrid logical clock follows the newest stamp it
 * observes, so one node whose wall clock runs far ahead would drag every clock in the cluster along
 * and win every later write to the keys it touched. A record stamped more than `maxSkewMs` ahead of
 * this node's wall clock is therefore refused before anything of its batch is applied (or its stamp
 * observed): the batch fails with LALLY_ERR_CLOCK_SKEW, its sender counts it as not acknowledged
 * (and keeps hints, which go through once the stamp is within the bound). Refusals are counted, and
 * logged at most once per `warnEveryMs` per peer.
 */
import type { Logger } from 'pino';
import { ErrorCodes, LallyError } from '../errors.js';
import type { Version } from './hlc.js';

export interface SkewGuardOptions {
  readonly maxSkewMs: number;
  readonly logger?: Logger;
  readonly now?: () => number;
  readonly warnEveryMs?: number;
}

export class SkewGuard {
  readonly counters = { refusedBatches: 0, refusedRecords: 0 };
  readonly #opts: SkewGuardOptions;
  readonly #now: () => number;
  readonly #warned = new Map<string, { at: number; suppressed: number }>();

  constructor(opts: SkewGuardOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  /** Throws LALLY_ERR_CLOCK_SKEW when a record's wall is beyond now + maxSkewMs (`from` names the peer). */
  check(records: readonly { readonly version: Version }[], from: string): void {
    const limit = this.#now() + this.#opts.maxSkewMs;
    let ahead = 0;
    let furthest = 0;
    for (const r of records) {
      if (r.version.wall > limit) {
        ahead++;
        furthest = Math.max(furthest, r.version.wall);
      }
    }
    if (ahead === 0) return;
    this.counters.refusedBatches++;
    this.counters.refusedRecords += ahead;
    const byMs = furthest - (limit - this.#opts.maxSkewMs);
    this.#warn(from, ahead, byMs);
    throw new LallyError(
      ErrorCodes.CLOCK_SKEW,
      `${ahead} of ${records.length} records from ${from} are stamped up to ${byMs} ms ahead of this node's clock (max_clock_skew_ms ${this.#opts.maxSkewMs}): refused`,
    );
  }

  #warn(from: string, records: number, byMs: number): void {
    const logger = this.#opts.logger;
    if (logger === undefined) return;
    const now = this.#now();
    const last = this.#warned.get(from);
    if (last !== undefined && now - last.at < (this.#opts.warnEveryMs ?? 10_000)) {
      last.suppressed++;
      return;
    }
    logger.warn(
      {
        peer: from,
        records,
        aheadMs: byMs,
        maxClockSkewMs: this.#opts.maxSkewMs,
        suppressed: last?.suppressed ?? 0,
      },
      `refused replicated writes from ${from}: stamped ${byMs} ms ahead of this node's clock (is its clock right?)`,
    );
    this.#warned.set(from, { at: now, suppressed: 0 });
  }
}
