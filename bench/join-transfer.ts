import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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

async function writeLog(path: string): Promise<void> {
  const out = createWriteStream(path);
  const value = 'v'.repeat(VALUE_BYTES);
  const stamp = '2025-01-01T00:00:00.000000001+00:00';
  let chunk = '';
  for (let i = 0; i < KEYS; i++) {
    chunk += `timestamp=${stamp} operation=ADD level=INFO key="key:${i}" value="${value}"\n`;
    if (i % 20 === 7) chunk += `timestamp=${stamp} operation=REMOVE level=INFO key="key:${i}"\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      chunk = '';
    }
  }
  out.end(chunk);
  await new Promise<void>((r) => out.once('finish', () => r()));
}

function start(name: string, dataDir: string, extra: string[]): Promise<BenchNode> {
  // JOIN_BENCH_PROFILE=<dir>: CPU profiles of both daemons (main thread and shards) into <dir>.
  const profile = process.env.JOIN_BENCH_PROFILE;
  return startBenchNode({
    name,
    cli: CLI,
    dataDir,
    shards: SHARDS,
    args: extra,
    nodeArgs: profile ? ['--cpu-prof', '--cpu-prof-dir', profile] : [],
  });
}

/** CPU milliseconds a process used so far (every thread), from /proc (Linux); undefined elsewhere. */
function cpuMs(pid: number | undefined): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, at 100 ticks/s
  } catch {
    return undefined;
  }
}

/** CPU milliseconds of each thread above 100 ms, by thread name (the shards' and the main thread's). */
function threadCpuMs(pid: number | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ms = ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
      if (ms >= 100) out[`${name}#${task}`] = ms;
    }
  } catch {
    // not Linux
  }
  return out;
}

function field(lines: string[], text: string): Record<string, unknown> | undefined {
  const line = lines.find((l) => l.includes(text));
  return line === undefined ? undefined : (JSON.parse(line) as Record<string, unknown>);
}

async function main(): Promise<void> {
  const dir = trackTempDir(mkdtempSync(join(tmpdir(), 'lally-join-bench-')));
  const log = join(dir, 'upstream.log');
  process.stderr.write(`writing ${KEYS} keys (${VALUE_BYTES}-byte values) to an upstream log...\n`);
  await writeLog(log);
  const a = await start('A', join(dir, 'a'), ['--replay-log', log]);
  process.stderr.write(`A started with its keys in ${Math.round(a.readyMs)} ms; B joins...\n`);
  const aCpu0 = cpuMs(a.child.pid);
  const b = await start('B', join(dir, 'b'), ['--seed-node', a.grpc]);
  const aCpu = (cpuMs(a.child.pid) ?? 0) - (aCpu0 ?? 0);
  const bCpu = cpuMs(b.child.pid);
  const caught = field(b.lines, 'caught up');
  if (process.env.JOIN_BENCH_DEBUG) {
    process.stderr.write(`${a.lines.join('\n')}\n---\n${b.lines.join('\n')}\n`);
  }
  const stats = (await (await fetch(`${b.url}/stats`)).json()) as {
    totals?: { keys: number; tombstones: number };
  };
  const result = {
    keys: KEYS,
    valueBytes: VALUE_BYTES,
    shards: SHARDS,
    joinReadyMs: Math.round(b.readyMs),
    transferMs: caught?.ms,
    records: caught?.records,
    recordsPerSec: caught ? Math.round((Number(caught.records) / Number(caught.ms)) * 1000) : undefined,
    senderCpuMs: aCpu,
    joinerCpuMsWithStart: bCpu,
    joinerThreadsCpuMs: threadCpuMs(b.child.pid),
    loadAverage: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    bKeys: stats.totals?.keys,
    bTombstones: stats.totals?.tombstones,
    progressLines: b.lines.filter((l) => l.includes('records so far')).length,
    at: new Date().toISOString(),
  };
  console.log(JSON.stringify(result, null, 2));
  const out = join(ROOT, 'bench/results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'join-transfer.json'), `${JSON.stringify(result, null, 2)}\n`);
  await Promise.all([stopChild(b.child, 15_000), stopChild(a.child, 15_000)]);
  removeTempDir(dir);
}

await main();
