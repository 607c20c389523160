/**
 * `GET /kv/:key` answered at once (KeyValueService.readNow into RestGetSink) against its older path
 * (execute, an OpResult and closures): two HTTP APIs on real uWS sockets over two identical two-shard
 * setups, one with readNow and one without, must answer every GET with the same status, content type
 * and bytes, and leave the same engine, router and metrics counts.
 */
import { type Logger, pino } from 'pino';
import t, { type Test } from 'tap';
import { createHttpApp, HttpApi, type HttpAppOptions } from '../../src/http/http-app.js';
import { loadNativeUws } from '../../src/http/uws-native.js';
import type { KeyValueService } from '../../src/kv/key-value-service.js';
import { meteredService } from '../../src/metrics/metered-service.js';
import { allocateShardMetrics, ShardMetricsWriter } from '../../src/metrics/shard-metrics.js';
import { seededRandom } from '../fixtures/seeded-random.js';
import { assertSameCounts, type TwoShards, twoShardRouters } from '../fixtures/two-shard-routers.js';

const uws = loadNativeUws();
const silent = pino({ level: 'silent' });
const LIMITS = { maxKeyBytes: 256, maxValueBytes: 1 << 20, maxBodyBytes: 2 << 20, maxBatchOps: 100 };

interface Side extends TwoShards {
  metrics: SharedArrayBuffer[];
  /** One HTTP API per shard, each on its own port (a request reaches either shard). */
  urls: string[];
  /** What the APIs run: writes are made through these, the same on both sides. */
  services: KeyValueService[];
}

/** An HTTP API over `opts.service` on a real uWS socket of this thread; its URL. */
async function serve(
  t: Test,
  opts: { service: KeyValueService; logger?: Logger; meter?: HttpAppOptions['meter'] },
): Promise<string> {
  const api = new HttpApi({
    service: opts.service,
    limits: LIMITS,
    logger: opts.logger ?? silent,
    nodes: () => [],
    cluster: () => [],
    stats: (callback) => callback('{}'),
    ...(opts.meter === undefined ? {} : { meter: opts.meter }),
  });
  const port = await new Promise<number>((resolve, reject) => {
    createHttpApp(uws, api).listen('127.0.0.1', 0, (socket) => {
      if (!socket) return reject(new Error('uWS did not listen'));
      t.teardown(() => uws.us_listen_socket_close(socket));
      resolve(uws.us_socket_local_port(socket));
    });
  });
  return `http://127.0.0.1:${port}`;
}

async function side(t: Test, readNow: boolean, readQuorum: number | undefined): Promise<Side> {
  const shards = twoShardRouters(t, readQuorum === undefined ? {} : { readQuorum });
  const metrics: SharedArrayBuffer[] = [];
  const urls: string[] = [];
  const services: KeyValueService[] = [];
  for (const router of shards.routers) {
    const block = allocateShardMetrics();
    const writer = new ShardMetricsWriter(block);
    const url = await serve(t, {
      service: router,
      meter: (route, service) => {
        const metered = meteredService(service, route, writer, () => 0);
        // Without readNow the route takes execute, as it did before the sink existed.
        return readNow ? metered : { execute: metered.execute.bind(metered) };
      },
    });
    urls.push(url);
    services.push(router);
    metrics.push(block);
  }
  return { ...shards, metrics, urls, services };
}

interface Seen {
  status: number;
  type: string | null;
  body: string;
}

async function get(url: string, headers: Record<string, string> = {}): Promise<Seen> {
  const response = await fetch(url, { headers: { connection: 'close', ...headers } });
  const body = Buffer.from(await response.arrayBuffer()).toString('hex');
  return { status: response.status, type: response.headers.get('content-type'), body };
}

function write(service: KeyValueService, op: 'put' | 'remove', key: string, value?: string): Promise<void> {
  return new Promise((resolve, reject) =>
    service.execute(op, key, value === undefined ? undefined : Buffer.from(value), (result) =>
      result.error === undefined ? resolve() : reject(result.error),
    ),
  );
}

const KEYS = [
  ...Array.from({ length: 16 }, (_, i) => `k${i}`),
  'ü-key',
  'clé 🔑',
  'quote"key',
  'back\\slash',
  'tab\tkey',
  'x'.repeat(200),
  // At max_key_bytes (256 here), in ASCII and in 3-byte characters (255 bytes).
  'm'.repeat(256),
  '€'.repeat(85),
  'never-written',
];
const VALUES = [
  '',
  'v',
  'plain ascii value ~ {}',
  'a'.repeat(63),
  'b'.repeat(64),
  'c'.repeat(65),
  'd'.repeat(70_000),
  'w'.repeat(LIMITS.maxValueBytes), // at max_value_bytes
  'välue',
  'emoji 🔑 in it',
  'quote " inside',
  'back \\ slash',
  'new\nline',
  'ctrl \u0001 and \u001f',
  '\u007f del',
];

const pick = <T>(random: () => number, list: readonly T[]): T => list[Math.floor(random() * list.length)]!;

for (const readQuorum of [undefined, 2]) {
  t.test(`the sink and execute answer the same (read quorum ${readQuorum ?? 1})`, async (t) => {
    const on = await side(t, true, readQuorum);
    const off = await side(t, false, readQuorum);
    const random = seededRandom(readQuorum ?? 1);
    let found = 0;
    let raw = 0;
    for (let round = 0; round < 300; round++) {
      const key = pick(random, KEYS);
      const roll = random();
      const shard = random() < 0.5 ? 0 : 1;
      if (roll < 0.3) {
        const value = pick(random, VALUES);
        await write(on.services[shard]!, 'put', key, value);
        await write(off.services[shard]!, 'put', key, value);
        continue;
      }
      if (roll < 0.4) {
        await write(on.services[shard]!, 'remove', key);
        await write(off.services[shard]!, 'remove', key);
        continue;
      }
      const how = random();
      const path = `/kv/${encodeURIComponent(key)}${how < 0.2 ? '?raw' : how < 0.25 ? '?a=1&raw=1' : ''}`;
      const headers: Record<string, string> = how > 0.9 ? { accept: 'application/octet-stream' } : {};
      const [a, b] = await Promise.all([
        get(on.urls[shard]! + path, headers),
        get(off.urls[shard]! + path, headers),
      ]);
      if (a.status !== b.status || a.type !== b.type || a.body !== b.body) {
        t.fail(`round ${round}: GET ${path} differs`, { on: a, off: b });
        return;
      }
      if (a.status === 200) found++;
      if (a.type === 'application/octet-stream') raw++;
    }
    t.ok(found > 20, `${found} GETs found their key`);
    t.ok(raw > 5, `${raw} raw answers`);
    assertSameCounts(t, on, off);
  });
}

t.test(
  'a read that fails before its answer is a 500; one that fails after it keeps its answer',
  async (t) => {
    const lines: string[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => lines.push(line) });
    const unused: KeyValueService['execute'] = () => t.fail('execute is not reached');
    const before = await serve(t, {
      logger,
      service: {
        execute: unused,
        readNow: () => {
          throw new Error('the table is gone');
        },
      },
    });
    const failed = await get(`${before}/kv/k`);
    t.equal(failed.status, 500);
    t.match(Buffer.from(failed.body, 'hex').toString(), /"status":"error"/);
    const after = await serve(t, {
      logger,
      service: {
        execute: unused,
        readNow: (_key, sink) => {
          sink.found(Buffer.from('v'), 0, 1, 1_700_000_000_000, 0, 1, { required: 1, achieved: 1 });
          throw new Error('after the answer');
        },
      },
    });
    const answered = await get(`${after}/kv/k?raw`);
    t.equal(answered.status, 200, 'the answer written stands');
    t.equal(Buffer.from(answered.body, 'hex').toString(), 'v');
    t.ok(
      lines.some((line) => line.includes('GET failed after its answer') && line.includes('after the answer')),
      'the late failure is logged',
    );
    // The same API answers its next request: the sink holds no response of the last one.
    t.equal((await get(`${after}/kv/k?raw`)).status, 200);
  },
);
