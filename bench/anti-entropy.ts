import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchNode, startBenchNode } from './proc/bench-node.js';
import { removeTempDir, stopChild, trackTempDir } from './proc/children.js';

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

function start(name: string, dataDir: string, extra: string[]): Promise<BenchNode> {
  return startBenchNode({
    name,
    cli: CLI,
    dataDir,
    shards: SHARDS,
    args: ['--anti-entropy-interval-ms', '0', ...extra],
  });
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
