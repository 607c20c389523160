import { execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitedChildrenSec } from '../proc/cpu-time.js';
import type { RequestPlan } from '../workload/requests.js';
import type { LoadGenerator, LoadResult, LoadRun } from './types.js';
import {
  CPU_MARK,
  parseAnswerCounts,
  parseWrkOutput,
  type WrkScriptExtras,
  wrkScript,
} from './wrk-script.js';

const execFileAsync = promisify(execFile);

/** The version wrk prints, or null when wrk is not installed. */
export async function wrkVersion(): Promise<string | null> {
  try {
    // `wrk -v` prints its banner and exits 1.
    const { stdout } = await execFileAsync('wrk', ['-v']).catch((e: { stdout?: string }) => {
      if (typeof e.stdout === 'string' && e.stdout.includes('wrk')) return { stdout: e.stdout };
      throw e;
    });
    // "wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer": keep the name and version.
    const match = /^wrk\s+(\S+)/.exec(stdout.trim());
    return match ? `wrk ${match[1]}` : 'wrk';
  } catch {
    return null;
  }
}

/**
 * wrk (https://github.com/wg/wrk) driven by a generated Lua script. It is written in C with an event
 * loop per thread: the cheapest client on a machine where client and server share the cores.
 */
export class WrkLoadGenerator implements LoadGenerator {
  readonly name = 'wrk' as const;
  readonly #scripts = new WeakMap<RequestPlan, Map<string, string>>();
  #scriptCount = 0;

  constructor(
    readonly version: string,
    private readonly scratchDir: string,
    /** wrk threads; on a 2-core machine one leaves the other core to the server. */
    private readonly threads: number,
  ) {}

  #scriptFor(
    plan: RequestPlan,
    headers: Record<string, string> | undefined,
    extras: WrkScriptExtras,
  ): string {
    let byExtras = this.#scripts.get(plan);
    if (!byExtras) {
      byExtras = new Map();
      this.#scripts.set(plan, byExtras);
    }
    const key = JSON.stringify([headers ?? null, extras]);
    let path = byExtras.get(key);
    if (!path) {
      path = join(this.scratchDir, `wrk-plan-${this.#scriptCount++}.lua`);
      writeFileSync(path, wrkScript(plan, headers, extras));
      byExtras.set(key, path);
    }
    return path;
  }

  async run(load: LoadRun): Promise<LoadResult> {
    const threads = Math.max(1, Math.min(load.threads ?? this.threads, load.connections));
    const extras: WrkScriptExtras = {};
    if (load.targets && load.targets.length > 0) extras.targets = load.targets;
    if (load.countAnswers) extras.countAnswers = true;
    if (load.rate) extras.ratePerThread = load.rate / threads;
    const args = [
      '-t',
      String(threads),
      '-c',
      String(load.connections),
      '-d',
      `${Math.max(1, Math.round(load.durationSec))}s`,
      '--timeout',
      '10s',
      '-s',
      this.#scriptFor(load.plan, load.headers, extras),
      load.url,
    ];
    const stdout = await new Promise<string>((resolve, reject) => {
      // A shell runs wrk and then prints its own /proc stat, whose cutime and cstime are then wrk's CPU
      // time exactly (the shell waited for wrk, and for nothing else yet).
      const shell = `wrk "$@"; rc=$?; printf '${CPU_MARK}'; cat /proc/$$/stat; exit $rc`;
      const child = spawn('sh', ['-c', shell, 'sh', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
      });
      child.on('error', reject);
      child.on('close', (code) => {
        if (code === 0) resolve(out);
        else reject(new Error(`wrk exited with ${code}: ${err || out}`));
      });
    });
    const s = parseWrkOutput(stdout);
    const cpuLine = stdout.split('\n').find((l) => l.startsWith(CPU_MARK));
    let clientCpuSec: number | null = null;
    try {
      clientCpuSec = cpuLine ? waitedChildrenSec(cpuLine.slice(CPU_MARK.length)) : null;
    } catch {
      clientCpuSec = null;
    }
    const durationSec = s.durationUs / 1e6;
    const requestsPerSec = durationSec > 0 ? s.requests / durationSec : 0;
    return {
      generator: 'wrk',
      requests: s.requests,
      durationSec,
      requestsPerSec,
      opsPerSec: requestsPerSec * load.plan.opsPerRequest,
      latencyMs: {
        p50: s.p50 / 1000,
        p99: s.p99 / 1000,
        p999: s.p999 / 1000,
        max: s.max / 1000,
        mean: s.mean / 1000,
      },
      errors: s.connect + s.read + s.write + s.timeout,
      non2xx: s.status,
      answers: load.countAnswers ? parseAnswerCounts(stdout) : null,
      clientCpuSec,
    };
  }
}
