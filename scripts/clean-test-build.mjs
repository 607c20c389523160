#!/usr/bin/env node
// Run before the tests are compiled: removes dist/test/, so that a test file deleted or renamed in
// test/ does not live on as a stale compiled copy that tap would still run.
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

rmSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'test'), { recursive: true, force: true });
