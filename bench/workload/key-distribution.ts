/**
 * Key distributions with fixed seeds, so that two runs of the bench send the very same keys in the same
 * order and their figures compare.
 */

/** A 32-bit PRNG (mulberry32): tiny, fast, and the same sequence on every platform for a given seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type DistributionName = 'uniform' | 'zipf';

/** Draws key indexes in [0, keyCount). */
export type KeyIndexSource = () => number;

export function uniformKeys(keyCount: number, random: () => number): KeyIndexSource {
  return () => Math.floor(random() * keyCount);
}

/** YCSB's default skew: a few keys take most of the traffic (the hottest 1% get about half of it). */
export const ZIPF_THETA = 0.99;

function zeta(n: number, theta: number): number {
  let sum = 0;
  for (let i = 1; i <= n; i++) sum += 1 / i ** theta;
  return sum;
}

/**
 * Zipfian key indexes by the method of Gray et al. ("Quickly generating billion-record synthetic
 * databases", SIGMOD 1994), as YCSB does: index 0 is the hottest key, index 1 the next, and so on.
 * Callers that want the hot keys spread over the keyspace (and the shards) map indexes through a
 * permutation; see `scatterIndex`.
 */
export function zipfKeys(keyCount: number, random: () => number, theta = ZIPF_THETA): KeyIndexSource {
  if (keyCount < 1) throw new RangeError('keyCount must be at least 1');
  const zetaN = zeta(keyCount, theta);
  const zeta2 = zeta(Math.min(2, keyCount), theta);
  const alpha = 1 / (1 - theta);
  const eta = (1 - (2 / keyCount) ** (1 - theta)) / (1 - zeta2 / zetaN);
  const half = 0.5 ** theta;
  return () => {
    const u = random();
    const uz = u * zetaN;
    if (uz < 1) return 0;
    if (uz < 1 + half) return Math.min(1, keyCount - 1);
    return Math.min(keyCount - 1, Math.floor(keyCount * (eta * u - eta + 1) ** alpha));
  };
}

/**
 * A fixed bijection of [0, keyCount) (multiplication by a large odd constant modulo a power of two,
 * cycle-walked into range), so that Zipf's hottest keys are not all neighbours such as key-0, key-1.
 */
export function scatterIndex(index: number, keyCount: number): number {
  let bits = 1;
  while (1 << bits < keyCount) bits++;
  const mask = (1 << bits) - 1;
  let x = index;
  do {
    x = (Math.imul(x, 0x2c1b3c6d) + 0x297a2d39) & mask;
  } while (x >= keyCount);
  return x;
}

export function keySource(name: DistributionName, keyCount: number, seed: number): KeyIndexSource {
  const random = seededRandom(seed);
  if (name === 'uniform') return uniformKeys(keyCount, random);
  const zipf = zipfKeys(keyCount, random);
  return () => scatterIndex(zipf(), keyCount);
}

/** Keys of exactly 16 bytes (`key-000000000042`), as the memory figure asks. */
export function keyName(index: number): string {
  return `key-${String(index).padStart(12, '0')}`;
}

/** A value of exactly `bytes` ASCII bytes, the same on every run. */
export function fixedValue(bytes: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  for (let i = 0; i < bytes; i++) out += alphabet[i % alphabet.length];
  return out;
}
