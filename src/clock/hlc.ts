/**
 * Hybrid logical clock stamps. A version orders writes by (wall ms, logical counter, node id): a write
 * made after observing another is always later even when the local wall clock lags, and two writes with
 * equal wall and counter are ordered by node id, so every replica picks the same winner.
 */
export interface Version {
  /** Wall-clock milliseconds since the epoch (the physical part). */
  readonly wall: number;
  /** Logical counter within one wall millisecond (0..0xffffffff). */
  readonly counter: number;
  /** Id of the node that made the write (unsigned 32-bit): the tiebreak. */
  readonly node: number;
}

export const ZERO_VERSION: Version = Object.freeze({ wall: 0, counter: 0, node: 0 });

/** Negative when a is older than b, positive when newer, 0 when the same stamp. */
export function compareVersions(a: Version, b: Version): number {
  if (a.wall !== b.wall) return a.wall < b.wall ? -1 : 1;
  if (a.counter !== b.counter) return a.counter < b.counter ? -1 : 1;
  if (a.node !== b.node) return a.node < b.node ? -1 : 1;
  return 0;
}

export function isNewer(a: Version, than: Version): boolean {
  return compareVersions(a, than) > 0;
}

let cachedSecond = Number.NaN;
let cachedPrefix = '';

/**
 * The wall part as RFC 3339 with milliseconds, UTC (`2024-12-30T10:15:00.123Z`). Every write answer
 * carries one, and Date#toISOString is costly, so the text up to the second is reused while the second
 * stays the same (writes come in bursts within a second).
 */
export function versionToRfc3339(version: Version): string {
  return wallToRfc3339(version.wall);
}

/** versionToRfc3339 of a version's wall part alone (a read answered from the table's parts). */
export function wallToRfc3339(wall: number): string {
  const second = Math.floor(wall / 1000);
  if (second !== cachedSecond || wall < 0) {
    const iso = new Date(wall).toISOString();
    if (wall < 0 || iso.length !== 24) return iso; // outside years 0000-9999: no fast path
    cachedSecond = second;
    cachedPrefix = iso.slice(0, 20);
  }
  const ms = wall - second * 1000;
  return `${cachedPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`;
}

/** A compact, sortable text form for logs and exports: `wall.counter.node`. */
export function formatVersion(version: Version): string {
  return `${version.wall}.${version.counter}.${version.node}`;
}

export function parseVersion(text: string): Version | undefined {
  const match = /^(\d{1,16})\.(\d{1,10})\.(\d{1,10})$/.exec(text);
  if (!match) return undefined;
  const wall = Number(match[1]);
  const counter = Number(match[2]);
  const node = Number(match[3]);
  if (!Number.isSafeInteger(wall) || counter > 0xffffffff || node > 0xffffffff) return undefined;
  return { wall, counter, node };
}

const MAX_COUNTER = 0xffffffff;

export class HybridLogicalClock {
  #wall = 0;
  #counter = 0;
  readonly #node: number;
  readonly #now: () => number;

  constructor(node: number, now: () => number = Date.now) {
    this.#node = node >>> 0;
    this.#now = now;
  }

  get node(): number {
    return this.#node;
  }

  /** A fresh stamp, later than every stamp this clock made or observed. */
  tick(): Version {
    const physical = this.#now();
    if (physical > this.#wall) {
      this.#wall = physical;
      this.#counter = 0;
    } else if (this.#counter < MAX_COUNTER) {
      this.#counter++;
    } else {
      // The counter is spent within one millisecond: borrow the next millisecond rather than wrap.
      this.#wall++;
      this.#counter = 0;
    }
    return { wall: this.#wall, counter: this.#counter, node: this.#node };
  }

  /** Merge a stamp seen from elsewhere (a replica, the AOF) so that later ticks are above it. */
  observe(version: Version): void {
    if (version.wall > this.#wall || (version.wall === this.#wall && version.counter > this.#counter)) {
      this.#wall = version.wall;
      this.#counter = version.counter;
    }
  }
}
