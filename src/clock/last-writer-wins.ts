/**
 * The one last-writer-wins rule, used by the store (so replay and every write), compaction, export and,
 * later, replication and repair. Two writes are ordered by their version; a tie (the same stamp, which
 * one node never hands out twice, but imports and damaged clocks can produce) is broken by content,
 * as Cassandra does: a delete beats a value, then the greater value in UTF-8 byte order wins. The
 * outcome therefore depends only on the two writes, never on the order they arrive in, so replay,
 * compaction and every replica agree. Equal writes do not supersede each other (applying one twice
 * changes nothing).
 */
import { compareVersions, type Version } from './hlc.js';

/** True when the write (a, aTombstone, aValue) replaces the stored (b, bTombstone, bValue). */
export function supersedes(
  a: Version,
  aTombstone: boolean,
  aValue: string,
  b: Version,
  bTombstone: boolean,
  bValue: string,
): boolean {
  const order = compareVersions(a, b);
  if (order !== 0) return order > 0;
  if (aTombstone !== bTombstone) return aTombstone;
  return compareUtf8(aValue, bValue) > 0;
}

/** `supersedes` for records still in their encoded form (compaction compares bytes, not strings). */
export function supersedesEncoded(
  a: Version,
  aTombstone: boolean,
  aValue: Uint8Array,
  b: Version,
  bTombstone: boolean,
  bValue: Uint8Array,
): boolean {
  const order = compareVersions(a, b);
  if (order !== 0) return order > 0;
  if (aTombstone !== bTombstone) return aTombstone;
  return Buffer.compare(aValue, bValue) > 0;
}

/**
 * Compares two strings in the order of their UTF-8 bytes, which is code point order. JavaScript's `<`
 * compares UTF-16 code units instead, which puts U+E000..U+FFFF after the astral planes: the store and
 * compaction (which compares bytes) would then disagree.
 */
export function compareUtf8(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const surrogateX = x >= 0xd800 && x <= 0xdfff;
    const surrogateY = y >= 0xd800 && y <= 0xdfff;
    // A surrogate (part of a code point above U+FFFF) sorts after every BMP unit but its own kind.
    if (surrogateX !== surrogateY) return surrogateX ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}
