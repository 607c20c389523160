import type { ChildProcess } from 'node:child_process';
import { spawnTracked, stopChild } from './children.js';

/**
 * An idle Node process that watches its own event loop the way the shards do (monitorEventLoopDelay
 * at 20 ms) and prints the max of each second. It runs nothing else: what it reads is the machine's
 * scheduling delay, the control against which a shard's stall is judged on a shared machine.
 */
const PROBE = `
const { monitorEventLoopDelay } = require('node:perf_hooks');
const h = monitorEventLoopDelay({ resolution: 20 });
h.enable();
setInterval(() => {
  if (h.count > 0) process.stdout.write(JSON.stringify({ maxMs: h.max / 1e6 }) + '\\n');
  h.reset();
}, 1000);
`;

export class LoopProbe {
  #readings: number[] = [];
  #pending = '';

  private constructor(private readonly child: ChildProcess) {
    child.stdout?.on('data', (chunk: Buffer) => {
      this.#pending += chunk.toString();
      let newline = this.#pending.indexOf('\n');
      while (newline >= 0) {
        const line = this.#pending.slice(0, newline);
        this.#pending = this.#pending.slice(newline + 1);
        const max = parseProbeLine(line);
        if (max !== null) this.#readings.push(max);
        newline = this.#pending.indexOf('\n');
      }
    });
  }

  static start(): LoopProbe {
    return new LoopProbe(spawnTracked(process.execPath, ['-e', PROBE]));
  }

  /** Forgets the readings so far (call it when a run starts). */
  mark(): void {
    this.#readings = [];
  }

  /** The highest per-second max since the last mark, ms, or null when none came. */
  maxSinceMark(): number | null {
    return this.#readings.length === 0 ? null : Math.round(Math.max(...this.#readings) * 10) / 10;
  }

  async stop(): Promise<void> {
    await stopChild(this.child, 1000);
  }
}

/** The max of one probe line, or null for a line that is not one. */
export function parseProbeLine(line: string): number | null {
  try {
    const parsed = JSON.parse(line) as { maxMs?: unknown };
    return typeof parsed.maxMs === 'number' && Number.isFinite(parsed.maxMs) ? parsed.maxMs : null;
  } catch {
    return null;
  }
}
