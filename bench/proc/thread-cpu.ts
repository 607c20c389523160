import { readdir, readFile } from 'node:fs/promises';
import { parseProcStat, ticksPerSecond } from './cpu-time.js';

/** CPU ticks (utime + stime) of a process and of each of its live threads, at one moment. */
export interface ThreadsSample {
  atMs: number;
  /** The whole process (`/proc/<pid>/stat`): threads that exited are still counted here. */
  processTicks: number;
  /** Thread id -> ticks (`/proc/<pid>/task/<tid>/stat`). */
  threads: Map<number, number>;
  /**
   * Thread id -> nanoseconds spent runnable but waiting for a core (`/proc/<pid>/task/<tid>/schedstat`,
   * second field); empty when the kernel does not keep schedstats.
   */
  runQueueWaitNs: Map<number, number>;
}

/** The run-queue wait of a schedstat line (`<run ns> <wait ns> <timeslices>`), or null. */
export function parseSchedstatWait(text: string): number | null {
  const wait = Number(text.trim().split(/\s+/)[1]);
  return Number.isFinite(wait) && wait >= 0 ? wait : null;
}

/** Reads every thread's stat file of `pid`; null off Linux or once the process is gone. */
export async function sampleThreads(pid: number): Promise<ThreadsSample | null> {
  try {
    const whole = parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
    const threads = new Map<number, number>();
    const runQueueWaitNs = new Map<number, number>();
    for (const name of await readdir(`/proc/${pid}/task`)) {
      try {
        const t = parseProcStat(await readFile(`/proc/${pid}/task/${name}/stat`, 'utf8'));
        threads.set(Number(name), t.utime + t.stime);
        const wait = parseSchedstatWait(await readFile(`/proc/${pid}/task/${name}/schedstat`, 'utf8'));
        if (wait !== null) runQueueWaitNs.set(Number(name), wait);
      } catch {
        // The thread exited between the listing and the read: the process total still has it.
      }
    }
    return { atMs: performance.now(), processTicks: whole.utime + whole.stime, threads, runQueueWaitNs };
  } catch {
    return null;
  }
}

/** Where a process's CPU went over a window, in CPU seconds. */
export interface ThreadCpuSplit {
  wallSec: number;
  processSec: number;
  /** The thread whose id is the pid: the daemon's main thread. */
  mainSec: number;
  /** The `shards` busiest other threads (the shard workers under an HTTP load), busiest first. */
  shardSec: number[];
  /**
   * The same threads' time runnable but waiting for a core, over the wall time (0 to 1; null without
   * schedstats): how much the machine's other processes held them back.
   */
  shardRunQueueWaitShare: (number | null)[];
  /** Every other live thread (V8's GC helpers, libuv's pool, a compaction worker). */
  otherSec: number;
  /** Threads that exited during the window: the process total less the live threads. */
  exitedSec: number;
}

/**
 * Splits a process's CPU between its main thread, its shard threads and the rest. Node names every
 * thread `node`, so a shard thread cannot be told by its name: under an HTTP load the shard workers
 * (which serve HTTP themselves) are the busiest threads after the main one, and the `shards` busiest
 * are taken for them. A thread born during the window counts from zero.
 */
export function splitThreadCpu(
  before: ThreadsSample,
  after: ThreadsSample,
  mainTid: number,
  shards: number,
  hz = ticksPerSecond(),
): ThreadCpuSplit {
  const deltas: { tid: number; ticks: number }[] = [];
  let liveTicks = 0;
  for (const [tid, ticks] of after.threads) {
    const delta = Math.max(0, ticks - (before.threads.get(tid) ?? 0));
    liveTicks += delta;
    deltas.push({ tid, ticks: delta });
  }
  const main = deltas.find((d) => d.tid === mainTid)?.ticks ?? 0;
  const rest = deltas.filter((d) => d.tid !== mainTid).sort((a, b) => b.ticks - a.ticks);
  const shardTicks = rest.slice(0, shards).map((d) => d.ticks);
  const wallSec = (after.atMs - before.atMs) / 1000;
  const shardRunQueueWaitShare = rest.slice(0, shards).map((d) => {
    const end = after.runQueueWaitNs.get(d.tid);
    if (end === undefined || !(wallSec > 0)) return null;
    const waitSec = (end - (before.runQueueWaitNs.get(d.tid) ?? 0)) / 1e9;
    return Math.round((waitSec / wallSec) * 1000) / 1000;
  });
  const otherTicks = rest.slice(shards).reduce((sum, d) => sum + d.ticks, 0);
  const processTicks = Math.max(0, after.processTicks - before.processTicks);
  return {
    wallSec,
    processSec: processTicks / hz,
    mainSec: main / hz,
    shardSec: shardTicks.map((t) => t / hz),
    shardRunQueueWaitShare,
    otherSec: otherTicks / hz,
    exitedSec: Math.max(0, processTicks - liveTicks) / hz,
  };
}
