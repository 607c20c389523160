/**
 * Tombstone collection in one shard (docs/convergence.md): a delete's tombstone stamped more than the
 * grace period ago is dropped from the store and the anti-entropy digest (ShardEngine.collectTombstone);
 * the AOF drops its record at the next compaction by the same rule (src/aof/rewrite-job.ts).
 *
 * Why a grace period and not "every replica has it": anti-entropy runs every few seconds between every
 * pair of live replicas, so a tombstone is on every reachable replica long before the grace runs out;
 * the replicas that were not reachable for that long are the ones the rejoin rule keeps out
 * (src/cluster/last-seen.ts). The sweep walks the store in slices on a timer, so a large store never
 * stalls the shard's event loop for long.
 */
import type { Entry } from '../store/shard-store.js';
import type { ShardEngine } from './shard-engine.js';

/** Entries looked at per slice. */
const SLICE_ENTRIES = 20_000;
const SLICE_MS = 200;

export class TombstoneSweep {
  readonly #engine: ShardEngine;
  readonly #graceMs: number;
  readonly #passMs: number;
  readonly #now: () => number;
  #iterator: Iterator<[string, Entry]> | undefined;
  #timer: NodeJS.Timeout | undefined;
  passes = 0;

  constructor(engine: ShardEngine, graceMs: number, now: () => number = Date.now) {
    this.#engine = engine;
    this.#graceMs = graceMs;
    // A pass at least every tenth of the grace, at most once a minute (never more often than a second).
    this.#passMs = Math.max(1000, Math.min(60_000, Math.floor(graceMs / 10)));
    this.#now = now;
  }

  start(): void {
    this.#schedule(this.#passMs);
  }

  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(() => {
      const done = this.slice(SLICE_ENTRIES);
      this.#schedule(done ? this.#passMs : SLICE_MS);
    }, ms);
    this.#timer.unref();
  }

  /** Looks at up to `entries` entries; true when the pass ended. Collected tombstones are counted by the engine. */
  slice(entries: number): boolean {
    const before = this.#now() - this.#graceMs;
    this.#iterator ??= this.#engine.store.entries();
    const expired: [string, Entry][] = [];
    for (let i = 0; i < entries; i++) {
      const next = this.#iterator.next();
      if (next.done === true) {
        this.#iterator = undefined;
        this.passes++;
        break;
      }
      const entry = next.value[1];
      if (entry.tombstone && entry.wall < before) expired.push(next.value);
    }
    // Collected after the walk: a Map iterator copes with deletes, but the list keeps it plain.
    for (const [key, entry] of expired) this.#engine.collectTombstone(key, entry);
    return this.#iterator === undefined;
  }
}
