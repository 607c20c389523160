#!/usr/bin/env node
// Generates the static protobufjs code of proto/lally.proto (run by `npm run build`, `npm run
// typecheck` and `npm start`'s build): src/rpc/generated/lally.js with its types in lally.d.ts, where
// tsc and the tests (which run the TypeScript sources) find them, and a copy of the .js in
// dist/src/rpc/generated/ for the built daemon (tsc does not copy .js files). Generated, never
// committed (.gitignore). Skipped when the output is newer than the schema and this script.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const proto = join(root, 'proto/lally.proto');
const outDir = join(root, 'src/rpc/generated');
const js = join(outDir, 'lally.js');
const dts = join(outDir, 'lally.d.ts');
const distJs = join(root, 'dist/src/rpc/generated/lally.js');

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

const inputsAt = Math.max(mtime(proto), mtime(fileURLToPath(import.meta.url)));
if (Math.min(mtime(js), mtime(dts)) < inputsAt) {
  mkdirSync(outDir, { recursive: true });
  // pbts (jsdoc) reads only files that end in .js
  const jsTmp = join(outDir, 'lally.tmp.js');
  const dtsTmp = join(outDir, 'lally.tmp.d.ts');
  const bin = (name) => join(root, 'node_modules/protobufjs-cli/bin', name);
  // Written under temporary names and renamed, so that an interrupted run leaves no half file that
  // looks up to date.
  execFileSync(
    process.execPath,
    [bin('pbjs'), '-t', 'static-module', '-w', 'es6', '--es6', '-o', jsTmp, proto],
    {
      stdio: 'inherit',
    },
  );
  execFileSync(process.execPath, [bin('pbts'), '-o', dtsTmp, jsTmp], { stdio: 'inherit' });
  renameSync(jsTmp, js);
  renameSync(dtsTmp, dts);
}
if (mtime(distJs) < mtime(js)) {
  mkdirSync(dirname(distJs), { recursive: true });
  copyFileSync(js, distJs);
}
