/**
 * Durability of a whole daemon: real processes, real files, real fsync and a real kill -9.
 */
import { appendFile, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { freePort, request, runCli, startDaemon, tempDir } from '../fixtures/daemon-process.js';

/** The newest increment file of every shard: where the next write would go. */
async function activeFiles(dataDir: string): Promise<string[]> {
  const layout = JSON.parse(await readFile(join(dataDir, 'aof-layout.json'), 'utf8')) as {
    dir: string;
    shards: number;
  };
  const dir = join(dataDir, layout.dir);
  const files: string[] = [];
  for (let shard = 0; shard < layout.shards; shard++) {
    const manifest = JSON.parse(await readFile(join(dir, `shard-${shard}.aof.manifest`), 'utf8')) as {
      incrs: string[];
    };
    files.push(join(dir, manifest.incrs.at(-1)!));
  }
  return files;
}

async function getRaw(url: string, key: string): Promise<string | undefined> {
  const response = await request(`${url}/kv/${encodeURIComponent(key)}?raw`);
  return response.status === 200 ? response.text : undefined;
}

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

t.test('a torn tail is truncated with a warning naming the file and offset', async (t) => {
  const dataDir = await tempDir(t);
  const first = await startDaemon(t, { shards: 2, dataDir, args: ['--aof-fsync', 'always'] });
  for (let i = 0; i < 20; i++) await request(`${first.url}/kv/torn-${i}`, { method: 'PUT', body: `v${i}` });
  await first.stop();
  const [file] = await activeFiles(dataDir);
  const before = (await stat(file!)).size;
  // Half a record: what a crash in the middle of a write leaves.
  await appendFile(file!, Buffer.from([0x40, 0x00, 0x00, 0x00, 0x12, 0x34]));
  const restarted = await startDaemon(t, { shards: 2, dataDir });
  for (let i = 0; i < 20; i++) t.equal(await getRaw(restarted.url, `torn-${i}`), `v${i}`);
  t.ok(
    restarted.lines.some(
      (line) => line.includes('"level":40') && line.includes(file!) && line.includes(String(before)),
    ),
    'a warning names the file and the offset',
  );
  await restarted.stop();
  t.equal((await stat(file!)).size >= before, true, 'the file is usable again');
  const check = await runCli(['aof', 'check', dataDir]);
  t.equal(check.code, 0, 'lally aof check is happy after the truncation');
});

t.test('corruption in the middle of a file stops the start and points to the tools', async (t) => {
  const dataDir = await tempDir(t);
  const first = await startDaemon(t, { shards: 1, dataDir, args: ['--aof-fsync', 'always'] });
  for (let i = 0; i < 20; i++)
    await request(`${first.url}/kv/flip-${i}`, { method: 'PUT', body: `value number ${i}` });
  await first.stop();
  const [file] = await activeFiles(dataDir);
  const bytes = await readFile(file!);
  const middle = Math.floor(bytes.length / 2);
  bytes[middle] = bytes[middle]! ^ 0x10; // one flipped bit
  await writeFile(file!, bytes);

  const failed = await runCli([
    '--config',
    '',
    '--host',
    '127.0.0.1',
    '--http-port',
    '38990',
    '--grpc-port',
    String(await freePort()),
    '--shards',
    '1',
    '--data-dir',
    dataDir,
  ]);
  t.not(failed.code, 0, 'the node refuses to start on a corrupt file');
  t.match(failed.stdout + failed.stderr, /lally aof (check|repair)/, 'and says which tool to run');

  const check = await runCli(['aof', 'check', dataDir]);
  t.not(check.code, 0, 'check finds the damage');
  t.match(
    check.stdout + check.stderr,
    new RegExp(file!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
    'names the file',
  );
  const repairForced = await runCli(['aof', 'repair', dataDir, '--force']);
  t.equal(repairForced.code, 0, 'repair --force cuts the file at the damage');
  const restarted = await startDaemon(t, { shards: 1, dataDir });
  t.equal(await getRaw(restarted.url, 'flip-0'), 'value number 0', 'records before the damage survive');
  await restarted.stop();
});

t.test('upstream text logs replay through --replay-log, keeping their timestamps', async (t) => {
  const dir = await tempDir(t);
  const log = join(dir, 'upstream.log');
  await writeFile(
    log,
    [
      'timestamp=2024-12-30T10:15:00.123456789+00:00 operation=ADD level=INFO key="user:1" value="alice smith"',
      'timestamp=2024-12-30T10:15:01.000000001+00:00 operation=ADD level=INFO key="quote" value="she said "hi" = ok"',
      'timestamp=2024-12-30T10:15:02.000000000+00:00 operation=ADD level=INFO key="gone" value="x"',
      'timestamp=2024-12-30T10:16:00.000000001+00:00 operation=REMOVE level=INFO key="gone"',
      '',
    ].join('\n'),
  );
  const daemon = await startDaemon(t, { shards: 2, args: ['--replay-log', log] });
  const user = (await request(`${daemon.url}/kv/user:1`)).json() as { value: string; timestamp: string };
  t.equal(user.value, 'alice smith', 'a value with a space survives (upstream itself loses it)');
  t.equal(user.timestamp, '2024-12-30T10:15:00.123Z', 'the record keeps its timestamp as its version');
  t.equal(await getRaw(daemon.url, 'quote'), 'she said "hi" = ok');
  t.equal(await getRaw(daemon.url, 'gone'), undefined);
  await daemon.stop();

  const both = await runCli(['--config', '', '--fresh', '--replay-log', log, '--data-dir', dir]);
  t.equal(both.code, 2, '--fresh with --replay-log is an error, as upstream');
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
