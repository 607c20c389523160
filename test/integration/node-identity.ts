import t from 'tap';
import { freePort, startDaemon, tempDir } from '../fixtures/daemon-process.js';
import { request } from '../fixtures/http-client.js';

/** The node id as the start-up line and /stats give it. */
async function idsOf(daemon: {
  url: string;
  lines: string[];
}): Promise<{ logged: unknown; created: unknown; stats: unknown }> {
  const summary = daemon.lines.find((line) => line.includes('lally listening on'));
  const fields = JSON.parse(summary ?? '{}') as Record<string, unknown>;
  const stats = (await request(`${daemon.url}/stats`)).json() as Record<string, unknown>;
  return { logged: fields.nodeId, created: fields.nodeIdCreated, stats: stats.nodeId };
}

t.test(
  'two nodes with the default host and gRPC port get different ids; a restart keeps its id',
  async (t) => {
    // The old id was a hash of host:grpc_port: these two nodes would have shared it. They run one
    // after the other, since each binds its gRPC port (a free one, not the default 50071, which
    // another test or a real node may hold).
    const sameGrpc = ['--grpc-port', String(await freePort())];
    const dirs = [await tempDir(t), await tempDir(t)];
    const first = await startDaemon(t, { shards: 1, dataDir: dirs[0], args: sameGrpc });
    const a = await idsOf(first);
    await first.stop();
    const second = await startDaemon(t, { shards: 1, dataDir: dirs[1], args: sameGrpc });
    const b = await idsOf(second);
    t.match(a.logged, /^[0-9a-f]{8}$/, 'the start-up line names the node id');
    t.equal(a.stats, a.logged, '/stats names the same id');
    t.equal(b.stats, b.logged);
    t.not(a.logged, b.logged, 'different data dirs, different ids');
    t.equal(a.created, true, 'made on the first start');
    await second.stop();

    const again = await startDaemon(t, { shards: 1, dataDir: dirs[0], args: sameGrpc });
    const restarted = await idsOf(again);
    t.equal(restarted.logged, a.logged, 'a restart keeps the id it persisted');
    t.equal(restarted.created, false);
    await again.stop();
  },
);

t.test('a node without AOF draws an id for its lifetime', async (t) => {
  const daemon = await startDaemon(t, { shards: 1, args: ['--no-aof'] });
  const ids = await idsOf(daemon);
  t.match(ids.logged, /^[0-9a-f]{8}$/);
  t.equal(ids.stats, ids.logged);
  t.equal(ids.created, true);
  await daemon.stop();
});
