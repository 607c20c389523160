/**
 * `lally aof dump | head` in a real process with a real pipe (issue 7, item 10): it ends quietly.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { buildFile, recordOfSize, writeBuiltFile } from '../fixtures/aof-files.js';
import { childEnv, nodeCommand } from '../fixtures/child-env.js';
import { CLI, PROJECT_ROOT, tempDir } from '../fixtures/daemon-process.js';

t.test('dump into a reader that goes away (`| head`) exits 0 without a stack trace', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'shard-0.incr-2.aof');
  // Far more output than a pipe holds (64 KiB), so that dump is still writing when the reader leaves.
  await writeBuiltFile(path, buildFile(Array.from({ length: 20_000 }, (_, i) => recordOfSize(i, 120))));
  const child = spawn(...nodeCommand([CLI, 'aof', 'dump', path]), {
    cwd: PROJECT_ROOT,
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  let firstChunk = '';
  await new Promise<void>((resolve) => {
    child.stdout.once('data', (c: Buffer) => {
      firstChunk = c.toString();
      child.stdout.destroy(); // what `head` does once it has its lines
      resolve();
    });
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('exit', (c, s) => resolve([c, s])),
  );
  clearTimeout(timer);
  t.match(firstChunk, /^# .*incr file of shard 0\/1/, 'it had started printing');
  t.equal(signal, null, 'not killed');
  t.equal(code, 0, 'exit 0');
  t.equal(stderr, '', 'nothing on stderr (no EPIPE stack trace)');
});
