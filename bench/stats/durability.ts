import { ratio } from './percentiles.js';

/**
 * Pure helpers of the durability scenarios (`aofreads`, `compaction`, `replay`): parsing Redis INFO and
 * Lally's GET /stats, and the ratio math, kept apart so that tests can reach them without processes.
 */

/** `INFO` output (`# Section` headers, `field:value` lines, CRLF or LF) as a flat field -> value map. */
export function parseRedisInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** Keys of db0 from INFO's `keyspace` line (`db0:keys=1000000,expires=0,avg_ttl=0`); 0 when absent. */
export function redisKeyCount(info: Map<string, string>, db = 0): number {
  const line = info.get(`db${db}`);
  if (!line) return 0;
  const match = /(?:^|,)keys=(\d+)/.exec(line);
  return match ? Number(match[1]) : 0;
}

/** True when INFO says the server has finished loading (`loading:0`) and holds `expectedKeys` keys. */
export function redisLoaded(info: Map<string, string>, expectedKeys: number): boolean {
  return info.get('loading') === '0' && redisKeyCount(info) >= expectedKeys;
}

/** Records per second of a replay of `records` that took `ms`; null when nothing is known. */
export function recordsPerSec(records: number | null, ms: number | null): number | null {
  if (records === null || ms === null || !Number.isFinite(ms) || ms <= 0) return null;
  return Math.round((records / ms) * 1000);
}

/** Bytes of one Lally AOF record (docs/aof.md): length 4, CRC 4, body 21 + key + value. */
export function aofRecordBytes(keyBytes: number, valueBytes: number): number {
  return 8 + 21 + keyBytes + valueBytes;
}

/** The AOF figures of one shard in GET /stats (only the ones the bench reads). */
export interface ShardAofStats {
  bytes: number;
  rewrites: number;
  rewriteInProgress: boolean;
  sizeAfterLastRewrite: number;
  syncs: number;
}

/** Per-shard `aof` figures of a GET /stats answer; shards without them are left out. */
export function parseAofStats(stats: unknown): ShardAofStats[] {
  const shards = (stats as { shards?: unknown })?.shards;
  if (!Array.isArray(shards)) return [];
  const out: ShardAofStats[] = [];
  for (const shard of shards) {
    const aof = (shard as { aof?: Record<string, unknown> } | null)?.aof;
    if (!aof || typeof aof.bytes !== 'number') continue;
    const num = (v: unknown) => (typeof v === 'number' ? v : 0);
    out.push({
      bytes: aof.bytes,
      rewrites: num(aof.rewrites),
      rewriteInProgress: aof.rewriteInProgress === true,
      sizeAfterLastRewrite: num(aof.sizeAfterLastRewrite),
      syncs: num(aof.syncs),
    });
  }
  return out;
}

/**
 * Follows the shards' AOF sizes through /stats samples: the largest size seen, and for the last
 * rewrite of each shard the size just before it (the last sample before `rewrites` grew) and after
 * it (`sizeAfterLastRewrite`). Samples are taken every few tens of ms, so "before" is a lower bound.
 */
export class CompactionTracker {
  readonly peak: number[] = [];
  readonly beforeLast: (number | null)[] = [];
  #last: ShardAofStats[] = [];

  observe(shards: readonly ShardAofStats[]): void {
    shards.forEach((s, i) => {
      this.peak[i] = Math.max(this.peak[i] ?? 0, s.bytes);
      const prev = this.#last[i];
      if (prev && s.rewrites > prev.rewrites)
        this.beforeLast[i] = Math.max(prev.bytes, s.sizeAfterLastRewrite);
      else this.beforeLast[i] ??= null;
    });
    this.#last = shards.map((s) => ({ ...s }));
  }

  get latest(): readonly ShardAofStats[] {
    return this.#last;
  }

  /** Sum over shards of the size before each shard's last rewrite (null if some shard never rewrote). */
  sumBeforeLastRewrite(): number | null {
    if (this.beforeLast.length === 0 || this.beforeLast.some((b) => b === null)) return null;
    return this.beforeLast.reduce<number>((sum, b) => sum + (b ?? 0), 0);
  }

  sumPeak(): number {
    return this.peak.reduce((sum, b) => sum + b, 0);
  }
}

/** PUT ops/s of each AOF setting of the `aof` scenario over the --no-aof case (`off`), by setting. */
export function aofPutRatios(
  cases: readonly { scenario: string; aof: string | null; opsPerSec: number }[],
): { aof: string; opsPerSec: number; ratioToNoAof: number | null }[] {
  const aofCases = cases.filter((c) => c.scenario === 'aof' && c.aof !== null);
  const off = aofCases.find((c) => c.aof === 'off');
  return aofCases.map((c) => ({
    aof: c.aof!,
    opsPerSec: c.opsPerSec,
    ratioToNoAof: ratio(c.opsPerSec, off?.opsPerSec),
  }));
}
