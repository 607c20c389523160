/**
 * The last members a node knew, kept in `<dataDir>/members.json`, so that a restarted node rejoins
 * its cluster without `--seed-node` (it joins any member that answers) and starts above its last
 * incarnation. Replaced atomically (temp file, fsync, rename, directory fsync): a crash leaves the old
 * list or the new one. A file that does not parse is an error: starting alone instead would split the
 * cluster. Write it on membership changes, debounced (a flapping member would otherwise cost a fsync
 * per change).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, LallyError } from '../errors.js';
import { writeFileAtomic } from '../fs/durable-file.js';
import { isMemberUpdate, type MemberUpdate } from './member.js';
import { nodeIdToHex, parseNodeIdHex } from './node-identity.js';

export const MEMBER_FILE = 'members.json';
const FORMAT = 1;

export interface MemberFile {
  /** The node that wrote the file: a file copied from another node's data dir is refused. */
  readonly self: number;
  /** Every member, the writer included (its entry carries its last incarnation). */
  readonly members: readonly MemberUpdate[];
}

export async function writeMemberFile(dataDir: string, file: MemberFile): Promise<void> {
  const path = join(dataDir, MEMBER_FILE);
  const body = {
    format: FORMAT,
    self: nodeIdToHex(file.self),
    members: file.members.map((m) => ({
      id: nodeIdToHex(m.id),
      address: m.address,
      state: m.state,
      incarnation: m.incarnation,
    })),
  };
  try {
    await writeFileAtomic(dataDir, MEMBER_FILE, `${JSON.stringify(body)}\n`);
  } catch (err) {
    throw new LallyError(ErrorCodes.AOF_IO, `cannot write ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

function corrupt(path: string, why: string): LallyError {
  return new LallyError(
    ErrorCodes.AOF_CORRUPT,
    `${path} is corrupt (${why}): restore it, or delete it and start with --seed-node`,
  );
}

/** The last members, or undefined when the node never wrote the file. */
export async function readMemberFile(dataDir: string, selfId: number): Promise<MemberFile | undefined> {
  const path = join(dataDir, MEMBER_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LallyError(ErrorCodes.AOF_IO, `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw corrupt(path, 'not JSON');
  }
  if (typeof body !== 'object' || body === null) throw corrupt(path, 'not an object');
  const { format, self, members } = body as Record<string, unknown>;
  if (format !== FORMAT) throw corrupt(path, `unknown format ${JSON.stringify(format)}`);
  const writer = typeof self === 'string' ? parseNodeIdHex(self) : undefined;
  if (writer === undefined) throw corrupt(path, 'no writer id');
  if (writer !== selfId) {
    throw new LallyError(
      ErrorCodes.CONFIG,
      `${path} was written by node ${nodeIdToHex(writer)}, not this node (${nodeIdToHex(selfId)}): was the data directory copied?`,
    );
  }
  if (!Array.isArray(members)) throw corrupt(path, 'no member list');
  const parsed: MemberUpdate[] = [];
  for (const entry of members) {
    const e = entry as Record<string, unknown> | null;
    const id = typeof e?.id === 'string' ? parseNodeIdHex(e.id) : undefined;
    const update = { id, address: e?.address, state: e?.state, incarnation: e?.incarnation };
    if (!isMemberUpdate(update)) throw corrupt(path, `bad member ${JSON.stringify(entry)}`);
    parsed.push(update);
  }
  return { self: writer, members: parsed };
}
