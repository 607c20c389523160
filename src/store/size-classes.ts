/**
 * Block sizes of the shared table's arena (src/store/table-arena.ts). Every block is a multiple of 8
 * bytes (the entry header holds an f64). Up to 256 bytes the classes are 16 bytes apart (small values
 * waste at most 15 bytes); above, 8 classes per doubling (at most 12.5% of a block is slack), up to
 * the arena's 4 GiB bound. A freed block goes to its class's free list and is reused by the next
 * block of that class, so a store whose value sizes stay in a range keeps reusing the same memory.
 */

const MIN_BLOCK = 32;
const LINEAR_TOP = 256;
const LINEAR_STEP = 16;
const STEPS_PER_DOUBLING = 8;
/** The arena is one growable SharedArrayBuffer, whose length V8 bounds at 4 GiB. */
export const MAX_BLOCK_BYTES = 2 ** 32 - 8;

function buildClasses(): number[] {
  const sizes: number[] = [];
  for (let size = MIN_BLOCK; size <= LINEAR_TOP; size += LINEAR_STEP) sizes.push(size);
  for (let base = LINEAR_TOP; base < MAX_BLOCK_BYTES; base *= 2) {
    const step = base / STEPS_PER_DOUBLING;
    for (let i = 1; i <= STEPS_PER_DOUBLING; i++) sizes.push(Math.min(base + i * step, MAX_BLOCK_BYTES));
  }
  return sizes;
}

/** CLASS_BYTES[c]: the size of a block of class c, ascending. */
export const CLASS_BYTES: readonly number[] = Object.freeze(buildClasses());

/** Classes of the linear part, looked up directly; the rest by a short search. */
const LINEAR_CLASSES = (LINEAR_TOP - MIN_BLOCK) / LINEAR_STEP + 1;

/** The smallest class whose blocks hold `bytes` bytes (bytes <= MAX_BLOCK_BYTES). */
export function classOf(bytes: number): number {
  if (bytes <= MIN_BLOCK) return 0;
  if (bytes <= LINEAR_TOP) return Math.ceil((bytes - MIN_BLOCK) / LINEAR_STEP);
  let c = LINEAR_CLASSES;
  while (CLASS_BYTES[c]! < bytes) c++;
  return c;
}
