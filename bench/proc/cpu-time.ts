import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/** utime + stime of one `/proc/.../stat` line, in clock ticks. */
export interface CpuTicks {
  utime: number;
  stime: number;
}

/**
 * Parses `/proc/<pid>/stat` or `/proc/<pid>/task/<tid>/stat`. The second field (the command) is in
 * parentheses and may hold spaces and parentheses itself, so the fields are counted from the last
 * `)`: after it come state (field 3), ... utime (14) and stime (15), per proc(5).
 */
export function parseProcStat(text: string): CpuTicks {
  const close = text.lastIndexOf(')');
  if (close < 0) throw new Error(`not a /proc stat line: ${text.slice(0, 80)}`);
  const fields = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  // fields[0] is field 3 (state): field n is fields[n - 3].
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (!Number.isInteger(utime) || !Number.isInteger(stime)) {
    throw new Error(`no utime/stime in a /proc stat line: ${text.slice(0, 120)}`);
  }
  return { utime, stime };
}

let clockTicks: number | null = null;

/** Clock ticks per second (`getconf CLK_TCK`; 100 on every Linux this runs on, the fallback). */
export function ticksPerSecond(): number {
  if (clockTicks === null) {
    try {
      const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
      clockTicks = Number.isInteger(n) && n > 0 ? n : 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** CPU seconds so far of a process (all its threads) and of its main thread (tid = pid). */
export interface CpuSample {
  atMs: number;
  processSec: number;
  mainThreadSec: number;
}

/** Reads both stat files of `pid`; null off Linux or once the process is gone. */
export async function sampleCpu(pid: number): Promise<CpuSample | null> {
  try {
    const [whole, main] = await Promise.all([
      readFile(`/proc/${pid}/stat`, 'utf8'),
      readFile(`/proc/${pid}/task/${pid}/stat`, 'utf8'),
    ]);
    const hz = ticksPerSecond();
    const p = parseProcStat(whole);
    const m = parseProcStat(main);
    return {
      atMs: performance.now(),
      processSec: (p.utime + p.stime) / hz,
      mainThreadSec: (m.utime + m.stime) / hz,
    };
  } catch {
    return null;
  }
}

/** What a process spent over a window between two samples. */
export interface CpuWindow {
  /** Cores the whole process used on average (CPU seconds / wall seconds). */
  processCores: number;
  /** Cores the main thread used on average: 1 is one core saturated. */
  mainThreadCores: number;
  /** Main thread's CPU over the process's (0 to 1); null when the process used none. */
  mainThreadShare: number | null;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

export function cpuWindow(before: CpuSample, after: CpuSample): CpuWindow {
  const wallSec = (after.atMs - before.atMs) / 1000;
  const processSec = after.processSec - before.processSec;
  const mainSec = after.mainThreadSec - before.mainThreadSec;
  return {
    processCores: wallSec > 0 ? round3(processSec / wallSec) : 0,
    mainThreadCores: wallSec > 0 ? round3(mainSec / wallSec) : 0,
    mainThreadShare: processSec > 0 ? round3(mainSec / processSec) : null,
  };
}

/**
 * cutime + cstime of a `/proc/<pid>/stat` line (fields 16 and 17), in seconds: the CPU of the children
 * that the process has waited for. A shell that ran wrk and reads its own stat gets wrk's CPU exactly.
 */
export function waitedChildrenSec(text: string, hz = ticksPerSecond()): number {
  const close = text.lastIndexOf(')');
  if (close < 0) throw new Error(`not a /proc stat line: ${text.slice(0, 80)}`);
  const fields = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const cutime = Number(fields[16 - 3]);
  const cstime = Number(fields[17 - 3]);
  if (!Number.isInteger(cutime) || !Number.isInteger(cstime)) {
    throw new Error(`no cutime/cstime in a /proc stat line: ${text.slice(0, 120)}`);
  }
  return (cutime + cstime) / hz;
}
