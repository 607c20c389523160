import type { Logger } from 'pino';
import { flushLogger } from '../log/logger.js';

interface ThreadProcess {
  on(event: 'exit', listener: (code: number) => void): unknown;
  on(event: 'uncaughtException' | 'unhandledRejection', listener: (error: unknown) => void): unknown;
  exit(code?: number): never;
}

/**
 * A worker thread that ends while uWS still holds sockets aborts the whole process inside Node (its
 * event loop cannot close), before anything is logged. So a shard closes its sockets on the way out,
 * whatever the way: process.exit() from a hook, or an uncaught error, which is logged as fatal and
 * reported to the main thread first (the node then stops rather than serve a partial keyspace).
 */
export function guardShardThread(
  proc: ThreadProcess,
  shard: number,
  logger: Logger,
  closeSockets: () => void,
  reportFatal: (code: string, message: string) => void,
): void {
  proc.on('exit', () => closeSockets());
  const crash = (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    logger.fatal({ err: error, shard }, `shard ${shard} crashed: ${message}`);
    reportFatal('LALLY_ERR_SHARD_CRASHED', message);
    closeSockets();
    void flushLogger(logger).finally(() => proc.exit(1));
  };
  proc.on('uncaughtException', crash);
  proc.on('unhandledRejection', crash);
}
