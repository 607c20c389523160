/**
 * `lally cluster-demo`: a local cluster of real nodes (each a `lally` process) in the foreground.
 *
 * Each node runs in its own process group, so the terminal's Ctrl-C reaches the demo alone, which then
 * sends each node one SIGTERM (a second signal to a node would force its exit). A node's stdin is a
 * pipe from the demo, watched by exit-with-parent.ts: if the demo dies, even by kill -9, its nodes stop.
 * A node that exits on its own after the start is reported (exit code, last log lines) and the others
 * keep running, as a cluster would: Ctrl-C still stops them, and the exit code is then 1.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CLUSTER_DEMO_USAGE,
  type ClusterDemoOptions,
  nodePlan,
  parseClusterDemoArgs,
  parseReadyLine,
  type ReadyNode,
  readableLogLine,
  readyReport,
} from './cluster-demo-plan.js';

export interface ClusterDemoIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

const CLI_PATH = fileURLToPath(new URL('./main.js', import.meta.url));
const GUARD_URL = new URL('./exit-with-parent.js', import.meta.url).href;
/** Longer than a node's join timeout (15 s by default), so that its own error is what we report. */
const READY_TIMEOUT_MS = 30_000;
const CONVERGE_TIMEOUT_MS = 10_000;
/** Longer than a node's default shutdown_timeout_ms (10 s): the node forces its own exit first. */
const STOP_TIMEOUT_MS = 15_000;
const LAST_LINES = 10;

type Exit = { code: number | null; signal: NodeJS.Signals | null };

interface NodeProcess {
  readonly index: number;
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Where this run's lines start in the log file. */
  readonly logFrom: number;
  readonly exited: Promise<Exit>;
  exit: Exit | undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function exitText(exit: Exit): string {
  return exit.signal !== null ? `signal ${exit.signal}` : `exit code ${exit.code}`;
}

/** The lines written from byte `from` on: a kept data dir's log goes on from its last run. */
async function logLines(file: string, from: number): Promise<string[]> {
  const bytes = await readFile(file).catch(() => Buffer.alloc(0));
  return bytes
    .subarray(from)
    .toString('utf8')
    .split('\n')
    .filter((line) => line.length > 0);
}

class LocalCluster {
  readonly #options: ClusterDemoOptions;
  readonly #base: string;
  readonly #io: ClusterDemoIo;
  readonly #nodes: NodeProcess[] = [];
  #stopping = false;
  #failed = false;
  #started = false;
  readonly #reports: Promise<void>[] = [];
  #wake: () => void = () => {};
  readonly #woken = new Promise<void>((r) => {
    this.#wake = r;
  });

  constructor(options: ClusterDemoOptions, base: string, io: ClusterDemoIo) {
    this.#options = options;
    this.#base = base;
    this.#io = io;
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  /** Resolves once a stop is asked for or no node runs any more. */
  get woken(): Promise<void> {
    return this.#woken;
  }

  requestStop(): void {
    this.#stopping = true;
    this.#wake();
  }

  /** Starts node 1, then the others through it; undefined when one failed or a stop came first. */
  async start(): Promise<ReadyNode[] | undefined> {
    const first = await this.#startNode(1, undefined);
    if (first === undefined) return undefined;
    const rest = [];
    for (let i = 2; i <= this.#options.nodes; i++) rest.push(this.#startNode(i, first.grpc));
    const others = await Promise.all(rest);
    if (others.some((node) => node === undefined)) return undefined;
    return [first, ...(others as ReadyNode[])];
  }

  async #startNode(index: number, seed: string | undefined): Promise<ReadyNode | undefined> {
    // --base-port 0: a port free a moment ago (the node's own probe and lock catch a race). A node cannot
    // bind HTTP port 0 itself: its shards must all share one port.
    const httpPort = this.#options.basePort === 0 ? await freePort() : this.#options.basePort + index - 1;
    const plan = nodePlan(this.#options, this.#base, index, seed, httpPort);
    await mkdir(plan.dataDir, { recursive: true });
    const out = openSync(plan.logFile, 'a');
    const logFrom = fstatSync(out).size;
    const child = spawn(process.execPath, ['--import', GUARD_URL, CLI_PATH, ...plan.args], {
      stdio: ['pipe', out, out],
      detached: true,
    });
    closeSync(out);
    const exited = new Promise<Exit>((r) => child.once('exit', (code, signal) => r({ code, signal })));
    const node: NodeProcess = { index, child, logFile: plan.logFile, logFrom, exited, exit: undefined };
    this.#nodes.push(node);
    this.#reports.push(exited.then((exit) => this.#exited(node, exit)));
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      const ready = (await logLines(plan.logFile, logFrom)).map(parseReadyLine).find((r) => r !== undefined);
      if (ready !== undefined && child.pid !== undefined) {
        return { index, pid: child.pid, logFile: plan.logFile, ...ready };
      }
      if (node.exit !== undefined || this.#stopping) return undefined;
      if (Date.now() > deadline) {
        this.#failed = true;
        await this.#report(node, `was not ready within ${READY_TIMEOUT_MS} ms`);
        return undefined;
      }
      await sleep(50);
    }
  }

  async #exited(node: NodeProcess, exit: Exit): Promise<void> {
    node.exit = exit;
    if (!this.#stopping) {
      this.#failed = true;
      const others = this.#nodes.filter((n) => n.exit === undefined).length;
      const next = others > 0 ? `; the other ${others} node(s) keep running (Ctrl-C stops them)` : '';
      await this.#report(
        node,
        this.#started
          ? `exited unexpectedly (${exitText(exit)})${next}`
          : `failed to start (${exitText(exit)})`,
      );
    }
    if (this.#nodes.every((n) => n.exit !== undefined)) this.#wake();
  }

  async #report(node: NodeProcess, what: string): Promise<void> {
    const last = (await logLines(node.logFile, node.logFrom)).slice(-LAST_LINES).map(readableLogLine);
    this.#io.stderr.write(
      `lally cluster-demo: node-${node.index} (pid ${node.child.pid}) ${what}; its last log lines (${node.logFile}):\n`,
    );
    for (const line of last) this.#io.stderr.write(`  | ${line}\n`);
  }

  /** From now on, a node that exits was running: the others are kept. */
  markStarted(): void {
    this.#started = true;
  }

  /** Waits (bounded) until every node's /nodes lists all the others; false if not in time. */
  async converge(nodes: readonly ReadyNode[]): Promise<boolean> {
    const deadline = Date.now() + CONVERGE_TIMEOUT_MS;
    const knowsAll = async (node: ReadyNode) => {
      try {
        const body = (await (await fetch(`${node.http}/nodes`)).json()) as { nodes?: unknown[] };
        return (body.nodes ?? []).length === nodes.length - 1;
      } catch {
        return false;
      }
    };
    while (Date.now() < deadline && !this.#stopping) {
      if ((await Promise.all(nodes.map(knowsAll))).every(Boolean)) return true;
      await sleep(100);
    }
    return false;
  }

  /** SIGTERM to every running node, SIGKILL to those still running after the bound (or at `force`). */
  async stopAll(force: Promise<void>): Promise<void> {
    this.#stopping = true;
    const running = this.#nodes.filter((n) => n.exit === undefined);
    for (const node of running) node.child.kill('SIGTERM');
    const all = Promise.all(running.map((n) => n.exited));
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<true>((r) => {
      timer = setTimeout(() => r(true), STOP_TIMEOUT_MS);
    });
    const timedOut = await Promise.race([all.then(() => false), bound, force]);
    clearTimeout(timer); // else it would hold the demo's exit for the whole bound
    if (timedOut !== false) {
      for (const node of running.filter((n) => n.exit === undefined)) {
        this.#io.stderr.write(`lally cluster-demo: node-${node.index} did not stop in time: SIGKILL\n`);
        node.child.kill('SIGKILL');
      }
    }
    await all;
    await Promise.all(this.#reports);
    for (const node of running) {
      if (node.exit?.code !== 0) {
        this.#failed = true;
        await this.#report(node, `stopped with ${exitText(node.exit ?? { code: null, signal: null })}`);
      }
    }
  }

  /** On the way out by any path (an exception): no node outlives the demo. Synchronous. */
  killRunning(): void {
    for (const node of this.#nodes) if (node.exit === undefined) node.child.kill('SIGTERM');
  }

  get failed(): boolean {
    return this.#failed;
  }
}

export async function runClusterDemo(argv: readonly string[], io: ClusterDemoIo): Promise<number> {
  const parsed = parseClusterDemoArgs(argv);
  if (parsed.kind === 'help') {
    io.stdout.write(CLUSTER_DEMO_USAGE);
    return 0;
  }
  if (parsed.kind === 'error') {
    io.stderr.write(
      `lally cluster-demo: ${parsed.message}\nlally cluster-demo: see \`lally cluster-demo --help\`\n`,
    );
    return 2;
  }
  const options = parsed.options;
  const temporary = options.dataDir === undefined;
  const base =
    options.dataDir === undefined
      ? await mkdtemp(join(tmpdir(), 'lally-cluster-'))
      : resolve(options.dataDir);
  await mkdir(base, { recursive: true });
  const cluster = new LocalCluster(options, base, io);
  let forceStop: () => void = () => {};
  const forced = new Promise<void>((r) => {
    forceStop = r;
  });
  let firstSignalAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    // The same Ctrl-C can arrive twice (from the terminal and forwarded by `npm run`): only a later one
    // forces.
    if (cluster.stopping && Date.now() - firstSignalAt < 500) return;
    if (cluster.stopping) {
      io.stderr.write(`lally cluster-demo: second ${signal}: killing the nodes\n`);
      forceStop();
      return;
    }
    firstSignalAt = Date.now();
    io.stderr.write(`lally cluster-demo: ${signal}: stopping the nodes\n`);
    cluster.requestStop();
  };
  const onExit = () => cluster.killRunning();
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of signals) process.on(signal, onSignal);
  process.on('exit', onExit);
  try {
    io.stdout.write(`lally cluster-demo: starting ${options.nodes} node(s) in ${base}\n`);
    const nodes = await cluster.start();
    if (nodes !== undefined && !cluster.stopping) {
      cluster.markStarted();
      if (!(await cluster.converge(nodes)) && !cluster.stopping) {
        io.stderr.write(
          `lally cluster-demo: not every node lists the others after ${CONVERGE_TIMEOUT_MS} ms; see /cluster\n`,
        );
      }
      io.stdout.write(readyReport(nodes, base, temporary && !options.keep));
      await cluster.woken;
    }
    await cluster.stopAll(forced);
    io.stdout.write('lally cluster-demo: every node has stopped\n');
  } finally {
    for (const signal of signals) process.off(signal, onSignal);
    process.off('exit', onExit);
    if (temporary && !options.keep) await rm(base, { recursive: true, force: true });
  }
  return cluster.failed ? 1 : 0;
}
