/**
 * What tells one process apart from another across reboots, pid reuse and containers (Linux /proc):
 * the kernel's boot id, the process's start time (clock ticks since boot, /proc/<pid>/stat field 22)
 * and its pid namespace. Elsewhere every figure is undefined and the lock falls back to pid liveness.
 */
import { readFileSync, readlinkSync } from 'node:fs';

export interface ProcessIdentity {
  pid: number;
  /** /proc/sys/kernel/random/boot_id: new at every boot, the same in every container of one kernel. */
  bootId: string | undefined;
  /** Start time of the process in clock ticks since boot. */
  startTime: number | undefined;
  /** `pid:[4026531836]`: a container has a namespace of its own, where the daemon is often pid 1. */
  pidNamespace: string | undefined;
}

export function readBootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The start time of `pid` as this process's pid namespace sees it; undefined if there is none. */
export function readStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so split after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const value = Number(fields[19]); // field 22 of the whole line
    return Number.isSafeInteger(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

export function readPidNamespace(): string | undefined {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
}

export function currentProcessIdentity(): ProcessIdentity {
  return {
    pid: process.pid,
    bootId: readBootId(),
    startTime: readStartTime(process.pid),
    pidNamespace: readPidNamespace(),
  };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
