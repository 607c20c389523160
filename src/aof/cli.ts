/**
 * `lally aof check|repair|dump|export|import`: tools for the AOF files (docs/aof.md#tools).
 * Exit codes: 0 success, 1 a problem was found or refused, 2 bad usage.
 */

import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { type Logger, pino } from 'pino';
import { formatVersion, versionToRfc3339 } from '../clock/hlc.js';
import { LallyError } from '../errors.js';
import { prepareDataDir } from './data-dir.js';
import { encodeExportLine } from './export-format.js';
import { decodeHeader, decodeRecordAt, MAX_HEADER_BYTES } from './format.js';
import { generationOf, LAYOUT_FILE, manifestFiles, readLayout, type ShardManifest } from './layout.js';
import { acquireDataDirLock } from './lock-file.js';
import { readLiveData } from './record-source.js';
import { applyPlan, planRecovery, type RecoveryPlan } from './recovery-plan.js';
import { allDataFiles, headerFor, parseShardsFlag, rebuildDataDir, repairFile } from './repair.js';
import { type ScanResult, scanAofFile } from './scan.js';
import { judgeFile } from './shard-replay.js';

export interface AofCliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

const USAGE = `usage: lally aof <command>
  check  <data-dir|file>                     verify every record; say what a start would do (exit 1: damage
                                             or a start would refuse)
  repair <data-dir|file> [--force] [--shards N]
                                             truncate a damaged tail; --force also cuts out damage in the
                                             middle or a bad header, keeping every valid record; a data
                                             directory whose metadata is lost is rebuilt from its files
  dump   <data-dir|file>                     print the records readably
  export <data-dir> [--out FILE]             the live data as JSON lines (stdout by default)
  import <file> --data-dir DIR [--shards N]  replace DIR's data with an export, an AOF or an upstream log
`;

class UsageError extends Error {}
/** Thrown by `out` once the reader of stdout has gone (EPIPE): ends the command quietly. */
class OutputClosed extends Error {}

interface Parsed {
  positional: string[];
  flags: Map<string, string | true>;
}

function parseArgs(args: readonly string[], valued: readonly string[]): Parsed {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s) as [string, string | undefined];
    if (valued.includes(name)) {
      const value = inline ?? args[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      flags.set(name, value);
    } else if (name === 'force') flags.set(name, true);
    else throw new UsageError(`unknown option --${name}`);
  }
  return { positional, flags };
}

export async function runAofCommand(args: readonly string[], io: AofCliIo): Promise<number> {
  const [command, ...rest] = args;
  const logger = pino({ level: 'warn', base: undefined }, io.stderr);
  // `lally aof dump | head`: once the reader is gone, stop quietly (exit 0, as a pipeline expects),
  // with no stack trace. The listener stays: later writes may report the same EPIPE.
  let readerGone = false;
  io.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') readerGone = true;
    else io.stderr.write(`lally aof: cannot write the output: ${err.message}\n`);
  });
  const out = (text: string) => {
    if (readerGone || (io.stdout as { destroyed?: boolean }).destroyed) throw new OutputClosed();
    io.stdout.write(text);
  };
  try {
    switch (command) {
      case 'check':
        return await check(one(parseArgs(rest, [])), out);
      case 'repair': {
        const parsed = parseArgs(rest, ['shards']);
        const shards = parseShardsFlag(parsed.flags.get('shards'));
        return await repair(one(parsed), parsed.flags.has('force'), shards, out, logger);
      }
      case 'dump':
        return await dump(one(parseArgs(rest, [])), out);
      case 'export': {
        const parsed = parseArgs(rest, ['out']);
        return await exportData(one(parsed), parsed.flags.get('out') as string | undefined, io, logger);
      }
      case 'import': {
        const parsed = parseArgs(rest, ['data-dir', 'shards']);
        return await importData(one(parsed), parsed.flags, out, logger);
      }
      case undefined:
      case 'help':
      case '--help':
        io.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${command}`);
    }
  } catch (err) {
    if (readerGone || err instanceof OutputClosed || (err as NodeJS.ErrnoException).code === 'EPIPE')
      return 0;
    if (err instanceof UsageError) {
      io.stderr.write(`lally aof: ${err.message}\n${USAGE}`);
      return 2;
    }
    const code = err instanceof LallyError ? ` [${err.code}]` : '';
    io.stderr.write(`lally aof: ${(err as Error).message}${code}\n`);
    return 1;
  }
}

function one(parsed: Parsed): string {
  if (parsed.positional.length !== 1) throw new UsageError('expected exactly one path');
  return parsed.positional[0]!;
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path)).isDirectory();
}

/** A folder that is not a data directory (no layout, no generation directories): its *.aof files. */
async function looseAofFiles(path: string): Promise<string[]> {
  const names = (await readdir(path)).filter((name) => name.endsWith('.aof')).sort();
  return names.map((name) => join(path, name));
}

/** Whether `path` is (or was) a data directory rather than a folder of loose AOF files. */
async function isDataDir(path: string): Promise<boolean> {
  const names = await readdir(path);
  return names.includes(LAYOUT_FILE) || names.some((name) => generationOf(name) >= 0);
}

/** The files of a plan's shards with their manifests, in replay order (the last is the active one). */
function planFiles(plan: RecoveryPlan): { path: string; active: boolean; manifest: ShardManifest }[] {
  const files: { path: string; active: boolean; manifest: ShardManifest }[] = [];
  for (const shard of plan.shards) {
    const manifest = shard.manifest;
    if (manifest === undefined || plan.genDir === undefined) continue;
    const names = manifestFiles(manifest);
    for (const [i, name] of names.entries()) {
      files.push({ path: join(plan.genDir, name), active: i === names.length - 1, manifest });
    }
  }
  return files;
}

function describe(result: ScanResult): string {
  const bad = result.bad;
  if (bad === undefined) return `OK   ${result.path}: ${result.records} records, ${result.fileBytes} bytes\n`;
  const after =
    bad.kind === 'tail'
      ? `damaged tail of ${result.fileBytes - bad.offset} bytes (repair truncates it)`
      : bad.nextValidOffset === undefined
        ? 'damaged header, no valid record after it (repair --force writes a fresh header)'
        : `${bad.offset === 0 ? 'damaged header' : 'mid-file corruption'}: valid records follow at offset ${bad.nextValidOffset} (repair --force cuts out the damage and keeps them)`;
  return `BAD  ${result.path}: first bad offset ${bad.offset} (${bad.reason}); ${result.records} valid records before it; ${after}\n`;
}

/**
 * `check` of a data directory prints what a start would do, from the same plan and the same verdict per
 * file as start-up (recovery-plan.ts, shard-replay.ts judgeFile); exit 1 when it would refuse or when
 * any file is damaged.
 */
async function check(path: string, out: (text: string) => void): Promise<number> {
  if (!(await isDirectory(path)) || !(await isDataDir(path))) {
    let bad = 0;
    const files = (await isDirectory(path)) ? await looseAofFiles(path) : [path];
    for (const file of files) {
      const result = await scanAofFile(file);
      if (result.bad !== undefined) bad++;
      out(describe(result));
    }
    if (files.length === 0) out(`${path}: no data yet; a start creates a new data directory here\n`);
    return bad === 0 ? 0 : 1;
  }
  const plan = await planRecovery(path);
  for (const problem of plan.problems) out(`REFUSE ${problem.path}: ${problem.problem}\n`);
  for (const deletion of plan.deletions)
    out(`LEFT ${deletion.path}: start-up deletes it (${deletion.why})\n`);
  let refusals = plan.problems.length;
  let damaged = 0;
  let truncations = 0;
  for (const file of planFiles(plan)) {
    if (plan.problems.some((p) => p.path === file.path)) continue; // missing: reported above
    const result = await scanAofFile(file.path);
    out(describe(result));
    const verdict = judgeFile(result, file.active, file.manifest);
    if (result.bad !== undefined) damaged++;
    if (verdict.kind === 'refuse') {
      refusals++;
      out(`     start-up refuses: ${verdict.error.message}\n`);
    } else if (verdict.kind === 'truncate') {
      truncations++;
      out(
        `     start-up truncates ${verdict.bytes} bytes at offset ${verdict.at} (a torn write) and goes on\n`,
      );
    }
  }
  for (const shard of plan.shards) {
    if (shard.manifest === undefined && shard.problems.length === 0)
      out(`NEW  shard ${shard.shard}: no files yet; start-up creates them\n`);
  }
  if (plan.layout === undefined && plan.problems.length === 0)
    out(`${path}: no data yet; a start creates a new generation here\n`);
  if (refusals > 0) {
    out(
      `start-up would REFUSE (${refusals} problem(s)); \`lally aof repair ${path}\` mends them (see docs/aof.md)\n`,
    );
  } else {
    const then = [
      plan.deletions.length > 0 ? `deleting ${plan.deletions.length} redundant leftover(s)` : '',
      truncations > 0 ? `truncating ${truncations} torn tail(s)` : '',
    ].filter(Boolean);
    out(`start-up would start${then.length > 0 ? ` after ${then.join(' and ')}` : ''}\n`);
  }
  return refusals === 0 && damaged === 0 ? 0 : 1;
}

async function repair(
  path: string,
  force: boolean,
  shardsFlag: number | undefined,
  out: (text: string) => void,
  logger: Logger,
): Promise<number> {
  if (!(await isDirectory(path)) || !(await isDataDir(path))) {
    let refused = 0;
    const files = (await isDirectory(path)) ? await looseAofFiles(path) : [path];
    const shards = shardsFlag ?? (await siblingShards(files));
    for (const file of files) {
      const result = await scanAofFile(file);
      out(describe(result));
      if (result.bad === undefined) continue;
      if (!(await repairFile(result, force, headerFor(file, result, shards), out))) refused++;
    }
    return refused === 0 ? 0 : 1;
  }
  // Never change files a running node is appending to.
  const lock = await acquireDataDirLock(path, logger);
  try {
    const plan = await planRecovery(path);
    if (plan.problems.length > 0) return await rebuildDataDir(path, plan, shardsFlag, out);
    for (const deletion of plan.deletions) out(`DEL  ${deletion.path}: ${deletion.why}\n`);
    await applyPlan(plan);
    let refused = 0;
    for (const file of planFiles(plan)) {
      const result = await scanAofFile(file.path);
      out(describe(result));
      if (result.bad === undefined) continue;
      const header = headerFor(file.path, result, file.manifest.shards);
      if (!(await repairFile(result, force, header, out))) refused++;
    }
    return refused === 0 ? 0 : 1;
  } finally {
    await lock.release();
  }
}

/**
 * The files `dump` prints: a file, a folder's *.aof files, or a data directory's files in replay order
 * (every data file of every generation when its metadata does not account for them).
 */
async function aofFiles(path: string): Promise<string[]> {
  if (!(await isDirectory(path))) return [path];
  if (!(await isDataDir(path))) return looseAofFiles(path);
  const plan = await planRecovery(path);
  if (plan.problems.length === 0) return planFiles(plan).map((f) => f.path);
  return (await allDataFiles(path)).files;
}

/** The shard count the readable headers among `files` agree on, for a file whose own header is damaged. */
async function siblingShards(files: readonly string[]): Promise<number | undefined> {
  for (const file of files) {
    const fh = await open(file, 'r');
    const head = Buffer.alloc(MAX_HEADER_BYTES);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    await fh.close();
    const header = decodeHeader(head.subarray(0, bytesRead));
    if (header.ok) return header.header.shards;
  }
  return undefined;
}

async function dump(path: string, out: (text: string) => void): Promise<number> {
  let status = 0;
  for (const file of await aofFiles(path)) {
    const fh = await open(file, 'r');
    const head = Buffer.alloc(300);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    await fh.close();
    const header = decodeHeader(head.subarray(0, bytesRead));
    out(
      header.ok
        ? `# ${file}: ${header.header.kind} file of shard ${header.header.shard}/${header.header.shards}, format ${header.header.format}, key hash ${header.header.keyHash}\n`
        : `# ${file}: ${header.reason}\n`,
    );
    const result = await scanAofFile(file, (buf, offset, _size, fileOffset) => {
      const r = decodeRecordAt(buf, offset);
      const value = r.op === 'ADD' ? ` value=${JSON.stringify(r.value)}` : '';
      out(
        `${fileOffset}\t${r.op}\t${versionToRfc3339(r.version)}\t${formatVersion(r.version)}\tkey=${JSON.stringify(r.key)}${value}\n`,
      );
    });
    if (result.bad !== undefined) {
      out(`# stopped at offset ${result.bad.offset}: ${result.bad.reason}\n`);
      status = 1;
    }
  }
  return status;
}

async function exportData(dataDir: string, outPath: string | undefined, io: AofCliIo, logger: Logger) {
  const live = await readLiveData(dataDir, logger);
  const target = outPath === undefined ? io.stdout : createWriteStream(outPath);
  for (const key of [...live.keys()].sort()) {
    if (!target.write(encodeExportLine(live.get(key)!))) await once(target, 'drain');
  }
  if (outPath !== undefined) {
    (target as ReturnType<typeof createWriteStream>).end();
    await once(target, 'finish');
    io.stderr.write(`exported ${live.size} keys to ${outPath}\n`);
  }
  return 0;
}

async function importData(
  file: string,
  flags: Map<string, string | true>,
  out: (text: string) => void,
  logger: Logger,
): Promise<number> {
  const dataDir = flags.get('data-dir');
  if (typeof dataDir !== 'string') throw new UsageError('import needs --data-dir DIR');
  const shardsFlag = flags.get('shards');
  let shards: number;
  if (typeof shardsFlag === 'string') {
    shards = Number(shardsFlag);
    if (!Number.isSafeInteger(shards) || shards < 1)
      throw new UsageError('--shards must be a positive integer');
  } else {
    shards = (await readLayout(dataDir).catch(() => undefined))?.shards ?? availableParallelism();
  }
  const prepared = await prepareDataDir({ dataDir, shards, fresh: false, replayLog: file, logger });
  await prepared.release();
  out(`imported ${file} into ${dataDir} (${shards} shards)\n`);
  return 0;
}
