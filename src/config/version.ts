/** The version in package.json, found by walking up from this file (src/config/ or dist/src/config/). */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGE_NAME = 'lally';

let cached: Promise<string> | undefined;

export function readVersion(): Promise<string> {
  cached ??= findVersion(dirname(fileURLToPath(import.meta.url)));
  return cached;
}

async function findVersion(start: string): Promise<string> {
  for (let dir = start; ; dir = dirname(dir)) {
    try {
      const pkg: unknown = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
      if (isLallyPackage(pkg)) return pkg.version;
    } catch {
      // No (readable) package.json here: keep walking up.
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}

function isLallyPackage(pkg: unknown): pkg is { name: string; version: string } {
  if (typeof pkg !== 'object' || pkg === null) return false;
  const { name, version } = pkg as Record<string, unknown>;
  return name === PACKAGE_NAME && typeof version === 'string';
}
