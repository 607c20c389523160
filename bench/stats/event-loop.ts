/** The resolution of the shards' event-loop monitors (src/metrics/event-loop-delay.ts: 20 ms). */
export const MONITOR_RESOLUTION_MS = 20;

/** One reading of GET /stats: each shard's `eventLoopDelay.maxMs` (null when it reported none). */
export type DelayReading = (number | null)[];

export interface ShardDelay {
  shard: number;
  /** Highest `maxMs` read while the load ran. */
  maxMs: number | null;
  /**
   * The longest stall that reading proves, ms: node's histogram records the time between two ticks of
   * a timer of `resolution` ms, so an idle loop reads about the resolution itself, and a stall of S
   * ms reads between S and S + resolution. maxMs - resolution is thus a lower bound of the stall.
   */
  stallAtLeastMs: number | null;
}

/**
 * The per-shard maximum over readings taken during a run. The monitors report the max over their
 * current and previous 10 s windows, so readings taken early in a run can still hold the seconds
 * before it: the scenario waits for a quiet reading before it starts the load.
 */
export function maxDelays(
  readings: readonly DelayReading[],
  resolutionMs = MONITOR_RESOLUTION_MS,
): ShardDelay[] {
  const shards = readings.reduce((n, r) => Math.max(n, r.length), 0);
  return Array.from({ length: shards }, (_, shard) => {
    let max: number | null = null;
    for (const r of readings) {
      const v = r[shard];
      if (typeof v === 'number' && (max === null || v > max)) max = v;
    }
    return {
      shard,
      maxMs: max,
      stallAtLeastMs: max === null ? null : Math.max(0, Math.round((max - resolutionMs) * 10) / 10),
    };
  });
}

/** Reads each shard's eventLoopDelay.maxMs out of a parsed GET /stats answer. */
export function delayReading(stats: unknown): DelayReading {
  const shards = (stats as { shards?: unknown } | null)?.shards;
  if (!Array.isArray(shards)) return [];
  return shards.map((s) => {
    const max = (s as { eventLoopDelay?: { maxMs?: unknown } | null })?.eventLoopDelay?.maxMs;
    return typeof max === 'number' ? max : null;
  });
}
