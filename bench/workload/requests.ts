import { type DistributionName, fixedValue, keyName, keySource, seededRandom } from './key-distribution.js';

/** What a load run sends, independent of the load generator that sends it. */
export type OperationKind = 'get' | 'put' | 'mix' | 'batch';

export interface Workload {
  kind: OperationKind;
  distribution: DistributionName;
  valueBytes: number;
  /** Keys in the data set; GETs hit keys that the preload wrote. */
  keyCount: number;
  /** Operations per /batch request (kind 'batch' only). */
  batchSize: number;
  /** Share of writes in 'mix' and in batches (0.1 for the 90/10 mix). */
  writeShare: number;
  /** Restricts keys to this list of indexes (the shard-hop scenario); otherwise 0..keyCount-1. */
  keyIndexes?: readonly number[];
  seed: number;
}

export interface PlannedRequest {
  method: 'GET' | 'PUT' | 'POST';
  path: string;
  /** Index into `RequestPlan.bodies`, or -1 for none. */
  body: number;
}

export interface RequestPlan {
  requests: PlannedRequest[];
  /** Distinct bodies, shared between requests (every PUT of a scenario sends the same value). */
  bodies: string[];
  /** Key-value operations per request: 1, or the batch size. */
  opsPerRequest: number;
}

/**
 * How many distinct requests a plan holds: enough that the key distribution shows, few enough that
 * pre-formatted requests (wrk keeps them all in memory, per thread) stay within about 16 MiB.
 */
export function planLength(workload: Workload): number {
  const perRequest =
    workload.kind === 'batch'
      ? workload.batchSize * (40 + workload.writeShare * workload.valueBytes)
      : 80 + (workload.kind === 'get' ? 0 : workload.valueBytes);
  return Math.max(64, Math.min(65_536, Math.floor((16 * 1024 * 1024) / perRequest)));
}

/** The request sequence for a workload: deterministic for a given workload (seed included). */
export function buildRequestPlan(workload: Workload, length = planLength(workload)): RequestPlan {
  const pool = workload.keyIndexes;
  const count = pool ? pool.length : workload.keyCount;
  const nextIndex = keySource(workload.distribution, count, workload.seed);
  const nextKey = () => {
    const i = nextIndex();
    return keyName(pool ? pool[i]! : i);
  };
  const chooseWrite = seededRandom(workload.seed ^ 0x5bd1e995);
  const value = fixedValue(workload.valueBytes);
  const bodies: string[] = [];
  const requests: PlannedRequest[] = [];
  let valueBody = -1;
  const putBody = () => {
    if (valueBody < 0) valueBody = bodies.push(value) - 1;
    return valueBody;
  };
  for (let i = 0; i < length; i++) {
    const key = nextKey();
    switch (workload.kind) {
      case 'get':
        requests.push({ method: 'GET', path: `/kv/${key}`, body: -1 });
        break;
      case 'put':
        requests.push({ method: 'PUT', path: `/kv/${key}`, body: putBody() });
        break;
      case 'mix':
        if (chooseWrite() < workload.writeShare)
          requests.push({ method: 'PUT', path: `/kv/${key}`, body: putBody() });
        else requests.push({ method: 'GET', path: `/kv/${key}`, body: -1 });
        break;
      case 'batch': {
        const ops: unknown[] = [];
        for (let j = 0; j < workload.batchSize; j++) {
          const opKey = j === 0 ? key : nextKey();
          ops.push(
            chooseWrite() < workload.writeShare
              ? { op: 'put', key: opKey, value }
              : { op: 'get', key: opKey },
          );
        }
        requests.push({ method: 'POST', path: '/batch', body: bodies.push(JSON.stringify({ ops })) - 1 });
        break;
      }
    }
  }
  return { requests, bodies, opsPerRequest: workload.kind === 'batch' ? workload.batchSize : 1 };
}

/** /batch bodies that write every key of the data set once, each at most about `maxBytes` long. */
export function* preloadBodies(
  keyIndexes: Iterable<number>,
  valueBytes: number,
  maxBytes = 512 * 1024,
  maxOps = 5000,
): Generator<string> {
  const value = fixedValue(valueBytes);
  const opBytes = 40 + valueBytes;
  const perBody = Math.max(1, Math.min(maxOps, Math.floor(maxBytes / opBytes)));
  let ops: { op: 'put'; key: string; value: string }[] = [];
  for (const index of keyIndexes) {
    ops.push({ op: 'put', key: keyName(index), value });
    if (ops.length === perBody) {
      yield JSON.stringify({ ops });
      ops = [];
    }
  }
  if (ops.length > 0) yield JSON.stringify({ ops });
}

export function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}
