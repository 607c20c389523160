/**
 * One shard's request figures in shared memory: counters and fixed-bucket latency histograms in a
 * SharedArrayBuffer that only its shard writes (plain stores, no lock, no message) and the main thread
 * reads when GET /metrics is scraped. A single writer makes plain `+=` safe; a reader may see one
 * histogram a request ahead of its count, which a scrape tolerates (the next one is exact).
 *
 * Layout (Float64, so counters stay exact up to 2^53): the operation counters, route x op x outcome;
 * then one histogram per route x op (request latency); then one histogram of the AOF's syncs.
 * A histogram is its bucket counts (one per bound, plus +Inf), then its sum in seconds, then its count.
 */

export const API_ROUTES = ['kv', 'upstream', 'batch'] as const;
export type ApiRoute = (typeof API_ROUTES)[number];
export const METERED_OPS = ['get', 'put', 'remove'] as const;
export type MeteredOp = (typeof METERED_OPS)[number];
export const OUTCOMES = ['ok', 'not_found', 'partial', 'client_error', 'server_error'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Upper bounds, in seconds, of the request latency buckets (Prometheus `le`). */
export const REQUEST_BUCKETS: readonly number[] = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];
/** Upper bounds, in seconds, of the AOF sync (fdatasync) latency buckets. */
export const SYNC_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

const ROUTE_INDEX: Readonly<Record<ApiRoute, number>> = { kv: 0, upstream: 1, batch: 2 };
const OP_INDEX: Readonly<Record<MeteredOp, number>> = { get: 0, put: 1, remove: 2 };
const OUTCOME_INDEX: Readonly<Record<Outcome, number>> = {
  ok: 0,
  not_found: 1,
  partial: 2,
  client_error: 3,
  server_error: 4,
};

const COUNTERS = API_ROUTES.length * METERED_OPS.length * OUTCOMES.length;
const REQUEST_SLOTS = REQUEST_BUCKETS.length + 3; // buckets, +Inf, sum, count
const SYNC_SLOTS = SYNC_BUCKETS.length + 3;
const HISTOGRAMS_AT = COUNTERS;
const SYNC_AT = HISTOGRAMS_AT + API_ROUTES.length * METERED_OPS.length * REQUEST_SLOTS;
const SLOTS = SYNC_AT + SYNC_SLOTS;

/** Bytes of one shard's block. */
export const SHARD_METRICS_BYTES = SLOTS * Float64Array.BYTES_PER_ELEMENT;

export function allocateShardMetrics(): SharedArrayBuffer {
  return new SharedArrayBuffer(SHARD_METRICS_BYTES);
}

function checkBlock(buffer: SharedArrayBuffer): Float64Array {
  if (buffer.byteLength !== SHARD_METRICS_BYTES) {
    throw new RangeError(`a shard metrics block is ${SHARD_METRICS_BYTES} bytes, not ${buffer.byteLength}`);
  }
  return new Float64Array(buffer);
}

function observeInto(slots: Float64Array, at: number, bounds: readonly number[], seconds: number): void {
  let i = 0;
  const n = bounds.length;
  while (i < n && seconds > bounds[i]!) i++;
  slots[at + i]!++;
  slots[at + n + 1]! += seconds;
  slots[at + n + 2]!++;
}

/** The slots of one route, kind and outcome (ShardMetricsWriter.inlineSlots). */
export interface InlineSlots {
  readonly count: number;
  readonly latency: number;
}

/** The shard's side: bumps its own block (one writer). */
export class ShardMetricsWriter {
  readonly #slots: Float64Array;

  constructor(buffer: SharedArrayBuffer) {
    this.#slots = checkBlock(buffer);
  }

  /** One operation's outcome. */
  count(route: ApiRoute, op: MeteredOp, outcome: Outcome): void {
    this.#slots[
      (ROUTE_INDEX[route] * METERED_OPS.length + OP_INDEX[op]) * OUTCOMES.length + OUTCOME_INDEX[outcome]
    ]!++;
  }

  /** One operation's latency in milliseconds (performance.now() differences). */
  latency(route: ApiRoute, op: MeteredOp, elapsedMs: number): void {
    const at = HISTOGRAMS_AT + (ROUTE_INDEX[route] * METERED_OPS.length + OP_INDEX[op]) * REQUEST_SLOTS;
    observeInto(this.#slots, at, REQUEST_BUCKETS, elapsedMs / 1000);
  }

  /** Both at once. */
  operation(route: ApiRoute, op: MeteredOp, outcome: Outcome, elapsedMs: number): void {
    this.count(route, op, outcome);
    this.latency(route, op, elapsedMs);
  }

  /**
   * Where `inline` counts an operation of that route, kind and outcome (computed once by a caller
   * that counts many: a batch counts every GET it answers at once).
   */
  inlineSlots(route: ApiRoute, op: MeteredOp, outcome: Outcome): InlineSlots {
    return {
      count:
        (ROUTE_INDEX[route] * METERED_OPS.length + OP_INDEX[op]) * OUTCOMES.length + OUTCOME_INDEX[outcome],
      latency: HISTOGRAMS_AT + (ROUTE_INDEX[route] * METERED_OPS.length + OP_INDEX[op]) * REQUEST_SLOTS,
    };
  }

  /** `operation(…, 0)` at slots from inlineSlots: an operation answered inline, in the first bucket. */
  inline(slots: InlineSlots): void {
    const block = this.#slots;
    block[slots.count]!++;
    block[slots.latency]!++; // a duration of 0 is in the first bucket; the sum does not move
    block[slots.latency + REQUEST_BUCKETS.length + 2]!++;
  }

  /** One AOF sync (fdatasync) that took `elapsedMs`. */
  sync(elapsedMs: number): void {
    observeInto(this.#slots, SYNC_AT, SYNC_BUCKETS, elapsedMs / 1000);
  }
}

/** A histogram as read: counts per bucket (not cumulative; the last is +Inf), sum (s), count. */
export interface HistogramSnapshot {
  readonly buckets: readonly number[];
  readonly sum: number;
  readonly count: number;
}

export interface OperationSnapshot {
  readonly route: ApiRoute;
  readonly op: MeteredOp;
  readonly outcome: Outcome;
  readonly count: number;
}

export interface ShardMetricsSnapshot {
  readonly operations: readonly OperationSnapshot[];
  readonly latency: readonly { route: ApiRoute; op: MeteredOp; histogram: HistogramSnapshot }[];
  readonly sync: HistogramSnapshot;
}

function readHistogram(slots: Float64Array, at: number, bounds: readonly number[]): HistogramSnapshot {
  const n = bounds.length;
  return {
    buckets: Array.from(slots.subarray(at, at + n + 1)),
    sum: slots[at + n + 1]!,
    count: slots[at + n + 2]!,
  };
}

/** Reads a shard's block (the main thread, at scrape time). */
export function readShardMetrics(buffer: SharedArrayBuffer): ShardMetricsSnapshot {
  const slots = checkBlock(buffer);
  const operations: OperationSnapshot[] = [];
  const latency: { route: ApiRoute; op: MeteredOp; histogram: HistogramSnapshot }[] = [];
  for (const route of API_ROUTES) {
    for (const op of METERED_OPS) {
      const base = (ROUTE_INDEX[route] * METERED_OPS.length + OP_INDEX[op]) * OUTCOMES.length;
      for (const outcome of OUTCOMES) {
        operations.push({ route, op, outcome, count: slots[base + OUTCOME_INDEX[outcome]]! });
      }
      const at = HISTOGRAMS_AT + (ROUTE_INDEX[route] * METERED_OPS.length + OP_INDEX[op]) * REQUEST_SLOTS;
      latency.push({ route, op, histogram: readHistogram(slots, at, REQUEST_BUCKETS) });
    }
  }
  return { operations, latency, sync: readHistogram(slots, SYNC_AT, SYNC_BUCKETS) };
}
