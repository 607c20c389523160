/**
 * The logger: pino, JSON lines by default, pretty (pino-pretty, formatted in-thread) when the output is
 * a terminal. One per thread: the main thread and each shard worker call `createLogger` themselves.
 *
 * Per-shard loggers are children: `const log = createLogger({ level }).child({ shard: n })`, so every
 * line a shard writes carries `"shard": n`. Children share their parent's destination.
 *
 * Worker threads. A worker's `process.stdout` is a stream piped through the main thread; we bypass it
 * and write straight to fd 1 (fds are process-wide), as pino does by default in a worker. Lines from
 * several threads do not tear: each write is whole lines, and write(2) on a pipe of at most PIPE_BUF
 * (4 KiB) bytes is atomic (longer writes may interleave with another thread's). With `sync: false`
 * (the default for JSON) the lines are buffered and written asynchronously. pino flushes that buffer at
 * exit on the main thread only (it registers its exit hook when `isMainThread`), so a worker must
 * `await flushLogger(log)` before it exits or reports that it has stopped; otherwise its last lines may
 * be lost when it is terminated.
 */
import { createRequire } from 'node:module';
import { isatty } from 'node:tty';
import { type DestinationStream, type Logger as PinoLogger, pino } from 'pino';
import type * as PinoPretty from 'pino-pretty';
import type { LogLevel } from '../config/types.js';

export type Logger = PinoLogger;
export type { LogLevel };

export interface LoggerOptions {
  readonly level: LogLevel;
  /** Human-readable lines instead of JSON. Default: when the destination is a terminal. */
  readonly pretty?: boolean;
  /** Added to every line as `name`. */
  readonly name?: string;
  /** A file descriptor (default 1, stdout), a file path (appended to), or any pino destination stream. */
  readonly destination?: number | string | DestinationStream;
  /** Write each line before returning. Default: true when pretty (a terminal), false for JSON. */
  readonly sync?: boolean;
}

type FlushableStream = DestinationStream & { flush?: (cb: (err?: Error) => void) => void };

export function createLogger(opts: LoggerOptions): Logger {
  const dest = opts.destination ?? 1;
  const terminal = typeof dest === 'number' && isatty(dest);
  const pretty = opts.pretty ?? terminal;
  const sink: FlushableStream = typeof dest === 'object' ? dest : fdOrFile(dest, opts.sync ?? pretty);
  const stream = pretty ? prettyStream(sink, terminal) : sink;
  return pino({ level: opts.level, ...(opts.name === undefined ? {} : { name: opts.name }) }, stream);
}

/**
 * A pino (SonicBoom) destination whose `flush` waits until every line has been written. SonicBoom's own
 * `flush(cb)` calls back at once when `minLength` is 0 (pino's default), even with a write in flight, so
 * it cannot tell a worker that it may exit. SonicBoom emits 'drain' whenever an asynchronous write run
 * ends with nothing left to write, so "written since the last drain" is all we need to track.
 */
function fdOrFile(dest: number | string, sync: boolean): FlushableStream {
  const sonic = pino.destination({ dest, sync, mkdir: true });
  let pending = false;
  let waiters: (() => void)[] = [];
  const settle = (): void => {
    pending = false;
    const ready = waiters;
    waiters = [];
    for (const waiter of ready) waiter();
  };
  sonic.on('drain', settle);
  sonic.on('close', settle);
  return {
    write(line: string): void {
      pending = !sync;
      sonic.write(line);
    },
    flush(cb: (err?: Error) => void): void {
      if (pending) waiters.push(cb);
      else cb();
    },
  };
}

/**
 * pino-pretty's own stream is asynchronous; formatting in the writing thread keeps pretty output
 * synchronous and lets `flushLogger` reach the underlying destination.
 */
function prettyStream(sink: FlushableStream, colorize: boolean): FlushableStream {
  // Loaded only for a terminal: pino-pretty and its dependencies cost every thread (the main one and
  // each shard's) about 50 ms of CPU at start, and a node run by a supervisor or a bench logs JSON.
  // require, not import(): createLogger is synchronous, and pino-pretty is a CommonJS package.
  const { prettyFactory } = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
  const format = prettyFactory({ colorize, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
  return {
    write(line: string): void {
      sink.write(format(line));
    },
    flush(cb: (err?: Error) => void): void {
      if (typeof sink.flush === 'function') sink.flush(cb);
      else cb();
    },
  };
}

/**
 * Write out whatever the logger has buffered. Resolves once the destination has taken it, or after
 * `timeoutMs`, and never rejects: a logger that cannot write (say, a closed pipe) must not stop a
 * shutdown. A worker awaits this before it reports that it has stopped.
 */
export function flushLogger(logger: Logger, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    try {
      logger.flush(done);
    } catch {
      done();
    }
  });
}
