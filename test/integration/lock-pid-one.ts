/**
 * The container case of the data directory's lock, with real daemons as pid 1 of their own pid
 * namespace (`unshare --pid`, as a container runs them): one is killed with SIGKILL, leaving its lock
 * naming pid 1; the next one, pid 1 as well, must take the lock over and start (it used to see "pid 1
 * is alive", itself, and refuse forever). Needs unshare and the right to create namespaces (root):
 * skipped otherwise.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { childEnv, nodeCommand } from '../fixtures/child-env.js';
import { CLI, loopbackArgs, PROJECT_ROOT, tempDir } from '../fixtures/daemon-process.js';

const probe = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { stdio: 'ignore' });
const canUnshare = probe.status === 0;

async function startAsPidOne(t: Tap, dataDir: string): Promise<{ child: ChildProcess; lines: string[] }> {
  const args = [
    '--pid',
    '--fork',
    '--mount-proc',
    '--kill-child=SIGKILL', // the daemon dies with its unshare
    ...nodeCommand([CLI]).flat(),
    ...(await loopbackArgs(1)),
    '--data-dir',
    dataDir,
  ];
  const child = spawn('unshare', args, {
    cwd: PROJECT_ROOT,
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  const lines: string[] = [];
  const collect = (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean));
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const deadline = Date.now() + 30_000;
  while (!lines.some((line) => line.includes('lally listening on'))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`the daemon did not start as pid 1:\n${lines.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, lines };
}

type Tap = { teardown(fn: () => unknown): void };

t.test(
  'a daemon that is pid 1 takes over the lock of an earlier pid 1',
  { skip: !canUnshare && 'no unshare --pid here' },
  async (t) => {
    const dataDir = await tempDir(t);
    const first = await startAsPidOne(t, dataDir);
    const lock = JSON.parse(await readFile(join(dataDir, 'lally.lock'), 'utf8')) as { pid: number };
    t.equal(lock.pid, 1, 'the first daemon is pid 1 in its namespace');
    const gone = new Promise((resolve) => first.child.once('exit', resolve));
    first.child.kill('SIGKILL'); // and its daemon with it: an unclean stop, the lock stays
    await gone;

    const second = await startAsPidOne(t, dataDir);
    t.match(
      second.lines.join('\n'),
      /taking over the stale lock of .*: (pid 1 is this process now|its process ran in another container)/,
      'the second pid 1 takes the lock over, with a warning',
    );
    const again = JSON.parse(await readFile(join(dataDir, 'lally.lock'), 'utf8')) as { pid: number };
    t.equal(again.pid, 1, 'and holds it');
  },
);
