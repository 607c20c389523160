/**
 * Reads records from anything a user may hand to `--replay-log` or `lally aof import`: this project's
 * AOF file, a whole data directory, an export (JSON lines), or upstream's text log. The format is
 * recognised from the first bytes.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import { supersedes } from '../clock/last-writer-wins.js';
import { ErrorCodes, LallyError } from '../errors.js';
import { parseExportLine } from './export-format.js';
import { AOF_MAGIC, decodeRecordAt } from './format.js';
import { planRecovery, refusalError } from './recovery-plan.js';
import { scanAofFile } from './scan.js';
import { corruptionError, replayShardFiles } from './shard-replay.js';
import type { AofRecord } from './types.js';
import { parseUpstreamLine, UPSTREAM_LINE_PREFIX, UpstreamVersioner } from './upstream-log.js';

export type SourceFormat = 'aof' | 'data-dir' | 'export' | 'upstream' | 'empty';
export type RecordSink = (record: AofRecord) => void | Promise<void>;

export async function detectFormat(path: string): Promise<SourceFormat> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (err) {
    throw new LallyError(ErrorCodes.AOF_IO, `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (info.isDirectory()) return 'data-dir';
  const fh = await open(path, 'r');
  const head = Buffer.alloc(64);
  const { bytesRead } = await fh.read(head, 0, head.length, 0);
  await fh.close();
  const bytes = head.subarray(0, bytesRead);
  if (bytes.subarray(0, AOF_MAGIC.length).equals(AOF_MAGIC)) return 'aof';
  const text = bytes
    .toString('utf8')
    .replace(/^\uFEFF/, '')
    .trimStart();
  if (text === '') return 'empty';
  if (text.startsWith('{')) return 'export';
  if (text.startsWith(UPSTREAM_LINE_PREFIX)) return 'upstream';
  throw new LallyError(
    ErrorCodes.AOF_CORRUPT,
    `${path}: unknown format (expected a Lally AOF file or data directory, an export in JSON lines, or an upstream text log)`,
  );
}

/** Feeds every record of `path` to `sink`, in file order. */
export async function readRecords(
  path: string,
  sink: RecordSink,
  logger: Logger,
): Promise<{ format: SourceFormat; records: number }> {
  const format = await detectFormat(path);
  let records = 0;
  const counted: RecordSink = (record) => {
    records++;
    return sink(record);
  };
  switch (format) {
    case 'empty':
      break;
    case 'aof':
      await readAofFile(path, counted, logger);
      break;
    case 'data-dir':
      await readDataDir(path, counted, logger);
      break;
    case 'export':
      await readLines(path, (line, where) => parseExportLine(line, where), counted);
      break;
    case 'upstream': {
      const versioner = new UpstreamVersioner();
      await readLines(path, (line, where) => parseUpstreamLine(line, versioner, where), counted);
      break;
    }
  }
  return { format, records };
}

async function readAofFile(path: string, sink: RecordSink, logger: Logger): Promise<void> {
  const result = await scanAofFile(path, (buf, offset) => sink(decodeRecordAt(buf, offset)));
  if (result.bad === undefined) return;
  if (result.bad.kind === 'mid') throw corruptionError(path, result);
  logger.warn(
    { file: path, offset: result.validEnd },
    `${path}: ignoring a damaged tail at offset ${result.validEnd}`,
  );
}

/**
 * Every record of a data directory (read only: a damaged tail is skipped, not cut). A directory whose
 * files the metadata does not account for is refused, as a start would refuse it: reading only the
 * files a manifest names would silently leave the others' records out.
 */
export async function readDataDir(dataDir: string, sink: RecordSink, logger: Logger): Promise<void> {
  const plan = await planRecovery(dataDir);
  if (plan.problems.length > 0) throw refusalError(dataDir, plan.problems);
  if (plan.layout === undefined || plan.genDir === undefined) {
    throw new LallyError(ErrorCodes.AOF_IO, `${dataDir} is not a Lally data directory (no aof-layout.json)`);
  }
  for (const shard of plan.shards) {
    if (shard.manifest !== undefined) await replayShardFiles(plan.genDir, shard.manifest, logger, sink, true);
  }
}

/** The newest record of each key in a data directory (tombstones included). */
export async function readLiveData(dataDir: string, logger: Logger): Promise<Map<string, AofRecord>> {
  const live = new Map<string, AofRecord>();
  await readDataDir(
    dataDir,
    (record) => {
      const seen = live.get(record.key);
      const wins =
        seen === undefined ||
        supersedes(
          record.version,
          record.op === 'REMOVE',
          record.value,
          seen.version,
          seen.op === 'REMOVE',
          seen.value,
        );
      if (wins) live.set(record.key, record);
    },
    logger,
  );
  return live;
}

async function readLines(
  path: string,
  parse: (line: string, where: string) => AofRecord | undefined,
  sink: RecordSink,
): Promise<void> {
  const lines = createInterface({
    input: createReadStream(path, 'utf8'),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let number = 0;
  for await (const line of lines) {
    number++;
    const record = parse(number === 1 ? line.replace(/^\uFEFF/, '') : line, `${path}:${number}`);
    if (record !== undefined) {
      const pending = sink(record);
      if (pending !== undefined) await pending;
    }
  }
}
