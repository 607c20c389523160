/**
 * glibc's malloc, tuned for a long-running daemon, through the optional addon built from
 * native/malloc_tuning.c (scripts/build-native.mjs; without a compiler it is absent and nothing is
 * tuned).
 *
 * Why: glibc serves an allocation of 128 KiB or more with its own mmap, and frees it with munmap; but
 * the first such free raises the threshold to that size (up to 32 MiB), and from then on those
 * allocations come from the thread's malloc heap, which fragments and is kept. Node frees a few such
 * blocks while it starts (2 MiB array buffers among them), so every shard's request bodies, answers
 * and AOF buffers then come from heaps that only grow. After a load of 1M keys the daemon held 215
 * bytes per key at rest, 174 with the threshold fixed at 128 KiB (MALLOC_MMAP_THRESHOLD_=131072,
 * which is what `mallopt(M_MMAP_THRESHOLD)` does from inside: docs/performance.md). Redis avoids the
 * same by shipping jemalloc.
 */
import { createRequire } from 'node:module';

export interface MallocControls {
  setMmapThreshold(bytes: number): boolean;
  trim(): boolean;
}

/** glibc's default threshold, fixed there: requests from 128 KiB up are mapped, and unmapped on free. */
export const MMAP_THRESHOLD_BYTES = 128 * 1024;

/** Where the addon is built: build/Release at the package's root (from dist/src/native). */
const ADDON_PATH = '../../../build/Release/lally_native.node';

let controls: MallocControls | null | undefined;

/** The addon's functions, or null when it was not built (or does not load here). */
export function mallocControls(path = ADDON_PATH): MallocControls | null {
  if (path === ADDON_PATH && controls !== undefined) return controls;
  let loaded: MallocControls | null;
  try {
    loaded = createRequire(import.meta.url)(path) as MallocControls;
  } catch {
    loaded = null;
  }
  if (path === ADDON_PATH) controls = loaded;
  return loaded;
}

export type MallocTuning =
  | { kind: 'tuned'; mmapThresholdBytes: number }
  | { kind: 'environment'; variable: string }
  | { kind: 'unavailable'; reason: string };

/**
 * Fixes the mmap threshold unless the environment already sets glibc's malloc (the operator's choice
 * wins). Process-wide: call it once on the main thread, before the shard threads start.
 */
export function tuneMalloc(env: NodeJS.ProcessEnv, native = mallocControls()): MallocTuning {
  const variable = ['MALLOC_MMAP_THRESHOLD_', 'GLIBC_TUNABLES'].find((name) => env[name] !== undefined);
  if (variable !== undefined) return { kind: 'environment', variable };
  if (native === null)
    return { kind: 'unavailable', reason: 'the native addon is not built (npm run build:native)' };
  if (!native.setMmapThreshold(MMAP_THRESHOLD_BYTES)) {
    return { kind: 'unavailable', reason: 'this C library has no mallopt (not glibc)' };
  }
  return { kind: 'tuned', mmapThresholdBytes: MMAP_THRESHOLD_BYTES };
}
