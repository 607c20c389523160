import { type ChildProcess, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { LoadResult } from '../load/types.js';
import { spawnTracked, stopChild } from '../proc/children.js';
import { freePort } from '../proc/ports.js';
import { fixedValue, keyName } from '../workload/key-distribution.js';
import { waitTcp } from './installed.js';

const execFileAsync = promisify(execFile);

export const REDIS_INSTALL = 'apt-get install redis-server';

/** A redis-server on loopback without persistence (as Lally's in-memory figures), on an ephemeral port. */
export class RedisServer {
  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {}

  /**
   * Without persistence by default. With `aofDir`: `appendonly yes`, `appendfsync everysec`, in that
   * directory, automatic rewrites off and no RDB preamble, so that a restart replays the command log
   * (the same kind of work as Lally's replay). `waitTcp: false` returns at once (a restart that loads).
   */
  static async start(
    options: { aofDir?: string; port?: number; waitTcp?: boolean } = {},
  ): Promise<RedisServer> {
    const port = options.port ?? (await freePort());
    const persistence = options.aofDir
      ? [
          '--dir',
          options.aofDir,
          '--appendonly',
          'yes',
          '--appendfsync',
          'everysec',
          '--auto-aof-rewrite-percentage',
          '0',
          '--aof-use-rdb-preamble',
          'no',
        ]
      : ['--appendonly', 'no'];
    const child = spawnTracked('redis-server', [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      ...persistence,
      '--daemonize',
      'no',
      '--enable-debug-command',
      'yes',
    ]);
    if (options.waitTcp !== false) await waitTcp(port, 10_000);
    return new RedisServer(child, port);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Writes keys 0..count-1 with redis-cli --pipe (Lally's key names unless told otherwise). */
  async preload(count: number, valueBytes: number, name: (i: number) => string = keyName): Promise<void> {
    const value = fixedValue(valueBytes);
    const lines: string[] = [];
    for (let i = 0; i < count; i++) {
      const key = name(i);
      lines.push(`*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${value.length}\r\n${value}\r\n`);
    }
    await new Promise<void>((resolve, reject) => {
      const cli = spawnTracked('redis-cli', ['-p', String(this.port), '--pipe'], {
        stdio: ['pipe', 'ignore', 'pipe'],
      });
      cli.on('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`redis-cli --pipe exited with ${code}`)),
      );
      cli.stdin?.end(lines.join(''));
    });
  }

  async command(...args: string[]): Promise<string> {
    const { stdout } = await execFileAsync('redis-cli', ['-p', String(this.port), ...args]);
    return stdout;
  }

  stop(graceMs = 2000): Promise<number | null> {
    return stopChild(this.child, graceMs);
  }
}

/** Parses one line of `redis-benchmark --csv` (Redis 7: test, rps, avg, min, p50, p95, p99, max; ms). */
export function parseRedisBenchmarkCsv(csv: string, test: string): LoadResult | null {
  for (const line of csv.split('\n')) {
    const cells = line.split(',').map((c) => c.replace(/^"|"$/g, '').trim());
    if (cells[0] !== test) continue;
    const [rps, avg, , p50, , p99, max] = cells.slice(1).map(Number) as number[];
    if (!Number.isFinite(rps)) return null;
    return {
      generator: 'autocannon', // replaced by the caller; redis-benchmark is not one of ours
      requests: 0,
      durationSec: 0,
      requestsPerSec: rps!,
      opsPerSec: rps!,
      // redis-benchmark reports no p99.9: the max stands in as an upper bound.
      latencyMs: { p50: p50!, p99: p99!, p999: max!, max: max!, mean: avg! },
      errors: 0,
      non2xx: 0,
    };
  }
  return null;
}

/** redis-benchmark's own client (RESP over TCP, not HTTP) for SET or GET on Lally's key count and value size. */
export async function redisBenchmark(
  port: number,
  test: 'GET' | 'SET',
  options: { connections: number; requests: number; keyCount: number; valueBytes: number },
): Promise<LoadResult> {
  const started = performance.now();
  const { stdout } = await execFileAsync('redis-benchmark', [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-c',
    String(options.connections),
    '-n',
    String(options.requests),
    '-r',
    String(options.keyCount),
    '-d',
    String(options.valueBytes),
    '-t',
    test.toLowerCase(),
    '--csv',
  ]);
  const result = parseRedisBenchmarkCsv(stdout, test);
  if (!result) throw new Error(`redis-benchmark printed no ${test} line: ${stdout.slice(0, 500)}`);
  return { ...result, requests: options.requests, durationSec: (performance.now() - started) / 1000 };
}
