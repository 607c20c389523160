/**
 * A node's identity: a random unsigned 32-bit id, never 0, made once and kept in the data directory.
 * The id is the tiebreak of every version the node stamps, so it must differ across hosts: a hash of
 * `host:port` does not (every node started with the defaults would share one). A node without a data
 * directory (`--no-aof`) draws one for its lifetime.
 *
 * File `<dataDir>/node-id`: the id as 8 lower-case hex digits and a newline. It is created with
 * create-if-absent semantics (temp file, fsync, hard link to the final name, directory fsync), so a
 * crash leaves either no file or a complete one, and two processes racing on one directory agree on the
 * id. A file that does not parse is an error, never silently replaced: a new id would make this node a
 * stranger to its peers while its data still carries the old id in every version.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, LallyError } from '../errors.js';
import { createFileOnce } from '../fs/durable-file.js';

export const NODE_ID_FILE = 'node-id';

export interface NodeIdentity {
  /** The id as an unsigned 32-bit integer (1..0xffffffff): the version tiebreak. */
  readonly id: number;
  /** The id as 8 lower-case hex digits, as logs, files and GET /cluster show it. */
  readonly hex: string;
  /** Whether the id is kept on disk (false for a node without a data directory). */
  readonly persisted: boolean;
  /** Whether this call made the id (first start, or a node without a data directory). */
  readonly created: boolean;
}

/** A source of random unsigned 32-bit integers; injected so that tests can force a 0 or a collision. */
export type RandomU32 = () => number;

export const cryptoRandomU32: RandomU32 = () => randomBytes(4).readUInt32BE(0);

export function nodeIdToHex(id: number): string {
  return id.toString(16).padStart(8, '0');
}

/** The id written as 8 hex digits, or undefined when the text is not one (or is the reserved 0). */
export function parseNodeIdHex(text: string): number | undefined {
  if (!/^[0-9a-f]{8}$/.test(text)) return undefined;
  const id = Number.parseInt(text, 16);
  return id === 0 ? undefined : id;
}

/** A fresh random id; 0 is drawn again (it is ZERO_VERSION's node, the "no write" stamp). */
export function randomNodeId(random: RandomU32 = cryptoRandomU32): number {
  for (let attempt = 0; attempt < 16; attempt++) {
    const id = random() >>> 0;
    if (id !== 0) return id;
  }
  throw new LallyError(ErrorCodes.INTERNAL, 'the random source gave 0 sixteen times in a row');
}

function identity(id: number, persisted: boolean, created: boolean): NodeIdentity {
  return { id, hex: nodeIdToHex(id), persisted, created };
}

/** Reads `<dataDir>/node-id`; undefined when it does not exist. */
export async function readNodeId(dataDir: string): Promise<number | undefined> {
  const path = join(dataDir, NODE_ID_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LallyError(ErrorCodes.AOF_IO, `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  const line = text.endsWith('\n') ? text.slice(0, -1) : text;
  const id = parseNodeIdHex(line);
  if (id === undefined) {
    throw new LallyError(
      ErrorCodes.AOF_CORRUPT,
      `${path} is corrupt (expected 8 hex digits, not 00000000, and a newline; found ${JSON.stringify(
        text.slice(0, 40),
      )}): restore it from a backup of this node, or delete it to start as a new member with a new id`,
    );
  }
  return id;
}

/** Writes the id unless a file is already there; returns the id that is on disk afterwards. */
async function createNodeIdFile(dataDir: string, id: number): Promise<{ id: number; created: boolean }> {
  const path = join(dataDir, NODE_ID_FILE);
  try {
    if (await createFileOnce(dataDir, NODE_ID_FILE, `${nodeIdToHex(id)}\n`)) return { id, created: true };
  } catch (err) {
    throw new LallyError(ErrorCodes.AOF_IO, `cannot write ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const existing = await readNodeId(dataDir);
  if (existing === undefined) {
    throw new LallyError(ErrorCodes.AOF_IO, `${path} vanished while this node was creating it`);
  }
  return { id: existing, created: false };
}

export interface LoadNodeIdentityOptions {
  /** The data directory (it must exist), or undefined for a node without one. */
  readonly dataDir: string | undefined;
  readonly random?: RandomU32;
}

/**
 * The node's identity: read from the data directory, or made and persisted there on the first start.
 * Call it after the data directory's lock is held (prepareDataDir), although a race is safe too.
 */
export async function loadNodeIdentity(opts: LoadNodeIdentityOptions): Promise<NodeIdentity> {
  const random = opts.random ?? cryptoRandomU32;
  if (opts.dataDir === undefined) return identity(randomNodeId(random), false, true);
  const existing = await readNodeId(opts.dataDir);
  if (existing !== undefined) return identity(existing, true, false);
  const written = await createNodeIdFile(opts.dataDir, randomNodeId(random));
  return identity(written.id, true, written.created);
}
