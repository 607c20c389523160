/**
 * Small files that must survive a crash whole: the AOF layout and manifests, the node id, the member
 * list. Each is written to a temp file, fsynced, moved into place, and its directory fsynced, so a
 * reader sees the old content or the new one, never a mix, and the new name survives a power cut.
 */
import { randomBytes } from 'node:crypto';
import { link, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** fsync of a file or a directory (a directory's fsync makes its new entries durable). */
export async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** A temp name beside `name` in `dir`, hidden and unique to this process and call. */
export function tempPathFor(dir: string, name: string): string {
  return join(dir, `.${name}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
}

async function writeSynced(path: string, content: string): Promise<void> {
  const fh = await open(path, 'wx');
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Replaces `dir/name` with `content` atomically; the temp file is removed when anything fails. */
export async function writeFileAtomic(dir: string, name: string, content: string): Promise<void> {
  const temp = tempPathFor(dir, name);
  try {
    await writeSynced(temp, content);
    await rename(temp, join(dir, name));
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
  await fsyncPath(dir);
}

/**
 * Creates `dir/name` with `content` unless it exists (a link, not a rename: it never replaces a file
 * another process wrote meanwhile). True when this call created it.
 */
export async function createFileOnce(dir: string, name: string, content: string): Promise<boolean> {
  const temp = tempPathFor(dir, name);
  let created = true;
  try {
    await writeSynced(temp, content);
    try {
      await link(temp, join(dir, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      created = false;
    }
  } finally {
    await unlink(temp).catch(() => {});
  }
  await fsyncPath(dir);
  return created;
}
