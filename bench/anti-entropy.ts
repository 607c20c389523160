/**
 * What an anti-entropy round moves (fixed inputs: keys `key:<n>`, values of `--value` bytes, loaded
 * through --replay-log from upstream text logs):
 *   1. identical: node A and node B hold the same N keys; B joins A holding them, so its catch-up is
 *      one anti-entropy round, and its "caught up by anti-entropy" line gives the bytes moved;
 *   2. 1% different: a new B holds the same keys but 1% of them differ (0.5% newer on B, which it
 *      pushes, 0.5% newer on A, which it pulls); the same line gives records and bytes.
 * Goals: a few KiB for 1M identical keys; about the differing 1% for the second.
 *
 *   npm run build && node dist/bench/anti-entropy.js [--keys 1000000] [--value 100] [--shards 2]
 *
 * Background rounds are off (--anti-entropy-interval-ms 0) so that only the catch-up round counts.
 * Writes bench/results/anti-entropy.json (untracked) and prints the figures.
 */
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeTempDir, spawnTracked, stopChild, trackTempDir } from './proc/children.js';
import { freePort } from './proc/ports.js';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const KEYS = option('keys', 1_000_000);
const VALUE_BYTES = option('value', 100);
const SHARDS = option('shards', 2);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = join(ROOT, 'dist/src/cli/main.js');
const OLD = '2025-01-01T00:00:00.000000001+00:00';
const NEW = '2025-01-02T00:00:00.000000001+00:00';

/**
 * Every key at the old stamp, then the keys `newer(i)` picks again with another value at a later
 * stamp. The importer numbers the records of one stamp in order (the version's counter), so the
 * shared prefix makes the versions of the other keys identical on both nodes.
 */
async function writeLog(path: string, newer: (i: number) => boolean): Promise<void> {
  const out = createWriteStream(path);
  const value = 'v'.repeat(VALUE_BYTES);
  const other = 'w'.repeat(VALUE_BYTES);
  let chunk = '';
  const flush = async () => {
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
    chunk = '';
  };
  for (let i = 0; i < KEYS; i++) {
    chunk += `timestamp=${OLD} operation=ADD level=INFO key="key:${i}" value="${value}"\n`;
    if (chunk.length > 1 << 20) await flush();
  }
  for (let i = 0; i < KEYS; i++) {
    if (!newer(i)) continue;
    chunk += `timestamp=${NEW} operation=ADD level=INFO key="key:${i}" value="${other}"\n`;
    if (chunk.length > 1 << 20) await flush();
  }
  out.end(chunk);
  await new Promise<void>((r) => out.once('finish', () => r()));
}

interface Node {
  child: ChildProcess;
  url: string;
  grpc: string;
  lines: string[];
  readyMs: number;
}

async function start(name: string, dataDir: string, extra: string[]): Promise<Node> {
  const http = await freePort();
  const grpc = await freePort();
  const args = [
    CLI,
    '--host',
    '127.0.0.1',
    '--http-port',
    String(http),
    '--grpc-port',
    String(grpc),
    '--shards',
    String(SHARDS),
    '--data-dir',
    dataDir,
    '--aof-fsync',
    'no',
    '--config',
    '',
    '--transfer-timeout-ms',
    '600000',
    '--anti-entropy-interval-ms',
    '0',
    ...extra,
  ];
  mkdirSync(dataDir, { recursive: true });
  const started = performance.now();
  const child = spawnTracked(process.execPath, args, { cwd: dataDir });
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
        fail(new Error(`${name} exited with ${child.exitCode}: ${lines.slice(-5).join('\n')}`));
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

function caughtUp(lines: string[]): Record<string, unknown> {
  const line = lines.find((l) => l.includes('caught up by anti-entropy'));
  if (line === undefined) throw new Error(`no anti-entropy catch-up line:\n${lines.slice(-8).join('\n')}`);
  const { held, rounds, pulled, pushed, bytesSent, bytesReceived, ms } = JSON.parse(line) as Record<
    string,
    number
  >;
  return { held, rounds, pulled, pushed, bytesSent, bytesReceived, bytes: bytesSent! + bytesReceived!, ms };
}

async function main(): Promise<void> {
  const dir = trackTempDir(mkdtempSync(join(tmpdir(), 'lally-ae-bench-')));
  process.stderr.write(`writing logs of ${KEYS} keys (${VALUE_BYTES}-byte values)...\n`);
  const logA = join(dir, 'a.log');
  const logB = join(dir, 'b.log');
  await writeLog(logA, (i) => i % 200 === 100);
  await writeLog(logB, (i) => i % 200 === 0);
  const differing = Math.ceil(KEYS / 100);
  const a = await start('A', join(dir, 'a'), ['--replay-log', logA]);
  process.stderr.write(`A started with its keys in ${Math.round(a.readyMs)} ms\n`);
  const identical = await start('B1', join(dir, 'b1'), ['--replay-log', logA, '--seed-node', a.grpc]);
  const same = caughtUp(identical.lines);
  process.stderr.write(`identical: ${JSON.stringify(same)}\n`);
  await stopChild(identical.child, 15_000);
  const diverged = await start('B2', join(dir, 'b2'), ['--replay-log', logB, '--seed-node', a.grpc]);
  const diff = caughtUp(diverged.lines);
  process.stderr.write(`1% different: ${JSON.stringify(diff)}\n`);
  const record = 'key:123456'.length + VALUE_BYTES;
  const result = {
    keys: KEYS,
    valueBytes: VALUE_BYTES,
    shards: SHARDS,
    identical: same,
    onePercent: {
      ...diff,
      differingKeys: differing,
      // The differing records' keys and values alone: what an ideal repair would move at least.
      differingRecordBytes: differing * record,
    },
    loadAverage: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    at: new Date().toISOString(),
  };
  console.log(JSON.stringify(result, null, 2));
  const out = join(ROOT, 'bench/results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'anti-entropy.json'), `${JSON.stringify(result, null, 2)}\n`);
  await Promise.all([stopChild(diverged.child, 15_000), stopChild(a.child, 15_000)]);
  removeTempDir(dir);
}

await main();
