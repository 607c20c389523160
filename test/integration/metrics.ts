/**
 * GET /metrics, /livez and /readyz on a real daemon: the whole node's figures whichever shard takes the
 * connection, counters that move with requests through both shards, key gauges right after writes,
 * and a node that answers 503 on /readyz (but 200 on /livez) once it is stopping.
 */
import { connect, type Socket } from 'node:net';
import t from 'tap';
import { shardOfKey } from '../../src/hash/key-hash.js';
import { request, startDaemon } from '../fixtures/daemon-process.js';
import { parsePrometheusText, type Scrape } from '../fixtures/prometheus-text.js';

async function scrape(url: string): Promise<Scrape> {
  const answer = await request(`${url}/metrics`);
  if (answer.status !== 200) throw new Error(`GET /metrics answered ${answer.status}: ${answer.text}`);
  if (!/^text\/plain; version=0\.0\.4/.test(answer.headers.get('content-type') ?? '')) {
    throw new Error(`content-type ${answer.headers.get('content-type')}`);
  }
  return parsePrometheusText(answer.text);
}

/** Keys owned by shard 0 and by shard 1 of two. */
function keysOfShards(n: number): [string[], string[]] {
  const byShard: [string[], string[]] = [[], []];
  for (let i = 0; byShard[0].length < n || byShard[1].length < n; i++) {
    const key = `metrics-key-${i}`;
    const list = byShard[shardOfKey(key, 2) as 0 | 1];
    if (list.length < n) list.push(key);
  }
  return byShard;
}

t.test('GET /metrics: the whole node, counters and gauges that follow the requests', async (t) => {
  const daemon = await startDaemon(t, { shards: 2 });
  const { url } = daemon;
  const live = await request(`${url}/livez`);
  t.equal(live.status, 200);
  t.same(live.json(), { status: 'success', live: true });
  const ready = await request(`${url}/readyz`);
  t.equal(ready.status, 200);
  t.same(ready.json(), { status: 'success', ready: true, phase: 'ready' });
  t.equal((await request(`${url}/metrics`, { method: 'POST' })).status, 405);

  const before = await scrape(url);
  t.equal(before.value('lally_ready'), 1);
  t.equal(before.find('lally_shard_up').filter((s) => s.value === 1).length, 2, 'both shards answered');
  t.ok(before.find('process_cpu_user_seconds_total').length === 1, "prom-client's process metrics");
  t.ok(before.find('nodejs_heap_size_used_bytes').length === 1, "prom-client's Node metrics");
  t.equal(before.find('lally_event_loop_delay_max_seconds').length, 3, 'main thread and both shards');
  t.equal(before.sum('lally_keys'), 0);

  // Every request on its own connection: the kernel spreads them over both shards.
  const [zero, one] = keysOfShards(10);
  for (const key of [...zero, ...one]) {
    t.equal((await request(`${url}/kv/${key}`, { method: 'PUT', body: 'v' })).status, 200);
  }
  for (const key of [...zero.slice(0, 3), ...one.slice(0, 4)]) {
    t.equal((await request(`${url}/kv/${key}`, { method: 'DELETE' })).status, 200);
  }
  t.equal((await request(`${url}/kv/metrics-missing`)).status, 404);
  t.equal((await request(`${url}/kv/${one[9]}`)).status, 200);
  t.equal((await request(`${url}/add`, { method: 'POST', body: '{"key":"up","value":"1"}' })).status, 200);
  const batch = '[{"op":"get","key":"up"},{"op":"put","key":"b","value":"2"},{"op":"remove","key":"nope"}]';
  t.equal((await request(`${url}/batch`, { method: 'POST', body: batch })).status, 200);

  const after = await scrape(url);
  const ops = (labels: Record<string, string>) => after.sum('lally_operations_total', labels);
  t.equal(ops({ route: 'kv', op: 'put', outcome: 'ok' }), 20);
  t.equal(ops({ route: 'kv', op: 'remove', outcome: 'ok' }), 7);
  t.equal(ops({ route: 'kv', op: 'get', outcome: 'not_found' }), 1);
  t.equal(ops({ route: 'kv', op: 'get', outcome: 'ok' }), 1);
  t.equal(ops({ route: 'upstream', op: 'put', outcome: 'ok' }), 1);
  t.equal(ops({ route: 'batch', op: 'get', outcome: 'ok' }), 1);
  t.equal(ops({ route: 'batch', op: 'put', outcome: 'ok' }), 1);
  t.equal(ops({ route: 'batch', op: 'remove', outcome: 'not_found' }), 1);
  for (const shard of ['0', '1']) {
    t.ok(ops({ shard }) > 0, `shard ${shard} received and counted operations`);
    const requests = after.value('lally_http_requests_total', { shard });
    t.ok(requests > before.value('lally_http_requests_total', { shard }), `shard ${shard} answered requests`);
  }
  t.equal(after.value('lally_request_duration_seconds_count', { route: 'kv', op: 'put' }), 20);
  t.ok(after.value('lally_request_duration_seconds_sum', { route: 'kv', op: 'put' }) > 0);
  // Keys of shard 0: 10 - 3 deleted + the upstream and batch keys it owns; tombstones: the deletes,
  // and the batch's remove of a missing key (a delete leaves a tombstone whether or not the key was there).
  const owned = (keys: string[], shard: number) => keys.filter((k) => shardOfKey(k, 2) === shard).length;
  t.equal(after.value('lally_keys', { shard: '0' }), 7 + owned(['up', 'b'], 0));
  t.equal(after.value('lally_keys', { shard: '1' }), 6 + owned(['up', 'b'], 1));
  t.equal(after.value('lally_tombstones', { shard: '0' }), 3 + owned(['nope'], 0));
  t.equal(after.value('lally_tombstones', { shard: '1' }), 4 + owned(['nope'], 1));
  t.ok(after.sum('lally_hops_out_total') > 0, 'some requests hopped to the other shard');
  t.ok(after.sum('lally_aof_written_bytes_total') > 0, 'the AOF wrote');
  t.equal(after.value('lally_cluster_members', { state: 'alive' }), 1);

  // /stats carries the event-loop delay of every thread.
  const stats = (await request(`${url}/stats`)).json() as {
    shards: { eventLoopDelay: { maxMs: number; p99Ms: number } }[];
    main: { eventLoopDelay: { maxMs: number; p99Ms: number } };
  };
  for (const s of stats.shards) t.ok(s.eventLoopDelay.maxMs >= s.eventLoopDelay.p99Ms);
  t.type(stats.main.eventLoopDelay.maxMs, 'number');
  t.same(await daemon.stop(), { code: 0, signal: null });
});

t.test('--no-shard-metrics: /metrics still answers, without the per-operation figures', async (t) => {
  const daemon = await startDaemon(t, { shards: 2, args: ['--no-aof', '--no-shard-metrics'] });
  await request(`${daemon.url}/kv/a`, { method: 'PUT', body: 'v' });
  const figures = await scrape(daemon.url);
  t.same(figures.find('lally_operations_total'), []);
  t.same(figures.find('lally_request_duration_seconds_count'), []);
  t.equal(figures.sum('lally_keys'), 1);
  t.same(await daemon.stop(), { code: 0, signal: null });
});

/** One request on an open socket, its answer's status and body (answers with Content-Length only). */
function ask(socket: Socket, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const head = text.indexOf('\r\n\r\n');
      if (head < 0) return;
      const length = Number(/content-length: (\d+)/i.exec(text.slice(0, head))?.[1] ?? 0);
      if (text.length < head + 4 + length) return;
      socket.off('data', onData);
      resolve({ status: Number(text.slice(9, 12)), body: text.slice(head + 4, head + 4 + length) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
  });
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

t.test('GET /readyz answers 503 once the node is stopping, while /livez still answers 200', async (t) => {
  const daemon = await startDaemon(t, { shards: 2, args: ['--no-aof', '--shutdown-timeout-ms', '5000'] });
  // A PUT whose body is still coming keeps the stop in its drain (up to 4 s here).
  const writer = await open(daemon.port);
  writer.write('PUT /kv/held HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab');
  // Connections opened before the stop stay served while it drains.
  const probe = await open(daemon.port);
  const liveProbe = await open(daemon.port);
  t.teardown(() => {
    for (const s of [writer, probe, liveProbe]) s.destroy();
  });
  t.equal((await ask(probe, '/readyz')).status, 200, 'ready before the stop');
  daemon.child.kill('SIGTERM');
  const deadline = Date.now() + 5000;
  while (!daemon.lines.some((l) => l.includes('shutting down')) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const notReady = await ask(probe, '/readyz');
  t.equal(notReady.status, 503);
  t.same(JSON.parse(notReady.body), {
    status: 'error',
    code: 'LALLY_ERR_NOT_READY',
    message: 'the node is shutting down',
    ready: false,
    phase: 'stopping',
  });
  t.equal((await ask(liveProbe, '/livez')).status, 200, 'the process still answers');
  writer.write('cd'); // the held PUT completes; the stop goes on
  t.same(await daemon.exited, { code: 0, signal: null });
});

function addressOf(lines: readonly string[]): string {
  const line = lines.find((l) => l.includes('lally listening on'));
  return (JSON.parse(line ?? '{}') as { address?: string }).address ?? '';
}

async function within<T>(limitMs: number, what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not within ${limitMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

t.test('in a cluster: members by state, replication per peer, hints for a dead peer', async (t) => {
  const seed = await startDaemon(t, { shards: 1, args: ['--no-aof'] });
  const other = await startDaemon(t, {
    shards: 1,
    args: ['--no-aof', '--seed-node', addressOf(seed.lines), '--quorum-timeout-ms', '300'],
  });
  const peer = addressOf(other.lines);
  await within(8000, 'the seed sees its peer alive', async () => {
    const figures = await scrape(seed.url);
    return figures.value('lally_cluster_members', { state: 'alive' }) === 2 ? true : undefined;
  });
  t.equal((await request(`${seed.url}/kv/a`, { method: 'PUT', body: '1' })).status, 200);
  const acked = await within(5000, 'the write is acknowledged by the peer', async () => {
    const figures = await scrape(seed.url);
    const n = figures.find('lally_replication_peer_acknowledged_total', { peer });
    return n.length === 1 && n[0]!.value >= 1 ? figures : undefined;
  });
  t.ok(acked.value('lally_replication_replicated_total') >= 1);
  t.equal(acked.value('lally_replication_peer_backlog', { peer }), 0);
  t.equal(acked.value('lally_hints_queued'), 0);

  await other.stop('SIGKILL');
  // Writes to the dead peer become hints (the write itself is partial or waits for the detector).
  const hinted = await within(10_000, 'hints queued for the dead peer', async () => {
    await request(`${seed.url}/kv/b`, { method: 'PUT', body: '2' });
    const figures = await scrape(seed.url);
    return figures.value('lally_hints_queued') > 0 ? figures : undefined;
  });
  t.ok(hinted.value('lally_hints_added_total') > 0);
  t.equal((await request(`${seed.url}/readyz`)).status, 200, 'a dead peer does not make this node unready');
  t.same(await seed.stop(), { code: 0, signal: null });
});
