/**
 * Two nodes started at the same moment on one HTTP port: exactly one may serve. uWS binds with
 * SO_REUSEPORT, so before the port lock both passed the probe and split the connections.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import t from 'tap';
import { childEnv, nodeCommand } from '../fixtures/child-env.js';
import { CLI, freePort, PROJECT_ROOT, request, tempDir } from '../fixtures/daemon-process.js';

interface Launched {
  readonly child: ChildProcess;
  readonly output: () => string;
  /** 'listening' once it serves, else its exit code. */
  readonly outcome: Promise<'listening' | number | null>;
  readonly exited: Promise<number | null>;
}

function launch(port: number, dataDir: string, grpcPort: number): Launched {
  const child = spawn(
    ...nodeCommand([
      CLI,
      '--config',
      '',
      '--host',
      '127.0.0.1',
      '--http-port',
      String(port),
      // Each node binds its gRPC port too: a free one, never the default a concurrent test may hold.
      '--grpc-port',
      String(grpcPort),
      '--shards',
      '2',
      '--data-dir',
      dataDir,
    ]),
    { cwd: PROJECT_ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const outcome = new Promise<'listening' | number | null>((resolve) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('lally listening on')) resolve('listening');
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(resolve);
  });
  return { child, output: () => output, outcome, exited };
}

async function stop(node: Launched): Promise<void> {
  if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGKILL');
  await node.exited;
}

/** The race was lost on every round before the fix; `npm run stress` runs many more rounds. */
const ROUNDS = Number(process.env.LALLY_STRESS_ROUNDS ?? 2);

t.test('two nodes started at once on one port: one serves, the other exits 2', async (t) => {
  for (let round = 0; round < ROUNDS; round++) {
    const port = await freePort();
    const nodes = [
      launch(port, await tempDir(t), await freePort()),
      launch(port, await tempDir(t), await freePort()),
    ];
    t.teardown(() => Promise.all(nodes.map(stop)));
    const outcomes = await Promise.all(nodes.map((node) => node.outcome));
    const serving = outcomes.filter((outcome) => outcome === 'listening').length;
    t.equal(serving, 1, `round ${round}: exactly one node serves (${JSON.stringify(outcomes)})`);
    const loser = nodes[outcomes.indexOf(2)];
    t.ok(loser, `round ${round}: the other exits 2`);
    if (loser !== undefined) {
      t.match(loser.output(), /HTTP port 127\.0\.0\.1:\d+ is already in use/, 'and says why');
    }
    const winner = nodes[outcomes.indexOf('listening')];
    if (winner !== undefined) t.equal((await request(`http://127.0.0.1:${port}/greet`)).status, 200);
    await Promise.all(nodes.map(stop));
  }
});

t.test('a node killed with kill -9 does not block a restart on its port', async (t) => {
  const port = await freePort();
  const dataDir = await tempDir(t);
  const first = launch(port, dataDir, await freePort());
  t.teardown(() => stop(first));
  t.equal(await first.outcome, 'listening');
  first.child.kill('SIGKILL');
  await first.exited;
  const second = launch(port, dataDir, await freePort());
  t.teardown(() => stop(second));
  t.equal(await second.outcome, 'listening', second.output());
  t.equal((await request(`http://127.0.0.1:${port}/greet`)).status, 200);
  await stop(second);
});
