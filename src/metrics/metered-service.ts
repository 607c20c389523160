import type { KeyValueService, OpCallback, OpKind, OpResult } from '../kv/key-value-service.js';
import type { ApiRoute, Outcome, ShardMetricsWriter } from './shard-metrics.js';

/** How an operation's answer counts: an error by its HTTP status class, a GET or REMOVE of nothing, a quorum missed. */
export function outcomeOf(op: OpKind, result: OpResult): Outcome {
  if (result.error !== undefined) return result.error.httpStatus < 500 ? 'client_error' : 'server_error';
  if (result.quorum.achieved < result.quorum.required) return 'partial';
  if (!result.found && op !== 'put') return 'not_found';
  return 'ok';
}

/**
 * The key-value service of one HTTP route, counted: every operation's outcome and its latency (from
 * the call to its answer, hops and syncs included) go to the shard's shared block. One closure and two
 * clock reads per operation; nothing is sent anywhere.
 */
export function meteredService(
  service: KeyValueService,
  route: ApiRoute,
  writer: ShardMetricsWriter,
  now: () => number = () => performance.now(),
): KeyValueService {
  return {
    execute(op: OpKind, key: string, value: string | undefined, callback: OpCallback): void {
      const started = now();
      service.execute(op, key, value, (result) => {
        writer.operation(route, op, outcomeOf(op, result), now() - started);
        callback(result);
      });
    },
  };
}
