import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BenchContext, runSeconds } from '../context.js';
import { installed } from '../peers/installed.js';
import { LocalServer } from '../peers/local-server.js';
import { REDIS_INSTALL, RedisServer, redisBenchmark } from '../peers/redis.js';
import { captureTail, removeTempDir, spawnTracked, stopChild, trackTempDir } from '../proc/children.js';
import { freePort } from '../proc/ports.js';
import { waitReady } from '../proc/wait-ready.js';
import { ceilingFigures, ceilingRatios, combineRounds, roundFigures } from '../results/figures.js';
import type { CaseResult, RoundFigures, TargetName } from '../results/schema.js';
import { fixedValue, keyName } from '../workload/key-distribution.js';
import type { RequestPlan, Workload } from '../workload/requests.js';
import { range } from '../workload/requests.js';
import { preload, sampleBodySizes } from './lally-api.js';
import { describeWorkload, planFor, workloadOf } from './throughput.js';

/** An HTTP peer, loaded with the same plan as Lally once its routes are translated. */
interface HttpPeer {
  name: TargetName;
  url: string;
  translate(plan: RequestPlan): RequestPlan;
  stop(): Promise<unknown>;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** Lally routes to another server's: `GET /kv/k` and `PUT /kv/k` (body) become what `route` says. */
function translatePlan(
  plan: RequestPlan,
  route: (
    method: string,
    key: string,
    value: string | undefined,
  ) => { method: 'GET' | 'PUT' | 'POST'; path: string; body?: string },
): RequestPlan {
  const bodies: string[] = [];
  const index = new Map<string, number>();
  const requests = plan.requests.map((r) => {
    const key = decodeURIComponent(r.path.slice('/kv/'.length));
    const t = route(r.method, key, r.body >= 0 ? plan.bodies[r.body] : undefined);
    let body = -1;
    if (t.body !== undefined) {
      body = index.get(t.body) ?? bodies.push(t.body) - 1;
      index.set(t.body, body);
    }
    return { method: t.method, path: t.path, body };
  });
  return { requests, bodies, opsPerRequest: plan.opsPerRequest };
}

async function startWebdis(ctx: BenchContext, redisPort: number): Promise<HttpPeer> {
  const port = await freePort();
  const config = join(ctx.scratchDir, 'webdis.json');
  writeFileSync(
    config,
    JSON.stringify({
      redis_host: '127.0.0.1',
      redis_port: redisPort,
      http_host: '127.0.0.1',
      http_port: port,
      threads: ctx.options.shards,
      pool_size: 20,
      daemonize: false,
      database: 0,
      verbosity: 1,
      logfile: join(ctx.scratchDir, 'webdis.log'),
    }),
  );
  const child = spawnTracked('webdis', [config]);
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/PING`, child, 10_000, captureTail(child));
  return {
    name: 'webdis',
    url,
    translate: (plan) =>
      translatePlan(plan, (method, key, value) =>
        method === 'GET'
          ? { method: 'GET', path: `/GET/${key}` }
          : { method: 'PUT', path: `/SET/${key}`, body: value ?? '' },
      ),
    stop: () => stopChild(child, 2000),
  };
}

async function startEtcd(keyCount: number, valueBytes: number): Promise<HttpPeer> {
  const clientPort = await freePort();
  const peerPort = await freePort();
  // tmpfs when there is one: etcd 3.4 fsyncs every write and has no flag against it.
  const dataDir = trackTempDir(tmpfsDir());
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const child = spawnTracked('etcd', [
    '--name',
    'bench',
    '--data-dir',
    dataDir,
    '--listen-client-urls',
    client,
    '--advertise-client-urls',
    client,
    '--listen-peer-urls',
    peer,
    '--initial-advertise-peer-urls',
    peer,
    '--initial-cluster',
    `bench=${peer}`,
    '--log-level',
    'error',
    '--logger',
    'zap',
  ]);
  await waitReady(`${client}/health`, child, 20_000, captureTail(child));
  const plan = translatePlan(
    {
      requests: range(keyCount).map((i) => ({ method: 'PUT', path: `/kv/${keyName(i)}`, body: 0 })),
      bodies: [fixedValue(valueBytes)],
      opsPerRequest: 1,
    },
    (_m, key, value) => ({
      method: 'POST',
      path: '/v3/kv/put',
      body: JSON.stringify({ key: b64(key), value: b64(value ?? '') }),
    }),
  );
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < plan.requests.length) {
        const r = plan.requests[next++]!;
        const res = await fetch(`${client}${r.path}`, { method: 'POST', body: plan.bodies[r.body] });
        await res.arrayBuffer();
      }
    }),
  );
  return {
    name: 'etcd',
    url: client,
    translate: (p) =>
      translatePlan(p, (method, key, value) =>
        method === 'GET'
          ? { method: 'POST', path: '/v3/kv/range', body: JSON.stringify({ key: b64(key) }) }
          : {
              method: 'POST',
              path: '/v3/kv/put',
              body: JSON.stringify({ key: b64(key), value: b64(value ?? '') }),
            },
      ),
    stop: async () => {
      await stopChild(child, 2000);
      removeTempDir(dataDir);
    },
  };
}

export function estimatePeers(ctx: BenchContext): number {
  return 15 + 2 * 5 * ctx.options.rounds * runSeconds(ctx);
}

/**
 * Peers against the same ceiling: for GET and PUT of 16 B values, each round runs the ceiling, then
 * every peer that is installed. A peer that is missing is listed as skipped with its install command.
 */
export async function runPeers(ctx: BenchContext): Promise<void> {
  const { options, progress } = ctx;
  const peers: HttpPeer[] = [];
  let redis: RedisServer | null = null;
  const workloads: Workload[] = [
    workloadOf('get', { quick: options.quick }),
    workloadOf('put', { quick: options.quick }),
  ];
  const { keyCount, valueBytes } = workloads[0]!;
  const status = (name: string, command: string, install: string) => {
    const ok = installed(command);
    ctx.results.peers.push(
      ok
        ? { name, status: 'ran' }
        : { name, status: 'skipped', reason: `${command} is not installed`, install },
    );
    return ok;
  };
  try {
    progress.step('peers: start node:http + Map and the installed peers, preload them', 8);
    const map = await LocalServer.start('node-http-map', []);
    peers.push({ name: 'node-http-map', url: map.url, translate: (p) => p, stop: () => map.stop() });
    ctx.results.peers.push({ name: 'uws-ceiling', status: 'ran' }, { name: 'node-http-map', status: 'ran' });
    await preload(map.url, range(keyCount), valueBytes);
    const sizes = await sampleBodySizes(map.url, valueBytes, planFor(workloads[0]!));
    const hasRedis =
      status('redis (redis-benchmark)', 'redis-benchmark', REDIS_INSTALL) && installed('redis-server');
    if (hasRedis) {
      redis = await RedisServer.start();
      // Lally's names for Webdis, and redis-benchmark's own (`key:` and 12 digits) for its GETs.
      await redis.preload(keyCount, valueBytes, keyName);
      await redis.preload(keyCount, valueBytes, (i) => `key:${String(i).padStart(12, '0')}`);
    }
    if (status('webdis', 'webdis', 'apt-get install webdis redis-server') && redis) {
      peers.push(await startWebdis(ctx, redis.port));
    }
    if (status('etcd', 'etcd', 'apt-get install etcd-server'))
      peers.push(await startEtcd(keyCount, valueBytes));

    const ceiling = await ctx.ceilings.get(options.shards, sizes);
    for (const workload of workloads) {
      const plan = planFor(workload);
      const label = describeWorkload(workload);
      const ceilingRounds: RoundFigures[] = [];
      const byPeer = new Map<string, { peer: string; generator: string; rounds: RoundFigures[] }>();
      for (let r = 1; r <= options.rounds; r++) {
        const load = {
          plan,
          connections: options.connections,
          durationSec: options.durationSec,
          rate: options.rate ?? undefined,
        };
        progress.step(
          `peers: ceiling (uWS, ${options.shards} threads) ${label}, round ${r}/${options.rounds}`,
          runSeconds(ctx),
        );
        ceilingRounds.push(roundFigures(await ctx.loads.run({ ...load, url: ceiling.url })));
        for (const peer of peers) {
          progress.step(`peers: ${peer.name} ${label}, round ${r}/${options.rounds}`, runSeconds(ctx));
          const result = await ctx.loads.run({ ...load, url: peer.url, plan: peer.translate(plan) });
          const entry = byPeer.get(peer.name) ?? { peer: peer.name, generator: result.generator, rounds: [] };
          entry.rounds.push(roundFigures(result));
          byPeer.set(peer.name, entry);
        }
        if (redis) {
          progress.step(
            `peers: redis (redis-benchmark) ${label}, round ${r}/${options.rounds}`,
            runSeconds(ctx),
          );
          const result = await redisBenchmark(redis.port, workload.kind === 'get' ? 'GET' : 'SET', {
            connections: options.connections,
            requests: Math.max(20_000, Math.round(options.durationSec * 60_000)),
            keyCount,
            valueBytes,
          });
          const entry = byPeer.get('redis') ?? { peer: 'redis', generator: 'redis-benchmark', rounds: [] };
          entry.rounds.push(roundFigures(result));
          byPeer.set('redis', entry);
        }
      }
      const ceilingResult = ceilingFigures(options.shards, ceilingRounds);
      for (const entry of byPeer.values()) {
        const figures = combineRounds(entry.rounds);
        const result: CaseResult = {
          scenario: 'peers',
          id: `${entry.peer}-${workload.kind}-${workload.distribution}-${workload.valueBytes}b`,
          label: `${entry.peer}: ${label}`,
          target: entry.peer as TargetName,
          generator: entry.generator,
          shards: null,
          aof: null,
          connections: options.connections,
          rate: options.rate,
          workload: {
            kind: workload.kind,
            distribution: workload.distribution,
            valueBytes,
            keyCount,
            batchSize: 1,
          },
          ...figures,
          rounds: entry.rounds,
          ceiling: ceilingResult,
          ...ceilingRatios(figures, ceilingResult),
        };
        if (entry.peer === 'redis') {
          result.note = 'RESP over TCP with its own client, not HTTP; p99.9 column shows the max';
        }
        ctx.results.cases.push(result);
        progress.note(
          `-> ${entry.peer}: ${Math.round(result.opsPerSec)} ops/s, p99 ${result.latencyMs.p99} ms, ${result.ratioToCeiling}x ceiling`,
        );
      }
    }
  } finally {
    await ctx.ceilings.stop();
    for (const peer of peers) await peer.stop();
    await redis?.stop();
  }
}

function tmpfsDir(): string {
  try {
    return mkdtempSync(join('/dev/shm', 'lally-bench-etcd-'));
  } catch {
    return mkdtempSync(join(tmpdir(), 'lally-bench-etcd-'));
  }
}
