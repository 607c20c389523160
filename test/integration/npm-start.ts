/**
 * `npm start` as a container's command: a SIGTERM to npm must reach the daemon, which stops cleanly
 * and frees its port, and npm must wait for it and exit 0. Before `exec` in the start script, npm
 * forwarded the signal to `sh -c`, which died and left the daemon running as an orphan, port held.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import t from 'tap';
import { childEnv, nodeCommand } from '../fixtures/child-env.js';
import { freePort, PROJECT_ROOT, tempDir } from '../fixtures/daemon-process.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

t.test('SIGTERM to `npm start` stops the daemon gracefully and frees its port', async (t) => {
  const port = await freePort();
  const dataDir = await tempDir(t);
  const npm = process.env.npm_execpath;
  // Under `npm test`, npm_execpath is npm's own script; run it with this node. Else npm from PATH.
  const [command, args] = npm?.endsWith('.js') ? nodeCommand([npm, 'start']) : ['npm', ['start']];
  const child = spawn(command, args, {
    cwd: PROJECT_ROOT,
    env: childEnv({
      LALLY_HOST: '127.0.0.1',
      LALLY_HTTP_PORT: String(port),
      LALLY_GRPC_PORT: String(await freePort()),
      LALLY_SHARDS: '1',
      LALLY_DATA_DIR: dataDir,
      LALLY_CONFIG: '',
      // no background check for a newer npm (a child that would keep our pipes open)
      npm_config_update_notifier: 'false',
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let daemonPid: number | undefined;
  t.teardown(() => {
    child.kill('SIGKILL');
    child.stdout.destroy();
    child.stderr.destroy();
    if (daemonPid !== undefined && alive(daemonPid)) process.kill(daemonPid, 'SIGKILL');
  });

  const deadline = Date.now() + 30_000;
  while (!/lally listening on/.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`npm start did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const listening = output.split('\n').find((line) => line.includes('lally listening on'))!;
  daemonPid = (JSON.parse(listening) as { pid: number }).pid;
  t.not(daemonPid, child.pid, 'the daemon is a process of its own under npm');

  child.kill('SIGTERM');
  let hung: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    exited,
    new Promise<'hung'>((resolve) => {
      hung = setTimeout(() => resolve('hung'), 15_000);
    }),
  ]);
  clearTimeout(hung);
  t.equal(code, 0, 'npm exits 0 once the daemon has stopped');
  t.match(output, /"signal":"SIGTERM".*shutting down/, 'the daemon got the SIGTERM');
  t.match(output, /lally stopped cleanly/, 'and stopped cleanly');
  t.notOk(alive(daemonPid), 'no daemon is left behind');
  t.ok(await canBind(port), 'the HTTP port is free');
});
