/**
 * grpc-js's own diagnostics (a bad option, a failed proxy connect, and with GRPC_TRACE set its tracers)
 * go to stderr as `E 2026-... | v1.14.7 1234 | subchannel | ...` by default, outside the daemon's
 * JSON lines. `routeGrpcLogs` sends them to the daemon's pino logger instead, as `component: 'grpc'`:
 * grpc's ERROR as error, INFO as info, DEBUG as debug, a tracer's name as `tracer`. Error and info
 * lines are rate-limited per tracer (a subchannel failing in a loop costs a line a second and a
 * count); debug lines, wanted only when someone turned debug on, are not.
 *
 * grpc-js keeps one logger per process (per thread that loads it), so the last call wins; the returned
 * function puts back the logger and verbosity that were there before.
 */
import { format } from 'node:util';
import { logVerbosity, setLogger, setLogVerbosity } from '@grpc/grpc-js';
import { getLogger } from '@grpc/grpc-js/build/src/logging.js';
import type { Logger } from 'pino';
import { RateLimitedLogs } from '../log/rate-limited.js';

/** `<ISO time> | v<version> <pid> | <tracer> | <text>`, as grpc-js's trace() writes it. */
const TRACE_LINE = /^\d{4}-\d\d-\d\dT[\d:.]+Z \| v\S+ \d+ \| ([^|]+?) \| ([\s\S]*)$/;

export interface GrpcLogLine {
  readonly tracer: string | undefined;
  readonly text: string;
}

/** Splits what grpc-js passes to its logger into the tracer (if it came from a tracer) and the text. */
export function parseGrpcLog(args: readonly unknown[]): GrpcLogLine {
  const line = format(...args);
  const match = TRACE_LINE.exec(line);
  return match === null ? { tracer: undefined, text: line } : { tracer: match[1], text: match[2]! };
}

/**
 * The verbosity that lets through what `logger` would print: grpc-js formats every line it passes
 * on, so lines below the logger's level are not even made. GRPC_VERBOSITY / GRPC_NODE_VERBOSITY, when
 * set, are grpc-js's documented switches and win.
 */
function verbosityFor(logger: Logger): number | undefined {
  if ((process.env.GRPC_NODE_VERBOSITY ?? process.env.GRPC_VERBOSITY ?? '') !== '') return undefined;
  if (logger.isLevelEnabled('debug')) return logVerbosity.DEBUG;
  if (logger.isLevelEnabled('info')) return logVerbosity.INFO;
  return logVerbosity.ERROR;
}

/** Routes grpc-js's logging into `logger` (see the top of the file); returns the undo. */
export function routeGrpcLogs(logger: Logger, intervalMs = 1000): () => void {
  const log = logger.child({ component: 'grpc' });
  const limited = new RateLimitedLogs(log, intervalMs);
  const send = (level: 'error' | 'info', args: unknown[]): void => {
    const { tracer, text } = parseGrpcLog(args);
    limited.log(level, tracer ?? '', tracer === undefined ? {} : { tracer }, text);
  };
  const previous = getLogger();
  setLogger({
    error: (...args: unknown[]) => send('error', args),
    info: (...args: unknown[]) => send('info', args),
    debug: (...args: unknown[]) => {
      const { tracer, text } = parseGrpcLog(args);
      log.debug(tracer === undefined ? {} : { tracer }, text);
    },
  });
  const verbosity = verbosityFor(logger);
  if (verbosity !== undefined) setLogVerbosity(verbosity);
  return () => {
    limited.flush();
    setLogger(previous);
    if (verbosity !== undefined) setLogVerbosity(logVerbosity.ERROR);
  };
}
