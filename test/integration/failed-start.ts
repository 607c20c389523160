/**
 * A start that fails must end the process, non-zero and within a bound, whichever shard fails first
 * and whatever the others are doing (still replaying a large AOF, ready, stuck in a hook's init).
 * Before the fix, a shard still replaying when the node stopped went on to start its transport after
 * it had closed, and about one start in three hung until killed.
 */
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { freePort, loopbackArgs, PROJECT_ROOT, runCli, tempDir } from '../fixtures/daemon-process.js';
import { writeShardData } from '../fixtures/shard-data.js';

const SHARDS = 3;
const RECORDS_PER_SHARD = 60_000; // a few hundred ms of replay per shard: the others are mid-replay
/** Far above a failed start's few hundred ms, far below "hangs until killed" (the old behaviour). */
const EXIT_BOUND_MS = 30_000;
/** Each shard fails twice (every third round near the end of its file); `npm run stress` runs 30. */
const ROUNDS = Number(process.env.LALLY_STRESS_ROUNDS ?? 3);

async function incrementOf(dataDir: string, shard: number): Promise<string> {
  const layout = JSON.parse(await readFile(join(dataDir, 'aof-layout.json'), 'utf8')) as { dir: string };
  const dir = join(dataDir, layout.dir);
  const manifest = JSON.parse(await readFile(join(dir, `shard-${shard}.aof.manifest`), 'utf8')) as {
    incrs: string[];
  };
  return join(dir, manifest.incrs.at(-1)!);
}

async function startArgs(dataDir: string, extra: string[] = []): Promise<string[]> {
  return [...(await loopbackArgs(SHARDS)), '--data-dir', dataDir, ...extra];
}

t.test('a corrupt AOF on any shard ends the start non-zero, every time', async (t) => {
  const root = await tempDir(t);
  const pristine = join(root, 'pristine');
  await writeShardData(pristine, SHARDS, RECORDS_PER_SHARD);
  for (let round = 0; round < ROUNDS; round++) {
    const failing = round % SHARDS;
    const dataDir = join(root, `round-${round}`);
    await cp(pristine, dataDir, { recursive: true });
    const file = await incrementOf(dataDir, failing);
    const bytes = await readFile(file);
    // Early in the file (the failing shard stops at once, the others are mid-replay) on most rounds,
    // near the end on every third (the others may be ready by then).
    const offset = round % 3 === 2 ? bytes.length - 500 : 2000 + round * 97;
    bytes[offset] = bytes[offset]! ^ 0x10;
    await writeFile(file, bytes);

    const started = Date.now();
    const result = await runCli(await startArgs(dataDir), { timeoutMs: EXIT_BOUND_MS + 10_000 });
    const elapsed = Date.now() - started;
    const output = result.stdout + result.stderr;
    t.equal(result.code, 1, `round ${round} (shard ${failing} corrupt at ${offset}): exit 1`);
    t.ok(elapsed < EXIT_BOUND_MS, `round ${round}: exited after ${elapsed} ms`);
    t.match(
      output,
      new RegExp(`shard ${failing}: AOF file .* is corrupt`),
      `round ${round}: names the damage`,
    );
    t.match(result.stderr, /^lally: could not start: /m, `round ${round}: says the start failed`);
  }
});

t.test('a shard stuck in its start is terminated once another shard fails', async (t) => {
  const dataDir = await tempDir(t);
  const hook = join(PROJECT_ROOT, 'test/fixtures/hooks/stuck-start-hook.mjs');
  const started = Date.now();
  const result = await runCli(await startArgs(dataDir, ['--hooks', hook, '--shutdown-timeout-ms', '3000']), {
    timeoutMs: EXIT_BOUND_MS + 10_000,
  });
  const elapsed = Date.now() - started;
  const output = result.stdout + result.stderr;
  t.equal(result.code, 1, 'exit 1 (not a forced kill)');
  t.ok(elapsed < EXIT_BOUND_MS, `exited after ${elapsed} ms`);
  t.match(output, /shard 0 refuses to start/);
  t.match(output, /terminating its thread/, 'says which shards it had to terminate');
});

/**
 * Every failed start says why on one `lally: could not start: ...` line on stderr, once (not once
 * per shard), with no stack trace and no fatal JSON line; the details are at debug level.
 */
async function expectOneLine(
  t: Test,
  args: string[],
  exitCode: number,
  pattern: RegExp,
  checkDebug = false,
): Promise<void> {
  const result = await runCli(args, { timeoutMs: EXIT_BOUND_MS + 10_000 });
  const output = result.stdout + result.stderr;
  t.equal(result.code, exitCode, `exit ${exitCode}`);
  const lines = result.stderr.split('\n').filter((line) => line.startsWith('lally:'));
  t.equal(lines.length, 1, `one lally: line (${JSON.stringify(lines)})`);
  t.match(lines[0], pattern, 'it says why');
  t.notMatch(output, /\n\s+at /, 'no stack trace');
  t.notMatch(output, /"level":(50|60)/, 'no error or fatal JSON line');
  if (!checkDebug) return;
  const debug = await runCli([...args, '--log-level', 'debug'], { timeoutMs: EXIT_BOUND_MS + 10_000 });
  t.match(
    debug.stdout,
    /"level":20,.*"stack":.*"msg":"lally could not start: /,
    'the details at debug level',
  );
}

t.test('one clean line for each failed start', async (t) => {
  const root = await tempDir(t);

  t.test('the HTTP port in use: exit 2', async (t) => {
    const blocker = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    t.teardown(() => new Promise((resolve) => blocker.close(resolve)));
    const args = await startArgs(join(root, 'port'));
    args[args.indexOf('--http-port') + 1] = String(port);
    await expectOneLine(
      t,
      args,
      2,
      /^lally: could not start: the HTTP port 127\.0\.0\.1:\d+ is already in use .*\(LALLY_ERR_CONFIG\)$/,
    );
  });

  t.test('the data directory locked by a live process: exit 1', async (t) => {
    const dataDir = join(root, 'locked');
    await mkdir(dataDir, { recursive: true });
    // this test's own process: alive, and not the daemon
    const lock = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
    await writeFile(join(dataDir, 'lally.lock'), JSON.stringify(lock));
    await expectOneLine(
      t,
      await startArgs(dataDir),
      1,
      new RegExp(
        `^lally: could not start: data directory .* is in use by process ${process.pid} .*\\(LALLY_ERR_DATA_DIR_LOCKED\\)$`,
      ),
    );
  });

  t.test('a corrupt AOF: exit 1', async (t) => {
    const dataDir = join(root, 'corrupt');
    await writeShardData(dataDir, SHARDS, 200);
    const file = await incrementOf(dataDir, 1);
    const bytes = await readFile(file);
    bytes[100] = bytes[100]! ^ 0x10;
    await writeFile(file, bytes);
    await expectOneLine(
      t,
      await startArgs(dataDir),
      1,
      /^lally: could not start: shard 1: AOF file .* is corrupt.*\(LALLY_ERR_AOF_CORRUPT\)$/,
    );
  });

  t.test('a missing --replay-log file: exit 1', async (t) => {
    await expectOneLine(
      t,
      await startArgs(join(root, 'replay'), ['--replay-log', join(root, 'no-such.log')]),
      1,
      /^lally: could not start: cannot read .*no-such\.log: ENOENT/,
    );
  });

  t.test('a hook that does not load: exit 1, said once for all shards', async (t) => {
    await expectOneLine(
      t,
      await startArgs(join(root, 'hook'), ['--hooks', join(root, 'no-such-hook.mjs')]),
      1,
      /^lally: could not start: shard \d: hook .*no-such-hook\.mjs could not be loaded.*\(LALLY_ERR_HOOK_LOAD\)$/,
      true,
    );
  });
});
