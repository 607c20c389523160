import { readFile } from 'node:fs/promises';

/**
 * Resident memory of a server as the memory scenario counts it: the process's VmRSS plus, for each
 * of its child processes, the pages that child dirtied itself (Private_Dirty of its smaps_rollup).
 * Lally compacts in threads, so it is its VmRSS; Redis compacts in a fork(), whose copy-on-write
 * pages are its real cost (the pages it still shares with the parent are counted once, in the parent).
 * Linux only: null elsewhere.
 */
export async function serverResidentBytes(pid: number): Promise<number | null> {
  const own = await statusField(pid, 'VmRSS');
  if (own === null) return null;
  let children = 0;
  for (const child of await childPids(pid)) children += (await privateDirtyBytes(child)) ?? 0;
  return own + children;
}

/** A field of /proc/<pid>/status in bytes (VmRSS, VmHWM, RssAnon...), or null. */
export async function statusField(pid: number, field: string): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

async function childPids(pid: number): Promise<number[]> {
  try {
    const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8');
    return text.split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function privateDirtyBytes(pid: number): Promise<number | null> {
  try {
    const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
    const match = /^Private_Dirty:\s+(\d+)\s+kB/m.exec(text);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Samples serverResidentBytes every `everyMs` until stopped: the peak over the whole run, and the
 * peak over the samples taken while `during()` said true (a compaction running).
 */
export class RssSampler {
  peak = 0;
  peakDuring = 0;
  samples = 0;
  #running = true;
  readonly #done: Promise<void>;

  constructor(pid: number, during: () => boolean, everyMs = 100) {
    this.#done = (async () => {
      while (this.#running) {
        const rss = await serverResidentBytes(pid);
        if (rss !== null) {
          this.samples++;
          this.peak = Math.max(this.peak, rss);
          if (during()) this.peakDuring = Math.max(this.peakDuring, rss);
        }
        await sleep(everyMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }
}

/**
 * Waits until the server's memory is at rest: no change above `toleranceBytes` over `windowMs`, and
 * not before `notBeforeMs` (e.g. until an idle thread has exited). Gives up after `timeoutMs`, then
 * returns the last figure; `settled` says which.
 */
export async function waitForRest(
  pid: number,
  o: { windowMs?: number; toleranceBytes?: number; notBeforeMs?: number; timeoutMs?: number } = {},
): Promise<{ bytes: number | null; settled: boolean; waitedMs: number }> {
  const windowMs = o.windowMs ?? 5000;
  const tolerance = o.toleranceBytes ?? 2 ** 20;
  const started = performance.now();
  const history: { at: number; bytes: number }[] = [];
  for (;;) {
    const bytes = await serverResidentBytes(pid);
    const at = performance.now() - started;
    if (bytes === null) return { bytes, settled: false, waitedMs: at };
    history.push({ at, bytes });
    while (history.length > 1 && history[0]!.at < at - windowMs) history.shift();
    const span = Math.max(...history.map((h) => h.bytes)) - Math.min(...history.map((h) => h.bytes));
    const full = history[0]!.at <= at - windowMs + 600;
    if (at >= (o.notBeforeMs ?? 0) && full && span <= tolerance && at >= windowMs) {
      return { bytes, settled: true, waitedMs: at };
    }
    if (at > (o.timeoutMs ?? 90_000)) return { bytes, settled: false, waitedMs: at };
    await sleep(500);
  }
}
