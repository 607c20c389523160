/**
 * A real daemon whose AOF metadata was lost refuses to start and deletes nothing; `lally aof check`
 * says so; `lally aof repair` rebuilds the metadata and every key is back (issue 7, item 3). The other
 * cases (a lost manifest, a layout naming a missing directory, a lost increment) run on the same code
 * without a daemon in test/aof/recovery-plan.ts.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { freePort, request, runCli, startDaemon, tempDir } from '../fixtures/daemon-process.js';

const KEYS = Array.from({ length: 60 }, (_, i) => `meta-${i}`);

async function populated(t: Test): Promise<string> {
  const dataDir = await tempDir(t);
  const daemon = await startDaemon(t, { shards: 2, dataDir, args: ['--aof-fsync', 'always'] });
  const ops = KEYS.map((key) => ({ op: 'put', key, value: `v-${key}` }));
  t.equal(
    (await request(`${daemon.url}/batch`, { method: 'POST', body: JSON.stringify({ ops }) })).status,
    200,
  );
  t.equal((await daemon.stop()).code, 0);
  return dataDir;
}

async function aofFiles(dir: string): Promise<string[]> {
  const layoutDirs = (await readdir(dir)).filter((n) => /^aof-\d+$/.test(n));
  const files: string[] = [];
  for (const gen of layoutDirs) files.push(...(await readdir(join(dir, gen))).map((n) => `${gen}/${n}`));
  return files.sort();
}

async function refusedStart(dataDir: string) {
  const args = ['--host', '127.0.0.1', '--http-port', String(await freePort()), '--grpc-port'];
  args.push(String(await freePort()), '--shards', '2', '--data-dir', dataDir, '--config', '');
  return runCli(args, { timeoutMs: 30_000 });
}

async function refusesThenRepairs(t: Test, dataDir: string, mention: RegExp) {
  const before = await aofFiles(dataDir);
  const start = await refusedStart(dataDir);
  t.equal(start.code, 1, 'the start fails');
  const log = start.stdout + start.stderr;
  t.match(log, /LALLY_ERR_AOF_CORRUPT/);
  t.match(log, mention);
  t.match(log, /lally aof repair/);
  t.same(await aofFiles(dataDir), before, 'no file was deleted');
  const check = await runCli(['aof', 'check', dataDir]);
  t.equal(check.code, 1, `check exits 1: ${check.stdout}`);
  t.match(check.stdout, /start-up would REFUSE/);
  const repair = await runCli(['aof', 'repair', dataDir]);
  t.equal(repair.code, 0, repair.stdout + repair.stderr);
  const daemon = await startDaemon(t, { shards: 2, dataDir });
  let found = 0;
  for (const key of KEYS) if ((await request(`${daemon.url}/kv/${key}?raw`)).text === `v-${key}`) found++;
  t.equal(found, KEYS.length, 'every key is back');
  t.equal((await daemon.stop()).code, 0);
}

t.test('a lost aof-layout.json', async (t) => {
  const dataDir = await populated(t);
  await rm(join(dataDir, 'aof-layout.json'));
  await refusesThenRepairs(t, dataDir, /no aof-layout\.json naming this generation/);
});
