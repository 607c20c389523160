import { createRequire } from 'node:module';
import autocannon from 'autocannon';
import type { LoadGenerator, LoadResult, LoadRun } from './types.js';

export function autocannonVersion(): string {
  const require = createRequire(import.meta.url);
  const pkg = require('autocannon/package.json') as { version?: string };
  return `autocannon ${pkg.version ?? '?'}`;
}

/**
 * autocannon, from npm: always available, but it runs in this Node process and costs more CPU per
 * request than wrk. It is also the fixed-rate generator (`overallRate`).
 */
export class AutocannonLoadGenerator implements LoadGenerator {
  readonly name = 'autocannon' as const;
  readonly version = autocannonVersion();

  async run(load: LoadRun): Promise<LoadResult> {
    const { requests, bodies } = load.plan;
    let cursor = 0;
    const headers = load.headers ?? {};
    const result = await autocannon({
      url: load.url,
      connections: load.connections,
      duration: load.durationSec,
      ...(load.rate ? { overallRate: load.rate } : {}),
      timeout: 10,
      requests: [
        {
          setupRequest: (request) => {
            const planned = requests[cursor]!;
            cursor = cursor + 1 === requests.length ? 0 : cursor + 1;
            request.method = planned.method;
            request.path = planned.path;
            request.body = planned.body >= 0 ? bodies[planned.body] : undefined;
            request.headers = headers;
            return request;
          },
        },
      ],
    });
    const durationSec = result.duration;
    const total = result.requests.total;
    const requestsPerSec = durationSec > 0 ? total / durationSec : 0;
    const l = result.latency;
    return {
      generator: 'autocannon',
      requests: total,
      durationSec,
      requestsPerSec,
      opsPerSec: requestsPerSec * load.plan.opsPerRequest,
      latencyMs: { p50: l.p50, p99: l.p99, p999: l.p99_9, max: l.max, mean: l.mean },
      errors: result.errors,
      non2xx: result.non2xx,
    };
  }
}
