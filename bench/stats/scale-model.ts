import { ringCapacity, ringMemoryBytes } from '../../src/daemon/thread-rings.js';

/** The daemon's defaults (max_key_bytes 8K, max_value_bytes 1M), which set the ring capacity. */
export const DEFAULT_MAX_KEY_BYTES = 8 * 1024;
export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;

/** CPU per request of one load run, µs: what the model is fitted on. */
export interface CpuPerRequest {
  /** Every thread of the daemon (the process's /proc stat). */
  processUs: number;
  /** The client's own CPU per request (wrk), or null when not measured. */
  clientUs: number | null;
  /** Share of the requests answered by a shard other than the one holding the connection (0 to 1). */
  crossFraction: number;
}

export interface ScalePrediction {
  cores: number;
  /** Requests answered by another shard than the connection's: (N - 1) / N with uniform keys. */
  crossFraction: number;
  /** Daemon CPU per request, µs. */
  cpuUsPerRequest: number;
  /** N cores, all for the daemon: N / cpuPerRequest. */
  requestsPerSec: number;
  /** N cores shared with a client that costs what wrk cost here: N / (cpuPerRequest + client). */
  requestsPerSecWithClient: number | null;
  /** Shared memory of the rings at N shards with the default limits (ringMemoryBytes). */
  ringBytes: number;
}

export interface ScaleModel {
  /** CPU per request when every request is answered by the connection's own shard (1 shard). */
  localUs: number;
  /**
   * What a request answered by another shard adds, µs: (cpu at 2 shards - cpu at 1) / the cross
   * fraction seen at 2 shards. For a GET that is the direct read of the other shard's table; for a
   * PUT the hop there and back. Any other cost of a second shard (two event loops, smaller batches)
   * lands here too.
   */
  crossExtraUs: number;
  clientUs: number | null;
  predictions: ScalePrediction[];
}

/** Uniform keys over N shards: a request's key belongs to another shard than the connection's. */
export function uniformCrossFraction(shards: number): number {
  return shards <= 1 ? 0 : (shards - 1) / shards;
}

/**
 * throughput(N) = N cores / cpuPerRequest(N), cpuPerRequest(N) = local + crossFraction(N) * crossExtra.
 * Fitted on a 1-shard and a 2-shard run; one shard per core.
 */
export function fitScaleModel(
  one: CpuPerRequest,
  two: CpuPerRequest,
  cores: readonly number[],
  ringCapacityBytes = ringCapacity(DEFAULT_MAX_KEY_BYTES, DEFAULT_MAX_VALUE_BYTES),
): ScaleModel {
  const fraction = two.crossFraction > 0 ? two.crossFraction : uniformCrossFraction(2);
  const localUs = one.processUs;
  const crossExtraUs = (two.processUs - one.processUs) / fraction;
  const clients = [one.clientUs, two.clientUs].filter((c): c is number => c !== null);
  const clientUs = clients.length === 0 ? null : clients.reduce((a, b) => a + b, 0) / clients.length;
  const predictions = cores.map((n) => {
    const crossFraction = uniformCrossFraction(n);
    const cpu = localUs + crossFraction * crossExtraUs;
    return {
      cores: n,
      crossFraction: round(crossFraction, 4),
      cpuUsPerRequest: round(cpu, 2),
      requestsPerSec: Math.round((n * 1e6) / cpu),
      requestsPerSecWithClient: clientUs === null ? null : Math.round((n * 1e6) / (cpu + clientUs)),
      ringBytes: ringMemoryBytes(n, ringCapacityBytes),
    };
  });
  return {
    localUs: round(localUs, 2),
    crossExtraUs: round(crossExtraUs, 2),
    clientUs: clientUs === null ? null : round(clientUs, 2),
    predictions,
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
