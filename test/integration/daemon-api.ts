import t from 'tap';
import { request, startDaemon } from '../fixtures/daemon-process.js';

interface KvBody {
  status: string;
  key: string;
  value: string | null;
  timestamp: string | null;
  quorum: { required: number; achieved: number };
  message: string;
  code?: string;
}

t.test('a two-shard daemon serves the whole API over real sockets', async (t) => {
  const daemon = await startDaemon(t, {
    shards: 2,
    args: ['--no-aof', '--max-value-bytes', '4096', '--max-body-bytes', '65536'],
  });
  const { url } = daemon;

  const greet = await request(`${url}/greet`);
  t.equal(greet.status, 200);
  t.equal(greet.text, 'Hello World! from lally');

  const nodes = await request(`${url}/nodes`);
  t.same(nodes.json(), { status: 'success', nodes: [] });

  // Enough keys that both shards own some, whichever shard accepts each connection.
  const keys = Array.from({ length: 40 }, (_, i) => `key-${i}`);
  for (const key of keys) {
    const echo = key.endsWith('7') ? '?returnbody' : '';
    const put = await request(`${url}/kv/${key}${echo}`, { method: 'PUT', body: `value of ${key}` });
    t.equal(put.status, 200, `PUT ${key}`);
    const body = put.json() as KvBody;
    t.equal(body.status, 'success');
    t.equal(body.value, echo ? `value of ${key}` : undefined, 'the value is echoed only with ?returnbody');
    t.match(body.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    t.same(body.quorum, { required: 1, achieved: 1 });
  }
  for (const key of keys) {
    const get = await request(`${url}/kv/${key}`);
    t.equal(get.status, 200, `GET ${key}`);
    t.equal((get.json() as KvBody).value, `value of ${key}`);
    t.match((get.json() as KvBody).timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  }
  const raw = await request(`${url}/kv/key-3?raw`);
  t.equal(raw.text, 'value of key-3');
  t.equal(raw.headers.get('content-type'), 'application/octet-stream');
  const rawByAccept = await request(`${url}/kv/key-4`, { headers: { accept: 'application/octet-stream' } });
  t.equal(rawByAccept.text, 'value of key-4');

  const stats = (await request(`${url}/stats`)).json() as {
    shards: { id: number; keys: number; directGets: number; hopsOut: number }[];
    totals: { keys: number };
  };
  // Each request lands on either shard: GETs of the other shard's keys read its table, no hop.
  const direct = stats.shards.reduce((sum, s) => sum + s.directGets, 0);
  t.ok(direct > 0, `GETs of the other shard's keys were read from its table (${direct} of ${keys.length})`);
  t.equal(stats.shards.length, 2);
  t.equal(stats.totals.keys, keys.length);
  t.ok(
    stats.shards.every((s) => s.keys > 0),
    'both shards own keys',
  );

  // Upstream routes and shapes.
  const add = await request(`${url}/add`, {
    method: 'POST',
    body: JSON.stringify({ key: 'user:1', value: 'alice smith "the first"' }),
  });
  t.equal(add.status, 200);
  t.match(add.json(), {
    status: 'success',
    key: 'user:1',
    value: 'alice smith "the first"',
    message: 'Operation completed successfully.',
  });
  const get = await request(`${url}/get`, { method: 'POST', body: JSON.stringify({ key: 'user:1' }) });
  t.match(get.json(), {
    status: 'success',
    value: 'alice smith "the first"',
    message: "Key 'user:1' was fetched successfully.",
  });
  const removed = await request(`${url}/remove`, {
    method: 'DELETE',
    body: JSON.stringify({ key: 'user:1' }),
  });
  t.match(removed.json(), {
    status: 'success',
    value: 'alice smith "the first"',
    message: "Key 'user:1' was successfully removed.",
  });
  const gone = await request(`${url}/get`, { method: 'POST', body: JSON.stringify({ key: 'user:1' }) });
  t.equal(gone.status, 200, 'upstream answers 200 for a missing key');
  t.match(gone.json(), { value: null, timestamp: null });
  const removeMissing = await request(`${url}/remove`, {
    method: 'DELETE',
    body: JSON.stringify({ key: 'never' }),
  });
  t.match(removeMissing.json(), {
    value: null,
    timestamp: null,
    message: "Key 'never' does not exist in the store.",
  });

  // REST delete and missing keys.
  const del = await request(`${url}/kv/key-0`, { method: 'DELETE' });
  t.equal(del.status, 200);
  t.equal((del.json() as KvBody).value, 'value of key-0');
  t.equal((await request(`${url}/kv/key-0`)).status, 404);
  t.equal((await request(`${url}/kv/key-0`, { method: 'DELETE' })).status, 404);
  const statsAfter = (await request(`${url}/stats`)).json() as {
    totals: { keys: number; tombstones: number };
  };
  t.equal(statsAfter.totals.keys, keys.length - 1, 'keys counts live keys only');

  // Keys are URL-decoded: unicode, spaces and slashes survive.
  const odd = 'a/b c?d=é🙂';
  await request(`${url}/kv/${encodeURIComponent(odd)}`, { method: 'PUT', body: 'odd' });
  const oddGet = await request(`${url}/get`, { method: 'POST', body: JSON.stringify({ key: odd }) });
  t.equal((oddGet.json() as KvBody).value, 'odd');

  // Batch: answered in order, across shards.
  const batch = await request(`${url}/batch`, {
    method: 'POST',
    body: JSON.stringify({
      ops: [
        { op: 'put', key: 'b1', value: 'one' },
        { op: 'get', key: 'b1' },
        { op: 'get', key: 'key-5' },
        { op: 'remove', key: 'key-6' },
        { op: 'get', key: 'key-6' },
        { op: 'get', key: 'missing' },
      ],
    }),
  });
  t.equal(batch.status, 200);
  const results = (batch.json() as { results: { op: string; found: boolean; value: string | null }[] })
    .results;
  t.same(
    results.map((r) => [r.op, r.found, r.value]),
    [
      ['put', true, 'one'],
      ['get', true, 'one'],
      ['get', true, 'value of key-5'],
      ['remove', true, 'value of key-6'],
      ['get', false, null],
      ['get', false, null],
    ],
  );
  const bareArray = await request(`${url}/batch`, {
    method: 'POST',
    body: JSON.stringify([{ op: 'get', key: 'b1' }]),
  });
  t.equal((bareArray.json() as { results: { value: string }[] }).results[0]?.value, 'one');

  await daemon.stop();
});

t.test('bad input gets a clear error and breaks nothing', async (t) => {
  const daemon = await startDaemon(t, {
    shards: 2,
    args: [
      '--no-aof',
      '--max-key-bytes',
      '64',
      '--max-value-bytes',
      '1024',
      '--max-body-bytes',
      '8192',
      '--max-batch-ops',
      '5',
    ],
  });
  const { url } = daemon;
  await request(`${url}/kv/keep`, { method: 'PUT', body: 'kept' });

  const cases: {
    name: string;
    path: string;
    method: string;
    body?: string | Uint8Array;
    status: number;
    code: string;
  }[] = [
    {
      name: 'invalid JSON',
      path: '/add',
      method: 'POST',
      body: '{"key":',
      status: 400,
      code: 'LALLY_ERR_INVALID_JSON',
    },
    {
      name: 'empty body',
      path: '/get',
      method: 'POST',
      body: '',
      status: 400,
      code: 'LALLY_ERR_INVALID_JSON',
    },
    {
      name: 'array body',
      path: '/add',
      method: 'POST',
      body: '[1,2]',
      status: 400,
      code: 'LALLY_ERR_INVALID_JSON',
    },
    {
      name: 'missing key',
      path: '/get',
      method: 'POST',
      body: '{}',
      status: 400,
      code: 'LALLY_ERR_MISSING_FIELD',
    },
    {
      name: 'number key',
      path: '/get',
      method: 'POST',
      body: '{"key":5}',
      status: 400,
      code: 'LALLY_ERR_INVALID_FIELD',
    },
    {
      name: 'missing value',
      path: '/add',
      method: 'POST',
      body: '{"key":"a"}',
      status: 400,
      code: 'LALLY_ERR_MISSING_FIELD',
    },
    {
      name: 'object value',
      path: '/add',
      method: 'POST',
      body: '{"key":"a","value":{}}',
      status: 400,
      code: 'LALLY_ERR_INVALID_FIELD',
    },
    {
      name: 'empty key',
      path: '/add',
      method: 'POST',
      body: '{"key":"","value":"x"}',
      status: 400,
      code: 'LALLY_ERR_INVALID_FIELD',
    },
    {
      name: 'key too large',
      path: '/add',
      method: 'POST',
      body: JSON.stringify({ key: 'k'.repeat(65), value: 'x' }),
      status: 413,
      code: 'LALLY_ERR_KEY_TOO_LARGE',
    },
    {
      name: 'value too large',
      path: '/add',
      method: 'POST',
      body: JSON.stringify({ key: 'k', value: 'v'.repeat(1025) }),
      status: 413,
      code: 'LALLY_ERR_VALUE_TOO_LARGE',
    },
    {
      name: 'REST value too large',
      path: '/kv/big',
      method: 'PUT',
      body: 'v'.repeat(1025),
      status: 413,
      code: 'LALLY_ERR_VALUE_TOO_LARGE',
    },
    {
      name: 'body too large',
      path: '/kv/big',
      method: 'PUT',
      body: 'v'.repeat(9000),
      status: 413,
      code: 'LALLY_ERR_BODY_TOO_LARGE',
    },
    {
      name: 'REST key too large',
      path: `/kv/${'k'.repeat(65)}`,
      method: 'GET',
      status: 413,
      code: 'LALLY_ERR_KEY_TOO_LARGE',
    },
    {
      name: 'REST PUT with a key too large',
      path: `/kv/${'k'.repeat(65)}`,
      method: 'PUT',
      body: 'a body that is never read',
      status: 413,
      code: 'LALLY_ERR_KEY_TOO_LARGE',
    },
    {
      name: 'bad percent-encoding',
      path: '/kv/%E0%A4%A',
      method: 'GET',
      status: 400,
      code: 'LALLY_ERR_BAD_REQUEST',
    },
    {
      name: 'invalid UTF-8 value',
      path: '/kv/bin',
      method: 'PUT',
      body: new Uint8Array([0xff, 0xfe, 0x00]),
      status: 400,
      code: 'LALLY_ERR_INVALID_TEXT',
    },
    {
      name: 'batch not a list',
      path: '/batch',
      method: 'POST',
      body: '{"ops":5}',
      status: 400,
      code: 'LALLY_ERR_INVALID_FIELD',
    },
    {
      name: 'batch too large',
      path: '/batch',
      method: 'POST',
      body: JSON.stringify(Array.from({ length: 6 }, () => ({ op: 'get', key: 'a' }))),
      status: 413,
      code: 'LALLY_ERR_BATCH_TOO_LARGE',
    },
    {
      name: 'batch unknown op',
      path: '/batch',
      method: 'POST',
      body: '[{"op":"incr","key":"a"}]',
      status: 400,
      code: 'LALLY_ERR_INVALID_FIELD',
    },
    { name: 'unknown route', path: '/nope', method: 'GET', status: 404, code: 'LALLY_ERR_ROUTE_NOT_FOUND' },
    { name: 'wrong method', path: '/add', method: 'GET', status: 405, code: 'LALLY_ERR_METHOD_NOT_ALLOWED' },
    {
      name: 'wrong method on kv',
      path: '/kv/a',
      method: 'POST',
      body: 'x',
      status: 405,
      code: 'LALLY_ERR_METHOD_NOT_ALLOWED',
    },
  ];
  for (const c of cases) {
    const response = await request(`${url}${c.path}`, {
      method: c.method,
      ...(c.body === undefined ? {} : { body: c.body }),
    });
    t.equal(response.status, c.status, `${c.name}: status`);
    const body = response.json() as { status: string; code: string; message: string };
    t.equal(body.status, 'error', `${c.name}: status field`);
    t.equal(body.code, c.code, `${c.name}: code`);
    t.ok(body.message.length > 10, `${c.name}: message says what was wrong (${body.message})`);
  }
  const allow = await request(`${url}/add`);
  t.equal(allow.headers.get('allow'), 'POST');

  // A client that goes away mid-body must not take the daemon down.
  const { connect } = await import('node:net');
  await new Promise<void>((resolve) => {
    const socket = connect(daemon.port, '127.0.0.1', () => {
      socket.write('PUT /kv/half HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc');
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, 50);
    });
  });

  const kept = await request(`${url}/kv/keep`);
  t.equal((kept.json() as KvBody).value, 'kept', 'data survived the bad requests');
  t.equal((await request(`${url}/kv/half`)).status, 404, 'the half-sent write was not applied');
  const stopped = await daemon.stop();
  t.equal(stopped.code, 0, 'still stops cleanly');
});
