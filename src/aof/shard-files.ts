/**
 * One shard's files on disk, as ShardAof opens and extends them: the manifest, the base and the
 * increments, the last of which is the active file appends go to.
 */
import { type FileHandle, open, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ErrorCodes, LallyError } from '../errors.js';
import {
  createIncrement,
  ensureLayout,
  incrName,
  manifestFiles,
  type ShardManifest,
  writeManifest,
  writeManifestChecked,
} from './layout.js';
import { planShard, refusalError } from './recovery-plan.js';

export interface ShardFiles {
  /** The generation directory the shard's files are in. */
  readonly genDir: string;
  readonly manifest: ShardManifest;
  /** The active file, opened for appending. */
  readonly fh: FileHandle;
  /** True when the shard had no files at all: there is nothing to replay. */
  readonly fresh: boolean;
}

/**
 * Opens the active file of shard `shard` in `dataDir`, after the same plan as start-up's and
 * `aof check`'s (recovery-plan.ts): files proven redundant go, files the manifest does not account for
 * (or a manifest naming missing files) refuse the open. A shard without files gets its first increment.
 */
export async function openShardFiles(o: {
  readonly dataDir: string;
  readonly shard: number;
  readonly shards: number;
  readonly logger: Logger;
}): Promise<ShardFiles> {
  const layout = await ensureLayout(o.dataDir, o.shards);
  if (layout.shards !== o.shards) {
    throw new LallyError(
      ErrorCodes.AOF_CORRUPT,
      `${o.dataDir} holds files for ${layout.shards} shards, not ${o.shards}: prepareDataDir re-routes them first`,
    );
  }
  const genDir = join(o.dataDir, layout.dir);
  const plan = await planShard(genDir, o.shard, o.shards);
  if (plan.problems.length > 0) throw refusalError(o.dataDir, plan.problems);
  for (const deletion of plan.deletions) await unlink(deletion.path).catch(() => undefined);
  if (plan.deletions.length > 0) {
    o.logger.warn(
      { removed: plan.deletions.map((d) => ({ path: d.path, why: d.why })) },
      'removed AOF leftovers proven redundant',
    );
  }
  let manifest = plan.manifest;
  const fresh = manifest === undefined;
  if (manifest === undefined) {
    // No manifest and no files of this shard at all (the plan refuses files without a manifest).
    manifest = {
      format: 1,
      shard: o.shard,
      shards: o.shards,
      seq: 1,
      base: null,
      incrs: [incrName(o.shard, 1)],
    };
    await createIncrement(genDir, manifest.incrs[0]!, o.shard, o.shards);
    await writeManifest(genDir, manifest);
  }
  // The plan checked that the file exists ('a' would otherwise recreate a lost increment, empty).
  const fh = await open(join(genDir, manifest.incrs.at(-1)!), 'a');
  return { genDir, manifest, fh, fresh };
}

/** The bytes of every file of `manifest` but the active one (the base and the sealed increments). */
export async function sealedBytesOf(genDir: string, manifest: ShardManifest): Promise<number> {
  let sealed = 0;
  for (const name of manifestFiles(manifest).slice(0, -1)) sealed += (await stat(join(genDir, name))).size;
  return sealed;
}

/**
 * Creates the next increment, opens it for appending and switches the manifest to it, which seals the
 * increments before it. Any step may fail (EMFILE, ENOSPC): then the new increment is removed, the
 * manifest on disk is the old one, and the caller goes on appending to its current file, untouched.
 */
export async function openNextIncrement(
  genDir: string,
  manifest: ShardManifest,
  shard: number,
  shards: number,
): Promise<{ fh: FileHandle; manifest: ShardManifest }> {
  const seq = manifest.seq + 1;
  const name = incrName(shard, seq);
  const path = join(genDir, name);
  const next: ShardManifest = { ...manifest, seq, incrs: [...manifest.incrs, name] };
  let fh: FileHandle | undefined;
  try {
    await createIncrement(genDir, name, shard, shards);
    fh = await open(path, 'a');
    await writeManifestChecked(genDir, next, name);
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw err;
  }
  return { fh, manifest: next };
}
