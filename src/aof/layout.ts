/**
 * Where the AOF files live (docs/aof.md). A data directory holds a lock file, a layout file naming the
 * current generation directory and its shard count, and that directory; each shard there has a manifest
 * (its base file and increment files, in replay order) and those files:
 *
 *   <dataDir>/lally.lock
 *   <dataDir>/aof-layout.json                 {"format":1,"shards":4,"keyHash":"fnv1a32","dir":"aof-1"}
 *   <dataDir>/aof-1/shard-0.aof.manifest      {"format":1,"shard":0,"shards":4,"seq":3,"base":...,"incrs":[...]}
 *   <dataDir>/aof-1/shard-0.base-2.aof
 *   <dataDir>/aof-1/shard-0.incr-3.aof        (the last increment is the one being appended to)
 *
 * Every switch (a new increment, a compaction, a re-sharding) is one atomic rename of a manifest or of
 * the layout file, so a crash at any moment leaves a complete set of files. Which leftovers of an
 * interrupted switch may be deleted, and which unnamed files make a start refuse, is decided in one place:
 * recovery-plan.ts.
 */
import { mkdir, open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, LallyError } from '../errors.js';
import { fsyncPath, writeFileAtomic } from '../fs/durable-file.js';
import { KEY_HASH_NAME } from '../hash/key-hash.js';
import { encodeHeader } from './format.js';

export const LOCK_FILE = 'lally.lock';
export const LAYOUT_FILE = 'aof-layout.json';
export const MANIFEST_FORMAT = 1;
/**
 * Written (and synced) into a generation directory before any of its files, removed only after the
 * layout names it: a generation holding it that the layout does not name never committed.
 */
export const GENERATION_MARKER = 'generation-building';

export interface AofLayout {
  readonly format: number;
  readonly shards: number;
  readonly keyHash: string;
  /** Generation directory, relative to the data directory. */
  readonly dir: string;
}

export interface ShardManifest {
  readonly format: number;
  readonly shard: number;
  readonly shards: number;
  /** Highest sequence number used in a file name of this shard. */
  readonly seq: number;
  readonly base: string | null;
  /** Increment files in replay order; the last one is open for appends. */
  readonly incrs: readonly string[];
  /**
   * Records in the base file, when a compaction wrote it (a manifest without it is as valid; after a
   * repair cut records out it is an upper bound). The base holds one record per key, so a replay
   * sizes the table's index for them at once instead of doubling it some ten times on the way.
   */
  readonly baseRecords?: number;
}

export const manifestName = (shard: number) => `shard-${shard}.aof.manifest`;
export const baseName = (shard: number, seq: number) => `shard-${shard}.base-${seq}.aof`;
export const incrName = (shard: number, seq: number) => `shard-${shard}.incr-${seq}.aof`;
export const generationDirName = (generation: number) => `aof-${generation}`;

const SHARD_FILE = /^shard-(\d+)\.(base|incr)-(\d+)\.aof$/;

export interface ShardFileName {
  readonly shard: number;
  readonly kind: 'base' | 'incr';
  readonly seq: number;
}

/** The parts of a data file's name (`shard-0.base-6.aof`), or undefined for any other name. */
export function parseShardFileName(name: string): ShardFileName | undefined {
  const match = SHARD_FILE.exec(name);
  if (match === null) return undefined;
  return { shard: Number(match[1]), kind: match[2] as 'base' | 'incr', seq: Number(match[3]) };
}

/** The files of a manifest, in replay order. */
export function manifestFiles(manifest: ShardManifest): string[] {
  return manifest.base === null ? [...manifest.incrs] : [manifest.base, ...manifest.incrs];
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LallyError(ErrorCodes.AOF_IO, `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new LallyError(ErrorCodes.AOF_CORRUPT, `${path} is not valid JSON`, { cause: err });
  }
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isFileName = (v: unknown): v is string => typeof v === 'string' && /^[\w.-]+$/.test(v);

export async function readLayout(dataDir: string): Promise<AofLayout | undefined> {
  const path = join(dataDir, LAYOUT_FILE);
  const raw = (await readJson(path)) as Partial<AofLayout> | undefined;
  if (raw === undefined) return undefined;
  if (raw.format !== 1 || !isCount(raw.shards) || raw.shards < 1 || !isFileName(raw.dir)) {
    throw new LallyError(ErrorCodes.AOF_CORRUPT, `${path} is not a valid AOF layout file`);
  }
  if (raw.keyHash !== KEY_HASH_NAME) {
    throw new LallyError(
      ErrorCodes.AOF_CORRUPT,
      `${path}: files were routed by key hash ${raw.keyHash}, this version uses ${KEY_HASH_NAME}`,
    );
  }
  return { format: 1, shards: raw.shards, keyHash: raw.keyHash, dir: raw.dir };
}

export async function writeLayout(dataDir: string, layout: AofLayout): Promise<void> {
  await writeFileAtomic(dataDir, LAYOUT_FILE, `${JSON.stringify(layout)}\n`);
}

export function newLayout(shards: number, generation: number): AofLayout {
  return { format: 1, shards, keyHash: KEY_HASH_NAME, dir: generationDirName(generation) };
}

/** The number of a generation directory name, or -1. */
export function generationOf(dirName: string): number {
  const match = /^aof-(\d+)$/.exec(dirName);
  return match ? Number(match[1]) : -1;
}

/**
 * Creates the layout for a new data directory, or returns the one there. Safe to race: same content.
 * Refuses a directory that holds generation directories but no layout (their data is not accounted for).
 */
export async function ensureLayout(dataDir: string, shards: number): Promise<AofLayout> {
  const existing = await readLayout(dataDir);
  if (existing !== undefined) return existing;
  const generations: string[] = [];
  for (const name of await readdir(dataDir).catch(() => [] as string[])) {
    if (generationOf(name) < 0) continue;
    const inside = await readdir(join(dataDir, name)).catch(() => [] as string[]);
    if (inside.some((file) => parseShardFileName(file) !== undefined)) generations.push(name);
  }
  if (generations.length > 0) {
    // Another shard of this process may have just created the layout (and then its files): look again.
    const now = await readLayout(dataDir);
    if (now !== undefined) return now;
    throw new LallyError(
      ErrorCodes.AOF_CORRUPT,
      `${dataDir} holds ${generations.join(', ')} but no ${LAYOUT_FILE}: run \`lally aof check ${dataDir}\`, then \`lally aof repair ${dataDir}\``,
    );
  }
  const layout = newLayout(shards, 1);
  await mkdir(join(dataDir, layout.dir), { recursive: true });
  await writeLayout(dataDir, layout);
  return (await readLayout(dataDir)) ?? layout;
}

export async function readManifest(genDir: string, shard: number): Promise<ShardManifest | undefined> {
  const path = join(genDir, manifestName(shard));
  const raw = (await readJson(path)) as Partial<ShardManifest> | undefined;
  if (raw === undefined) return undefined;
  const valid =
    raw.format === MANIFEST_FORMAT &&
    raw.shard === shard &&
    isCount(raw.shards) &&
    isCount(raw.seq) &&
    (raw.base === null || isFileName(raw.base)) &&
    Array.isArray(raw.incrs) &&
    raw.incrs.length > 0 &&
    raw.incrs.every(isFileName) &&
    (raw.baseRecords === undefined || isCount(raw.baseRecords));
  if (!valid) throw new LallyError(ErrorCodes.AOF_CORRUPT, `${path} is not a valid AOF manifest`);
  return raw as ShardManifest;
}

export async function writeManifest(genDir: string, manifest: ShardManifest): Promise<void> {
  await writeFileAtomic(genDir, manifestName(manifest.shard), `${JSON.stringify(manifest)}\n`);
}

/**
 * Writes a manifest; when the write reports an error, reads the manifest back: the rename may have
 * happened before the directory fsync failed, and then the switch did take place. `mustName` is the
 * file the new manifest adds. Throws only when the old manifest is known to be the one on disk.
 */
export async function writeManifestChecked(
  genDir: string,
  next: ShardManifest,
  mustName: string,
): Promise<void> {
  try {
    await writeManifest(genDir, next);
  } catch (err) {
    const onDisk = await readManifest(genDir, next.shard).catch(() => undefined);
    if (onDisk !== undefined && manifestFiles(onDisk).includes(mustName)) return;
    throw err;
  }
}

/** Creates an empty increment file (header only), synced, and syncs the directory entry. */
export async function createIncrement(
  genDir: string,
  name: string,
  shard: number,
  shards: number,
): Promise<void> {
  const fh = await open(join(genDir, name), 'wx');
  try {
    await fh.writeFile(encodeHeader({ kind: 'incr', shard, shards }));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsyncPath(genDir);
}
