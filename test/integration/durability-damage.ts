/**
 * Durability of a whole daemon against damaged files: a torn tail, corruption in the middle of a file,
 * and upstream's text logs (real processes and files; test/integration/durability.ts has the rest).
 */
import { appendFile, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { freePort, request, runCli, startDaemon, tempDir } from '../fixtures/daemon-process.js';
import { activeFiles, getRaw } from '../fixtures/durability.js';

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
