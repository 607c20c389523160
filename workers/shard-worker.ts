/**
 * Entry of one shard worker thread. Thin on purpose: all logic lives in src/ (tested on the main
 * thread); this file only wires the thread's parentPort and workerData into a ShardRuntime.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../src/log/logger.js';
import type { ShardWorkerData } from '../src/shard/control-messages.js';
import { guardShardThread } from '../src/shard/crash-guard.js';
import { openShardLog } from '../src/shard/open-shard-log.js';
import { RingTransport } from '../src/shard/ring-transport.js';
import { type ControlChannel, ShardRuntime } from '../src/shard/shard-runtime.js';

const data = workerData as ShardWorkerData;
const logger = createLogger({ level: data.config.logLevel }).child({ shard: data.shard });
const runtime = new ShardRuntime({
  data,
  control: parentPort as unknown as ControlChannel,
  logger,
  transport: new RingTransport(data.shard, data.rings, data.config.ringIdleTurns),
  openLog: (onSync) => openShardLog(data.config, data.shard, logger, onSync),
});
guardShardThread(
  process,
  data.shard,
  logger,
  () => runtime.closeSockets(),
  (code, message) => runtime.reportFatal(code, message),
);
void runtime.start();
