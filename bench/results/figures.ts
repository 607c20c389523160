import type { LoadResult } from '../load/types.js';
import { type LatencySummary, median, ratio } from '../stats/percentiles.js';
import type { CeilingFigures, RoundFigures } from './schema.js';

export function roundFigures(result: LoadResult): RoundFigures {
  return {
    requestsPerSec: round(result.requestsPerSec),
    opsPerSec: round(result.opsPerSec),
    latencyMs: roundLatency(result.latencyMs),
    errors: result.errors,
    non2xx: result.non2xx,
  };
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function roundLatency(l: LatencySummary): LatencySummary {
  return { p50: round(l.p50, 3), p99: round(l.p99, 3), p999: round(l.p999, 3), max: round(l.max, 3), mean: round(l.mean, 3) };
}

/** Medians over rounds: throughput, and each latency percentile on its own. */
export function combineRounds(rounds: readonly RoundFigures[]) {
  const pick = (f: (r: RoundFigures) => number) => median(rounds.map(f));
  return {
    requestsPerSec: round(pick((r) => r.requestsPerSec)),
    opsPerSec: round(pick((r) => r.opsPerSec)),
    latencyMs: roundLatency({
      p50: pick((r) => r.latencyMs.p50),
      p99: pick((r) => r.latencyMs.p99),
      p999: pick((r) => r.latencyMs.p999),
      max: Math.max(...rounds.map((r) => r.latencyMs.max)),
      mean: pick((r) => r.latencyMs.mean),
    }),
    errors: rounds.reduce((s, r) => s + r.errors, 0),
    non2xx: rounds.reduce((s, r) => s + r.non2xx, 0),
  };
}

export function ceilingFigures(threads: number, rounds: readonly RoundFigures[]): CeilingFigures | null {
  if (rounds.length === 0) return null;
  const c = combineRounds(rounds);
  return { threads, opsPerSec: c.opsPerSec, requestsPerSec: c.requestsPerSec, latencyMs: c.latencyMs, rounds: [...rounds] };
}

/** The two ratios every case carries: throughput over the ceiling's, p99 over the ceiling's. */
export function ceilingRatios(
  figures: { opsPerSec: number; latencyMs: LatencySummary },
  ceiling: CeilingFigures | null,
): { ratioToCeiling: number | null; ratioP99ToCeiling: number | null } {
  return {
    ratioToCeiling: ratio(figures.opsPerSec, ceiling?.opsPerSec),
    ratioP99ToCeiling: ratio(figures.latencyMs.p99, ceiling?.latencyMs.p99),
  };
}
