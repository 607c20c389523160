import type { HopResult, KeyCountResult, KeyCountRun, ScaleResult } from '../results/schema.js';

const fmt = (x: number | null | undefined, digits = 0) =>
  x === null || x === undefined || !Number.isFinite(x)
    ? '–'
    : x.toLocaleString('en-US', { maximumFractionDigits: digits });
const ratioText = (x: number | null) => (x === null ? '–' : `${x.toFixed(2)}x`);
const mib = (bytes: number | null) => (bytes === null ? '–' : `${(bytes / 1024 / 1024).toFixed(0)} MiB`);

/** The PUT half of the hop section (a PUT of the other shard's key hops). */
export function hopPutSection(h: HopResult): string[] {
  const p = h.put;
  if (!p) return [];
  return [
    '',
    '| PUT path | p50 µs | p99 µs | p99.9 µs |',
    '|---|---:|---:|---:|',
    `| 1 shard (never hops) | ${fmt(p.oneShardUs.p50, 1)} | ${fmt(p.oneShardUs.p99, 1)} | ${fmt(p.oneShardUs.p999, 1)} |`,
    `| 2 shards, key on the receiving shard | ${fmt(p.localUs.p50, 1)} | ${fmt(p.localUs.p99, 1)} | ${fmt(p.localUs.p999, 1)} |`,
    `| 2 shards, key on the other shard (hop) | ${fmt(p.remoteUs.p50, 1)} | ${fmt(p.remoteUs.p99, 1)} | ${fmt(p.remoteUs.p999, 1)} |`,
    '',
    `A PUT hop costs **${fmt(p.hopCostUs, 1)} µs** at the median; the daemon counted ${fmt(p.hopsObserved)} hops ` +
      `while ${fmt(h.requestsPerSet)} PUTs went to each key set.`,
  ];
}

export function scaleSection(s: ScaleResult | null | undefined): string[] {
  if (!s) return [];
  const out = ['', '## Scale by model: CPU per request with 1 and 2 shards', '', s.method, ''];
  out.push(
    '| request | shards | req/s | cross-shard share | daemon CPU µs/req | shard threads | main thread | other threads | wrk µs/req | shard threads waiting for a core (rounds) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  );
  for (const c of s.cells) {
    const waits = s.runs
      .filter((r) => r.kind === c.kind && r.shards === c.shards)
      .map((r) =>
        (r.shardRunQueueWaitShare ?? [])
          .map((w) => (w === null ? '–' : `${(w * 100).toFixed(0)}%`))
          .join('+'),
      )
      .join(', ');
    out.push(
      `| ${c.kind.toUpperCase()} | ${c.shards} | ${fmt(c.requestsPerSec)} | ${fmt(c.crossFraction, 3)} | ${fmt(c.cpu.processUs, 2)} | ${fmt(c.cpu.shardThreadsUs, 2)} | ${fmt(c.cpu.mainThreadUs, 2)} | ${fmt(c.cpu.otherThreadsUs, 2)} | ${fmt(c.cpu.clientUs, 2)} | ${waits || '–'} |`,
    );
  }
  for (const m of s.models) {
    out.push(
      '',
      `${m.kind.toUpperCase()}: local ${fmt(m.localUs, 2)} µs, a cross-shard request adds ${fmt(m.crossExtraUs, 2)} µs ` +
        `(${m.kind === 'get' ? 'the direct read of the other table' : 'the hop'}); wrk ${fmt(m.clientUs, 2)} µs per request.`,
      '',
      '| cores = shards | cross share | CPU µs/req | req/s (daemon alone) | req/s (sharing with wrk) | ring memory |',
      '|---:|---:|---:|---:|---:|---:|',
      ...m.predictions.map(
        (p) =>
          `| ${p.cores} | ${fmt(p.crossFraction, 3)} | ${fmt(p.cpuUsPerRequest, 2)} | ${fmt(p.requestsPerSec)} | ${fmt(p.requestsPerSecWithClient)} | ${mib(p.ringBytes)} |`,
      ),
    );
  }
  out.push('', 'The model ignores:', ...s.ignores.map((i) => `- ${i}`));
  return out;
}

function runRow(label: string, r: KeyCountRun): string {
  const loops = r.eventLoopDelay.map((d) => fmt(d.maxMs, 1)).join(' / ');
  const waits = (r.shardRunQueueWaitShare ?? [])
    .map((w) => (w === null ? '–' : `${(w * 100).toFixed(0)}%`))
    .join(' / ');
  return `| ${label} | ${r.round} | ${fmt(r.requestsPerSec)} | ${fmt(r.latencyMs.p50, 3)} | ${fmt(r.latencyMs.p99, 3)} | ${fmt(r.latencyMs.p999, 3)} | ${fmt(r.latencyMs.max, 2)} | ${fmt(r.cpuUsPerRequest, 2)} | ${loops} | ${fmt(r.controlMaxMs, 1)} | ${waits || '–'} |`;
}

export function keyCountSection(k: KeyCountResult | null | undefined): string[] {
  if (!k) return [];
  const out = ['', '## GET latency against the key count', '', k.method, ''];
  for (const set of [k.small, k.large]) {
    out.push(
      `- ${fmt(set.keys)} keys: loaded in ${fmt(set.loadSec, 1)} s (${fmt(set.keys / set.loadSec)} keys/s), then ` +
        `${fmt(set.settleSec, 1)} s until no compaction ran, and 21 s idle; RSS ${mib(set.rssBytes)}; event-loop ` +
        `max per shard before the first run ${set.delayBeforeMs.map((m) => fmt(m, 1)).join(' / ')} ms.`,
    );
  }
  out.push(
    '',
    '| keys, load | round | req/s | p50 ms | p99 ms | p99.9 ms | max ms | CPU µs/GET | event-loop max ms per shard | idle probe max ms | shard threads waiting for a core |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|',
  );
  for (const [label, runs] of [
    [`${fmt(k.small.keys)}, ${fmt(k.rate)}/s`, k.small.fixedRate],
    [`${fmt(k.large.keys)}, ${fmt(k.rate)}/s`, k.large.fixedRate],
    [`${fmt(k.small.keys)}, max`, k.small.throughput],
    [`${fmt(k.large.keys)}, max`, k.large.throughput],
  ] as const) {
    for (const r of runs) out.push(runRow(label, r));
  }
  const f = k.ratios.fixedRate;
  const t = k.ratios.throughput;
  out.push(
    '',
    `Large over small (medians over rounds), at ${fmt(k.rate)}/s: p50 ${ratioText(f.p50)}, p99 ${ratioText(f.p99)}, ` +
      `**p99.9 ${ratioText(f.p999)}** (goal at most 1.5x), max ${ratioText(f.max)}; as fast as possible: ` +
      `${ratioText(t.requestsPerSec)} the throughput, p99 ${ratioText(t.p99)}, p99.9 ${ratioText(t.p999)}. ` +
      `Longest event-loop stall of the large set's shards: at least ${fmt(k.largestStallAtLeastMs, 1)} ms (goal: none above 20 ms).`,
  );
  return out;
}
