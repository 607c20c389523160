/**
 * Percentiles by the nearest-rank method (the value below which `p` percent of the samples fall,
 * always one of the samples), as HdrHistogram, wrk and autocannon report them.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  if (p <= 0) return sorted[0]!;
  if (p >= 100) return sorted[sorted.length - 1]!;
  // The epsilon keeps float error from moving the rank up: 99.9% of 1000 is 999.0000000000001.
  const rank = Math.ceil((p / 100) * sorted.length - 1e-9);
  return sorted[Math.max(0, rank - 1)]!;
}

export interface LatencySummary {
  p50: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** Summary of unsorted samples (any unit: the summary keeps it). */
export function summarize(samples: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samples as ArrayLike<number>).sort();
  let sum = 0;
  for (const x of sorted) sum += x;
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
  };
}

/** Median of unsorted values: the middle one, or the mean of the two middle ones. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** `value / ceiling`, rounded to 3 decimals; null when either side is missing or the ceiling is 0. */
export function ratio(value: number | null | undefined, ceiling: number | null | undefined): number | null {
  if (
    value == null ||
    ceiling == null ||
    !Number.isFinite(value) ||
    !Number.isFinite(ceiling) ||
    ceiling <= 0
  ) {
    return null;
  }
  return Math.round((value / ceiling) * 1000) / 1000;
}
