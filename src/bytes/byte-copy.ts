/**
 * Copies of bytes into or out of shared memory (the rings, the tables) that run at memcpy speed.
 *
 * V8 copies a typed array to or from a SharedArrayBuffer (`set`, `fill`, `copyWithin`) with relaxed
 * atomic accesses, byte by byte when source and target are not equally aligned: 64 KiB took 70 to
 * 100 µs that way, against 1.5 µs through Buffer's `fill` with a Buffer value, a plain memcpy in C++
 * (measured on the 2-core VM, Node 20.20). Below a few hundred bytes `set` is the faster of the two.
 */
const SMALL = 256;
const ZERO = Buffer.alloc(1);

/** Copies all of `source` into `target` at `at` (target must have the room). */
export function copyBytes(target: Buffer, at: number, source: Uint8Array): void {
  const length = source.byteLength;
  if (length < SMALL) target.set(source, at);
  else target.fill(source, at, at + length);
}

/** Zeroes target[start, end). */
export function zeroBytes(target: Buffer, start: number, end: number): void {
  if (end - start < SMALL) target.fill(0, start, end);
  else target.fill(ZERO, start, end);
}
