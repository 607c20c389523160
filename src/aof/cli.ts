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
import { decodeHeader, decodeRecordAt } from './format.js';
import { manifestFiles, readLayout, readManifest } from './layout.js';
import { acquireDataDirLock } from './lock-file.js';
import { readLiveData } from './record-source.js';
import { type ScanResult, scanAofFile } from './scan.js';

export interface AofCliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

const USAGE = `usage: lally aof <command>
  check  <data-dir|file>                     verify every record; report the first bad offset per file
  repair <data-dir|file> [--force]           truncate a damaged tail (--force: also cut mid-file corruption)
  dump   <data-dir|file>                     print the records readably
  export <data-dir> [--out FILE]             the live data as JSON lines (stdout by default)
  import <file> --data-dir DIR [--shards N]  replace DIR's data with an export, an AOF or an upstream log
`;

class UsageError extends Error {}

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
  const out = (text: string) => io.stdout.write(text);
  try {
    switch (command) {
      case 'check':
        return await check(one(parseArgs(rest, [])), out);
      case 'repair': {
        const parsed = parseArgs(rest, []);
        return await repair(one(parsed), parsed.flags.has('force'), out, logger);
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

/** The AOF files under `path`: a file, a data directory (manifest order) or any folder of *.aof files. */
async function aofFiles(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  const layout = await readLayout(path);
  if (layout !== undefined) {
    const genDir = join(path, layout.dir);
    const files: string[] = [];
    for (let shard = 0; shard < layout.shards; shard++) {
      const manifest = await readManifest(genDir, shard);
      if (manifest !== undefined) files.push(...manifestFiles(manifest).map((name) => join(genDir, name)));
    }
    return files;
  }
  const names = (await readdir(path)).filter((name) => name.endsWith('.aof')).sort();
  return names.map((name) => join(path, name));
}

function describe(result: ScanResult): string {
  const bad = result.bad;
  if (bad === undefined) return `OK   ${result.path}: ${result.records} records, ${result.fileBytes} bytes\n`;
  const after =
    bad.kind === 'tail'
      ? `damaged tail of ${result.fileBytes - bad.offset} bytes (repair truncates it)`
      : `mid-file corruption: valid records follow at offset ${bad.nextValidOffset} (repair needs --force and loses them)`;
  return `BAD  ${result.path}: first bad offset ${bad.offset} (${bad.reason}); ${result.records} valid records before it; ${after}\n`;
}

async function check(path: string, out: (text: string) => void): Promise<number> {
  let bad = 0;
  for (const file of await aofFiles(path)) {
    const result = await scanAofFile(file);
    if (result.bad !== undefined) bad++;
    out(describe(result));
  }
  return bad === 0 ? 0 : 1;
}

async function repair(
  path: string,
  force: boolean,
  out: (text: string) => void,
  logger: Logger,
): Promise<number> {
  const isDir = (await stat(path)).isDirectory();
  // Never cut files a running node is appending to.
  const lock =
    isDir && (await readLayout(path)) !== undefined ? await acquireDataDirLock(path, logger) : undefined;
  let refused = 0;
  try {
    for (const file of await aofFiles(path)) {
      const result = await scanAofFile(file);
      out(describe(result));
      const bad = result.bad;
      if (bad === undefined) continue;
      if (result.header === undefined) {
        out(`     ${file}: the header is damaged; not repairable by truncation\n`);
        refused++;
        continue;
      }
      if (bad.kind === 'mid' && !force) {
        out(`     ${file}: refusing to cut mid-file corruption without --force\n`);
        refused++;
        continue;
      }
      const fh = await open(file, 'r+');
      await fh.truncate(bad.offset);
      await fh.sync();
      await fh.close();
      out(
        `     ${file}: truncated at offset ${bad.offset} (${result.fileBytes - bad.offset} bytes removed)\n`,
      );
    }
  } finally {
    await lock?.release();
  }
  return refused === 0 ? 0 : 1;
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
