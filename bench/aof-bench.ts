/**
 * AOF micro-benchmark (docs/aof.md#figures): ShardAof appends per second for each fsync policy and two
 * value sizes, fsyncs per second, the event loop's delay meanwhile, replay speed for 1M records, and the
 * file size before and after a compaction. Fixed inputs so that two runs compare.
 *
 *   node dist/bench/aof-bench.js [--dir DIR] [--seconds 3] [--replay-records 1000000]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { prepareDataDir } from '../src/aof/data-dir.js';
import { ShardAof } from '../src/aof/shard-aof.js';
import type { FsyncPolicy } from '../src/config/types.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1]! : fallback;
};
const baseDir = flag('dir', tmpdir());
const seconds = Number(flag('seconds', '3'));
const replayRecords = Number(flag('replay-records', '1000000'));
const logger = pino({ level: 'warn' });
const CONCURRENCY = 64;

async function withAof<T>(fsync: FsyncPolicy, run: (aof: ShardAof, dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(baseDir, 'lally-aof-bench-'));
  try {
    await (
      await prepareDataDir({ dataDir: dir, shards: 1, fresh: false, replayLog: undefined, logger })
    ).release();
    const aof = await ShardAof.open({
      dataDir: dir,
      shard: 0,
      shards: 1,
      fsync,
      flushIntervalMs: 100,
      rewriteMinSize: Number.MAX_SAFE_INTEGER,
      rewritePercentage: 100,
      logger,
    });
    await aof.replay(() => {});
    return await run(aof, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface AppendFigures {
  policy: FsyncPolicy;
  valueBytes: number;
  appendsPerSec: number;
  fsyncsPerSec: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

async function appendBench(fsync: FsyncPolicy, valueBytes: number): Promise<AppendFigures> {
  return withAof(fsync, async (aof) => {
    const value = 'v'.repeat(valueBytes);
    const delay = monitorEventLoopDelay({ resolution: 1 });
    let wall = 1_700_000_000_000;
    let appended = 0;
    const started = performance.now();
    const deadline = started + seconds * 1000;
    delay.enable();
    if (fsync === 'always') {
      // Concurrent writers, each acknowledged after its sync, as HTTP clients are.
      const writer = async (id: number) => {
        for (let i = 0; performance.now() < deadline; i++) {
          aof.append({
            op: 'ADD',
            key: `w${id}-${i % 10_000}`,
            value,
            version: { wall: wall++, counter: 0, node: 1 },
          });
          appended++;
          await aof.flushed();
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, (_, id) => writer(id)));
    } else {
      while (performance.now() < deadline) {
        for (let i = 0; i < 1000; i++, appended++) {
          aof.append({
            op: 'ADD',
            key: `k-${appended % 100_000}`,
            value,
            version: { wall: wall++, counter: 0, node: 1 },
          });
        }
        await new Promise((resolve) => setImmediate(resolve)); // let timers and I/O callbacks run
      }
    }
    const syncs = Number(aof.stats().syncs);
    const elapsed = (performance.now() - started) / 1000;
    delay.disable();
    await aof.close();
    return {
      policy: fsync,
      valueBytes,
      appendsPerSec: Math.round(appended / elapsed),
      fsyncsPerSec: Math.round(syncs / elapsed),
      loopDelayP99Ms: delay.percentile(99) / 1e6,
      loopDelayMaxMs: delay.max / 1e6,
    };
  });
}

interface ReplayFigures {
  records: number;
  keys: number;
  writeSec: number;
  replayRecordsPerSec: number;
  bytesBefore: number;
  bytesAfter: number;
  compactionSec: number;
  replayAfterRecordsPerSec: number;
}

async function replayBench(): Promise<ReplayFigures> {
  const keys = Math.max(1, Math.floor(replayRecords / 10));
  return withAof('no', async (aof, dir) => {
    const value = 'v'.repeat(16);
    let started = performance.now();
    for (let i = 0; i < replayRecords; i++) {
      aof.append({
        op: 'ADD',
        key: `key:${i % keys}`,
        value,
        version: { wall: 1_700_000_000_000 + i, counter: 0, node: 1 },
      });
      if (i % 10_000 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await aof.sync();
    const writeSec = (performance.now() - started) / 1000;
    const bytesBefore = Number(aof.stats().bytes);
    await aof.close();
    const open = () =>
      ShardAof.open({
        dataDir: dir,
        shard: 0,
        shards: 1,
        fsync: 'no',
        flushIntervalMs: 100,
        rewriteMinSize: Number.MAX_SAFE_INTEGER,
        rewritePercentage: 100,
        logger,
      });
    const timeReplay = async (shard: ShardAof) => {
      const map = new Map<string, string>();
      const t0 = performance.now();
      const result = await shard.replay((r) => map.set(r.key, r.value));
      return result.records / ((performance.now() - t0) / 1000);
    };
    const reopened = await open();
    const replayRecordsPerSec = await timeReplay(reopened);
    started = performance.now();
    await reopened.rewriteNow(); // the piscina job, as in production
    const compactionSec = (performance.now() - started) / 1000;
    const bytesAfter = Number(reopened.stats().bytes);
    await reopened.close();
    const compacted = await open();
    const replayAfterRecordsPerSec = await timeReplay(compacted);
    await compacted.close();
    return {
      records: replayRecords,
      keys,
      writeSec,
      replayRecordsPerSec: Math.round(replayRecordsPerSec),
      bytesBefore,
      bytesAfter,
      compactionSec,
      replayAfterRecordsPerSec: Math.round(replayAfterRecordsPerSec),
    };
  });
}

const appends: AppendFigures[] = [];
for (const valueBytes of [16, 1024]) {
  for (const policy of ['no', 'everysec', 'always'] as const)
    appends.push(await appendBench(policy, valueBytes));
}
console.log(
  `\nShardAof appends (${seconds} s each; 'always' with ${CONCURRENCY} concurrent writers), dir ${baseDir}`,
);
console.log('| fsync | value | appends/s | fsyncs/s | loop delay p99 | loop delay max |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const f of appends) {
  console.log(
    `| ${f.policy} | ${f.valueBytes} B | ${f.appendsPerSec.toLocaleString('en')} | ${f.fsyncsPerSec} | ${f.loopDelayP99Ms.toFixed(1)} ms | ${f.loopDelayMaxMs.toFixed(1)} ms |`,
  );
}
const r = await replayBench();
console.log(
  `\nReplay and compaction: ${r.records.toLocaleString('en')} records over ${r.keys.toLocaleString('en')} keys, 16 B values`,
);
console.log('| figure | value |');
console.log('|---|---:|');
console.log(`| replay (before compaction) | ${r.replayRecordsPerSec.toLocaleString('en')} records/s |`);
console.log(`| file size before compaction | ${(r.bytesBefore / 1048576).toFixed(1)} MiB |`);
console.log(`| compaction time (piscina job + switch) | ${r.compactionSec.toFixed(2)} s |`);
console.log(`| file size after compaction | ${(r.bytesAfter / 1048576).toFixed(1)} MiB |`);
console.log(`| replay (after compaction) | ${r.replayAfterRecordsPerSec.toLocaleString('en')} records/s |`);
