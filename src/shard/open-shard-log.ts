import type { Logger } from 'pino';
import type { LallyConfig } from '../config/types.js';
import type { ShardLog } from './shard-runtime.js';

/** Opens shard `shard`'s AOF as the config asks, or nothing when the AOF is off (`--no-aof`). */
export async function openShardLog(
  config: LallyConfig,
  shard: number,
  logger: Logger,
  onSync?: (elapsedMs: number) => void,
): Promise<ShardLog | undefined> {
  if (!config.aof) return undefined;
  const { ShardAof } = await import('../aof/shard-aof.js');
  return ShardAof.open({
    dataDir: config.dataDir,
    shard,
    shards: config.shards,
    fsync: config.aofFsync,
    flushIntervalMs: config.aofFlushInterval,
    rewriteMinSize: config.aofRewriteMinSize,
    rewritePercentage: config.aofRewritePercentage,
    tombstoneGraceMs: config.tombstoneGraceMs,
    logger,
    ...(onSync === undefined ? {} : { onSync }),
  });
}
