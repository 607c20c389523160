/**
 * A daemon of the cluster benches (bench/join-transfer.ts, bench/anti-entropy.ts): started from dist/
 * on free loopback ports with `--aof-fsync no` and a long transfer timeout, resolved once it serves,
 * its stdout kept as lines (the benches read its log lines for their figures).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { spawnTracked } from './children.js';
import { freePort } from './ports.js';

export interface BenchNode {
  child: ChildProcess;
  url: string;
  grpc: string;
  lines: string[];
  /** From the spawn until it served HTTP. */
  readyMs: number;
}

export interface BenchNodeOptions {
  /** For error messages. */
  name: string;
  cli: string;
  dataDir: string;
  shards: number;
  /** More daemon flags. */
  args: readonly string[];
  /** Flags for node itself (e.g. --cpu-prof). */
  nodeArgs?: readonly string[];
}

export async function startBenchNode(opts: BenchNodeOptions): Promise<BenchNode> {
  const http = await freePort();
  const grpc = await freePort();
  const args = [
    ...(opts.nodeArgs ?? []),
    opts.cli,
    '--host',
    '127.0.0.1',
    '--http-port',
    String(http),
    '--grpc-port',
    String(grpc),
    '--shards',
    String(opts.shards),
    '--data-dir',
    opts.dataDir,
    '--aof-fsync',
    'no',
    '--config',
    '',
    '--transfer-timeout-ms',
    '600000',
    ...opts.args,
  ];
  mkdirSync(opts.dataDir, { recursive: true });
  const started = performance.now();
  const child = spawnTracked(process.execPath, args, { cwd: opts.dataDir });
  const lines: string[] = [];
  let rest = '';
  child.stdout?.on('data', (d: Buffer) => {
    const parts = (rest + d.toString()).split('\n');
    rest = parts.pop() ?? '';
    lines.push(...parts);
  });
  child.stderr?.on('data', (d: Buffer) => process.stderr.write(d));
  await new Promise<void>((ok, fail) => {
    const timer = setInterval(() => {
      if (lines.some((l) => l.includes('lally listening on'))) {
        clearInterval(timer);
        ok();
      } else if (child.exitCode !== null) {
        clearInterval(timer);
        fail(new Error(`${opts.name} exited with ${child.exitCode}: ${lines.slice(-5).join('\n')}`));
      }
    }, 20);
  });
  return {
    child,
    url: `http://127.0.0.1:${http}`,
    grpc: `127.0.0.1:${grpc}`,
    lines,
    readyMs: performance.now() - started,
  };
}
