import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { createFileOnce, writeFileAtomic } from '../../src/fs/durable-file.js';

t.test('writeFileAtomic replaces the file and leaves no temp file, also when the move fails', async (t) => {
  const dir = t.testdir({});
  await writeFileAtomic(dir, 'a.json', 'one');
  await writeFileAtomic(dir, 'a.json', 'two');
  t.equal(await readFile(join(dir, 'a.json'), 'utf8'), 'two');
  await mkdir(join(dir, 'taken'));
  await writeFile(join(dir, 'taken', 'x'), '');
  await t.rejects(writeFileAtomic(dir, 'taken', 'three'), 'a rename over a non-empty directory fails');
  t.same((await readdir(dir)).sort(), ['a.json', 'taken'], 'the temp file was removed');
});

t.test('createFileOnce never replaces a file that is there', async (t) => {
  const dir = t.testdir({});
  t.equal(await createFileOnce(dir, 'id', 'first\n'), true);
  t.equal(await createFileOnce(dir, 'id', 'second\n'), false);
  t.equal(await readFile(join(dir, 'id'), 'utf8'), 'first\n');
  t.same(await readdir(dir), ['id'], 'no temp file left');
});
