import { readFile } from 'node:fs/promises';
import t from 'tap';
import { readVersion } from '../../src/config/version.js';
import { repoPath } from '../fixtures/paths.js';

t.test('readVersion is the version in package.json', async (t) => {
  const pkg = JSON.parse(await readFile(repoPath('package.json'), 'utf8')) as {
    version: string;
  };
  t.equal(await readVersion(), pkg.version);
  t.equal(await readVersion(), pkg.version, 'cached');
});
