#!/usr/bin/env node
// `npm start` runs this first: it builds dist/ with tsc when dist/ is missing or older than any source.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const output = join(root, 'dist/src/cli/main.js');

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

let builtAt = 0;
try {
  builtAt = statSync(output).mtimeMs;
} catch {
  // not built yet
}
const sourcesAt = Math.max(
  ...['src', 'workers', 'bench'].map((dir) => newestMtime(join(root, dir))),
  statSync(join(root, 'tsconfig.json')).mtimeMs,
  statSync(join(root, 'proto/lally.proto')).mtimeMs,
);
if (builtAt < sourcesAt) {
  process.stderr.write('lally: building with tsc (dist/ is missing or older than the sources)...\n');
  execFileSync(process.execPath, [join(root, 'scripts/gen-proto.mjs')], { stdio: 'inherit' });
  execFileSync(
    process.execPath,
    [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')],
    {
      stdio: 'inherit',
    },
  );
}
