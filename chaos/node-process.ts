/**
 * One `lally` daemon of a chaos run: started from dist/, optionally inside a network namespace,
 * killed with SIGKILL, paused with SIGSTOP, resumed, restarted on the same data dir and ports.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/chaos/node-process.js and chaos/node-process.ts both sit two levels below the root of their tree.
const HERE = dirname(fileURLToPath(import.meta.url));
export const PROJECT_ROOT = HERE.includes(`${join('dist', 'chaos')}`)
  ? resolve(HERE, '../..')
  : resolve(HERE, '..');
export const CLI = join(PROJECT_ROOT, 'dist/src/cli/main.js');

export interface NodeSpec {
  index: number;
  host: string;
  httpPort: number;
  grpcPort: number;
  dataDir: string;
  logFile: string;
  /** Run inside this network namespace (`ip netns exec`), else in the caller's. */
  netns?: string;
  /** Every other flag (quorums, shards...). */
  args: string[];
  /** Extra environment (e.g. LALLY_FAULT_CLOCK_OFFSET_MS for a skewed clock). */
  env?: Record<string, string>;
}

export class ChaosNode {
  readonly spec: NodeSpec;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #paused = false;
  #log: WriteStream;

  constructor(spec: NodeSpec) {
    this.spec = spec;
    this.#log = createWriteStream(spec.logFile, { flags: 'a' });
  }

  get url(): string {
    return `http://${this.spec.host}:${this.spec.httpPort}`;
  }

  get address(): string {
    return `${this.spec.host}:${this.spec.grpcPort}`;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Starts the daemon and resolves once it serves HTTP (it joined its cluster before that). */
  async start(seed?: string, timeoutMs = 30_000): Promise<void> {
    const { spec } = this;
    const args = [
      CLI,
      '--host',
      spec.host,
      '--http-port',
      String(spec.httpPort),
      '--grpc-port',
      String(spec.grpcPort),
      '--data-dir',
      spec.dataDir,
      '--config',
      '',
      ...(seed === undefined ? [] : ['--seed-node', seed]),
      ...spec.args,
    ];
    const env = { ...process.env, ...spec.env };
    // `ip netns exec` execs the command in place: the child's pid is the daemon's.
    const child =
      spec.netns === undefined
        ? spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env })
        : spawn('ip', ['netns', 'exec', spec.netns, process.execPath, ...args], {
            stdio: ['ignore', 'pipe', 'pipe'],
            env,
          });
    this.#child = child;
    this.#paused = false;
    this.#exited = new Promise((r) => child.once('exit', () => r()));
    let ready = false;
    let rest = '';
    // The end of what it printed, for the error if it stops before it serves (its log file may be
    // gone by the time somebody reads a CI run).
    let tail = '';
    const keep = (chunk: Buffer): void => {
      if (!ready) tail = (tail + chunk.toString()).slice(-1500);
    };
    child.stdout!.on('data', (chunk: Buffer) => {
      this.#log.write(chunk);
      keep(chunk);
      if (ready) return;
      rest += chunk.toString();
      if (rest.includes('lally listening on')) ready = true;
      rest = rest.slice(-200);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      this.#log.write(chunk);
      keep(chunk);
    });
    const deadline = Date.now() + timeoutMs;
    while (!ready) {
      if (!this.running) {
        await this.#exited;
        throw new Error(
          `node ${spec.index} exited before it was ready (${spec.logFile}); it printed:\n${tail}`,
        );
      }
      if (Date.now() > deadline) {
        this.killNow();
        throw new Error(`node ${spec.index} was not ready within ${timeoutMs} ms (${spec.logFile})`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** kill -9, resolved once the process is gone. */
  async kill9(): Promise<void> {
    this.killNow();
    await this.#exited;
  }

  pause(): void {
    if (!this.running) return;
    this.#child!.kill('SIGSTOP');
    this.#paused = true;
  }

  resume(): void {
    if (!this.running) return;
    this.#child!.kill('SIGCONT');
    this.#paused = false;
  }

  /** A graceful stop (SIGTERM), SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    if (this.#paused) this.resume();
    this.#child!.kill('SIGTERM');
    const timer = setTimeout(() => this.killNow(), graceMs);
    await this.#exited;
    clearTimeout(timer);
  }

  /** Synchronous, for interrupts and `exit` handlers: SIGKILL if still running. */
  killNow(): void {
    if (!this.running) return;
    const child = this.#child!;
    if (this.#paused) child.kill('SIGCONT');
    child.kill('SIGKILL');
  }

  closeLog(): void {
    this.#log.end();
  }
}
