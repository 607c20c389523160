/**
 * Durability of a whole daemon: real processes, real files, real fsync and a real kill -9.
 */
import { readdir } from 'node:fs/promises';
import t from 'tap';
import { request, runCli, startDaemon, tempDir } from '../fixtures/daemon-process.js';
import { getRaw } from '../fixtures/durability.js';

t.test('kill -9 under concurrent load with fsync always loses no acknowledged write', async (t) => {
  const dataDir = await tempDir(t);
  const daemon = await startDaemon(t, { shards: 2, dataDir, args: ['--aof-fsync', 'always'] });
  const acknowledged = new Map<string, string>();
  let stop = false;
  const writer = async (client: number) => {
    for (let i = 0; !stop; i++) {
      const key = `c${client}-k${i}`;
      const value = `value ${i} of client ${client}`;
      try {
        const response = await request(`${daemon.url}/kv/${key}`, { method: 'PUT', body: value });
        if (response.status === 200) acknowledged.set(key, value);
      } catch {
        return; // the daemon died under us: this write was not acknowledged
      }
    }
  };
  const writers = Array.from({ length: 8 }, (_, client) => writer(client));
  while (acknowledged.size < 300) await new Promise((r) => setTimeout(r, 10));
  daemon.child.kill('SIGKILL');
  stop = true;
  await Promise.all(writers);
  const exit = await daemon.exited;
  t.equal(exit.signal, 'SIGKILL');
  t.ok(acknowledged.size >= 300, `${acknowledged.size} writes were acknowledged before the kill`);

  const restarted = await startDaemon(t, { shards: 2, dataDir, args: ['--aof-fsync', 'always'] });
  let missing = 0;
  let wrong = 0;
  for (const [key, value] of acknowledged) {
    const stored = await getRaw(restarted.url, key);
    if (stored === undefined) missing++;
    else if (stored !== value) wrong++;
  }
  t.equal(missing, 0, 'every acknowledged write is there after the restart');
  t.equal(wrong, 0, 'with the acknowledged value');
  await restarted.stop();
});

t.test('changing the shard count between restarts loses nothing', async (t) => {
  const dataDir = await tempDir(t);
  const keys = Array.from({ length: 200 }, (_, i) => `reshard-${i}`);
  const first = await startDaemon(t, { shards: 2, dataDir });
  const ops = keys.map((key) => ({ op: 'put', key, value: `v-${key}` }));
  t.equal(
    (await request(`${first.url}/batch`, { method: 'POST', body: JSON.stringify({ ops }) })).status,
    200,
  );
  await request(`${first.url}/kv/reshard-0`, { method: 'DELETE' });
  t.equal((await first.stop()).code, 0);

  for (const shards of [3, 1, 2]) {
    const daemon = await startDaemon(t, { shards, dataDir });
    const stats = (await request(`${daemon.url}/stats`)).json() as {
      shards: unknown[];
      totals: { keys: number };
    };
    t.equal(stats.shards.length, shards);
    t.equal(stats.totals.keys, keys.length - 1, `${shards} shard(s): every live key is there`);
    t.equal(await getRaw(daemon.url, 'reshard-0'), undefined, 'the delete survived');
    t.equal(await getRaw(daemon.url, 'reshard-199'), 'v-reshard-199');
    t.equal((await daemon.stop()).code, 0);
  }
});

t.test('--fresh wipes the data; a second node cannot take the same data directory', async (t) => {
  const dataDir = await tempDir(t);
  const first = await startDaemon(t, { shards: 2, dataDir });
  await request(`${first.url}/kv/old`, { method: 'PUT', body: 'data' });
  const second = await runCli([
    '--config',
    '',
    '--host',
    '127.0.0.1',
    '--http-port',
    '38991',
    '--data-dir',
    dataDir,
  ]);
  t.not(second.code, 0);
  t.match(
    second.stdout + second.stderr,
    new RegExp(`${first.child.pid}`),
    'the error names the process that holds it',
  );
  await first.stop();
  const fresh = await startDaemon(t, { shards: 2, dataDir, args: ['--fresh'] });
  t.equal(await getRaw(fresh.url, 'old'), undefined);
  await fresh.stop();
  t.ok((await readdir(dataDir)).length > 0);
});

t.test('versions never go backwards across a restart', async (t) => {
  const dataDir = await tempDir(t);
  const first = await startDaemon(t, { shards: 1, dataDir });
  const a = (await (await request(`${first.url}/kv/v`, { method: 'PUT', body: '1' })).json()) as {
    timestamp: string;
  };
  await first.stop();
  const second = await startDaemon(t, { shards: 1, dataDir });
  const b = (await request(`${second.url}/kv/v`, { method: 'PUT', body: '2' })).json() as {
    timestamp: string;
  };
  t.ok(b.timestamp >= a.timestamp);
  t.equal(await getRaw(second.url, 'v'), '2', 'the later write wins');
  await second.stop();
});
