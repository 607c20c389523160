import type { ChildProcess } from 'node:child_process';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `url` until it answers 200. Fails early when the process exits, and after `timeoutMs`.
 * Resolves with the milliseconds it took.
 */
export async function waitReady(
  url: string,
  child: ChildProcess | null,
  timeoutMs: number,
  tail: () => string = () => '',
): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(
        `the process exited (${child.exitCode ?? child.signalCode}) before ${url} answered:\n${tail()}`,
      );
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return performance.now() - start;
    } catch {
      // not listening yet
    }
    if (performance.now() - start > timeoutMs) {
      throw new Error(`${url} did not answer 200 within ${timeoutMs} ms:\n${tail()}`);
    }
    await sleep(10);
  }
}

/** Resident memory of a process in bytes (VmRSS in /proc/<pid>/status), or null off Linux. */
export async function residentBytes(pid: number): Promise<number | null> {
  const { readFile } = await import('node:fs/promises');
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}
