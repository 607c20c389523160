/**
 * The rejoin rule (docs/convergence.md): `<dataDir>/last-seen` holds the last time this node was up
 * (ISO 8601 and ms, rewritten atomically about every tenth of the tombstone grace period, at most every
 * minute, and at shutdown). A node whose data is older than the grace period may hold values whose
 * deletes the other members have since collected: anti-entropy would find those values on it alone
 * and copy them back everywhere. So such a node refuses to start in a cluster, and says what to do.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, LallyError } from '../errors.js';
import { writeFileAtomic } from '../fs/durable-file.js';

export const LAST_SEEN_FILE = 'last-seen';

export async function readLastSeen(dataDir: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(join(dataDir, LAST_SEEN_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LallyError(ErrorCodes.AOF_IO, `cannot read ${join(dataDir, LAST_SEEN_FILE)}`, { cause: error });
  }
  const ms = Number(text.trim().split(/\s+/)[1]);
  // A damaged file says nothing: the node goes on (the rule is a guard, not a lock).
  return Number.isSafeInteger(ms) && ms > 0 ? ms : undefined;
}

export function writeLastSeen(dataDir: string, ms: number): Promise<void> {
  return writeFileAtomic(dataDir, LAST_SEEN_FILE, `${new Date(ms).toISOString()} ${ms}\n`);
}

/**
 * Throws LALLY_ERR_CONFIG (exit 2) when a node that has other members to rejoin was last up more
 * than `graceMs` ago.
 */
export async function checkAwayTime(opts: {
  dataDir: string;
  graceMs: number;
  rejoins: boolean;
  now?: number;
}): Promise<void> {
  if (!opts.rejoins) return;
  const last = await readLastSeen(opts.dataDir);
  if (last === undefined) return;
  const now = opts.now ?? Date.now();
  const away = now - last;
  if (away <= opts.graceMs) return;
  const days = (ms: number) => `${(ms / 86_400_000).toFixed(1)} days`;
  throw new LallyError(
    ErrorCodes.CONFIG,
    `this node was last up ${new Date(last).toISOString()}, ${days(away)} ago: longer than the tombstone ` +
      `grace period (--tombstone-grace-ms ${opts.graceMs}, ${days(opts.graceMs)}). The other members may have ` +
      `collected deletes made meanwhile, and this node's data would bring those keys back. Wipe its data ` +
      `directory (rm -rf ${opts.dataDir}) and start it again: it then joins as a new node (give it ` +
      `--seed-node) and receives its data from the members.`,
  );
}

/** Keeps the file fresh while the node runs. */
export class LastSeenClock {
  readonly #dataDir: string;
  readonly #everyMs: number;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(dataDir: string, graceMs: number) {
    this.#dataDir = dataDir;
    this.#everyMs = Math.max(1000, Math.min(60_000, Math.floor(graceMs / 10)));
  }

  start(): Promise<void> {
    this.#timer = setInterval(() => void this.touch(), this.#everyMs);
    this.#timer.unref();
    return this.touch();
  }

  touch(): Promise<void> {
    this.#writing = this.#writing.then(() => writeLastSeen(this.#dataDir, Date.now())).catch(() => undefined);
    return this.#writing;
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.touch();
  }
}
