/**
 * A start that fails must end the process, non-zero and within a bound, whichever shard fails first
 * and whatever the others are doing (still replaying a large AOF, ready, stuck in a hook's init).
 * Before the fix, a shard still replaying when the node stopped went on to start its transport after
 * it had closed, and about one start in three hung until killed.
 */
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { freePort, PROJECT_ROOT, runCli, tempDir } from '../fixtures/daemon-process.js';
import { writeShardData } from '../fixtures/shard-data.js';

const SHARDS = 3;
const RECORDS_PER_SHARD = 60_000; // a few hundred ms of replay per shard: the others are mid-replay
/** Far above a failed start's few hundred ms, far below "hangs until killed" (the old behaviour). */
const EXIT_BOUND_MS = 10_000;
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
  return [
    '--config',
    '',
    '--host',
    '127.0.0.1',
    '--http-port',
    String(await freePort()),
    '--grpc-port',
    String(await freePort()),
    '--shards',
    String(SHARDS),
    '--data-dir',
    dataDir,
    ...extra,
  ];
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
    t.match(output, /lally could not start/, `round ${round}: says the start failed`);
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
