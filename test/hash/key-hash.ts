import t from 'tap';
import { hashKey, hashKeyBytes, KEY_HASH_NAME, shardOfHash, shardOfKey } from '../../src/hash/key-hash.js';

/** An independent FNV-1a 32 in BigInt arithmetic: no Math.imul, no `>>> 0`, so it cannot share a bug. */
function referenceFnv1a32(bytes: Uint8Array): number {
  let hash = 0x811c9dc5n;
  for (const byte of bytes) {
    hash ^= BigInt(byte);
    hash = (hash * 0x01000193n) & 0xffffffffn;
  }
  return Number(hash);
}

function reference(text: string): number {
  return referenceFnv1a32(Buffer.from(text, 'utf8'));
}

/** Deterministic key generator so a failure reproduces. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

t.test('the hash is named in AOF headers', async (t) => {
  t.equal(KEY_HASH_NAME, 'fnv1a32');
});

t.test('published FNV-1a 32 vectors', async (t) => {
  const vectors: [string, number][] = [
    ['', 0x811c9dc5],
    ['a', 0xe40c292c],
    ['foobar', 0xbf9cf968],
  ];
  for (const [text, expected] of vectors) {
    t.equal(reference(text), expected, `reference agrees on ${JSON.stringify(text)}`);
    t.equal(hashKey(text), expected, `hashKey(${JSON.stringify(text)})`);
    t.equal(hashKeyBytes(Buffer.from(text)), expected, `hashKeyBytes(${JSON.stringify(text)})`);
  }
});

t.test('the result is an unsigned 32-bit integer', async (t) => {
  const next = random(1);
  for (let i = 0; i < 200; i++) {
    const key = `k${Math.floor(next() * 1e9)}`;
    const hash = hashKey(key);
    t.ok(Number.isInteger(hash) && hash >= 0 && hash <= 0xffffffff, `${key} -> ${hash}`);
    t.equal(hash, reference(key));
  }
  // 0x811c9dc5 has its top bit set: a signed result would be negative.
  t.ok(hashKey('') > 0x7fffffff);
});

t.test('UTF-8 multi-byte keys hash their UTF-8 bytes', async (t) => {
  const keys = [
    'é',
    'naïve café',
    'ключ',
    '日本語のキー',
    '🔑',
    'mixed 🔑 ключ é 日本',
    '\u0000nul\u0000',
    'a\uD800b', // a lone surrogate encodes as U+FFFD in both paths
    '😀'.repeat(100),
  ];
  for (const key of keys) {
    const bytes = Buffer.from(key);
    t.equal(hashKey(key), hashKeyBytes(bytes), `hashKey === hashKeyBytes for ${JSON.stringify(key)}`);
    t.equal(hashKey(key), referenceFnv1a32(bytes), `reference for ${JSON.stringify(key)}`);
  }
  // Different encodings of "the same" text are different keys.
  t.not(hashKey('é'), hashKey('e\u0301'));
});

t.test('long keys take the allocating path and agree', async (t) => {
  // hashKey uses a 1024-byte scratch when key.length * 3 <= 1024, i.e. up to 341 UTF-16 units.
  for (const length of [340, 341, 342, 343, 1024, 1025, 5000, 70_000]) {
    const ascii = 'x'.repeat(length - 1) + String(length % 10);
    t.equal(hashKey(ascii), reference(ascii), `ascii key of ${length} chars`);
  }
  const multi = 'ключ🔑'.repeat(400); // > 1024 bytes
  t.ok(Buffer.byteLength(multi) > 1024);
  t.equal(hashKey(multi), reference(multi), 'multi-byte key over 1024 bytes');
  t.equal(hashKey(multi), hashKeyBytes(Buffer.from(multi)));
  // A short key after a long one: the scratch must not keep stale bytes.
  t.equal(hashKey('a'), 0xe40c292c);
  // 341 three-byte chars fill the scratch exactly.
  const full = '日'.repeat(341);
  t.equal(Buffer.byteLength(full), 1023);
  t.equal(hashKey(full), reference(full));
});

t.test('start and end offsets select a sub-range', async (t) => {
  const bytes = Buffer.from('xxfoobaryy');
  t.equal(hashKeyBytes(bytes, 2, 8), 0xbf9cf968, 'foobar in the middle');
  t.equal(hashKeyBytes(bytes, 2), reference('foobaryy'), 'end defaults to the length');
  t.equal(hashKeyBytes(bytes, 0, 0), 0x811c9dc5, 'empty range is the offset basis');
  t.equal(hashKeyBytes(bytes, 5, 5), 0x811c9dc5);
  t.equal(hashKeyBytes(bytes, 2, 3), reference('f'));
  // A view at an offset into a larger buffer: indices are relative to the view.
  const backing = new Uint8Array(64);
  backing.set(Buffer.from('foobar'), 40);
  t.equal(hashKeyBytes(backing.subarray(40, 46)), 0xbf9cf968);
  t.equal(hashKeyBytes(backing, 40, 46), 0xbf9cf968);
});

t.test('shardOfHash is hash modulo shards', async (t) => {
  t.equal(shardOfHash(0xbf9cf968, 1), 0);
  t.equal(shardOfHash(0xbf9cf968, 7), 0xbf9cf968 % 7);
  t.equal(shardOfHash(0xffffffff, 16), 15);
  t.equal(shardOfHash(10, 3), 1);
  for (const key of ['a', 'foobar', 'ключ']) {
    for (let shards = 1; shards <= 16; shards++) {
      t.equal(shardOfKey(key, shards), shardOfHash(hashKey(key), shards));
    }
  }
});

t.test('shardOfKey is in range and roughly uniform', async (t) => {
  const next = random(42);
  const keys = Array.from({ length: 10_000 }, (_, i) => `key:${i}:${Math.floor(next() * 1e12).toString(36)}`);
  for (let shards = 2; shards <= 16; shards++) {
    const counts = new Array<number>(shards).fill(0);
    let outOfRange = 0;
    for (const key of keys) {
      const shard = shardOfKey(key, shards);
      if (!Number.isInteger(shard) || shard < 0 || shard >= shards) outOfRange++;
      else counts[shard]!++;
    }
    t.equal(outOfRange, 0, `${shards} shards: every key in range`);
    const expected = keys.length / shards;
    // Loose bounds: +-25% of the mean (the binomial sd is ~1-3%).
    t.ok(
      counts.every((count) => count > expected * 0.75 && count < expected * 1.25),
      `${shards} shards roughly uniform: ${counts.join(',')}`,
    );
  }
  // Sequential keys too (a common pattern).
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 10_000; i++) counts[shardOfKey(`user:${i}`, 4)]!++;
  t.ok(
    counts.every((count) => count > 1875 && count < 3125),
    `sequential keys over 4 shards: ${counts}`,
  );
});

t.test('routing is pinned: it must never change', async (t) => {
  // Computed once with the BigInt reference above and hard-coded: the AOF files of existing data
  // directories are routed by these values.
  const pinned: [key: string, hash: number, shards2: number, shards3: number, shards8: number][] = [
    ['user:1', 0x6d1a4acb, 1, 1, 3],
    ['user:42', 0x2f6b7b82, 0, 2, 2],
    ['session/abc', 0x48738238, 0, 1, 0],
    ['ключ', 0x95c4e9e1, 1, 2, 1],
    ['🔑-emoji', 0xa3289ef8, 0, 0, 0],
  ];
  for (const [key, hash, s2, s3, s8] of pinned) {
    t.equal(hashKey(key), hash, `hash of ${key}`);
    t.equal(shardOfKey(key, 2), s2, `${key} on 2 shards`);
    t.equal(shardOfKey(key, 3), s3, `${key} on 3 shards`);
    t.equal(shardOfKey(key, 8), s8, `${key} on 8 shards`);
  }
});
