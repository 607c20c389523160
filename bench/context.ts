import type { BenchOptions } from './args.js';
import type { LoadGenerators } from './load/select.js';
import type { CeilingServers } from './peers/local-server.js';
import type { Progress } from './progress.js';
import type {
  AofReadsResult,
  CaseResult,
  ClusterResult,
  CompactionResult,
  HopResult,
  KeyCountResult,
  MemoryResult,
  MetricsOverheadResult,
  PeerStatus,
  ReplayResult,
  RoundFigures,
  ScaleResult,
  SkippedScenario,
} from './results/schema.js';

/** What every scenario gets: options, tools, and the results gathered so far. */
export interface BenchContext {
  options: BenchOptions;
  loads: LoadGenerators;
  /** dist/src/cli/main.js */
  cliPath: string;
  /** Temporary directory of this run (wrk scripts, peer configs). */
  scratchDir: string;
  progress: Progress;
  ceilings: CeilingServers;
  /** Ceiling rounds by what they measured, shared by the cases of a run. */
  ceilingPool: Map<string, RoundFigures[]>;
  results: {
    cases: CaseResult[];
    peers: PeerStatus[];
    skipped: SkippedScenario[];
    hop: HopResult | null;
    memory: MemoryResult | null;
    aofReads: AofReadsResult | null;
    compaction: CompactionResult | null;
    replay: ReplayResult | null;
    cluster: ClusterResult | null;
    metricsOverhead: MetricsOverheadResult | null;
    scale: ScaleResult | null;
    keyCount: KeyCountResult | null;
  };
}

/** Load-run seconds plus a fixed cost per run (process start of wrk, connection set-up). */
export function runSeconds(ctx: BenchContext): number {
  return ctx.options.durationSec + 0.4;
}
