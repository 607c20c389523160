/**
 * How a node's cluster start fails or adapts: a gRPC port in use (exit 2), a seed that never answers
 * (exit 1 after the join timeout), a joiner whose id is a live member's (refused, exit 2), and
 * --grpc-port 0 (a free port, logged and advertised).
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { freePort, runCli, startDaemon, tempDir } from '../fixtures/daemon-process.js';
import { request } from '../fixtures/http-client.js';

async function cli(t: Test, grpcPort: number, extra: string[] = []) {
  const args = ['--config', '', '--host', '127.0.0.1', '--http-port', String(await freePort())];
  args.push('--grpc-port', String(grpcPort), '--shards', '1', '--data-dir', await tempDir(t), ...extra);
  return runCli(args, { timeoutMs: 20_000 });
}

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

t.test('a gRPC port in use is a clear start-up error, exit 2', async (t) => {
  const port = await freePort();
  const holder = await listen(port);
  t.teardown(() => holder.close());
  const result = await cli(t, port);
  t.equal(result.code, 2);
  t.match(result.stdout + result.stderr, /cannot bind the gRPC port 127\.0\.0\.1:\d+/);
});

t.test('a seed that never answers fails the start after the join timeout, exit 1', async (t) => {
  const nobody = await freePort();
  const result = await cli(t, await freePort(), [
    '--seed-node',
    `127.0.0.1:${nobody}`,
    '--join-timeout-ms',
    '800',
  ]);
  t.equal(result.code, 1);
  t.match(result.stdout + result.stderr, /cannot join the cluster through 127\.0\.0\.1:\d+/);
});

t.test("a join whose id is a live member's is refused, exit 2", async (t) => {
  const seed = await startDaemon(t, { shards: 1 });
  const fields = JSON.parse(seed.lines.find((l) => l.includes('lally listening on')) ?? '{}');
  // A data dir that carries the seed's id, as a copied one would.
  const copy = await tempDir(t);
  await mkdir(copy, { recursive: true });
  await copyFile(join(seed.dataDir, 'node-id'), join(copy, 'node-id'));
  const args = ['--config', '', '--host', '127.0.0.1', '--http-port', String(await freePort())];
  args.push('--grpc-port', String(await freePort()), '--shards', '1', '--data-dir', copy);
  const result = await runCli([...args, '--seed-node', fields.address], { timeoutMs: 20_000 });
  t.equal(result.code, 2);
  t.match(result.stdout + result.stderr, /is already member/);
  const members = ((await request(`${seed.url}/cluster`)).json() as { members: unknown[] }).members;
  t.equal(members.length, 1, 'the seed did not take it in');
  await seed.stop();
});

t.test('--grpc-port 0 binds a free port, logs it and advertises it', async (t) => {
  const node = await startDaemon(t, { shards: 1, args: ['--grpc-port', '0'] });
  const fields = JSON.parse(node.lines.find((l) => l.includes('lally listening on')) ?? '{}');
  t.ok(fields.grpcPort > 0, 'the start-up line gives the bound port');
  t.equal(fields.address, `127.0.0.1:${fields.grpcPort}`);
  const members = ((await request(`${node.url}/cluster`)).json() as { members: { address: string }[] })
    .members;
  t.same(
    members.map((m) => m.address),
    [fields.address],
  );
  await node.stop();
});

t.test('SIGTERM while the join is retried stops the node without waiting out the join timeout', async (t) => {
  const nobody = await freePort();
  const node = await startDaemon(t, {
    shards: 1,
    args: ['--seed-node', `127.0.0.1:${nobody}`, '--join-timeout-ms', '60000'],
    waitFor: /did not answer the join/,
  });
  const signalled = Date.now();
  const exit = await node.stop('SIGTERM');
  const tookMs = Date.now() - signalled;
  t.equal(exit.signal, null, 'it exits by itself, not by the forced kill');
  t.ok(tookMs < 8000, `and before the shutdown timeout forces it (${tookMs} ms)`);
});

t.test(
  'a node bound to a wildcard host without --advertise is known by the address the seed saw',
  async (t) => {
    const seed = await startDaemon(t, { shards: 1 });
    const seedFields = JSON.parse(seed.lines.find((l) => l.includes('lally listening on')) ?? '{}');
    const grpcPort = await freePort();
    const joiner = await startDaemon(t, {
      shards: 1,
      args: ['--host', '0.0.0.0', '--grpc-port', String(grpcPort), '--seed-node', seedFields.address],
    });
    const fields = JSON.parse(joiner.lines.find((l) => l.includes('lally listening on')) ?? '{}');
    t.equal(fields.address, `127.0.0.1:${grpcPort}`, 'the joiner advertises what the seed saw');
    const nodes = ((await request(`${seed.url}/nodes`)).json() as { nodes: string[] }).nodes;
    t.same(nodes, [`127.0.0.1:${grpcPort}`], 'and the seed lists it so');
    await joiner.stop();
    await seed.stop();
  },
);
