import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { freePort, PROJECT_ROOT, request, runCli, startDaemon, tempDir } from '../fixtures/daemon-process.js';

const HOOKS = join(PROJECT_ROOT, 'test/fixtures/hooks');

t.test(
  'hooks see every write in the shard that owns the key; a failing hook does not break the write',
  async (t) => {
    const dir = await tempDir(t);
    const hookFile = join(dir, 'ops.jsonl');
    const daemon = await startDaemon(t, {
      shards: 2,
      args: [
        '--no-aof',
        '--hooks',
        join(HOOKS, 'record-hook.mjs'),
        '--hooks',
        join(HOOKS, 'faulty-hook.mjs'),
      ],
      env: { LALLY_TEST_HOOK_FILE: hookFile },
    });
    const keys = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta'];
    for (const key of keys) await request(`${daemon.url}/kv/${key}`, { method: 'PUT', body: `v-${key}` });
    await request(`${daemon.url}/kv/alpha`, { method: 'DELETE' });
    const boom = await request(`${daemon.url}/kv/boom`, { method: 'PUT', body: 'still written' });
    t.equal(boom.status, 200, 'a throwing hook does not fail the write');
    const rejected = await request(`${daemon.url}/kv/reject`, { method: 'PUT', body: 'also written' });
    t.equal(rejected.status, 200);
    t.equal((await request(`${daemon.url}/kv/boom?raw`)).text, 'still written');

    const ops = (await readFile(hookFile, 'utf8'))
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as {
            name: string;
            key: string;
            value?: string;
            timestamp: string;
            shard: number;
            initShard: number;
            version: { wall: number };
          },
      );
    t.same(
      ops.map((op) => [op.name, op.key, op.value ?? null]),
      [
        ...keys.map((k) => ['ADD', k, `v-${k}`]),
        ['REMOVE', 'alpha', null],
        ['ADD', 'boom', 'still written'],
        ['ADD', 'reject', 'also written'],
      ],
    );
    t.ok(
      ops.every((op) => op.shard === op.initShard),
      'each hook instance runs in the shard that owns the key',
    );
    t.equal(new Set(ops.map((op) => op.shard)).size, 2, 'both shards ran hooks');
    t.ok(
      ops.every((op) => new Date(op.timestamp).getTime() === op.version.wall),
      'timestamp renders the version',
    );
    await daemon.stop();
    t.ok(
      daemon.lines.some((line) => line.includes('"hook":"faulty"') && line.includes('hook exploded')),
      'the thrown error is logged with the hook name',
    );
    t.ok(
      daemon.lines.some((line) => line.includes('"hook":"faulty"') && line.includes('hook rejected')),
      'the rejection is logged too',
    );
  },
);

t.test('a hook module that is not a hook stops the start with a clear message', async (t) => {
  const result = await runCli([
    '--no-aof',
    '--config',
    '',
    '--http-port',
    '38999',
    // Every node binds its gRPC port: not the default one, which a concurrent test may hold.
    '--grpc-port',
    String(await freePort()),
    '--hooks',
    join(HOOKS, 'not-a-hook.mjs'),
    '--host',
    '127.0.0.1',
  ]);
  t.equal(result.code, 1);
  t.match(result.stdout + result.stderr, /must default-export an object with a string/);
});

t.test('a shard that dies takes the node down loudly instead of serving a partial keyspace', async (t) => {
  const daemon = await startDaemon(t, {
    shards: 2,
    args: ['--no-aof', '--hooks', join(HOOKS, 'faulty-hook.mjs')],
  });
  await request(`${daemon.url}/kv/crash`, { method: 'PUT', body: 'x' }).catch(() => undefined);
  const exit = await daemon.exited;
  t.not(exit.code, 0, 'non-zero exit');
  t.ok(
    daemon.lines.some((line) => /shard \d exited unexpectedly/.test(line) && line.includes('"level":60')),
    'logged as fatal',
  );
});

t.test('an uncaught error in a shard is logged as fatal and stops the node non-zero', async (t) => {
  const daemon = await startDaemon(t, {
    shards: 2,
    args: ['--no-aof', '--hooks', join(HOOKS, 'faulty-hook.mjs')],
  });
  await request(`${daemon.url}/kv/uncaught`, { method: 'PUT', body: 'x' }).catch(() => undefined);
  const exit = await daemon.exited;
  t.equal(exit.code, 1);
  t.equal(exit.signal, null, 'no abort: the process exits by itself');
  t.ok(daemon.lines.some((line) => line.includes('uncaught in a shard') && line.includes('"level":60')));
});

t.test('SIGTERM and SIGINT stop the node cleanly with exit 0', async (t) => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const daemon = await startDaemon(t, { shards: 2, args: ['--no-aof'] });
    await request(`${daemon.url}/kv/a`, { method: 'PUT', body: '1' });
    const exit = await daemon.stop(signal);
    t.equal(exit.code, 0, `${signal}: exit 0`);
    t.ok(
      daemon.lines.some((line) => line.includes('lally stopped cleanly')),
      `${signal}: says so`,
    );
  }
});

t.test('a graceful stop waits for idle keep-alive connections no longer than it must', async (t) => {
  const daemon = await startDaemon(t, { shards: 2, args: ['--no-aof'] });
  const http = await import('node:http');
  const agent = new http.Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());
  await new Promise<void>((resolve) =>
    http.get(`${daemon.url}/greet`, { agent }, (res) => res.resume().on('end', resolve)),
  );
  const started = Date.now();
  const exit = await daemon.stop();
  t.equal(exit.code, 0);
  t.ok(Date.now() - started < 9000, 'an idle keep-alive socket does not hold the shutdown');
});

t.test('the start-up summary tells the operator what runs', async (t) => {
  const daemon = await startDaemon(t, { shards: 3, args: ['--no-aof'] });
  const summary = daemon.lines.find((line) => line.includes('lally listening on'));
  t.ok(summary);
  const fields = JSON.parse(summary!) as Record<string, unknown>;
  t.equal(fields.shards, 3);
  t.equal(fields.http, daemon.url);
  t.equal(fields.aof, 'off');
  t.type(fields.version, 'string');
  // The native addon is built by npm ci (scripts/build-native.mjs) on this glibc machine.
  t.equal(fields.malloc, 'mmap threshold fixed at 128 KiB');
  await daemon.stop();
});

t.test('configuration errors exit 2 naming the key and its source', async (t) => {
  const bad = await runCli(['--http-port', 'abc', '--config', '']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /http_port.*--http-port/);
  const missing = await runCli(['--config', '/nonexistent/lally.yml']);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /nonexistent/);
  const help = await runCli(['--help']);
  t.equal(help.code, 0);
  for (const flag of [
    '--http-port',
    '--grpc-port',
    '--shards',
    '--data-dir',
    '--aof-fsync',
    '--hooks',
    '--read-quorum',
  ]) {
    t.match(help.stdout, flag, `--help lists ${flag}`);
  }
  const version = await runCli(['--version']);
  t.equal(version.code, 0);
  t.match(version.stdout, /\d+\.\d+\.\d+/);
});

/**
 * Opens a PUT whose body never finishes: the request stays in flight until the node closes it.
 * Resolves once the node counts it in flight (a /stats request counts itself too, hence 2).
 */
async function hangingRequest(url: string, port: number): Promise<import('node:net').Socket> {
  const { connect } = await import('node:net');
  const socket = await new Promise<import('node:net').Socket>((resolve) => {
    const opened = connect(port, '127.0.0.1', () => {
      opened.write('PUT /kv/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc');
      resolve(opened);
    });
    opened.on('error', () => undefined);
  });
  for (let attempt = 0; attempt < 200; attempt++) {
    const stats = (await request(`${url}/stats`)).json<{ shards: { inFlight: number }[] }>();
    if (stats.shards.reduce((sum, shard) => sum + shard.inFlight, 0) >= 2) return socket;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('the hanging request never showed up as in flight');
}

t.test('a request that never finishes holds the stop no longer than the shutdown timeout', async (t) => {
  const daemon = await startDaemon(t, { shards: 2, args: ['--no-aof', '--shutdown-timeout-ms', '1500'] });
  const socket = await hangingRequest(daemon.url, daemon.port);
  t.teardown(() => socket.destroy());
  const started = Date.now();
  const exit = await daemon.stop('SIGTERM');
  t.equal(exit.code, 0, 'the drain deadline passes, connections are closed, the node exits cleanly');
  t.ok(Date.now() - started < 1500 + 8000, 'within the timeout, plus slack for a loaded machine');
  t.ok(daemon.lines.some((line) => line.includes('lally stopped cleanly')));
});

t.test('a second signal forces the exit at once', async (t) => {
  const daemon = await startDaemon(t, { shards: 2, args: ['--no-aof', '--shutdown-timeout-ms', '60000'] });
  const socket = await hangingRequest(daemon.url, daemon.port);
  t.teardown(() => socket.destroy());
  daemon.child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  const started = Date.now();
  daemon.child.kill('SIGTERM');
  const exit = await daemon.exited;
  t.ok(Date.now() - started < 20_000, 'it did not wait for the 60 s timeout');
  t.equal(
    exit.signal,
    'SIGKILL',
    'forced: the process kills itself (worker threads holding sockets cannot exit normally)',
  );
  t.ok(
    daemon.lines.some((line) => line.includes('second SIGTERM: forcing exit')),
    'and says why',
  );
});

t.test('a second node on a port that is in use refuses to start instead of sharing it', async (t) => {
  const first = await startDaemon(t, { shards: 1, args: ['--no-aof'] });
  const second = await runCli([
    '--config',
    '',
    '--no-aof',
    '--host',
    '127.0.0.1',
    '--http-port',
    String(first.port),
    '--grpc-port',
    '50098',
  ]);
  t.equal(second.code, 2);
  t.match(second.stdout + second.stderr, /HTTP port 127\.0\.0\.1:\d+ is already in use/);
  t.equal((await request(`${first.url}/greet`)).status, 200, 'the first node is untouched');
  await first.stop();
});
