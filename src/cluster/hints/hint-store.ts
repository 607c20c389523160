/**
 * Hints: writes a replica missed (it was down, unreachable, or refused them), kept by the node that
 * coordinated them until that replica can take them (src/cluster/hints/hint-delivery.ts).
 *
 * On disk (with AOF): one append-only file per target member, `<dataDir>/hints/<member id>.hints`
 * (layout in hint-format.ts). Hints added in one event-loop turn are appended and fsynced together;
 * the file is removed once every hint in it was delivered, and rewritten (temp file, rename) once
 * more than half of it was. A torn tail after a crash is cut off when the store opens. Without a
 * directory (no AOF) hints live in memory only and die with the process.
 *
 * Every pending hint is also held in memory (delivery reads from there), so the byte bound bounds
 * both: past `maxBytes` a new hint is dropped (counted); a hint older than `maxAgeMs` is dropped
 * when next looked at. A dropped hint leaves the replica to read repair or a later catch-up.
 */
import { mkdir, open, readdir, readFile, rename, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { fsyncPath, tempPathFor } from '../../fs/durable-file.js';
import type { ReplicaRecord } from '../../rpc/codec.js';
import { decodeHints, encodeHints, type Hint, hintBytes } from './hint-format.js';

export interface HintStoreOptions {
  /** Where the hint files live; undefined: in memory only. */
  readonly dir: string | undefined;
  readonly maxBytes: number;
  readonly maxAgeMs: number;
  readonly logger?: Logger;
  readonly now?: () => number;
}

export interface HintCounters {
  /** Hints taken since the start. */
  added: number;
  delivered: number;
  /** Hints refused by the byte bound, expired by the age bound, or for a member that left. */
  dropped: number;
  /** Times a hint file could not be written (the hints stay in memory). */
  writeFailures: number;
}

/** The hints for one target, oldest first: `hints[head..]` are pending. */
interface TargetHints {
  readonly id: number;
  hints: Hint[];
  head: number;
  /** The last `unwritten` of the pending hints are not in the file yet. */
  unwritten: number;
  /** Bytes in the file, and of delivered (or expired) hints still in it. */
  fileBytes: number;
  deadBytes: number;
  fileExists: boolean;
  /** File operations of this target, one after another. */
  chain: Promise<void>;
}

const FILE_SUFFIX = '.hints';
/** A file is rewritten only once this much of it is dead (and more than half). */
const MIN_COMPACT_BYTES = 1024 * 1024;

export function hintFileName(target: number): string {
  return `${(target >>> 0).toString(16).padStart(8, '0')}${FILE_SUFFIX}`;
}

export class HintStore {
  readonly counters: HintCounters = { added: 0, delivered: 0, dropped: 0, writeFailures: 0 };
  readonly #opts: HintStoreOptions;
  readonly #now: () => number;
  readonly #targets = new Map<number, TargetHints>();
  #bytes = 0;
  #flushScheduled = false;
  #closed = false;

  private constructor(opts: HintStoreOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  /** Opens the store, reading the hint files there (a torn tail is cut off). */
  static async open(opts: HintStoreOptions): Promise<HintStore> {
    const store = new HintStore(opts);
    if (opts.dir !== undefined) await store.#load(opts.dir);
    return store;
  }

  /** Whether hints survive this process (false without AOF). */
  get durable(): boolean {
    return this.#opts.dir !== undefined;
  }

  /** Bytes of pending hints. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Pending hints, over every target. */
  get queued(): number {
    let n = 0;
    for (const t of this.#targets.values()) n += t.hints.length - t.head;
    return n;
  }

  /** Targets with pending hints. */
  targets(): number[] {
    return [...this.#targets.values()].filter((t) => t.hints.length > t.head).map((t) => t.id);
  }

  pending(target: number): number {
    const t = this.#targets.get(target);
    return t === undefined ? 0 : t.hints.length - t.head;
  }

  /** Keeps `record` for `target`; false when the byte bound refused it (counted as dropped). */
  add(target: number, record: ReplicaRecord): boolean {
    const size = hintBytes(record);
    if (this.#closed || this.#bytes + size > this.#opts.maxBytes) {
      this.counters.dropped++;
      return false;
    }
    const t = this.#target(target);
    t.hints.push({ record, addedAt: this.#now() });
    this.#bytes += size;
    this.counters.added++;
    if (this.#opts.dir !== undefined) {
      t.unwritten++;
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    }
    return true;
  }

  /**
   * The oldest pending hints of `target` that are on disk (all of them without a directory), at
   * most `maxRecords` and `maxBytes` (at least one); expired ones are dropped first.
   */
  peek(target: number, maxRecords: number, maxBytes: number): Hint[] {
    const t = this.#targets.get(target);
    if (t === undefined) return [];
    this.#expire(t);
    const end = t.hints.length - t.unwritten;
    const out: Hint[] = [];
    let bytes = 0;
    for (let i = t.head; i < end && out.length < maxRecords; i++) {
      const h = t.hints[i]!;
      const size = hintBytes(h.record);
      if (out.length > 0 && bytes + size > maxBytes) break;
      bytes += size;
      out.push(h);
    }
    return out;
  }

  /** The `count` oldest pending hints of `target` were acknowledged: they are gone. */
  delivered(target: number, count: number): void {
    const t = this.#targets.get(target);
    if (t === undefined) return;
    const n = Math.min(count, t.hints.length - t.unwritten - t.head);
    this.#drop(t, n);
    this.counters.delivered += n;
  }

  /** Drops the `count` oldest pending hints of `target` (the target refused them for good). */
  drop(target: number, count: number): void {
    const t = this.#targets.get(target);
    if (t === undefined) return;
    const n = Math.min(count, t.hints.length - t.unwritten - t.head);
    this.#drop(t, n);
    this.counters.dropped += n;
  }

  /** Drops every hint of `target` (the member left the cluster). */
  discard(target: number): void {
    const t = this.#targets.get(target);
    if (t === undefined) return;
    const n = t.hints.length - t.unwritten - t.head;
    this.#drop(t, n);
    this.counters.dropped += n;
  }

  /** Drops expired hints everywhere (delivery does it per target; this catches the others). */
  expire(): void {
    for (const t of this.#targets.values()) this.#expire(t);
  }

  /** Resolves once every hint added so far is written (or failed to be). */
  async flushed(): Promise<void> {
    if (this.#flushScheduled) this.#flush();
    await Promise.all([...this.#targets.values()].map((t) => t.chain));
  }

  /** Writes what is pending and takes no more hints. */
  async close(): Promise<void> {
    await this.flushed();
    this.#closed = true;
  }

  stats(): Record<string, unknown> {
    const targets: Record<string, number> = {};
    for (const t of this.#targets.values()) {
      const n = t.hints.length - t.head;
      if (n > 0) targets[hintFileName(t.id).slice(0, 8)] = n;
    }
    return { durable: this.durable, queued: this.queued, bytes: this.#bytes, ...this.counters, targets };
  }

  #target(id: number): TargetHints {
    let t = this.#targets.get(id);
    if (t === undefined) {
      t = {
        id,
        hints: [],
        head: 0,
        unwritten: 0,
        fileBytes: 0,
        deadBytes: 0,
        fileExists: false,
        chain: Promise.resolve(),
      };
      this.#targets.set(id, t);
    }
    return t;
  }

  #expire(t: TargetHints): void {
    const oldest = this.#now() - this.#opts.maxAgeMs;
    let n = 0;
    const end = t.hints.length - t.unwritten;
    while (t.head + n < end && t.hints[t.head + n]!.addedAt < oldest) n++;
    if (n === 0) return;
    this.#drop(t, n);
    this.counters.dropped += n;
  }

  /** Removes the `n` oldest written hints of `t`, and compacts its file when that pays. */
  #drop(t: TargetHints, n: number): void {
    if (n <= 0) return;
    for (let i = t.head; i < t.head + n; i++) {
      const size = hintBytes(t.hints[i]!.record);
      this.#bytes -= size;
      t.deadBytes += size;
    }
    t.head += n;
    if (t.head > 1024 && t.head * 2 > t.hints.length) {
      t.hints = t.hints.slice(t.head);
      t.head = 0;
    }
    const dir = this.#opts.dir;
    if (dir === undefined) {
      t.deadBytes = 0;
      return;
    }
    const empty = t.hints.length === t.head;
    if (empty || (t.deadBytes >= MIN_COMPACT_BYTES && t.deadBytes * 2 > t.fileBytes)) {
      this.#queue(t, () => this.#compact(dir, t));
    }
  }

  #queue(t: TargetHints, op: () => Promise<void>): void {
    t.chain = t.chain.then(op).catch((error: unknown) => {
      this.counters.writeFailures++;
      this.#opts.logger?.error({ err: error, target: hintFileName(t.id) }, 'cannot write a hint file');
    });
  }

  #flush(): void {
    this.#flushScheduled = false;
    const dir = this.#opts.dir;
    if (dir === undefined) return;
    for (const t of this.#targets.values()) {
      if (t.unwritten > 0) this.#queue(t, () => this.#append(dir, t));
    }
  }

  /** Appends the unwritten hints of `t` (those there when this runs) and fsyncs the file. */
  async #append(dir: string, t: TargetHints): Promise<void> {
    const count = t.unwritten;
    if (count === 0) return;
    const hints = t.hints.slice(t.hints.length - count);
    const bytes = encodeHints(hints);
    const path = join(dir, hintFileName(t.id));
    try {
      if (!t.fileExists) await mkdir(dir, { recursive: true });
      const fh = await open(path, 'a');
      try {
        await fh.write(bytes);
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (!t.fileExists) {
        await fsyncPath(dir);
        t.fileExists = true;
      }
      t.fileBytes += bytes.length;
    } catch (error) {
      // The file may end in half a record now: rewrite it whole (with these) once the disk takes it.
      this.#queue(t, () => this.#compact(dir, t));
      throw error;
    } finally {
      // Written or not, they may be delivered now: a failing disk leaves them in memory only.
      t.unwritten -= count;
    }
  }

  /** Removes the file of `t` when nothing written is pending, else rewrites it with what is. */
  async #compact(dir: string, t: TargetHints): Promise<void> {
    const path = join(dir, hintFileName(t.id));
    const written = t.hints.slice(t.head, t.hints.length - t.unwritten);
    if (written.length === 0) {
      if (t.fileExists) await unlink(path).catch(() => {});
      t.fileExists = false;
      t.fileBytes = 0;
      t.deadBytes = 0;
      await fsyncPath(dir);
      return;
    }
    const bytes = encodeHints(written);
    const temp = tempPathFor(dir, hintFileName(t.id));
    const fh = await open(temp, 'wx');
    try {
      await fh.write(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(temp, path);
    await fsyncPath(dir);
    t.fileExists = true;
    t.fileBytes = bytes.length;
    t.deadBytes = 0;
  }

  async #load(dir: string): Promise<void> {
    const oldest = this.#now() - this.#opts.maxAgeMs;
    // The directory is made by the first hint (a node that never kept one has none).
    const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [] as string[];
      throw error;
    });
    for (const name of names) {
      const match = /^([0-9a-f]{8})\.hints$/.exec(name);
      if (match === null) continue;
      const path = join(dir, name);
      const bytes = await readFile(path);
      const { hints, goodBytes } = decodeHints(bytes);
      if (goodBytes < bytes.length) {
        this.#opts.logger?.warn(
          { file: path, cut: bytes.length - goodBytes, kept: hints.length },
          'a hint file ends in a torn or damaged record: cutting it off',
        );
        await truncate(path, goodBytes);
      }
      const t = this.#target(Number.parseInt(match[1]!, 16));
      t.fileExists = true;
      t.fileBytes = goodBytes;
      for (const h of hints) {
        const size = hintBytes(h.record);
        if (h.addedAt < oldest || this.#bytes + size > this.#opts.maxBytes) {
          this.counters.dropped++;
          t.deadBytes += size;
          continue;
        }
        t.hints.push(h);
        this.#bytes += size;
      }
      if (t.hints.length === 0 || t.deadBytes * 2 > t.fileBytes) this.#queue(t, () => this.#compact(dir, t));
    }
  }
}
