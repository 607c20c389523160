/**
 * What a start does with a data directory's files, decided before anything is changed, by one function
 * that start-up (prepareDataDir, ShardAof.open) and `lally aof check` share, so that they cannot drift.
 *
 * A file is deleted only when the metadata proves it redundant (docs/aof.md#recovery):
 *  - temp files of an interrupted atomic write (`.<name>.<pid>-<rand>.tmp`): never read by anything;
 *  - a generation directory holding the marker GENERATION_MARKER and not named by the layout: the output
 *    of a switch (--fresh, --replay-log, re-sharding) that never reached its commit, the layout rename;
 *    the marker is written before any file of the generation and removed only after the rename;
 *  - a generation older than the one the layout names: the layout was switched to the newer one only
 *    after it was complete and synced, so nothing reads the old one any more;
 *  - a shard file the manifest does not name whose sequence number is above the manifest's `seq`: every
 *    file is created with a number above the `seq` on disk and is named by the next manifest write, and
 *    nothing is appended to a new increment before its manifest is written, so it is the output of a
 *    seal or compaction interrupted before its switch (its records are copies, or there are none);
 *  - a shard file the manifest does not name whose sequence number is below the one of the increment
 *    the base's compaction sealed (base seq - 1): the base was written from exactly the files named
 *    before that seal, and only those are numbered lower (compaction step 3 deletes them after the switch).
 * Anything else that looks like data (a shard file a manifest does not account for, a generation with
 * data but no layout or no marker, a manifest or layout naming a file or directory that is missing)
 * makes the start refuse, naming the files, and pointing at `lally aof repair`.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, LallyError } from '../errors.js';
import {
  type AofLayout,
  GENERATION_MARKER,
  generationOf,
  LAYOUT_FILE,
  manifestFiles,
  manifestName,
  parseShardFileName,
  readLayout,
  readManifest,
  type ShardManifest,
} from './layout.js';

export interface PlannedDeletion {
  readonly path: string;
  readonly why: string;
}

export interface Problem {
  readonly path: string;
  readonly problem: string;
}

export interface ShardPlan {
  readonly shard: number;
  /** Undefined: the shard has no manifest and no files; its first open creates them. */
  readonly manifest: ShardManifest | undefined;
  readonly deletions: PlannedDeletion[];
  readonly problems: Problem[];
}

export interface RecoveryPlan {
  readonly dataDir: string;
  /** The layout in force; undefined for a directory with no data yet (a first start creates one). */
  readonly layout: AofLayout | undefined;
  readonly genDir: string | undefined;
  readonly shards: ShardPlan[];
  /** Redundant files and directories (all of them, the shards' included). */
  readonly deletions: PlannedDeletion[];
  /** Non-empty: the start refuses (and nothing is changed). */
  readonly problems: Problem[];
  /** A marker left in the current generation by a crash just after its switch: removed. */
  readonly staleMarker: string | undefined;
}

const isTemp = (name: string) => name.startsWith('.') && name.endsWith('.tmp');

async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new LallyError(ErrorCodes.AOF_IO, `cannot list ${path}: ${(err as Error).message}`, { cause: err });
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Plans one shard of a generation directory from its manifest and the names in the directory. */
export async function planShard(
  genDir: string,
  shard: number,
  shards: number,
  names?: readonly string[],
): Promise<ShardPlan> {
  const all = names ?? (await listDir(genDir));
  const deletions: PlannedDeletion[] = [];
  const problems: Problem[] = [];
  const tempPrefix = `.${manifestName(shard)}.`;
  for (const name of all) {
    if (name.startsWith(tempPrefix) && isTemp(name))
      deletions.push({ path: join(genDir, name), why: 'temp file of an interrupted manifest write' });
  }
  const files = all.filter((name) => parseShardFileName(name)?.shard === shard);
  let manifest: ShardManifest | undefined;
  try {
    manifest = await readManifest(genDir, shard);
  } catch (err) {
    problems.push({ path: join(genDir, manifestName(shard)), problem: (err as Error).message });
    return { shard, manifest: undefined, deletions, problems };
  }
  if (manifest === undefined) {
    for (const name of files) {
      problems.push({
        path: join(genDir, name),
        problem: `a data file of shard ${shard}, which has no manifest (${manifestName(shard)} is missing)`,
      });
    }
    return { shard, manifest: undefined, deletions, problems };
  }
  if (manifest.shards !== shards) {
    problems.push({
      path: join(genDir, manifestName(shard)),
      problem: `the manifest is for ${manifest.shards} shards, the layout for ${shards}`,
    });
  }
  const named = new Set(manifestFiles(manifest));
  for (const name of named) {
    if (!all.includes(name)) {
      problems.push({ path: join(genDir, name), problem: `named by ${manifestName(shard)} but missing` });
    }
  }
  const baseSeq = manifest.base === null ? undefined : parseShardFileName(manifest.base)?.seq;
  for (const name of files) {
    if (named.has(name)) continue;
    const seq = parseShardFileName(name)!.seq;
    const path = join(genDir, name);
    if (seq > manifest.seq) {
      deletions.push({
        path,
        why: `created after the manifest's last switch (seq ${manifest.seq}) and never named: the output of an interrupted seal or compaction`,
      });
    } else if (baseSeq !== undefined && seq < baseSeq - 1) {
      // Compaction seals at seq S (a new increment S named by the switch), then writes base S + 1 from
      // the files named before the seal, all numbered below S. The increment S itself stays named.
      deletions.push({ path, why: `compacted into ${manifest.base} (an input the switch did not delete)` });
    } else {
      problems.push({
        path,
        problem: `a data file of shard ${shard} that ${manifestName(shard)} does not name (seq ${seq}, manifest seq ${manifest.seq})`,
      });
    }
  }
  return { shard, manifest, deletions, problems };
}

export async function planRecovery(dataDir: string): Promise<RecoveryPlan> {
  const deletions: PlannedDeletion[] = [];
  const problems: Problem[] = [];
  const shards: ShardPlan[] = [];
  let staleMarker: string | undefined;
  const names = await listDir(dataDir);
  for (const name of names) {
    if (name.startsWith(`.${LAYOUT_FILE}.`) && isTemp(name))
      deletions.push({ path: join(dataDir, name), why: 'temp file of an interrupted layout write' });
  }
  let layout: AofLayout | undefined;
  try {
    layout = await readLayout(dataDir);
  } catch (err) {
    problems.push({ path: join(dataDir, LAYOUT_FILE), problem: (err as Error).message });
    return { dataDir, layout: undefined, genDir: undefined, shards, deletions, problems, staleMarker };
  }
  const current = layout === undefined ? -1 : generationOf(layout.dir);
  const currentExists = layout !== undefined && (await isDirectory(join(dataDir, layout.dir)));
  if (layout !== undefined && !currentExists) {
    problems.push({
      path: join(dataDir, layout.dir),
      problem: `${LAYOUT_FILE} names the generation directory ${layout.dir}, which does not exist`,
    });
  }
  for (const name of names.sort()) {
    const generation = generationOf(name);
    if (generation < 0 || name === layout?.dir) continue;
    const path = join(dataDir, name);
    if (!(await isDirectory(path))) continue;
    const inside = await listDir(path);
    const data = inside.filter((n) => parseShardFileName(n) !== undefined);
    if (inside.includes(GENERATION_MARKER)) {
      deletions.push({ path, why: 'a generation whose switch never committed (it holds the build marker)' });
    } else if (data.length === 0) {
      deletions.push({ path, why: 'a generation directory without data files' });
    } else if (currentExists && generation < current) {
      deletions.push({
        path,
        why: `superseded: ${LAYOUT_FILE} switched to ${layout?.dir} after it was complete`,
      });
    } else {
      const why =
        layout === undefined
          ? `data files, but there is no ${LAYOUT_FILE} naming this generation`
          : `data files of a generation that ${LAYOUT_FILE} (naming ${layout.dir}) does not account for`;
      for (const file of data) problems.push({ path: join(path, file), problem: why });
    }
  }
  let genDir: string | undefined;
  if (layout !== undefined && currentExists) {
    genDir = join(dataDir, layout.dir);
    const inside = await listDir(genDir);
    if (inside.includes(GENERATION_MARKER)) staleMarker = join(genDir, GENERATION_MARKER);
    for (let shard = 0; shard < layout.shards; shard++) {
      const plan = await planShard(genDir, shard, layout.shards, inside);
      shards.push(plan);
      deletions.push(...plan.deletions);
      problems.push(...plan.problems);
    }
    for (const name of inside) {
      const parsed = parseShardFileName(name);
      if (parsed !== undefined && parsed.shard >= layout.shards) {
        problems.push({
          path: join(genDir, name),
          problem: `a data file of shard ${parsed.shard}, but ${LAYOUT_FILE} has ${layout.shards} shards`,
        });
      }
    }
  }
  // A start that refuses changes nothing, so a plan with problems deletes nothing either.
  return {
    dataDir,
    layout,
    genDir,
    shards,
    deletions: problems.length === 0 ? deletions : [],
    problems,
    staleMarker,
  };
}

/** The error a start refuses with, naming the files (the first few) and the way out. */
export function refusalError(dataDir: string, problems: readonly Problem[]): LallyError {
  const shown = problems.slice(0, 8).map((p) => `${p.path}: ${p.problem}`);
  if (problems.length > shown.length) shown.push(`... and ${problems.length - shown.length} more`);
  return new LallyError(
    ErrorCodes.AOF_CORRUPT,
    `data directory ${dataDir} holds files its metadata does not account for, or metadata naming files that are missing; ` +
      `nothing was changed. ${shown.join('; ')}. ` +
      `See the whole plan with \`lally aof check ${dataDir}\`; \`lally aof repair ${dataDir}\` rebuilds the metadata ` +
      'from the data files it finds (every valid record is kept; the old files are moved aside, not deleted).',
  );
}

/** Carries out the deletions of a plan without problems. */
export async function applyPlan(plan: RecoveryPlan): Promise<void> {
  if (plan.problems.length > 0) throw refusalError(plan.dataDir, plan.problems);
  for (const deletion of plan.deletions) await rm(deletion.path, { recursive: true, force: true });
  if (plan.staleMarker !== undefined) await rm(plan.staleMarker, { force: true });
}
