import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureTail, removeTempDir, spawnTracked, stopChild, trackTempDir } from './children.js';
import { freePort } from './ports.js';
import { waitReady } from './wait-ready.js';

export type AofMode = 'off' | 'no' | 'everysec' | 'always';

export interface LallyNodeOptions {
  /** The built CLI, dist/src/cli/main.js. */
  cliPath: string;
  shards: number;
  aof: AofMode;
  /** Reuse this data directory (replay); a new temporary one otherwise. */
  dataDir?: string;
  seedNode?: string;
  writeQuorum?: number;
  extraArgs?: string[];
  readyTimeoutMs?: number;
}

/** One Lally daemon started by the bench on loopback, with ephemeral ports. */
export class LallyNode {
  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    readonly grpcPort: number,
    readonly dataDir: string,
    /** Milliseconds from spawn to the first 200 from GET /greet. */
    readonly startMs: number,
    private readonly ownsDataDir: boolean,
  ) {}

  get pid(): number {
    return this.child.pid ?? -1;
  }

  static async start(options: LallyNodeOptions): Promise<LallyNode> {
    if (!existsSync(options.cliPath)) {
      throw new Error(`${options.cliPath} does not exist: run \`npm run build\` first`);
    }
    const ownsDataDir = !options.dataDir;
    const dataDir = options.dataDir ?? trackTempDir(mkdtempSync(join(tmpdir(), 'lally-bench-')));
    const httpPort = await freePort();
    const grpcPort = await freePort();
    const args = [
      options.cliPath,
      '--host',
      '127.0.0.1',
      '--http-port',
      String(httpPort),
      '--grpc-port',
      String(grpcPort),
      '--shards',
      String(options.shards),
      '--data-dir',
      dataDir,
      '--log-level',
      'warn',
      ...(options.aof === 'off' ? ['--no-aof'] : ['--aof-fsync', options.aof]),
      ...(options.seedNode ? ['--seed-node', options.seedNode] : []),
      ...(options.writeQuorum ? ['--write-quorum', String(options.writeQuorum)] : []),
      ...(options.extraArgs ?? []),
    ];
    const started = performance.now();
    // The working directory is the data dir, so that a lally.yml lying around is not read.
    const child = spawnTracked(process.execPath, args, { cwd: dataDir });
    const tail = captureTail(child);
    const url = `http://127.0.0.1:${httpPort}`;
    try {
      await waitReady(`${url}/greet`, child, options.readyTimeoutMs ?? 60_000, tail);
    } catch (error) {
      await stopChild(child, 1000);
      if (ownsDataDir) removeTempDir(dataDir);
      throw error;
    }
    return new LallyNode(child, url, grpcPort, dataDir, performance.now() - started, ownsDataDir);
  }

  /** SIGTERM (a graceful stop that flushes the AOF), SIGKILL after 15 s. Keeps the data dir. */
  async stop(): Promise<number | null> {
    return stopChild(this.child, 15_000);
  }

  /** Stops the daemon and removes its data dir if the bench created it. */
  async dispose(): Promise<void> {
    await this.stop();
    if (this.ownsDataDir) removeTempDir(this.dataDir);
  }
}
