/**
 * Hands hints (src/cluster/hints/hint-store.ts) back to their targets once reachable: for each target
 * with hints that membership calls live, one batch at a time on the target's replication stream; a
 * batch's hints are deleted once the target acknowledged it. A failed batch stops that target's
 * delivery until `retryMs` passed; `poke` (called on every member change, and at least every second
 * by the membership refresh) starts what may start.
 */
import type { Logger } from 'pino';
import { ErrorCodes, LallyError } from '../../errors.js';
import type { ReplicaRecord } from '../../rpc/codec.js';
import type { HintStore } from './hint-store.js';

export interface HintDeliveryOptions {
  readonly store: HintStore;
  /** Whether the target is live now (alive or suspect). */
  readonly isLive: (target: number) => boolean;
  /** Sends records to the target; resolves once it acknowledged them. */
  readonly send: (target: number, records: readonly ReplicaRecord[]) => Promise<unknown>;
  readonly logger?: Logger;
  readonly batchRecords?: number;
  readonly batchBytes?: number;
  readonly retryMs?: number;
  readonly now?: () => number;
}

export class HintDelivery {
  readonly #opts: HintDeliveryOptions;
  readonly #now: () => number;
  readonly #running = new Set<number>();
  readonly #retryAt = new Map<number, number>();
  #closed = false;
  readonly counters = { batches: 0, failedBatches: 0, refusedForSkew: 0 };

  constructor(opts: HintDeliveryOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  /** Targets being delivered to now. */
  get active(): number {
    return this.#running.size;
  }

  /** Starts delivery to every live target with hints that is not delivered to or waiting to retry. */
  poke(): void {
    if (this.#closed) return;
    const now = this.#now();
    for (const target of this.#opts.store.targets()) {
      if (this.#running.has(target) || (this.#retryAt.get(target) ?? 0) > now) continue;
      if (!this.#opts.isLive(target)) continue;
      this.#running.add(target);
      void this.#deliver(target).finally(() => this.#running.delete(target));
    }
  }

  close(): void {
    this.#closed = true;
  }

  async #deliver(target: number): Promise<void> {
    const { store, send } = this.#opts;
    const batchRecords = this.#opts.batchRecords ?? 1024;
    const batchBytes = this.#opts.batchBytes ?? 1024 * 1024;
    let sent = 0;
    while (!this.#closed && this.#opts.isLive(target) && store.pending(target) > 0) {
      const batch = store.peek(target, batchRecords, batchBytes);
      if (batch.length === 0) {
        // Pending hints not on disk yet (or all just expired): wait for the store's write.
        await store.flushed();
        if (store.peek(target, 1, 1).length === 0) break;
        continue;
      }
      try {
        await send(
          target,
          batch.map((h) => h.record),
        );
      } catch (error) {
        this.counters.failedBatches++;
        if (error instanceof LallyError && error.code === ErrorCodes.CLOCK_SKEW) {
          // The target judged a stamp of this batch too far ahead: retried, it would break the
          // stream again and again. Its hints are dropped (counted), as the target refused them.
          this.counters.refusedForSkew += batch.length;
          store.drop(target, batch.length);
          this.#opts.logger?.warn(
            { target: (target >>> 0).toString(16).padStart(8, '0'), hints: batch.length, err: error },
            'a replica refused hints for clock skew: dropped them',
          );
        }
        this.#retryAt.set(target, this.#now() + (this.#opts.retryMs ?? 1000));
        this.#opts.logger?.debug({ err: error, target, sent }, 'hint delivery failed; retrying later');
        return;
      }
      this.counters.batches++;
      store.delivered(target, batch.length);
      sent += batch.length;
    }
    this.#retryAt.delete(target);
    if (sent > 0)
      this.#opts.logger?.info(
        { target: (target >>> 0).toString(16).padStart(8, '0'), hints: sent },
        'hints delivered',
      );
  }
}
