/**
 * `lally aof repair`: mends what a start refuses, losing no record a checksum proves valid.
 *
 * - A data directory whose metadata does not account for its files (no layout, a lost manifest, a
 *   layout or manifest naming something missing, unnamed data files): every data file of every
 *   generation directory is read (salvaged: records behind damage too), the newest record of each key
 *   (tombstones included) goes into a new generation, the layout switches to it, and the old generation
 *   directories are moved aside into `repaired-<time>/`, not deleted.
 * - A damaged file: a torn tail is cut; with --force, damage in the middle or a bad header is cut out
 *   and the file rewritten with a good header and every valid record around the damage.
 */
import { copyFile, mkdir, open, readdir, rename, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { compareVersions } from '../clock/hlc.js';
import { ErrorCodes, LallyError } from '../errors.js';
import { fsyncPath } from '../fs/durable-file.js';
import { writeGeneration } from './data-dir.js';
import { type AofHeader, decodeRecordAt } from './format.js';
import { generationOf, LAYOUT_FILE, parseShardFileName, readLayout } from './layout.js';
import type { RecoveryPlan } from './recovery-plan.js';
import { rewriteSalvaged, salvageRecords } from './salvage.js';
import type { ScanResult } from './scan.js';
import type { AofRecord } from './types.js';

type Out = (text: string) => void;

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

/** The data files of every generation directory, in directory then sequence order. */
export async function allDataFiles(dataDir: string): Promise<{ generations: string[]; files: string[] }> {
  const generations: string[] = [];
  const files: string[] = [];
  const names = (await readdir(dataDir)).filter((n) => generationOf(n) >= 0);
  names.sort((a, b) => generationOf(a) - generationOf(b));
  for (const name of names) {
    const dir = join(dataDir, name);
    if (!(await isDirectory(dir))) continue;
    generations.push(name);
    const inside = (await readdir(dir)).filter((n) => parseShardFileName(n) !== undefined);
    inside.sort((a, b) => parseShardFileName(a)!.seq - parseShardFileName(b)!.seq || a.localeCompare(b));
    files.push(...inside.map((n) => join(dir, n)));
  }
  return { generations, files };
}

/** Rebuilds a data directory's metadata (and files) from every data file found; see the module comment. */
export async function rebuildDataDir(
  dataDir: string,
  plan: RecoveryPlan,
  shardsFlag: number | undefined,
  out: Out,
): Promise<number> {
  out(`the metadata of ${dataDir} does not account for its files; rebuilding it from the data files:\n`);
  for (const problem of plan.problems) out(`     ${problem.path}: ${problem.problem}\n`);
  const { generations, files } = await allDataFiles(dataDir);
  const live = new Map<string, AofRecord>();
  const shardCounts = new Map<number, number>();
  let records = 0;
  for (const file of files) {
    const result = await salvageRecords(file, (buf, offset) => {
      const record = decodeRecordAt(buf, offset);
      records++;
      const seen = live.get(record.key);
      // Equal versions: the later file wins, as in replay order.
      if (seen === undefined || compareVersions(record.version, seen.version) >= 0)
        live.set(record.key, record);
    });
    if (result.header !== undefined)
      shardCounts.set(result.header.shards, (shardCounts.get(result.header.shards) ?? 0) + 1);
    const skipped = result.skipped.map((s) => `${s.bytes} bytes at ${s.offset} (${s.reason})`).join(', ');
    out(`READ ${file}: ${result.records} records${skipped ? `; no valid record in ${skipped}` : ''}\n`);
  }
  const layout = await readLayout(dataDir).catch(() => undefined);
  const fromHeaders = [...shardCounts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  const shards = shardsFlag ?? layout?.shards ?? fromHeaders ?? availableParallelism();
  const generation = Math.max(0, ...generations.map(generationOf)) + 1;
  const aside = join(dataDir, `repaired-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  await mkdir(aside);
  await copyFile(join(dataDir, LAYOUT_FILE), join(aside, LAYOUT_FILE)).catch(() => undefined);
  const written = await writeGeneration(
    dataDir,
    shards,
    undefined,
    async (sink) => {
      for (const record of live.values()) await sink(record);
    },
    generation,
  );
  // Only after the new generation is in force: the old directories go aside, whole.
  for (const name of generations) await rename(join(dataDir, name), join(aside, name));
  await fsyncPath(dataDir);
  out(
    `rebuilt ${dataDir}: ${live.size} keys (the newest of ${records} records in ${files.length} files) in ${written.dir}, ${shards} shards.\n` +
      `     the old files are in ${aside}: delete it once the node serves your data\n`,
  );
  return 0;
}

/** The header a damaged file should have, from its name and the other files' headers. */
export function headerFor(
  path: string,
  result: ScanResult,
  shards: number | undefined,
): { kind: 'base' | 'incr'; shard: number; shards: number } | undefined {
  if (result.header !== undefined) return result.header;
  const parsed = parseShardFileName(path.split('/').at(-1) ?? '');
  if (parsed === undefined || shards === undefined) return undefined;
  return { kind: parsed.kind, shard: parsed.shard, shards };
}

/** Repairs one damaged file (the scan found `result.bad`); returns false when it refused. */
export async function repairFile(
  result: ScanResult,
  force: boolean,
  header: Pick<AofHeader, 'kind' | 'shard' | 'shards'> | undefined,
  out: Out,
): Promise<boolean> {
  const bad = result.bad!;
  const file = result.path;
  if (bad.kind === 'tail' && result.header !== undefined) {
    const fh = await open(file, 'r+');
    try {
      await fh.truncate(bad.offset);
      await fh.sync();
    } finally {
      await fh.close();
    }
    out(`     ${file}: truncated at offset ${bad.offset} (${result.fileBytes - bad.offset} bytes removed)\n`);
    return true;
  }
  // A torn header with nothing valid behind it holds no record: a fresh header loses nothing.
  if (!force && !(bad.kind === 'tail' && result.header === undefined)) {
    const what = result.header === undefined ? 'a damaged header' : 'mid-file corruption';
    out(`     ${file}: refusing to cut ${what} without --force (back the file up first)\n`);
    return false;
  }
  if (header === undefined) {
    out(
      `     ${file}: the header is damaged and the file's shard cannot be told from its name; ` +
        'pass --shards N or repair the data directory\n',
    );
    return false;
  }
  const salvaged = await rewriteSalvaged(file, header);
  const lost = salvaged.skipped.reduce((sum, s) => sum + s.bytes, 0);
  out(
    `     ${file}: rewritten with ${salvaged.records} valid records and a good header; ${lost} damaged bytes cut out (${salvaged.skipped
      .map((s) => `${s.bytes} at ${s.offset}`)
      .join(', ')})\n`,
  );
  return true;
}

export function parseShardsFlag(value: string | true | undefined): number | undefined {
  if (value === undefined) return undefined;
  const shards = Number(value);
  if (!Number.isSafeInteger(shards) || shards < 1) {
    throw new LallyError(ErrorCodes.CONFIG, '--shards must be a positive integer');
  }
  return shards;
}
