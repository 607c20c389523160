/**
 * Runs on the main thread before any shard starts: locks the data directory, applies `--fresh` and
 * `--replay-log`, and re-routes the records when the shard count changed since the files were written.
 * Every such change builds a complete new generation directory, fsyncs it, then switches the layout
 * file with one atomic rename; a crash before the rename leaves the old generation in force. Before any
 * of that, the recovery plan (recovery-plan.ts) decides what the files on disk mean: leftovers proven
 * redundant are deleted, and files the metadata does not account for make the start refuse.
 */
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ErrorCodes, LallyError } from '../errors.js';
import { fsyncPath } from '../fs/durable-file.js';
import { shardOfKey } from '../hash/key-hash.js';
import { AofFileWriter } from './file-writer.js';
import {
  type AofLayout,
  baseName,
  createIncrement,
  GENERATION_MARKER,
  generationOf,
  incrName,
  newLayout,
  readManifest,
  writeLayout,
  writeManifest,
} from './layout.js';
import { acquireDataDirLock } from './lock-file.js';
import { type RecordSink, readRecords } from './record-source.js';
import { applyPlan, planRecovery } from './recovery-plan.js';
import { replayShardFiles } from './shard-replay.js';

export interface PreparedDataDir {
  readonly dataDir: string;
  /** The layout in force: its shard count is the one asked for. */
  readonly layout: AofLayout;
  release(): Promise<void>;
}

export interface PrepareDataDirOptions {
  readonly dataDir: string;
  readonly shards: number;
  readonly fresh: boolean;
  readonly replayLog: string | undefined;
  readonly logger: Logger;
}

export async function prepareDataDir(opts: PrepareDataDirOptions): Promise<PreparedDataDir> {
  const { dataDir, shards, logger } = opts;
  if (opts.fresh && opts.replayLog !== undefined) {
    throw new LallyError(ErrorCodes.CONFIG, '--fresh and --replay-log cannot be used together');
  }
  if (!Number.isSafeInteger(shards) || shards < 1) {
    throw new LallyError(ErrorCodes.CONFIG, `shards must be a positive integer, not ${shards}`);
  }
  await mkdir(dataDir, { recursive: true });
  const lock = await acquireDataDirLock(dataDir, logger);
  try {
    const plan = await planRecovery(dataDir);
    await applyPlan(plan); // refuses (changing nothing) when files are not accounted for
    const removed = plan.deletions.map((d) => ({ path: d.path, why: d.why }));
    if (removed.length > 0) logger.warn({ removed }, 'removed AOF leftovers proven redundant');
    let layout = plan.layout;
    if (opts.fresh) {
      layout = await writeGeneration(dataDir, shards, layout, async () => {});
      logger.info({ dataDir }, 'fresh start: AOF data wiped');
    } else if (opts.replayLog !== undefined) {
      const source = opts.replayLog;
      let result = { format: '', records: 0 };
      layout = await writeGeneration(dataDir, shards, layout, async (sink) => {
        result = await readRecords(source, sink, logger);
      });
      logger.info({ dataDir, source, ...result }, 'data replaced with the replay log');
    } else if (layout === undefined) {
      layout = await writeGeneration(dataDir, shards, undefined, async () => {});
    } else if (layout.shards !== shards) {
      const old = layout;
      let records = 0;
      layout = await writeGeneration(dataDir, shards, old, async (sink) => {
        records = await readGeneration(dataDir, old, sink, logger);
      });
      logger.info(
        { dataDir, from: old.shards, to: shards, records },
        'AOF records re-routed to the new shards',
      );
    }
    const current = layout;
    return { dataDir, layout: current, release: () => lock.release() };
  } catch (err) {
    await lock.release();
    throw err;
  }
}

/** Feeds every record of a generation to `sink`, shard by shard (each key's records keep their order). */
async function readGeneration(dataDir: string, layout: AofLayout, sink: RecordSink, logger: Logger) {
  const genDir = join(dataDir, layout.dir);
  let records = 0;
  for (let shard = 0; shard < layout.shards; shard++) {
    const manifest = await readManifest(genDir, shard);
    if (manifest === undefined) continue;
    records += (await replayShardFiles(genDir, manifest, logger, sink)).records;
  }
  return records;
}

/**
 * Builds a new generation of `shards` shards from the records `fill` feeds (routed by key hash), then
 * switches the layout to it and deletes the previous one (superseded by the switch). `generation`
 * overrides the new directory's number (default: the previous one's plus one).
 */
export async function writeGeneration(
  dataDir: string,
  shards: number,
  previous: AofLayout | undefined,
  fill: (sink: RecordSink) => Promise<void>,
  generation = previous === undefined ? 1 : generationOf(previous.dir) + 1,
): Promise<AofLayout> {
  const layout = newLayout(shards, generation);
  const genDir = join(dataDir, layout.dir);
  await mkdir(genDir, { recursive: true });
  // The marker first: until the layout names this generation, it proves the files here redundant.
  const marker = await open(join(genDir, GENERATION_MARKER), 'w');
  await marker.writeFile(`${JSON.stringify({ from: previous?.dir ?? null, pid: process.pid })}\n`);
  await marker.sync();
  await marker.close();
  await fsyncPath(genDir);
  await fsyncPath(dataDir);
  const writers = await Promise.all(
    Array.from({ length: shards }, (_, shard) =>
      AofFileWriter.create(join(genDir, baseName(shard, 1)), { kind: 'base', shard, shards }),
    ),
  );
  try {
    await fill((record) => writers[shardOfKey(record.key, shards)]!.append(record));
    for (const writer of writers) await writer.finish();
  } catch (err) {
    for (const writer of writers) await writer.abandon();
    throw err;
  }
  for (let shard = 0; shard < shards; shard++) {
    // An empty increment for appends, then the manifest naming both files.
    await createIncrement(genDir, incrName(shard, 2), shard, shards);
    await writeManifest(genDir, {
      format: 1,
      shard,
      shards,
      seq: 2,
      base: baseName(shard, 1),
      incrs: [incrName(shard, 2)],
    });
  }
  await fsyncPath(genDir);
  await writeLayout(dataDir, layout);
  if (previous !== undefined && previous.dir !== layout.dir) {
    await rm(join(dataDir, previous.dir), { recursive: true, force: true });
  }
  await rm(join(genDir, GENERATION_MARKER), { force: true });
  await fsyncPath(genDir);
  return layout;
}
