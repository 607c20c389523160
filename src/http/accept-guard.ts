/**
 * Keeps a shard from spinning when the process runs out of file descriptors.
 *
 * uWebSockets.js accepts connections in native code (uSockets' loop.c). When accept() fails with
 * EMFILE or ENFILE it does nothing ("Todo: start timer here"): the connection stays queued, the listen
 * socket stays readable in epoll (level-triggered), and the thread's loop wakes again at once. Measured
 * under `ulimit -n 256` with 400 idle client sockets: 91% of a core with 2 shards, and no error that JS
 * could see. Node already raises the soft RLIMIT_NOFILE to the hard limit at start; past the hard limit
 * nothing a process can do from JS adds descriptors.
 *
 * So the guard probes the headroom every `intervalMs` (1 s) by opening `reserve` descriptors (/dev/null) and
 * closing them (a few syscalls; the cost does not grow with the descriptors in use, unlike counting
 * /proc/self/fd). When they cannot all be opened, the shard closes its listening socket: the kernel
 * then refuses new connections instead of the loop spinning on them, and the descriptors that are left
 * stay for the AOF and its compaction. Once twice the reserve can be opened, the shard listens again on
 * the same port. Connections already accepted are served throughout.
 */
import { closeSync, openSync, readFileSync } from 'node:fs';
import type { Logger } from 'pino';

export interface AcceptGuardOptions {
  /** Stops accepting (closes the listening socket). */
  pause(): void;
  /** Listens again; false if that failed (tried again at the next probe). */
  resume(): boolean;
  readonly logger: Logger;
  readonly reserve?: number;
  readonly intervalMs?: number;
  /** Whether `count` more descriptors could be opened now (tests pass their own). */
  readonly probe?: (count: number) => boolean;
}

const DEFAULT_RESERVE = 32;
/**
 * One probe is 2 x 32 syscalls (about 1 ms of one thread, measured as 320 opens a second per shard at
 * 200 ms): once a second keeps that near 0.1% of a core, and a spin, should one start, lasts a second
 * at most.
 */
const DEFAULT_INTERVAL_MS = 1000;

export class AcceptGuard {
  readonly #o: AcceptGuardOptions;
  readonly #probe: (count: number) => boolean;
  readonly #reserve: number;
  #timer: NodeJS.Timeout | undefined;
  #paused = false;
  #pausedAt = 0;
  #pauses = 0;

  constructor(o: AcceptGuardOptions) {
    this.#o = o;
    this.#probe = o.probe ?? canOpen;
    this.#reserve = o.reserve ?? DEFAULT_RESERVE;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** How many times accepting was paused. */
  get pauses(): number {
    return this.#pauses;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.check(), this.#o.intervalMs ?? DEFAULT_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Stops probing (the node is stopping; it closes its sockets itself). */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One probe (the timer calls this). */
  check(): void {
    if (!this.#paused) {
      if (this.#probe(this.#reserve)) return;
      this.#paused = true;
      this.#pausedAt = Date.now();
      this.#pauses++;
      this.#o.pause();
      this.#o.logger.warn(
        { openFilesLimit: openFilesLimit(), reserve: this.#reserve },
        'out of file descriptors: not accepting new connections until some are free',
      );
      return;
    }
    if (!this.#probe(this.#reserve * 2) || !this.#o.resume()) return;
    this.#paused = false;
    this.#o.logger.warn(
      { pausedMs: Date.now() - this.#pausedAt },
      'file descriptors are free again: accepting connections',
    );
  }
}

/** Whether `count` more descriptors can be opened now; they are closed again at once. */
export function canOpen(count: number): boolean {
  const fds: number[] = [];
  try {
    for (let i = 0; i < count; i++) fds.push(openSync('/dev/null', 'r'));
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EMFILE' || code === 'ENFILE') return false;
    return true; // another failure says nothing about descriptors: do not stop serving for it
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

/** The soft RLIMIT_NOFILE, from /proc (Linux), for the log; undefined elsewhere. */
export function openFilesLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}
