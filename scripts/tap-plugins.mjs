#!/usr/bin/env node
// tap ships its Test class built with every default plugin, the TypeScript loader included. .taprc
// turns that plugin off, but on a fresh install tap's runner reads the shipped build: every test
// process then starts with the TypeScript loader (about 1.3 s of CPU per file, 166 files). tap
// rebuilds only after that run. So rebuild first, once, when the shipped build still has the plugin.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const testPackage = dirname(require.resolve('@tapjs/test/package.json'));
const built = readFileSync(join(testPackage, 'test-built', 'dist', 'esm', 'index.js'), 'utf8');
if (built.includes('@tapjs/typescript')) {
  console.log('tap: building its Test class with the plugins .taprc names (once per install)');
  execFileSync(
    process.execPath,
    [join(dirname(require.resolve('tap/package.json')), 'dist', 'esm', 'run.mjs'), 'build'],
    { stdio: 'inherit' },
  );
}
