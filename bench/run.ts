/**
 * `npm run bench [-- options]`: Lally's benchmark suite. See `--help` and docs/performance.md.
 */
import { mkdtempSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchOptions, parseBenchArgs, USAGE } from './args.js';
import type { BenchContext } from './context.js';
import { runSeconds } from './context.js';
import { LoadGenerators } from './load/select.js';
import { CeilingServers } from './peers/local-server.js';
import { trackTempDir } from './proc/children.js';
import { formatDuration, Progress } from './progress.js';
import { type BenchResults, RESULTS_SCHEMA } from './results/schema.js';
import { writeResults } from './results/write.js';
import { SCENARIOS } from './scenarios/catalog.js';
import { planFor, workloadOf } from './scenarios/throughput.js';
import { ratio } from './stats/percentiles.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function mode(options: BenchOptions, argv: readonly string[]): BenchResults['mode'] {
  const custom = argv.some((a) => /^--(scenarios|duration|connections|rounds|rate|url)\b/.test(a));
  if (custom) return 'custom';
  return options.quick ? 'quick' : 'full';
}

/** Requests/s the load generator reaches against the cheapest server: uWS answering 2-byte... JSON. */
async function measureGeneratorCeiling(ctx: BenchContext): Promise<number | null> {
  ctx.progress.step(
    'load generator: its own ceiling against the cheapest server (uWS, tiny answer)',
    runSeconds(ctx) + 1,
  );
  try {
    const server = await ctx.ceilings.get(ctx.options.shards, { getBytes: 0, putBytes: 0, batchBytes: 0 });
    const plan = planFor(workloadOf('get', { quick: ctx.options.quick }));
    const result = await ctx.loads.throughput.run({
      url: server.url,
      plan,
      connections: ctx.options.connections,
      durationSec: ctx.options.durationSec,
    });
    ctx.progress.note(`-> ${Math.round(result.requestsPerSec)} requests/s (${result.generator})`);
    return Math.round(result.requestsPerSec);
  } finally {
    await ctx.ceilings.stop();
  }
}

async function main(argv: readonly string[]): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseBenchArgs(argv, join(root, 'bench', 'results'));
  } catch (error) {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : error}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const startedAt = new Date();
  // The load average when the run starts (at the end, the bench's own load is in it).
  const loadAtStart = loadavg();
  const scratchDir = trackTempDir(mkdtempSync(join(tmpdir(), 'lally-bench-run-')));
  const loads = await LoadGenerators.choose(
    options.loadGenerator,
    scratchDir,
    Math.max(1, Math.floor(availableParallelism() / 2)),
  );
  const ctx: BenchContext = {
    options,
    loads,
    cliPath: options.cli ? resolve(options.cli) : join(root, 'dist', 'src', 'cli', 'main.js'),
    scratchDir,
    progress: new Progress(0),
    ceilings: new CeilingServers(),
    ceilingPool: new Map(),
    results: {
      cases: [],
      peers: [],
      skipped: [],
      hop: null,
      memory: null,
      aofReads: null,
      compaction: null,
      replay: null,
      cluster: null,
      metricsOverhead: null,
      scale: null,
      keyCount: null,
    },
  };
  const chosen = SCENARIOS.filter((s) => options.scenarios.includes(s.name));
  const runnable = chosen.filter((s) => {
    const reason = s.unavailable(ctx);
    if (reason) ctx.results.skipped.push({ scenario: s.name, reason });
    return !reason;
  });
  const estimate = runSeconds(ctx) + 1 + runnable.reduce((sum, s) => sum + s.estimateSec(ctx), 0);
  ctx.progress = new Progress(estimate);
  process.stderr.write(
    `bench: ${runnable.map((s) => s.name).join(', ')}; load generator ${loads.throughput.version}; ` +
      `about ${formatDuration(estimate)}\n`,
  );

  const generatorCeiling = await measureGeneratorCeiling(ctx).catch((error: unknown) => {
    ctx.progress.note(`load generator ceiling failed: ${error instanceof Error ? error.message : error}`);
    return null;
  });
  for (const scenario of runnable) {
    try {
      await scenario.run(ctx);
    } catch (error) {
      const message =
        error instanceof Error ? error.message.split('\n').slice(0, 3).join(' ') : String(error);
      ctx.progress.note(`!! ${scenario.name} failed: ${message}`);
      ctx.results.skipped.push({ scenario: scenario.name, reason: `failed: ${message}` });
      await ctx.ceilings.stop();
    }
  }

  const coreGet = ctx.results.cases.find((c) => c.scenario === 'core' && c.workload.kind === 'get');
  const cpuList = cpus();
  const results: BenchResults = {
    schema: RESULTS_SCHEMA,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    mode: mode(options, argv),
    options: {
      scenarios: options.scenarios,
      durationSec: options.durationSec,
      connections: options.connections,
      shards: options.shards,
      rounds: options.rounds,
      rate: options.rate,
      url: options.url,
    },
    machine: {
      nproc: availableParallelism(),
      cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      totalMemoryBytes: totalmem(),
      loadAverage: loadAtStart,
    },
    loadGenerator: {
      name: loads.throughput.name,
      version: loads.throughput.version,
      fixedRate: loads.fixedRate.version,
      ceilingRps: generatorCeiling,
      // How close the uWS ceiling (core GET) comes to what the generator can drive at all.
      ratioCeilingToGenerator: ratio(coreGet?.ceiling?.requestsPerSec, generatorCeiling),
    },
    ...ctx.results,
  };
  const written = writeResults(options.out, results);
  process.stderr.write(
    `bench: done in ${formatDuration(ctx.progress.elapsedSec)}; wrote ${written.length} files:\n${written.map((p) => `  ${p}`).join('\n')}\n`,
  );
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : error}\n`);
    process.exit(1);
  },
);
