import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import type { LoadGeneratorChoice } from './load/select.js';

/** Every scenario, in the order the suite runs them. */
export const SCENARIO_NAMES = [
  'core',
  'ops',
  'keys',
  'values',
  'shards',
  'hop',
  'scale',
  'keycount',
  'aof',
  'aofreads',
  'compaction',
  'rate',
  'peers',
  'memory',
  'replay',
  'cluster',
  'metrics',
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export interface BenchOptions {
  quick: boolean;
  scenarios: ScenarioName[];
  /** Seconds per load run. */
  durationSec: number;
  connections: number;
  /** Lally's shards, and the ceiling's threads, in every scenario but `shards`. */
  shards: number;
  /** An already running target: the bench then starts no Lally of its own. */
  url: string | null;
  /** Directory of the result files. */
  out: string;
  /** Fixed-rate mode: requests per second for every load run (null: as fast as possible). */
  rate: number | null;
  /** Rate of the `rate` scenario when --rate is not given. */
  defaultRate: number;
  /** Rounds per case (Lally, ceiling, Lally, ceiling, ...). */
  rounds: number;
  loadGenerator: LoadGeneratorChoice;
  /** Keys in the data set of the `memory` scenario. */
  memoryKeys: number;
  /** The daemon's entry file (another build can be compared); null: this checkout's dist/src/cli/main.js. */
  cli: string | null;
  help: boolean;
}

export const USAGE = `Usage: npm run bench -- [options]

Runs Lally's benchmark suite on loopback and writes bench/results/latest.{json,md} and SVG charts.
Every figure is also given as a ratio to a bare uWebSockets.js server measured in the same run.

Options:
  --quick                   Every scenario, briefly (about 2 minutes on 2 cores; the full suite takes about 15).
  --scenarios a,b           Only these: ${SCENARIO_NAMES.join(', ')}.
  --duration <s>            Seconds per load run (default 5, quick 1).
  --connections <n>         Concurrent connections (default 64).
  --shards <n>              Lally shards and ceiling threads (default: available parallelism).
  --rounds <n>              Alternated rounds per case, Lally then ceiling (default 2, quick 1; core 3 at least, 2 quick).
  --rate <rps>              Fixed-rate mode: hold this many requests/s in every run (autocannon), to read p99 at a load.
  --url <url>               Measure a Lally that is already running (skips scenarios that start their own).
  --out <dir>               Where results go (default bench/results).
  --load-generator <name>   auto (wrk if installed, else autocannon), wrk or autocannon.
  --memory-keys <n>         Keys loaded by the memory and replay scenarios (default 1000000, quick 200000).
  --cli <path>              Daemon entry file to start (default: this checkout's dist/src/cli/main.js).
  -h, --help                This text.
`;

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`--${name} must be a positive integer, not ${raw}`);
  return value;
}

function positiveNumber(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`--${name} must be a positive number, not ${raw}`);
  return value;
}

export function parseScenarioList(raw: string): ScenarioName[] {
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const name of names) {
    if (!(SCENARIO_NAMES as readonly string[]).includes(name)) {
      throw new Error(`unknown scenario ${JSON.stringify(name)}; known: ${SCENARIO_NAMES.join(', ')}`);
    }
  }
  if (names.length === 0) throw new Error('--scenarios names no scenario');
  // Run in the suite's order, once each.
  return SCENARIO_NAMES.filter((n) => names.includes(n));
}

/** Parses the bench's arguments; throws an Error with a one-line message on bad input. */
export function parseBenchArgs(argv: readonly string[], defaultOut: string): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      quick: { type: 'boolean' },
      scenarios: { type: 'string' },
      duration: { type: 'string' },
      connections: { type: 'string' },
      shards: { type: 'string' },
      rounds: { type: 'string' },
      rate: { type: 'string' },
      url: { type: 'string' },
      out: { type: 'string' },
      'load-generator': { type: 'string' },
      'memory-keys': { type: 'string' },
      cli: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const quick = values.quick ?? false;
  const loadGenerator = values['load-generator'] ?? 'auto';
  if (loadGenerator !== 'auto' && loadGenerator !== 'wrk' && loadGenerator !== 'autocannon') {
    throw new Error(`--load-generator must be auto, wrk or autocannon, not ${loadGenerator}`);
  }
  let url: string | null = null;
  if (values.url !== undefined) {
    const parsed = new URL(values.url);
    if (parsed.protocol !== 'http:') throw new Error(`--url must be an http:// URL, not ${values.url}`);
    url = parsed.origin;
  }
  return {
    quick,
    scenarios: values.scenarios === undefined ? [...SCENARIO_NAMES] : parseScenarioList(values.scenarios),
    durationSec: positiveNumber('duration', values.duration, quick ? 1 : 5),
    connections: positiveInt('connections', values.connections, 64),
    shards: positiveInt('shards', values.shards, availableParallelism()),
    rounds: positiveInt('rounds', values.rounds, quick ? 1 : 2),
    rate: values.rate === undefined ? null : positiveInt('rate', values.rate, 1),
    defaultRate: 10_000,
    url,
    out: values.out ?? defaultOut,
    loadGenerator,
    memoryKeys: positiveInt('memory-keys', values['memory-keys'], quick ? 200_000 : 1_000_000),
    cli: values.cli ?? null,
    help: values.help ?? false,
  };
}
