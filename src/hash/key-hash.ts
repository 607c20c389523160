/**
 * The stable key hash. It routes every key to its shard, and the AOF files are routed by it, so it may
 * NEVER change: a different function would send keys to shards whose files do not hold them.
 *
 * Function: 32-bit FNV-1a over the key's UTF-8 bytes (offset basis 2166136261, prime 16777619), as an
 * unsigned integer. Shard of a key: `hash % shards`. AOF file headers record the name below so that a
 * future version can tell how a file was routed.
 */
export const KEY_HASH_NAME = 'fnv1a32';

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

export function hashKeyBytes(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let hash = FNV_OFFSET;
  for (let i = start; i < end; i++) {
    hash ^= bytes[i]!;
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash >>> 0;
}

const encoder = new TextEncoder();
const scratch = new Uint8Array(1024);

/** Hash of a key given as a string: the hash of its UTF-8 encoding. */
export function hashKey(key: string): number {
  // Most keys are ASCII, whose UTF-8 bytes are the char codes: hash them without encoding.
  let hash = FNV_OFFSET;
  let i = 0;
  for (; i < key.length; i++) {
    const code = key.charCodeAt(i);
    if (code >= 0x80) break;
    hash ^= code;
    hash = Math.imul(hash, FNV_PRIME);
  }
  if (i === key.length) return hash >>> 0;
  // Encode into a reused buffer when it fits: this runs for every request.
  if (key.length * 3 <= scratch.length) {
    const { written } = encoder.encodeInto(key, scratch);
    return hashKeyBytes(scratch, 0, written);
  }
  return hashKeyBytes(encoder.encode(key));
}

export function shardOfHash(hash: number, shards: number): number {
  return hash % shards;
}

export function shardOfKey(key: string, shards: number): number {
  return hashKey(key) % shards;
}
