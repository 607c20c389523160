import { EventEmitter } from 'node:events';
import { type DestinationStream, type Logger, pino } from 'pino';
import t from 'tap';
import { guardShardThread } from '../../src/shard/crash-guard.js';

/** A process stand-in whose exit() records the code instead of exiting. */
class FakeProcess extends EventEmitter {
  readonly exits: number[] = [];
  readonly exited: Promise<number>;
  #onExit: (code: number) => void = () => {};
  constructor() {
    super();
    this.exited = new Promise((resolve) => {
      this.#onExit = resolve;
    });
  }
  exit(code?: number): never {
    this.exits.push(code ?? 0);
    this.#onExit(code ?? 0);
    return undefined as never;
  }
}

function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[]; flushes: () => number } {
  const lines: Record<string, unknown>[] = [];
  let flushes = 0;
  const logger = pino({ level: 'info' }, {
    write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>),
    flush: (cb: (err?: Error) => void) => {
      flushes++;
      setImmediate(cb);
    },
  } as unknown as DestinationStream);
  return { logger, lines, flushes: () => flushes };
}

function guard() {
  const proc = new FakeProcess();
  const { logger, lines, flushes } = capturingLogger();
  const calls: string[] = [];
  const fatal: [string, string][] = [];
  guardShardThread(
    proc,
    4,
    logger,
    () => calls.push('closeSockets'),
    (code, message) => {
      calls.push('reportFatal');
      fatal.push([code, message]);
    },
  );
  return { proc, lines, calls, fatal, flushes };
}

t.test("'exit' closes the sockets, and nothing else", async (t) => {
  const { proc, calls, fatal, lines } = guard();
  t.equal(proc.listenerCount('exit'), 1);
  proc.emit('exit', 0);
  t.same(calls, ['closeSockets']);
  t.same(fatal, []);
  t.same(lines, []);
  t.same(proc.exits, [], 'exit is not called again');
});

t.test("'uncaughtException' logs fatal, reports, closes the sockets, then exits 1", async (t) => {
  const { proc, calls, fatal, lines, flushes } = guard();
  proc.emit('uncaughtException', new Error('kaboom'));
  t.same(calls, ['reportFatal', 'closeSockets'], 'report first, then close');
  t.same(fatal, [['LALLY_ERR_SHARD_CRASHED', 'kaboom']]);
  t.equal(lines.length, 1);
  const line = lines[0]!;
  t.equal(line.level, 60, 'fatal');
  t.equal(line.msg, 'shard 4 crashed: kaboom');
  t.equal(line.shard, 4);
  t.equal((line.err as { message: string }).message, 'kaboom');
  t.same(proc.exits, [], 'the exit waits for the logger to flush');
  t.equal(await proc.exited, 1);
  t.same(proc.exits, [1]);
  t.equal(flushes(), 1, 'the logger was flushed');
});

t.test("'unhandledRejection' with a non-Error reason crashes the same way", async (t) => {
  const { proc, calls, fatal, lines } = guard();
  proc.emit('unhandledRejection', 'just a string');
  t.same(fatal, [['LALLY_ERR_SHARD_CRASHED', 'just a string']]);
  t.same(calls, ['reportFatal', 'closeSockets']);
  t.equal(lines[0]?.msg, 'shard 4 crashed: just a string');
  t.equal(await proc.exited, 1);
  // The real process emits 'exit' on the way out: the sockets are closed again, harmlessly.
  proc.emit('exit', 1);
  t.same(calls, ['reportFatal', 'closeSockets', 'closeSockets']);
});

t.test('a logger without flush still lets the thread exit', async (t) => {
  const proc = new FakeProcess();
  const closes: number[] = [];
  guardShardThread(
    proc,
    0,
    pino({ level: 'silent' }, { write: () => {} }),
    () => closes.push(1),
    () => {},
  );
  proc.emit('uncaughtException', new Error('x'));
  t.equal(await proc.exited, 1);
  t.same(closes, [1]);
});
