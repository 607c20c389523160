import type { BenchResults, CaseResult } from '../results/schema.js';
import { aofPutRatios } from '../stats/durability.js';
import { type BarChart, barChartSvg, lineChartSvg } from './charts.js';
import { clusterSection } from './cluster-section.js';
import { hopPutSection, keyCountSection, scaleSection } from './scale-sections.js';
import { shortNumber } from './svg.js';

const fmt = (x: number | null | undefined, digits = 0) =>
  x === null || x === undefined || !Number.isFinite(x)
    ? '–'
    : x.toLocaleString('en-US', { maximumFractionDigits: digits });
const ratioText = (x: number | null) => (x === null ? '–' : `${x.toFixed(2)}x`);
const mib = (bytes: number | null) => (bytes === null ? '–' : `${(bytes / 1024 / 1024).toFixed(1)} MiB`);

function caseRow(c: CaseResult): string {
  return `| ${c.scenario} | ${c.label} | ${c.generator} | ${fmt(c.opsPerSec)} | ${fmt(c.latencyMs.p50, 2)} | ${fmt(c.latencyMs.p99, 2)} | ${fmt(c.latencyMs.p999, 2)} | ${fmt(c.ceiling?.opsPerSec)} | ${ratioText(c.ratioToCeiling)} | ${ratioText(c.ratioP99ToCeiling)} | ${c.errors + c.non2xx} |`;
}

const CASE_HEADER =
  '| scenario | case | load | ops/s | p50 ms | p99 ms | p99.9 ms | ceiling ops/s | ratio to ceiling | p99 ratio | errors |\n' +
  '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|';

export interface Report {
  markdown: string;
  /** File name -> SVG text. */
  charts: Map<string, string>;
}

function lallyCases(results: BenchResults): CaseResult[] {
  return results.cases.filter((c) => c.target === 'lally');
}

export function buildCharts(results: BenchResults): Map<string, string> {
  const charts = new Map<string, string>();
  const lally = lallyCases(results).filter((c) => c.scenario !== 'cluster');
  if (lally.length > 0) {
    charts.set(
      'throughput.svg',
      barChartSvg({
        title: 'Lally as a share of the bare uWS ceiling, per scenario',
        unit: 'ops/s of Lally / ops/s of the ceiling (same threads, same load, same answer size)',
        series: ['Lally / ceiling'],
        format: (v) => `${v.toFixed(2)}x`,
        reference: { value: 1, label: 'ceiling' },
        groups: lally.map((c) => ({
          label: `${c.scenario}: ${c.label}`,
          values: [c.ratioToCeiling],
          notes: [
            `(${shortNumber(c.opsPerSec)} of ${c.ceiling ? shortNumber(c.ceiling.opsPerSec) : '?'} ops/s)`,
          ],
        })),
      }),
    );
    const latency: BarChart = {
      title: 'Latency percentiles per scenario (ms)',
      unit: 'milliseconds',
      series: ['p50', 'p99', 'p99.9'],
      groups: lally.map((c) => ({
        label: `${c.scenario}: ${c.label}`,
        values: [c.latencyMs.p50, c.latencyMs.p99, c.latencyMs.p999],
      })),
    };
    charts.set('latency.svg', barChartSvg(latency));
  }
  const peers = results.cases.filter((c) => c.scenario === 'peers');
  const core = results.cases.filter((c) => c.scenario === 'core');
  if (peers.length > 0 || core.length > 0) {
    const names: string[] = ['uws-ceiling', 'lally', ...new Set(peers.map((c) => c.target))];
    const groups = (['get', 'put'] as const).map((kind) => {
      const lallyCase = core.find((c) => c.workload.kind === kind);
      const peerCases = peers.filter((c) => c.workload.kind === kind);
      const ceiling = (lallyCase ?? peerCases[0])?.ceiling?.opsPerSec ?? null;
      const cases = names.map((n) =>
        n === 'lally' ? lallyCase : n === 'uws-ceiling' ? undefined : peerCases.find((c) => c.target === n),
      );
      return {
        label: `${kind.toUpperCase()} 16 B`,
        values: names.map((n, i) => (n === 'uws-ceiling' ? ceiling : (cases[i]?.opsPerSec ?? null))),
        // Each bar's ratio is to the ceiling measured alongside it (Lally's in core, the peers' in peers).
        notes: cases.map((c) => (c ? ratioText(c.ratioToCeiling) : undefined)),
      };
    });
    charts.set(
      'peers.svg',
      barChartSvg({
        title: 'Lally against the ceiling and the peers (ops/s)',
        unit: 'operations per second',
        series: names.map((n) => (n === 'redis' ? 'redis (redis-benchmark, RESP)' : n)),
        groups,
      }),
    );
  }
  const shards = results.cases.filter((c) => c.scenario === 'shards' && c.shards !== null);
  if (shards.length > 0) {
    const line = (name: string, kind: string, pick: (c: CaseResult) => number | undefined) => ({
      name,
      points: shards
        .filter((c) => c.workload.kind === kind)
        .flatMap((c) => {
          const y = pick(c);
          return y === undefined ? [] : [{ x: c.shards!, y }];
        }),
    });
    charts.set(
      'shards.svg',
      lineChartSvg({
        title: 'Throughput against shards (ceiling: as many uWS threads)',
        xLabel: 'shards (threads)',
        yLabel: 'ops/s',
        series: [
          line('Lally GET', 'get', (c) => c.opsPerSec),
          line('Lally PUT', 'put', (c) => c.opsPerSec),
          line('ceiling GET', 'get', (c) => c.ceiling?.opsPerSec),
          line('ceiling PUT', 'put', (c) => c.ceiling?.opsPerSec),
        ],
      }),
    );
  }
  return charts;
}

export function buildReport(results: BenchResults): Report {
  const charts = buildCharts(results);
  const m = results.machine;
  const lg = results.loadGenerator;
  const out: string[] = [];
  out.push(`# Lally bench: ${results.mode} run of ${results.startedAt}`);
  out.push('');
  out.push(
    `Machine: ${m.nproc} cores (${m.cpuModel}), ${mib(m.totalMemoryBytes)} RAM, Node ${m.node}, ${m.platform}; ` +
      `load average at the start ${m.loadAverage.map((x) => x.toFixed(2)).join(' ')}. ` +
      `Load generator: ${lg.version} (${lg.name}); fixed-rate runs: ${lg.fixedRate}. Its own ceiling (the uWS app with its smallest answer): ` +
      `${fmt(lg.ceilingRps)} requests/s; the ceiling's core GET reaches ${ratioText(lg.ratioCeilingToGenerator)} of that.`,
  );
  out.push('');
  const o = results.options;
  out.push(
    `Settings: ${o.durationSec} s per run, ${o.connections} connections, ${o.shards} shards, ${o.rounds} round(s) per case ` +
      `(Lally and ceiling alternated)${o.rate ? `, fixed rate ${o.rate}/s` : ''}${o.url ? `, external target ${o.url}` : ''}. ` +
      'Ratios divide by the bare uWebSockets.js app measured in the same run with the same load.',
  );
  const core = results.cases.filter((c) => c.scenario === 'core');
  if (core.length > 0) {
    out.push('', '## Core figure (issue 2)', '', CASE_HEADER, ...core.map(caseRow));
  }
  if (results.hop) {
    const h = results.hop;
    out.push('', '## Cost of a shard hop', '', h.method, '');
    out.push('| path | p50 µs | p99 µs | p99.9 µs | p50 ratio to ceiling |', '|---|---:|---:|---:|---:|');
    out.push(
      `| 1 shard (never hops) | ${fmt(h.oneShardUs.p50, 1)} | ${fmt(h.oneShardUs.p99, 1)} | ${fmt(h.oneShardUs.p999, 1)} | ${ratioText(h.ratioOneShardP50ToCeiling)} |`,
    );
    out.push(
      `| 2 shards, key on the receiving shard | ${fmt(h.localUs.p50, 1)} | ${fmt(h.localUs.p99, 1)} | ${fmt(h.localUs.p999, 1)} | ${ratioText(h.ratioLocalP50ToCeiling)} |`,
    );
    out.push(
      `| 2 shards, key on the other shard (hop) | ${fmt(h.remoteUs.p50, 1)} | ${fmt(h.remoteUs.p99, 1)} | ${fmt(h.remoteUs.p999, 1)} | ${ratioText(h.ratioRemoteP50ToCeiling)} |`,
    );
    if (h.ceilingUs)
      out.push(
        `| uWS ceiling, 2 threads | ${fmt(h.ceilingUs.p50, 1)} | ${fmt(h.ceilingUs.p99, 1)} | ${fmt(h.ceilingUs.p999, 1)} | 1.00x |`,
      );
    out.push(
      '',
      `A GET of the other shard's key costs **${fmt(h.hopCostUs, 1)} µs** more at the median (${fmt(h.samples)} samples per path; ` +
        `a direct read of its table, not a hop). The daemon counted ${fmt(h.hopsObserved)} hops while ${fmt(h.requestsPerSet)} ` +
        'GETs went to each key set.',
      ...hopPutSection(h),
    );
  }
  out.push(...scaleSection(results.scale), ...keyCountSection(results.keyCount));
  const rest = results.cases.filter((c) => c.scenario !== 'core');
  if (rest.length > 0) out.push('', '## All cases', '', CASE_HEADER, ...rest.map(caseRow));
  const notes = results.cases.filter((c) => c.note);
  if (notes.length > 0)
    out.push('', 'Notes:', ...notes.map((c) => `- ${c.scenario} / ${c.label}: ${c.note}`));
  out.push(...clusterSection(results.cluster));
  if (results.metricsOverhead) {
    const m = results.metricsOverhead;
    out.push('', '## Cost of the shard metrics', '', m.method, '');
    out.push(
      '| request | ops/s with metrics | ops/s without | ratio | p99 ms with | p99 ms without | CPU µs/request with | without | ratio |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const c of m.cases) {
      out.push(
        `| ${c.kind.toUpperCase()} | ${fmt(c.on.opsPerSec)} | ${fmt(c.off.opsPerSec)} | ${c.ratioOnToOff === null ? '–' : c.ratioOnToOff.toFixed(3)} | ${fmt(c.on.latencyMs.p99, 3)} | ${fmt(c.off.latencyMs.p99, 3)} | ${fmt(c.cpuUsPerRequest.on, 2)} | ${fmt(c.cpuUsPerRequest.off, 2)} | ${c.cpuRatioOnToOff === null ? '–' : c.cpuRatioOnToOff.toFixed(3)} |`,
      );
    }
  }
  if (results.memory) {
    const mem = results.memory;
    out.push('', '## Memory and replay', '');
    out.push(
      `${fmt(mem.keys)} keys of ${mem.keyBytes} B with values of ${mem.valueBytes} B, loaded through /batch at ${fmt(mem.loadOpsPerSec)} keys/s.`,
      '',
    );
    out.push(
      'Bytes per key: (RSS at rest - RSS of the empty server) / keys. Lally and Redis at rest after a compaction ' +
        "(Lally's automatic one, Redis's BGREWRITEAOF) once the RSS stopped moving; peak: the highest RSS sampled " +
        "every 100 ms while that compaction ran (a fork's own dirty pages included), per key the same way.",
      '',
      '| server | RSS empty | RSS at rest | bytes per key | ratio to payload (key + value) | peak during compaction | peak bytes per key | peak / rest | VmHWM |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const f of [mem.lally, ...mem.peers]) {
      out.push(
        `| ${f.target} | ${mib(f.rssBeforeBytes)} | ${mib(f.rssAfterBytes)} | ${fmt(f.bytesPerKey)} | ${ratioText(f.ratioToPayload)} | ${mib(f.peakBytes ?? null)} | ${fmt(f.peakBytesPerKey ?? null)} | ${ratioText(f.ratioPeakToRest ?? null)} | ${mib(f.highWaterBytes ?? null)} |`,
      );
    }
    const l = mem.lally;
    if (l.tableBytes !== undefined) {
      out.push(
        '',
        `Lally at rest: shard tables (arena to its top, index, directory) ${mib(l.tableBytes)}, shard-thread heaps ${mib(l.shardHeapBytes ?? null)}` +
          `${l.note ? `; ${l.note}` : ''}.`,
      );
    }
    out.push(
      '',
      `Start on an empty data dir: ${fmt(mem.emptyStartMs)} ms; restart replaying the AOF: ${fmt(mem.replayMs)} ms ` +
        `(${ratioText(mem.ratioReplayToEmptyStart)} the empty start), ${fmt(mem.keysAfterReplay)} keys live afterwards.`,
    );
  }
  out.push(...durabilitySection(results));
  if (results.peers.length > 0) out.push('', '## Peers', '', '| peer | status | install |', '|---|---|---|');
  for (const p of results.peers)
    out.push(
      `| ${p.name} | ${p.status}${p.reason ? `: ${p.reason}` : ''} | ${p.install ? `\`${p.install}\`` : ''} |`,
    );
  if (results.skipped.length > 0) {
    out.push(
      '',
      '## Skipped',
      '',
      ...results.skipped.map((s) => `- **${s.scenario}**: skipped: ${s.reason}`),
    );
  }
  if (charts.size > 0) {
    out.push('', '## Charts', '', ...[...charts.keys()].map((name) => `![${name}](${name})`));
  }
  out.push('');
  return { markdown: out.join('\n'), charts };
}

/** The HTTP-level AOF figures: PUT per fsync policy, reads while syncs run, compaction, replay. */
function durabilitySection(results: BenchResults): string[] {
  const out: string[] = [];
  const puts = aofPutRatios(results.cases);
  const reads = results.aofReads;
  const comp = results.compaction;
  const replay = results.replay;
  if (puts.length === 0 && !reads && !comp && !replay) return out;
  out.push('', '## Durability (AOF over HTTP)');
  if (puts.length > 0) {
    out.push('', '| PUT 16 B, AOF | ops/s | ratio to --no-aof |', '|---|---:|---:|');
    for (const p of puts) out.push(`| ${p.aof} | ${fmt(p.opsPerSec)} | ${ratioText(p.ratioToNoAof)} |`);
  }
  if (reads) {
    out.push('', '### Reads while syncs run', '', reads.method, '');
    out.push(
      '| AOF | GET p50 µs | GET p99 µs | GET p99.9 µs | GET p99 / no-AOF | PUT ops/s | PUT / no-AOF | syncs/s |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const c of reads.cases) {
      out.push(
        `| ${c.aof} | ${fmt(c.getUs.p50)} | ${fmt(c.getUs.p99)} | ${fmt(c.getUs.p999)} | ${ratioText(c.ratioGetP99ToNoAof)} | ${fmt(c.putOpsPerSec)} | ${ratioText(c.ratioPutToNoAof)} | ${fmt(c.syncsPerSec)} |`,
      );
    }
  }
  if (comp) {
    out.push(
      '',
      '### Compaction',
      '',
      `${fmt(comp.updates)} PUTs over ${fmt(comp.keys)} keys (${comp.valueBytes} B values) through /batch in ${comp.loadSec} s, ` +
        `--aof-rewrite-min-size ${mib(comp.rewriteMinSizeBytes)} (per shard); sizes summed over shards from GET /stats.`,
      '',
      '| figure | bytes |',
      '|---|---:|',
      `| log without compaction (updates x record) | ${mib(comp.uncompactedBytes)} |`,
      `| largest AOF size seen | ${mib(comp.peakBytes)} |`,
      `| before the last rewrite | ${mib(comp.bytesBeforeLastRewrite)} |`,
      `| after the last rewrite | ${mib(comp.bytesAfterLastRewrite)} |`,
      `| at the end | ${mib(comp.finalBytes)} |`,
      `| live data: records (keys x record) | ${mib(comp.liveRecordBytes)} |`,
      `| live data: payload (keys x (key + value)) | ${mib(comp.livePayloadBytes)} |`,
      '',
      `${fmt(comp.rewrites)} automatic rewrites; after/before the last one ${ratioText(comp.ratioAfterToBefore)}; ` +
        `at the end ${ratioText(comp.ratioFinalToUncompacted)} of the uncompacted log and ${ratioText(comp.ratioFinalToLive)} of the live records.` +
        (comp.note ? ` ${comp.note}.` : ''),
    );
  }
  if (replay) {
    out.push(
      '',
      '### Replay',
      '',
      `${fmt(replay.keys)} records (${replay.keyBytes} B keys, ${replay.valueBytes} B values), spawn to ready.`,
      '',
      '| server | files | empty start ms | replay ms | records/s | records/s net of start | keys after | settings |',
      '|---|---:|---:|---:|---:|---:|---:|---|',
    );
    for (const f of [replay.lally, ...(replay.redis ? [replay.redis] : [])]) {
      out.push(
        `| ${f.target} | ${mib(f.fileBytes)} | ${fmt(f.emptyStartMs)} | ${fmt(f.replayMs)} | ${fmt(f.recordsPerSec)} | ${fmt(f.recordsPerSecNetOfStart)} | ${fmt(f.keysAfterReplay)} | ${f.settings} |`,
      );
    }
    out.push(
      '',
      `Lally / Redis: ${ratioText(replay.ratioToRedis)} (net of the process start: ${ratioText(replay.ratioToRedisNetOfStart)}).` +
        (replay.note ? ` ${replay.note}.` : ''),
    );
  }
  return out;
}
