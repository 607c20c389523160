import { EventEmitter } from 'node:events';
import fc from 'fast-check';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import type { AofRecord, AofWrite } from '../../src/aof/types.js';
import { loadConfig } from '../../src/config/load-config.js';
import type { LallyConfig } from '../../src/config/types.js';
import type { HopLink } from '../../src/hop/hop-link.js';
import { OPEN_ROUTES } from '../../src/http/auth-guard.js';
import { GREETING } from '../../src/http/http-app.js';
import { wantsRawValue } from '../../src/http/query-flags.js';
import { kvAnswerJson, Messages } from '../../src/http/responses.js';
import { valueText } from '../../src/kv/value-input.js';
import { NodeStatus } from '../../src/metrics/node-status.js';
import { allocateShardMetrics, readShardMetrics } from '../../src/metrics/shard-metrics.js';
import type { MainToShard, ShardToMain } from '../../src/shard/control-messages.js';
import type { ShardRouter } from '../../src/shard/shard-router.js';
import { type ShardLog, ShardRuntime } from '../../src/shard/shard-runtime.js';
import type { ShardTransport } from '../../src/shard/shard-transport.js';
import { request } from '../fixtures/http-client.js';

const silent = pino({ level: 'silent' });

const LIMITS = { maxKeyBytes: 64, maxValueBytes: 128, maxBodyBytes: 512, maxBatchOps: 4 };

async function testConfig(): Promise<LallyConfig> {
  const result = await loadConfig(['--config', '', '--no-aof', '--host', '127.0.0.1'], {}, process.cwd());
  if (result.kind !== 'run') throw new Error(`config: ${JSON.stringify(result)}`);
  return { ...result.config, ...LIMITS };
}

/** The main thread's side of a shard's control channel. */
class ControlStub extends EventEmitter {
  readonly posted: ShardToMain[] = [];
  closed = 0;
  postMessage(message: ShardToMain): void {
    this.posted.push(message);
    this.emit('posted', message);
  }
  close(): void {
    this.closed++;
  }
  send(message: MainToShard): void {
    this.emit('message', message);
  }
  /** The first message of a type, posted already or later. */
  next<T extends ShardToMain['type']>(type: T): Promise<Extract<ShardToMain, { type: T }>> {
    const found = this.posted.find((m) => m.type === type);
    if (found) return Promise.resolve(found as Extract<ShardToMain, { type: T }>);
    return new Promise((resolve) => {
      const listener = (message: ShardToMain) => {
        if (message.type !== type) return;
        this.off('posted', listener);
        resolve(message as Extract<ShardToMain, { type: T }>);
      };
      this.on('posted', listener);
    });
  }
}

interface Started {
  runtime: ShardRuntime;
  control: ControlStub;
  port: number;
  url: string;
}

async function startShard(
  t: Test,
  opts: {
    config: LallyConfig;
    shard?: number;
    shards?: number;
    transport?: ShardTransport;
    log?: ShardLog;
    status?: SharedArrayBuffer;
    metrics?: SharedArrayBuffer;
  },
): Promise<Started> {
  const control = new ControlStub();
  const shard = opts.shard ?? 0;
  const shards = opts.shards ?? 1;
  const runtime = new ShardRuntime({
    data: {
      shard,
      shards,
      nodeId: 7,
      config: opts.config,
      rings: { inbound: [], outbound: [], doorbells: [] },
      ...(opts.status === undefined ? {} : { status: opts.status }),
      ...(opts.metrics === undefined ? {} : { metrics: opts.metrics }),
    },
    control,
    logger: silent,
    transport: opts.transport ?? { links: [undefined], start() {}, close() {} },
    openLog: async () => opts.log,
  });
  await runtime.start();
  const ready = await control.next('ready');
  if (control.posted.some((m) => m.type === 'fatal')) throw new Error(JSON.stringify(control.posted));
  control.send({ type: 'listen', port: 0 });
  const listening = await control.next('listening');
  t.equal(ready.shard, shard);
  t.equal(listening.shard, shard);
  t.ok(listening.port > 0, 'an ephemeral port');
  return { runtime, control, port: listening.port, url: `http://127.0.0.1:${listening.port}` };
}

async function stopShard(t: Test, started: Started): Promise<void> {
  const { control } = started;
  control.send({ type: 'drain', deadlineMs: 1000 });
  t.same(await control.next('drained'), { type: 'drained', shard: started.runtime.router?.shard });
  control.send({ type: 'close' });
  t.same(await control.next('closed'), { type: 'closed', shard: started.runtime.router?.shard });
  t.equal(control.closed, 1, 'the control channel is closed');
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function kv(
  key: string,
  value: string | null,
  timestamp: string | null,
  message: string,
): Record<string, unknown> {
  return { status: 'success', key, value, timestamp, quorum: { required: 1, achieved: 1 }, message };
}

t.test('wantsRawValue', async (t) => {
  t.equal(wantsRawValue('raw', ''), true);
  t.equal(wantsRawValue('raw=1', ''), true);
  t.equal(wantsRawValue('raw=', ''), true);
  t.equal(wantsRawValue('a=1&raw', ''), true);
  t.equal(wantsRawValue('a=1&raw=true&b', ''), true);
  t.equal(wantsRawValue(null, ''), false, 'uWS gives null without a query');
  t.equal(wantsRawValue(undefined, ''), false);
  t.equal(wantsRawValue('', ''), false);
  t.equal(wantsRawValue('rawness', ''), false);
  t.equal(wantsRawValue('draw=1', ''), false);
  t.equal(wantsRawValue('x=raw', ''), false);
  t.equal(wantsRawValue(null, 'application/octet-stream'), true);
  t.equal(wantsRawValue('', 'text/html, application/octet-stream;q=0.9'), true);
  t.equal(wantsRawValue('a=1', 'application/json'), false);
});

t.test('one shard on the main thread serves the whole HTTP API', async (t) => {
  const config = await testConfig();
  const shard = await startShard(t, { config });
  const { url } = shard;

  const greet = await request(`${url}/greet`);
  t.equal(greet.status, 200);
  t.equal(greet.text, GREETING);
  t.equal(greet.text, 'Hello World! from lally');
  t.equal(greet.headers.get('content-type'), 'text/plain; charset=utf-8');

  const nowhere = await request(`${url}/nowhere`);
  t.equal(nowhere.status, 404);
  t.same(nowhere.json(), {
    status: 'error',
    code: 'LALLY_ERR_ROUTE_NOT_FOUND',
    message: 'no route GET /nowhere',
  });

  const firstStats = await request(`${url}/stats`);
  t.equal(firstStats.status, 200);
  t.equal(firstStats.headers.get('content-type'), 'application/json');
  const first = firstStats.json() as {
    status: string;
    shards: Record<string, unknown>[];
    totals: Record<string, number>;
    missingShards: number[];
  };
  t.equal(first.status, 'success');
  t.equal(first.shards.length, 1);
  t.match(first.shards[0], {
    id: 0,
    keys: 0,
    httpRequests: 2,
    httpErrors: 1,
    inFlight: 1,
    aof: null,
    rings: null,
  });
  t.same(first.totals, { keys: 0, tombstones: 0, gets: 0, puts: 0, removes: 0, hops: 0 });
  t.same(first.missingShards, []);

  t.test('GET /nodes', async (t) => {
    const nodes = await request(`${url}/nodes`);
    t.equal(nodes.status, 200);
    t.same(nodes.json(), { status: 'success', nodes: [] });
  });

  t.test('REST: PUT, GET, ?raw, DELETE under /kv/', async (t) => {
    const value = 'värde ✓ 𝄞';
    const put = await request(`${url}/kv/rest-key`, { method: 'PUT', body: value });
    t.equal(put.status, 200);
    t.equal(put.headers.get('content-type'), 'application/json');
    const putBody = put.json();
    t.match(putBody.timestamp, ISO);
    const { value: _echo, ...withoutValue } = kv(
      'rest-key',
      value,
      putBody.timestamp as string,
      'Operation completed successfully.',
    );
    t.same(putBody, withoutValue, 'a REST PUT does not echo the value by default');
    t.notOk('value' in putBody);
    const echoed = await request(`${url}/kv/rest-key?returnbody`, { method: 'PUT', body: value });
    const echoedBody = echoed.json();
    t.same(
      echoedBody,
      kv('rest-key', value, echoedBody.timestamp as string, 'Operation completed successfully.'),
      '?returnbody echoes it',
    );
    const echoedToo = await request(`${url}/kv/rest-key?returnbody=true`, { method: 'PUT', body: value });
    t.equal(echoedToo.json().value, value);

    const got = await request(`${url}/kv/rest-key`);
    t.equal(got.status, 200);
    t.same(
      got.json(),
      kv('rest-key', value, echoedToo.json().timestamp as string, "Key 'rest-key' was fetched successfully."),
    );

    for (const [how, path, headers] of [
      ['?raw', '/kv/rest-key?raw', {}],
      ['?raw=1 among others', '/kv/rest-key?x=2&raw=1', {}],
      ['Accept', '/kv/rest-key', { accept: 'application/octet-stream' }],
    ] as const) {
      const raw = await request(`${url}${path}`, { headers });
      t.equal(raw.status, 200, how);
      t.equal(raw.headers.get('content-type'), 'application/octet-stream');
      t.equal(raw.text, value, 'the bare value');
    }

    const rawMissing = await request(`${url}/kv/nope?raw`);
    t.equal(rawMissing.status, 404);
    t.equal(rawMissing.headers.get('content-type'), 'application/json');
    t.same(rawMissing.json(), {
      status: 'error',
      code: 'LALLY_ERR_NOT_FOUND',
      message: "Key 'nope' does not exist.",
    });

    const missing = await request(`${url}/kv/nope`);
    t.equal(missing.status, 404);
    t.same(missing.json(), kv('nope', null, null, "Key 'nope' does not exist."));

    const removed = await request(`${url}/kv/rest-key`, { method: 'DELETE' });
    t.equal(removed.status, 200);
    const removedBody = removed.json();
    t.match(removedBody.timestamp, ISO);
    t.same(
      removedBody,
      kv('rest-key', value, removedBody.timestamp as string, "Key 'rest-key' was successfully removed."),
    );

    const again = await request(`${url}/kv/rest-key`, { method: 'DELETE' });
    t.equal(again.status, 404);
    t.same(again.json(), kv('rest-key', null, null, "Key 'rest-key' does not exist in the store."));
    t.equal((await request(`${url}/kv/rest-key`)).status, 404);

    const empty = await request(`${url}/kv/empty`, { method: 'PUT', body: '' });
    t.equal(empty.status, 200);
    const emptyGot = await request(`${url}/kv/empty?raw`);
    t.equal(emptyGot.status, 200, 'the empty string is a value');
    t.equal(emptyGot.text, '');
    t.equal((await request(`${url}/kv/empty`)).json().value, '');

    const odd = 'a b/c?d&é';
    const oddPut = await request(`${url}/kv/${encodeURIComponent(odd)}`, { method: 'PUT', body: 'odd' });
    t.equal(oddPut.json().key, odd, 'the key is percent-decoded');
    const oddGet = await request(`${url}/kv/${encodeURIComponent(odd)}?raw`);
    t.equal(oddGet.text, 'odd');
    const viaUpstream = await request(`${url}/get`, { method: 'POST', body: JSON.stringify({ key: odd }) });
    t.equal(viaUpstream.json().value, 'odd', 'the same key through the upstream route');
  });

  t.test("upstream's POST /add, POST /get, DELETE /remove", async (t) => {
    const add = await request(`${url}/add`, {
      method: 'POST',
      body: JSON.stringify({ key: 'up', value: 'ünïcode' }),
    });
    t.equal(add.status, 200);
    const addBody = add.json();
    t.match(addBody.timestamp, ISO);
    t.same(addBody, kv('up', 'ünïcode', addBody.timestamp as string, 'Operation completed successfully.'));

    const get = await request(`${url}/get`, { method: 'POST', body: JSON.stringify({ key: 'up' }) });
    t.equal(get.status, 200);
    t.same(
      get.json(),
      kv('up', 'ünïcode', addBody.timestamp as string, "Key 'up' was fetched successfully."),
    );

    const getMissing = await request(`${url}/get`, { method: 'POST', body: '{"key":"ghost"}' });
    t.equal(getMissing.status, 200, 'upstream answers 200 for a missing key');
    t.same(getMissing.json(), kv('ghost', null, null, "Key 'ghost' does not exist."));

    const remove = await request(`${url}/remove`, { method: 'DELETE', body: '{"key":"up"}' });
    t.equal(remove.status, 200);
    const removeBody = remove.json();
    t.same(
      removeBody,
      kv('up', 'ünïcode', removeBody.timestamp as string, "Key 'up' was successfully removed."),
    );
    t.match(removeBody.timestamp, ISO);

    const removeMissing = await request(`${url}/remove`, { method: 'DELETE', body: '{"key":"up"}' });
    t.equal(removeMissing.status, 200);
    t.same(removeMissing.json(), kv('up', null, null, "Key 'up' does not exist in the store."));

    const ignored = await request(`${url}/get`, {
      method: 'POST',
      body: JSON.stringify({ key: 'ghost', value: 'ignored', extra: 1 }),
    });
    t.equal(ignored.status, 200, 'extra fields are ignored');
  });

  t.test('POST /batch', async (t) => {
    const batch = await request(`${url}/batch`, {
      method: 'POST',
      body: JSON.stringify({
        ops: [
          { op: 'put', key: 'b1', value: 'one' },
          { op: 'get', key: 'b1' },
          { op: 'DELETE', key: 'b1' },
          { op: 'get', key: 'b1' },
        ],
      }),
    });
    t.equal(batch.status, 200);
    const body = batch.json() as { status: string; count: number; results: Record<string, unknown>[] };
    t.equal(body.status, 'success');
    t.equal(body.count, 4);
    const ts = body.results.map((r) => r.timestamp);
    t.match(ts[0], ISO);
    const ONE = { required: 1, achieved: 1 };
    t.same(body.results, [
      { op: 'put', status: 'success', key: 'b1', found: true, value: 'one', timestamp: ts[0], quorum: ONE },
      { op: 'get', status: 'success', key: 'b1', found: true, value: 'one', timestamp: ts[0], quorum: ONE },
      {
        op: 'remove',
        status: 'success',
        key: 'b1',
        found: true,
        value: 'one',
        timestamp: ts[2],
        quorum: ONE,
      },
      { op: 'get', status: 'success', key: 'b1', found: false, value: null, timestamp: null, quorum: ONE },
    ]);
    t.match(ts[2], ISO);

    const bare = await request(`${url}/batch`, {
      method: 'POST',
      body: JSON.stringify([
        { op: 'add', key: 'b2', value: '' },
        { op: 'set', key: 'b3', value: 'x' },
        { op: 'del', key: 'never' },
      ]),
    });
    const bareBody = bare.json() as { results: Record<string, unknown>[] };
    t.same(
      bareBody.results.map((r) => [r.op, r.key, r.found, r.value]),
      [
        ['put', 'b2', true, ''],
        ['put', 'b3', true, 'x'],
        ['remove', 'never', false, null],
      ],
    );
    t.equal(bareBody.results[2]!.timestamp, null, 'no timestamp for a remove that found nothing');

    const empty = await request(`${url}/batch`, { method: 'POST', body: '[]' });
    t.equal(empty.status, 200);
    t.same(empty.json(), { status: 'success', count: 0, results: [] });
  });

  t.test('405 with an Allow header', async (t) => {
    for (const [method, path, allow] of [
      ['POST', '/greet', 'GET'],
      ['DELETE', '/nodes', 'GET'],
      ['PUT', '/stats', 'GET'],
      ['GET', '/add', 'POST'],
      ['GET', '/get', 'POST'],
      ['POST', '/remove', 'DELETE'],
      ['GET', '/batch', 'POST'],
      ['POST', '/kv/a', 'GET, PUT, DELETE'],
      ['PATCH', '/kv/a', 'GET, PUT, DELETE'],
    ] as const) {
      const answer = await request(`${url}${path}`, { method });
      t.equal(answer.status, 405, `${method} ${path}`);
      t.equal(answer.headers.get('allow'), allow);
      t.same(answer.json(), {
        status: 'error',
        code: 'LALLY_ERR_METHOD_NOT_ALLOWED',
        message: `${method} is not allowed on ${path}; use ${allow}`,
      });
    }
  });

  t.test('404 for unknown routes', async (t) => {
    for (const [method, path] of [
      ['GET', '/'],
      ['POST', '/kv'],
      ['DELETE', '/something/else'],
    ] as const) {
      const answer = await request(`${url}${path}`, { method });
      t.equal(answer.status, 404, `${method} ${path}`);
      t.same(answer.json(), {
        status: 'error',
        code: 'LALLY_ERR_ROUTE_NOT_FOUND',
        message: `no route ${method} ${path}`,
      });
    }
  });

  t.test('400s', async (t) => {
    const cases: {
      name: string;
      method: string;
      path: string;
      body?: string | Uint8Array;
      code: string;
      message: string | RegExp;
    }[] = [
      {
        name: 'empty body',
        method: 'POST',
        path: '/add',
        body: '',
        code: 'LALLY_ERR_INVALID_JSON',
        message: 'the request body is empty; expected a JSON object',
      },
      {
        name: 'no body',
        method: 'POST',
        path: '/get',
        code: 'LALLY_ERR_INVALID_JSON',
        message: 'the request body is empty; expected a JSON object',
      },
      {
        name: 'broken JSON',
        method: 'POST',
        path: '/add',
        body: '{"key":',
        code: 'LALLY_ERR_INVALID_JSON',
        message: /^the request body is not valid JSON: /,
      },
      {
        name: 'a JSON array',
        method: 'POST',
        path: '/get',
        body: '["k"]',
        code: 'LALLY_ERR_INVALID_JSON',
        message: 'the request body must be a JSON object, got an array',
      },
      {
        name: 'missing value',
        method: 'POST',
        path: '/add',
        body: '{"key":"k"}',
        code: 'LALLY_ERR_MISSING_FIELD',
        message: 'missing required field: value',
      },
      {
        name: 'missing key',
        method: 'DELETE',
        path: '/remove',
        body: '{}',
        code: 'LALLY_ERR_MISSING_FIELD',
        message: 'missing required field: key',
      },
      {
        name: 'key not a string',
        method: 'POST',
        path: '/get',
        body: '{"key":5}',
        code: 'LALLY_ERR_INVALID_FIELD',
        message: 'key must be a string, got a number',
      },
      {
        name: 'empty key',
        method: 'POST',
        path: '/get',
        body: '{"key":""}',
        code: 'LALLY_ERR_INVALID_FIELD',
        message: '"key" must not be empty',
      },
      {
        name: 'invalid UTF-8 body',
        method: 'POST',
        path: '/add',
        body: new Uint8Array([0x7b, 0xff, 0x7d]),
        code: 'LALLY_ERR_INVALID_TEXT',
        message: 'the request body is not valid UTF-8',
      },
      {
        name: 'invalid UTF-8 value',
        method: 'PUT',
        path: '/kv/bin',
        body: new Uint8Array([0xff, 0xfe, 0x00]),
        code: 'LALLY_ERR_INVALID_TEXT',
        message: 'the value is not valid UTF-8',
      },
      {
        name: 'bad percent-encoding',
        method: 'GET',
        path: '/kv/%E0%A4%A',
        code: 'LALLY_ERR_BAD_REQUEST',
        message: 'the key in the URL is not valid percent-encoding: %E0%A4%A',
      },
      {
        name: 'bad percent-encoding on PUT',
        method: 'PUT',
        path: '/kv/%E0%A4%A',
        body: 'v',
        code: 'LALLY_ERR_BAD_REQUEST',
        message: 'the key in the URL is not valid percent-encoding: %E0%A4%A',
      },
      {
        name: 'bad percent-encoding on DELETE',
        method: 'DELETE',
        path: '/kv/%zz',
        code: 'LALLY_ERR_BAD_REQUEST',
        message: 'the key in the URL is not valid percent-encoding: %zz',
      },
      {
        name: 'lone surrogate key on /add',
        method: 'POST',
        path: '/add',
        body: '{"key":"sur\\ud800","value":"v"}',
        code: 'LALLY_ERR_INVALID_TEXT',
        message: /"key" holds a lone UTF-16 surrogate/,
      },
      {
        name: 'lone surrogate value on /add',
        method: 'POST',
        path: '/add',
        body: '{"key":"k","value":"\\udc00x"}',
        code: 'LALLY_ERR_INVALID_TEXT',
        message: /"value" holds a lone UTF-16 surrogate/,
      },
      {
        name: 'lone surrogate key on /get',
        method: 'POST',
        path: '/get',
        body: '{"key":"sur\\uD800"}',
        code: 'LALLY_ERR_INVALID_TEXT',
        message: /"key" holds a lone UTF-16 surrogate/,
      },
      {
        name: 'lone surrogate key on /remove',
        method: 'DELETE',
        path: '/remove',
        body: '{"key":"sur\\ud800"}',
        code: 'LALLY_ERR_INVALID_TEXT',
        message: /"key" holds a lone UTF-16 surrogate/,
      },
      {
        name: 'lone surrogate in a batch item',
        method: 'POST',
        path: '/batch',
        body: '[{"op":"get","key":"ok"},{"op":"put","key":"k","value":"\\ud83d"}]',
        code: 'LALLY_ERR_INVALID_TEXT',
        message: /ops\[1\]\.value holds a lone UTF-16 surrogate/,
      },
      {
        name: 'percent-encoded surrogate in the URL',
        method: 'GET',
        path: '/kv/sur%ED%A0%80',
        code: 'LALLY_ERR_INVALID_TEXT',
        message: 'the key in the URL percent-encodes bytes that are not valid UTF-8: sur%ED%A0%80',
      },
      {
        name: 'percent-encoded invalid UTF-8 on PUT',
        method: 'PUT',
        path: '/kv/a%FF',
        body: 'v',
        code: 'LALLY_ERR_INVALID_TEXT',
        message: 'the key in the URL percent-encodes bytes that are not valid UTF-8: a%FF',
      },
      {
        name: 'empty key in the URL',
        method: 'GET',
        path: '/kv/',
        code: 'LALLY_ERR_INVALID_FIELD',
        message: 'the key must not be empty',
      },
      {
        name: 'batch not a list',
        method: 'POST',
        path: '/batch',
        body: '{"ops":5}',
        code: 'LALLY_ERR_INVALID_FIELD',
        message: 'a batch must be a JSON array of operations or an object {"ops": [...]}',
      },
      {
        name: 'batch with an unknown op',
        method: 'POST',
        path: '/batch',
        body: '[{"op":"frob","key":"k"}]',
        code: 'LALLY_ERR_INVALID_FIELD',
        message: 'ops[0].op must be one of get, put, remove (or add, set, delete), got "frob"',
      },
      {
        name: 'batch put without a value',
        method: 'POST',
        path: '/batch',
        body: '[{"op":"get","key":"k"},{"op":"put","key":"k"}]',
        code: 'LALLY_ERR_MISSING_FIELD',
        message: 'missing required field: ops[1].value',
      },
      {
        name: 'batch broken JSON',
        method: 'POST',
        path: '/batch',
        body: '[',
        code: 'LALLY_ERR_INVALID_JSON',
        message: /^the request body is not valid JSON: /,
      },
    ];
    for (const c of cases) {
      const answer = await request(`${url}${c.path}`, {
        method: c.method,
        ...(c.body === undefined ? {} : { body: c.body }),
      });
      t.equal(answer.status, 400, c.name);
      t.equal(answer.headers.get('content-type'), 'application/json');
      const body = answer.json();
      t.equal(body.status, 'error');
      t.equal(body.code, c.code, `${c.name}: code`);
      if (typeof c.message === 'string') t.equal(body.message, c.message, `${c.name}: message`);
      else t.match(body.message, c.message, `${c.name}: message`);
    }
    t.equal((await request(`${url}/kv/bin`)).status, 404, 'a refused write is not applied');
  });

  t.test('413s', async (t) => {
    const longKey = 'k'.repeat(LIMITS.maxKeyBytes + 1);
    const longValue = 'v'.repeat(LIMITS.maxValueBytes + 1);
    const cases: {
      name: string;
      method: string;
      path: string;
      body?: string;
      code: string;
      message: string;
    }[] = [
      {
        name: 'REST key too large',
        method: 'GET',
        path: `/kv/${longKey}`,
        code: 'LALLY_ERR_KEY_TOO_LARGE',
        message: 'the key is 65 bytes; the limit is 64 (max_key_bytes)',
      },
      {
        name: 'REST key too large on PUT',
        method: 'PUT',
        path: `/kv/${longKey}`,
        body: 'v',
        code: 'LALLY_ERR_KEY_TOO_LARGE',
        message: 'the key is 65 bytes; the limit is 64 (max_key_bytes)',
      },
      {
        name: 'multi-byte key: bytes count, not characters',
        method: 'DELETE',
        path: `/kv/${encodeURIComponent('é'.repeat(33))}`,
        code: 'LALLY_ERR_KEY_TOO_LARGE',
        message: 'the key is 66 bytes; the limit is 64 (max_key_bytes)',
      },
      {
        name: 'REST value too large',
        method: 'PUT',
        path: '/kv/big',
        body: longValue,
        code: 'LALLY_ERR_VALUE_TOO_LARGE',
        message: 'the value is 129 bytes; the limit is 128 (max_value_bytes)',
      },
      {
        name: 'upstream key too large',
        method: 'POST',
        path: '/get',
        body: JSON.stringify({ key: longKey }),
        code: 'LALLY_ERR_KEY_TOO_LARGE',
        message: '"key" is 65 bytes; the limit is 64 (max_key_bytes)',
      },
      {
        name: 'upstream value too large',
        method: 'POST',
        path: '/add',
        body: JSON.stringify({ key: 'k', value: longValue }),
        code: 'LALLY_ERR_VALUE_TOO_LARGE',
        message: '"value" is 129 bytes; the limit is 128 (max_value_bytes)',
      },
      {
        name: 'body too large',
        method: 'PUT',
        path: '/kv/big',
        body: 'v'.repeat(LIMITS.maxBodyBytes + 1),
        code: 'LALLY_ERR_BODY_TOO_LARGE',
        message: 'the request body is 513 bytes or more; the limit is 512 (max_body_bytes)',
      },
      {
        name: 'batch too large',
        method: 'POST',
        path: '/batch',
        body: JSON.stringify(Array.from({ length: 5 }, (_, i) => ({ op: 'get', key: `k${i}` }))),
        code: 'LALLY_ERR_BATCH_TOO_LARGE',
        message: 'the batch has 5 operations; the limit is 4 (max_batch_ops)',
      },
      {
        name: 'batch value too large',
        method: 'POST',
        path: '/batch',
        body: JSON.stringify([{ op: 'put', key: 'k', value: longValue }]),
        code: 'LALLY_ERR_VALUE_TOO_LARGE',
        message: 'ops[0].value is 129 bytes; the limit is 128 (max_value_bytes)',
      },
    ];
    for (const c of cases) {
      const answer = await request(`${url}${c.path}`, {
        method: c.method,
        ...(c.body === undefined ? {} : { body: c.body }),
      });
      t.equal(answer.status, 413, c.name);
      t.same(answer.json(), { status: 'error', code: c.code, message: c.message }, c.name);
    }
    t.equal((await request(`${url}/kv/big`)).status, 404, 'nothing was stored');
  });

  t.test('GET /stats counts what happened', async (t) => {
    await request(`${url}/kv/s1`, { method: 'PUT', body: '1' });
    await request(`${url}/kv/s2`, { method: 'PUT', body: '2' });
    await request(`${url}/kv/s2`, { method: 'DELETE' });
    const stats = (await request(`${url}/stats`)).json() as {
      shards: Record<string, number>[];
      totals: Record<string, number>;
      missingShards: number[];
    };
    const own = stats.shards[0]!;
    t.equal(stats.shards.length, 1);
    t.equal(own.id, 0);
    t.equal(own.keys, stats.totals.keys);
    t.equal(own.tombstones, stats.totals.tombstones);
    t.equal(own.puts, stats.totals.puts);
    t.ok(own.keys! >= 5, 'the keys written so far');
    t.ok(own.tombstones! >= 3);
    t.equal(own.inFlight, 1, 'the /stats request itself');
    t.equal(own.hopsOut, 0);
    t.equal(own.busy, 0);
    t.ok(own.httpErrors! > 0 && own.httpErrors! < own.httpRequests!);
    t.same(stats.missingShards, []);
  });

  // Subtests run in order: this one comes last. The close must let this process exit.
  t.test('drain and close', (t) => stopShard(t, shard));
});

t.test('after drain, new connections are refused; close answers closed', async (t) => {
  const config = await testConfig();
  const shard = await startShard(t, { config });
  t.equal((await request(`${shard.url}/greet`)).status, 200);
  shard.control.send({ type: 'drain', deadlineMs: 1000 });
  await shard.control.next('drained');
  await t.rejects(request(`${shard.url}/greet`), 'the listening socket is closed');
  shard.control.send({ type: 'close' });
  await shard.control.next('closed');
  t.same(
    shard.control.posted.map((m) => m.type),
    ['ready', 'listening', 'drained', 'closed'],
  );
});

/** An AOF stand-in: replays fixed records, and each write waits for a flush the test releases. */
class StubLog implements ShardLog {
  readonly waitsForSync = true;
  readonly appended: AofWrite[] = [];
  readonly flushes: (() => void)[] = [];
  closed = 0;
  constructor(readonly replayed: AofRecord[]) {}
  append(record: AofWrite): void {
    this.appended.push(record);
  }
  flushed(): Promise<void> {
    return new Promise((resolve) => this.flushes.push(resolve));
  }
  async replay(onRecord: (record: AofRecord) => void): Promise<{ records: number }> {
    for (const record of this.replayed) onRecord(record);
    return { records: this.replayed.length };
  }
  stats(): Record<string, number | string | boolean> {
    return { appended: this.appended.length, fsync: 'always' };
  }
  async close(): Promise<void> {
    this.closed++;
  }
}

t.test('a shard with an AOF: replay, writes answered after the flush', async (t) => {
  const config = await testConfig();
  const wall = Date.UTC(2030, 0, 1);
  const log = new StubLog([
    { op: 'ADD', key: 'old', value: 'replayed', version: { wall, counter: 0, node: 7 } },
    { op: 'ADD', key: 'gone', value: 'x', version: { wall, counter: 1, node: 7 } },
    { op: 'REMOVE', key: 'gone', value: '', version: { wall, counter: 2, node: 7 } },
  ]);
  const shard = await startShard(t, { config, log });
  t.match(shard.control.posted[0], { type: 'ready', shard: 0, records: 3 });

  const old = await request(`${shard.url}/kv/old`);
  t.same(
    old.json(),
    kv('old', 'replayed', '2030-01-01T00:00:00.000Z', "Key 'old' was fetched successfully."),
  );
  t.equal((await request(`${shard.url}/kv/gone`)).status, 404);

  const put = request(`${shard.url}/kv/old`, { method: 'PUT', body: 'new' });
  while (log.flushes.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  t.same(
    // A REST value reaches the AOF as the body's UTF-8 bytes (copied: the write waits for the flush).
    log.appended.map((r) => [r.op, r.key, valueText(r.value), r.version]),
    [['ADD', 'old', 'new', { wall, counter: 3, node: 7 }]],
    'the clock moved above the replayed records',
  );
  log.flushes.shift()!();
  const answer = await put;
  t.equal(answer.status, 200);
  t.equal(answer.json().timestamp, '2030-01-01T00:00:00.000Z');

  const stats = (await request(`${shard.url}/stats`)).json() as { shards: Record<string, unknown>[] };
  t.same(stats.shards[0]!.aof, { appended: 1, fsync: 'always' });

  await stopShard(t, shard);
  t.equal(log.closed, 1, 'close closes the AOF');
});

/** An in-memory link between two runtimes on this thread. */
class MemoryLink implements HopLink {
  target: ShardRouter | undefined;
  constructor(readonly from: number) {}
  send(first: Uint8Array, second?: Uint8Array, third?: Uint8Array): boolean {
    const parts = [first, second, third].filter((p): p is Uint8Array => p !== undefined);
    const message = Buffer.concat(parts);
    const target = this.target;
    setImmediate(() => target?.receive(this.from, message));
    return true;
  }
}

class MemoryTransport implements ShardTransport {
  readonly links: (MemoryLink | undefined)[];
  closes = 0;
  constructor(shard: number) {
    this.links = [0, 1].map((to) => (to === shard ? undefined : new MemoryLink(shard)));
  }
  start(): void {}
  close(): void {
    this.closes++;
  }
}

t.test('two shards on this thread: keys owned by the other shard hop and come back', async (t) => {
  const config = await testConfig();
  const transports = [new MemoryTransport(0), new MemoryTransport(1)];
  const shards = [
    await startShard(t, { config, shard: 0, shards: 2, transport: transports[0]! }),
    await startShard(t, { config, shard: 1, shards: 2, transport: transports[1]! }),
  ];
  transports[0]!.links[1]!.target = shards[1]!.runtime.router;
  transports[1]!.links[0]!.target = shards[0]!.runtime.router;
  const router0 = shards[0]!.runtime.router!;
  const keys: string[][] = [[], []];
  for (let i = 0; keys[0]!.length < 3 || keys[1]!.length < 3; i++)
    keys[router0.ownerOf(`h${i}`)]!.push(`h${i}`);

  for (const [via, shard] of shards.entries()) {
    for (const owner of [0, 1]) {
      const key = keys[owner]![via]!;
      const value = `from ${via} to ${owner} ✓`;
      const put = await request(`${shard.url}/kv/${key}?returnbody`, { method: 'PUT', body: value });
      t.equal(put.status, 200, `PUT via ${via}, owner ${owner}`);
      t.equal(put.json().value, value);
      t.match(put.json().timestamp, ISO);
      const raw = await request(`${shard.url}/kv/${key}?raw`);
      t.equal(raw.text, value);
      const upstream = await request(`${shard.url}/get`, { method: 'POST', body: JSON.stringify({ key }) });
      t.same(
        upstream.json(),
        kv(key, value, put.json().timestamp as string, `Key '${key}' was fetched successfully.`),
      );
      const other = shards[1 - via]!;
      const fromOther = await request(`${other.url}/kv/${key}?raw`);
      t.equal(fromOther.text, value, 'the other shard sees the same data');
      const removed = await request(`${shard.url}/kv/${key}`, { method: 'DELETE' });
      t.equal(removed.json().value, value);
      t.equal((await request(`${shard.url}/kv/${key}`)).status, 404);
    }
  }

  const batch = await request(`${shards[0]!.url}/batch`, {
    method: 'POST',
    body: JSON.stringify([
      { op: 'put', key: keys[1]![2]!, value: 'remote' },
      { op: 'put', key: keys[0]![2]!, value: 'local' },
      { op: 'get', key: keys[1]![2]! },
      { op: 'get', key: keys[0]![2]! },
    ]),
  });
  t.same(
    (batch.json() as { results: { value: string }[] }).results.map((r) => r.value),
    ['remote', 'local', 'remote', 'local'],
  );

  const stats = (await request(`${shards[1]!.url}/stats`)).json() as {
    shards: { id: number; keys: number; hopsIn: number; hopsOut: number }[];
    totals: { keys: number; hops: number };
    missingShards: number[];
  };
  t.same(
    stats.shards.map((s) => [s.id, s.keys]),
    [
      [0, 1],
      [1, 1],
    ],
    "both shards' figures, sorted",
  );
  t.equal(stats.totals.keys, 2);
  t.same(stats.missingShards, []);
  t.equal(stats.totals.hops, stats.shards[0]!.hopsOut + stats.shards[1]!.hopsOut);
  t.ok(stats.shards[0]!.hopsOut > 0 && stats.shards[1]!.hopsOut > 0);

  for (const shard of shards) await stopShard(t, shard);
  t.same(
    transports.map((tr) => tr.closes),
    [1, 1],
    'the transports are closed',
  );
});

t.test('quorums above what one node reaches answer partial with the truthful counts', async (t) => {
  const config = { ...(await testConfig()), readQuorum: 2, writeQuorum: 3 };
  const transports = [new MemoryTransport(0), new MemoryTransport(1)];
  const shards = [
    await startShard(t, { config, shard: 0, shards: 2, transport: transports[0]! }),
    await startShard(t, { config, shard: 1, shards: 2, transport: transports[1]! }),
  ];
  transports[0]!.links[1]!.target = shards[1]!.runtime.router;
  transports[1]!.links[0]!.target = shards[0]!.runtime.router;
  const router0 = shards[0]!.runtime.router!;
  const keys: string[] = [];
  for (let i = 0; keys.length < 2; i++) if (router0.ownerOf(`q${i}`) === keys.length) keys.push(`q${i}`);
  const read = { required: 2, achieved: 1 };
  const write = { required: 3, achieved: 1 };
  const url = shards[0]!.url;
  for (const key of keys) {
    const where = router0.ownerOf(key) === 0 ? 'local' : 'hopped';
    const put = (await request(`${url}/kv/${key}`, { method: 'PUT', body: 'v' })).json();
    t.match(put, { status: 'partial', quorum: write }, `REST PUT, ${where}`);
    const added = (
      await request(`${url}/add`, { method: 'POST', body: JSON.stringify({ key, value: 'w' }) })
    ).json();
    t.match(added, { status: 'partial', value: 'w', quorum: write }, `upstream /add, ${where}`);
    const got = (await request(`${url}/kv/${key}`)).json();
    t.match(got, { status: 'partial', value: 'w', quorum: read }, `REST GET, ${where}`);
    const missing = (
      await request(`${url}/get`, { method: 'POST', body: JSON.stringify({ key: `${key}-none` }) })
    ).json();
    t.match(missing, { status: 'partial', value: null, quorum: read }, `a missing key, ${where}`);
    const removed = (await request(`${url}/kv/${key}`, { method: 'DELETE' })).json();
    t.match(removed, { status: 'partial', value: 'w', quorum: write }, `REST DELETE, ${where}`);
  }
  for (const shard of shards) await stopShard(t, shard);
});

t.test('probes, metrics and the event loop of one shard', async (t) => {
  const status = new NodeStatus();
  status.phase = 'catching_up';
  status.mainEventLoopDelay = { maxMs: 9, p99Ms: 4 };
  const block = allocateShardMetrics();
  const started = await startShard(t, { config: await testConfig(), status: status.buffer, metrics: block });
  const { url, control } = started;
  t.same(OPEN_ROUTES, ['/livez', '/readyz']);
  t.equal((await request(`${url}/livez`)).status, 200);
  const waiting = await request(`${url}/readyz`);
  t.equal(waiting.status, 503);
  t.same(waiting.json(), {
    status: 'error',
    code: 'LALLY_ERR_NOT_READY',
    message: 'the node is receiving its data from the cluster',
    ready: false,
    phase: 'catching_up',
  });
  status.phase = 'ready';
  t.equal((await request(`${url}/readyz`)).status, 200, 'read from shared memory, no message needed');
  t.equal((await request(`${url}/readyz`, { method: 'PUT', body: '' })).status, 405);

  t.equal((await request(`${url}/kv/a`, { method: 'PUT', body: 'v' })).status, 200);
  t.equal((await request(`${url}/kv/b`)).status, 404);
  t.equal((await request(`${url}/add`, { method: 'POST', body: '{"key":"c","value":"1"}' })).status, 200);
  const counted = readShardMetrics(block).operations.filter((o) => o.count > 0);
  t.same(
    counted.map((o) => `${o.route} ${o.op} ${o.outcome} ${o.count}`),
    ['kv get not_found 1', 'kv put ok 1', 'upstream put ok 1'],
  );

  // GET /metrics is rendered by the main thread: the shard asks, and answers what it gets back.
  control.on('posted', (message: ShardToMain) => {
    if (message.type !== 'metrics') return;
    if (message.id % 2 === 1) {
      control.send({
        type: 'metrics',
        id: message.id,
        contentType: 'text/plain; version=0.0.4',
        text: 'x 1\n',
      });
    } else {
      control.send({
        type: 'metrics',
        id: message.id,
        contentType: '',
        text: undefined,
        code: 'LALLY_ERR_SHUTTING_DOWN',
        message: 'stopping',
      });
    }
  });
  const metrics = await request(`${url}/metrics`);
  t.equal(metrics.status, 200);
  t.equal(metrics.text, 'x 1\n');
  t.equal(metrics.headers.get('content-type'), 'text/plain; version=0.0.4');
  const failed = await request(`${url}/metrics`);
  t.equal(failed.status, 503);
  t.equal(failed.json<{ code: string }>().code, 'LALLY_ERR_SHUTTING_DOWN');

  const stats = (await request(`${url}/stats`)).json<{
    shards: { eventLoopDelay: { maxMs: number; p99Ms: number } }[];
    main: { eventLoopDelay: { maxMs: number; p99Ms: number } };
  }>();
  t.type(stats.shards[0]!.eventLoopDelay.maxMs, 'number');
  t.same(stats.main, { eventLoopDelay: { maxMs: 9, p99Ms: 4 } });
  await stopShard(t, started);
});

/** `String.prototype.isWellFormed` (Node 20; not in the es2023 typings). */
const wellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

t.test(
  'PUT then GET round-trips any value byte for byte, local and hopped (random text and sizes)',
  async (t) => {
    const maxValueBytes = 70_000;
    const config = { ...(await testConfig()), maxValueBytes, maxBodyBytes: 80_000 };
    const transports = [new MemoryTransport(0), new MemoryTransport(1)];
    const shards = [
      await startShard(t, { config, shard: 0, shards: 2, transport: transports[0]! }),
      await startShard(t, { config, shard: 1, shards: 2, transport: transports[1]! }),
    ];
    transports[0]!.links[1]!.target = shards[1]!.runtime.router;
    transports[1]!.links[0]!.target = shards[0]!.runtime.router;
    // The raw answer's bytes as sent: Response.text() would drop a leading byte order mark.
    const rawBytes = async (url: string) =>
      Buffer.from(await (await fetch(url, { headers: { connection: 'close' } })).arrayBuffer());
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({ unit: 'grapheme', maxLength: 2000 }),
      fc.tuple(fc.constantFrom('a', 'é', '✓', '🌍', '\u{FEFF}'), fc.nat(17_000)).map(([c, n]) => c.repeat(n)),
    );
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        text.filter((v) => wellFormed(v) && Buffer.byteLength(v) <= maxValueBytes),
        fc.nat(1),
        fc.nat(20),
        async (value, via, k) => {
          const key = `rt-${k}-ü`;
          const url = shards[via]!.url;
          const path = `/kv/${encodeURIComponent(key)}`;
          const put = await request(`${url}${path}`, { method: 'PUT', body: Buffer.from(value) });
          if (put.status !== 200) return false;
          const other = shards[1 - via]!.url;
          const raw = await rawBytes(`${other}${path}?raw`);
          const json = (await request(`${url}${path}`)).json() as { value: string };
          runs++;
          return raw.equals(Buffer.from(value)) && json.value === value;
        },
      ),
      { numRuns: 60 },
    );
    t.equal(runs, 60, 'every value was stored and read back');

    const url = shards[0]!.url;
    const atLimit = 'é'.repeat(maxValueBytes / 2);
    t.equal((await request(`${url}/kv/limit`, { method: 'PUT', body: atLimit })).status, 200, 'at the limit');
    t.ok((await rawBytes(`${url}/kv/limit?raw`)).equals(Buffer.from(atLimit)));
    const over = await request(`${url}/kv/limit`, { method: 'PUT', body: `${atLimit}x` });
    t.match([over.status, over.json()], [413, { code: 'LALLY_ERR_VALUE_TOO_LARGE' }], 'one byte over');
    const echoed = await request(`${url}/kv/echo?returnbody`, { method: 'PUT', body: '\u{FEFF}✓' });
    t.equal(echoed.json().value, '\u{FEFF}✓', 'the echo shows the value, its byte order mark kept');
    for (const shard of shards) await stopShard(t, shard);
  },
);

t.test(
  'GET and DELETE answer stored values byte for byte as the reference JSON, local or hopped',
  async (t) => {
    const maxValueBytes = 2 * 1024 * 1024;
    const config = { ...(await testConfig()), maxValueBytes, maxBodyBytes: maxValueBytes + 1024 };
    const transports = [new MemoryTransport(0), new MemoryTransport(1)];
    const shards = [
      await startShard(t, { config, shard: 0, shards: 2, transport: transports[0]! }),
      await startShard(t, { config, shard: 1, shards: 2, transport: transports[1]! }),
    ];
    transports[0]!.links[1]!.target = shards[1]!.runtime.router;
    transports[1]!.links[0]!.target = shards[0]!.runtime.router;
    const router0 = shards[0]!.runtime.router!;
    const values = [
      '',
      'plain',
      'with "quotes" and \\backslashes\\',
      '\u0000\u0001\u001f\b\t\n\f\r\u007f',
      'ünïcödé 🔑 \u2028\u2029 €',
      'x'.repeat(64 * 1024),
      `${'"'.repeat(1000)}${'é'.repeat(30_000)}`,
      `${'a\u0001'.repeat(700 * 1024)}`, // 1.4 MB in, 5.6 MB of JSON: past every buffer of the builder
    ];
    /** The body's bytes (fetch's text() would hide a byte that is not the reference's). */
    const bytes = async (url: string, init: { method?: string } = {}) => {
      const response = await fetch(url, { ...init, headers: { connection: 'close' } });
      return { status: response.status, body: Buffer.from(await response.arrayBuffer()) };
    };
    for (const [i, value] of values.entries()) {
      const key = `v${i}-"é"`;
      const path = `/kv/${encodeURIComponent(key)}`;
      const owner = router0.ownerOf(key);
      const put = await request(`${shards[owner]!.url}${path}`, { method: 'PUT', body: value });
      t.equal(put.status, 200, `PUT ${value.length} chars`);
      const timestamp = put.json<{ timestamp: string }>().timestamp;
      const answer = (message: string) =>
        Buffer.from(
          kvAnswerJson({ status: 'success', key, value, timestamp, required: 1, achieved: 1, message }),
        );
      for (const via of [owner, 1 - owner]) {
        const where = via === owner ? 'local' : 'hopped';
        const got = await bytes(`${shards[via]!.url}${path}`);
        t.equal(got.status, 200);
        t.ok(got.body.equals(answer(Messages.fetched(key))), `GET ${i}, ${where}: the reference bytes`);
        const raw = await bytes(`${shards[via]!.url}${path}?raw`);
        t.ok(raw.body.equals(Buffer.from(value)), `GET ${i} raw, ${where}: the value's bytes`);
      }
      const via = i % 2 === 0 ? owner : 1 - owner;
      const removed = await bytes(`${shards[via]!.url}${path}`, { method: 'DELETE' });
      t.equal(removed.status, 200);
      const removedTimestamp = JSON.parse(removed.body.toString()).timestamp as string;
      t.ok(
        removed.body.equals(
          Buffer.from(
            kvAnswerJson({
              status: 'success',
              key,
              value,
              timestamp: removedTimestamp,
              required: 1,
              achieved: 1,
              message: Messages.removed(key),
            }),
          ),
        ),
        `DELETE ${i} via ${via === owner ? 'the owner' : 'the other shard'}: the reference bytes`,
      );
    }
    for (const shard of shards) await stopShard(t, shard);
  },
);
