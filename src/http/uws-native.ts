import type * as Uws from 'uWebSockets.js';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ErrorCodes, LallyError } from '../errors.js';

export type UwsModule = typeof Uws;

const require = createRequire(import.meta.url);

/** Path of the native build of uWebSockets.js that this Node would need. */
export function nativeBinaryPath(): string {
  const packageDir = dirname(require.resolve('uWebSockets.js/package.json'));
  const { platform, arch } = process;
  return join(packageDir, 'binaries', `uws_${platform}_${arch}_${process.versions.modules}.node`);
}

function glibcVersion(): string {
  const header = process.report?.getReport?.() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return header?.header?.glibcVersionRuntime ?? 'unknown (not glibc?)';
}

let loaded: UwsModule | undefined;

/**
 * Loads the native uWebSockets.js build directly. The npm package silently falls back to a slow
 * JavaScript shim when its native build cannot load; Lally would then serve at a fraction of its speed,
 * so it refuses to start instead and says why.
 */
export function loadNativeUws(binaryPath: string = nativeBinaryPath()): UwsModule {
  if (loaded && binaryPath === nativeBinaryPath()) return loaded;
  try {
    const module = require(binaryPath) as UwsModule;
    if (typeof module.App !== 'function') throw new Error('the module has no App()');
    if (binaryPath === nativeBinaryPath()) loaded = module;
    return module;
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    throw new LallyError(
      ErrorCodes.NATIVE_UWS_MISSING,
      `uWebSockets.js has no native build that loads here (Node ${process.version}, ABI ${process.versions.modules}, ` +
        `${process.platform}-${process.arch}, glibc ${glibcVersion()}): ${reason}. Lally refuses to run on the slow ` +
        'JavaScript fallback; use Node 20 on Linux x64/arm64 with glibc >= 2.27, or macOS.',
      { cause },
    );
  }
}
