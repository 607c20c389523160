import type { LallyConfig } from '../config/types.js';
import { readVersion } from '../config/version.js';
import { Daemon } from '../daemon/daemon.js';
import { exposureWarnings } from '../daemon/exposure-warnings.js';
import { ErrorCodes, LallyError } from '../errors.js';
import { createLogger, flushLogger, type Logger } from '../log/logger.js';
import { type MallocTuning, tuneMalloc } from '../native/malloc-tuning.js';

/**
 * Runs a node until SIGINT/SIGTERM. The first signal stops it gracefully (bounded by
 * shutdown_timeout_ms); a second signal, or the bound, forces the exit.
 */
export async function runDaemon(config: LallyConfig, warnings: readonly string[]): Promise<number> {
  // Before the shard threads start: it is process-wide (src/native/malloc-tuning.ts says why).
  const malloc = tuneMalloc(process.env);
  const logger = createLogger({ level: config.logLevel });
  for (const warning of warnings) logger.warn(warning);
  for (const warning of exposureWarnings(config)) logger.warn({ security: 'open' }, warning);
  const daemon = new Daemon(config, logger);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      forceExit(logger, `second ${signal}: forcing exit`);
      return;
    }
    logger.info(
      { signal },
      'shutting down: no new connections, finishing in-flight requests, flushing the AOF',
    );
    const timer = setTimeout(
      () => forceExit(logger, `shutdown took longer than ${config.shutdownTimeoutMs} ms: forcing exit`),
      config.shutdownTimeoutMs,
    );
    timer.unref();
    void daemon.shutdown();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const info = await daemon.start();
    const scheme = config.tlsCert === undefined ? 'http' : 'https';
    logger.info(
      {
        version: await readVersion(),
        nodeId: info.nodeId,
        nodeIdCreated: info.nodeIdCreated,
        http: `${scheme}://${config.host}:${info.httpPort}`,
        grpcPort: info.grpcPort,
        address: info.address,
        members: info.members,
        shards: info.shards,
        dataDir: config.aof ? config.dataDir : null,
        aof: config.aof ? config.aofFsync : 'off',
        config: config.configPath ?? 'defaults, environment and flags',
        replayedRecords: info.records,
        replayMs: info.replayMs,
        malloc: mallocText(malloc),
      },
      `lally listening on ${scheme}://${config.host}:${info.httpPort} with ${info.shards} shards (node ${info.nodeId})`,
    );
  } catch (error) {
    const code = error instanceof LallyError ? error.code : undefined;
    const message = error instanceof Error ? error.message : String(error);
    // One line for people (as a bad configuration gets), on stderr; the details for debugging.
    logger.debug({ code, err: error }, `lally could not start: ${message}`);
    process.stderr.write(
      `lally: could not start: ${oneLine(message)}${code === undefined ? '' : ` (${code})`}\n`,
    );
    // The daemon terminates shards that never listened by itself; one that listens and does not close
    // (a hook stuck in a loop) could hold the process forever, so a failed start is bounded here too.
    const timer = setTimeout(
      () =>
        forceExit(
          logger,
          `stopping after the failed start took longer than ${config.shutdownTimeoutMs} ms: forcing exit`,
        ),
      config.shutdownTimeoutMs,
    );
    timer.unref();
    await daemon.exited;
    clearTimeout(timer);
    await flushLogger(logger);
    return code === ErrorCodes.CONFIG ? 2 : 1;
  }
  const exitCode = await daemon.exited;
  logger.info({ exitCode }, exitCode === 0 ? 'lally stopped cleanly' : 'lally stopped after a failure');
  await flushLogger(logger);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  return exitCode;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * Worker threads that still hold sockets abort the process when it exits normally (Node checks their
 * event loops), so a forced exit kills the process outright, after the log is written.
 */
function forceExit(logger: Logger, reason: string): void {
  logger.error(reason);
  void flushLogger(logger).finally(() => process.kill(process.pid, 'SIGKILL'));
}

/** How glibc's malloc is set, for the start line. */
export function mallocText(tuning: MallocTuning): string {
  switch (tuning.kind) {
    case 'tuned':
      return `mmap threshold fixed at ${tuning.mmapThresholdBytes / 1024} KiB`;
    case 'environment':
      return `as ${tuning.variable} sets it`;
    case 'unavailable':
      return `defaults (${tuning.reason})`;
  }
}
