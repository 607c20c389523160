/**
 * `lally cluster-demo`, the real command from dist/: three nodes form a cluster, answer on the printed
 * URLs, and stop at SIGINT (exit 0, no process left, the temp dir removed). A node that dies is reported
 * and the others are kept; a demo killed with SIGKILL takes its nodes with it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import { childEnv, nodeCommand } from '../fixtures/child-env.js';
import { CLI, PROJECT_ROOT, request, runCli, tempDir } from '../fixtures/daemon-process.js';

interface DemoNode {
  index: number;
  id: string;
  http: string;
  grpc: string;
  pid: number;
}

interface Demo {
  child: ChildProcess;
  nodes: DemoNode[];
  base: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Whether the process runs: a zombie no one has reaped yet counts as gone. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function within(limitMs: number, what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function startDemo(t: Test, args: string[]): Promise<Demo> {
  const child = spawn(...nodeCommand([CLI, 'cluster-demo', ...args]), {
    cwd: PROJECT_ROOT,
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('exit', (code, signal) => r({ code, signal })),
  );
  const pids: number[] = [];
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  await within(20_000, `the demo is ready (stdout: ${stdout}; stderr: ${stderr})`, () => {
    if (child.exitCode !== null) throw new Error(`the demo exited (${child.exitCode}): ${stderr}`);
    return stdout.includes('Ctrl-C stops every node.');
  });
  const rows = [...stdout.matchAll(/node-(\d)\s+id (\S+)\s+(http:\/\/\S+)\s+grpc (\S+)\s+pid (\d+)/g)];
  const nodes = rows.map((m) => ({
    index: Number(m[1]),
    id: m[2]!,
    http: m[3]!,
    grpc: m[4]!,
    pid: Number(m[5]),
  }));
  pids.push(...nodes.map((n) => n.pid));
  const base = /Data and logs: (\S+)/.exec(stdout)?.[1] ?? '';
  return { child, nodes, base, stdout: () => stdout, stderr: () => stderr, exited };
}

t.test('three nodes: each lists the other two, a write is read back, SIGINT stops them all', async (t) => {
  const demo = await startDemo(t, ['--nodes', '3', '--base-port', '0', '--', '--shards', '1']);
  t.equal(demo.nodes.length, 3, 'three nodes printed');
  t.same(
    demo.nodes.map((n) => n.index),
    [1, 2, 3],
  );
  t.ok(existsSync(demo.base), `the data lives in ${demo.base}`);
  for (const node of demo.nodes) {
    const others = demo.nodes.filter((n) => n !== node).map((n) => n.grpc);
    const answer = await request(`${node.http}/nodes`);
    t.same(
      answer.json<{ nodes: string[] }>().nodes.slice().sort(),
      others.sort(),
      `node-${node.index} lists the others`,
    );
  }
  const first = demo.nodes[0]!;
  t.equal((await request(`${first.http}/kv/greeting`, { method: 'PUT', body: 'hello' })).status, 200);
  const read = await request(`${first.http}/kv/greeting`);
  t.equal(read.json<{ value: string }>().value, 'hello', 'node 1 reads its write back');
  t.match(demo.stdout(), `curl -X PUT ${first.http}/kv/user:1 -d alice`, 'curl examples on the real URLs');

  demo.child.kill('SIGINT');
  const timer = setTimeout(() => demo.child.kill('SIGKILL'), 15_000);
  const exit = await demo.exited;
  clearTimeout(timer);
  t.same(exit, { code: 0, signal: null }, `exit 0 at SIGINT (stderr: ${demo.stderr()})`);
  t.same(
    demo.nodes.filter((n) => alive(n.pid)).map((n) => n.pid),
    [],
    'no node process remains',
  );
  t.notOk(existsSync(demo.base), 'the temporary directory is removed');
  t.match(demo.stdout(), 'every node has stopped');
});

t.test('a bad --nodes is refused with exit 2', async (t) => {
  const result = await runCli(['cluster-demo', '--nodes', '10']);
  t.equal(result.code, 2);
  t.match(result.stderr, "lally cluster-demo: --nodes must be an integer from 1 to 9, got '10'");
  t.equal(result.stdout, '', 'nothing started');
});

t.test('a node that dies is reported; a killed demo takes the others with it', async (t) => {
  const dir = await tempDir(t);
  // A kept data dir's log goes on from the last run, whose start-up line must not be taken for this one.
  const stale = {
    msg: 'lally listening on',
    nodeId: 'stale',
    http: 'http://127.0.0.1:1',
    address: '127.0.0.1:1',
  };
  writeFileSync(`${dir}/node-1.log`, `${JSON.stringify(stale)}\n`);
  const demo = await startDemo(t, [
    '--nodes',
    '2',
    '--base-port',
    '0',
    '--data-dir',
    dir,
    '--',
    '--shards',
    '1',
  ]);
  const [one, two] = demo.nodes as [DemoNode, DemoNode];
  t.not(one.id, 'stale', "node 1's start-up line is this run's");
  process.kill(two.pid, 'SIGKILL');
  await within(5000, 'the demo reports the dead node', () => demo.stderr().includes('node-2'));
  await within(1000, 'with its exit', () =>
    /exited unexpectedly \(signal SIGKILL\); the other 1 node/.test(demo.stderr()),
  );
  t.pass('node-2 reported as exited unexpectedly, the other kept');
  t.equal((await request(`${one.http}/kv/x`)).status, 404, 'node 1 still answers');
  demo.child.kill('SIGKILL');
  await demo.exited;
  await within(10_000, 'node 1 stops once the demo is gone', () => !alive(one.pid));
  t.pass('no node outlives a demo killed with SIGKILL');
  t.ok(existsSync(`${dir}/node-1.log`), 'a given --data-dir keeps the logs');
});
