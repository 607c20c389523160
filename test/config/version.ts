import { readFile } from 'node:fs/promises';
import t from 'tap';
import { readVersion } from '../../src/config/version.js';

t.test('readVersion is the version in package.json', async (t) => {
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  t.equal(await readVersion(), pkg.version);
  t.equal(await readVersion(), pkg.version, 'cached');
});
