import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { MemberUpdate } from '../../src/cluster/member.js';
import { MEMBER_FILE, readMemberFile, writeMemberFile } from '../../src/cluster/member-file.js';
import { ErrorCodes } from '../../src/errors.js';

async function tempDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lally-members-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const MEMBERS: MemberUpdate[] = [
  { id: 0xa, address: '10.0.0.1:50071', state: 'alive', incarnation: 7 },
  { id: 0xffffffff, address: '[::1]:50072', state: 'dead', incarnation: 2 },
  { id: 3, address: 'h:1', state: 'left', incarnation: 0 },
];

t.test('written, replaced and read back; absent is undefined', async (t) => {
  const dir = await tempDir(t);
  t.equal(await readMemberFile(dir, 0xa), undefined);
  await writeMemberFile(dir, { self: 0xa, members: MEMBERS.slice(0, 1) });
  await writeMemberFile(dir, { self: 0xa, members: MEMBERS });
  t.same(await readMemberFile(dir, 0xa), { self: 0xa, members: MEMBERS });
  t.same(await readdir(dir), [MEMBER_FILE], 'no temp file left');
  t.match(await readFile(join(dir, MEMBER_FILE), 'utf8'), /"id":"0000000a"/, 'ids in hex, as logs show them');
});

t.test('a file from another node is refused', async (t) => {
  const dir = await tempDir(t);
  await writeMemberFile(dir, { self: 0xa, members: MEMBERS });
  await t.rejects(readMemberFile(dir, 0xb), { code: ErrorCodes.CONFIG, message: /copied/ });
});

t.test('a damaged file is an error, never an empty list', async (t) => {
  const good = { format: 1, self: '0000000a', members: [] };
  const cases: unknown[] = [
    'not json',
    null,
    { ...good, format: 2 },
    { ...good, self: 'zz' },
    { ...good, members: 'x' },
    { ...good, members: [null] },
    { ...good, members: [{ id: '00000000', address: 'h:1', state: 'alive', incarnation: 0 }] },
    { ...good, members: [{ id: '00000001', address: 'h:1', state: 'gone', incarnation: 0 }] },
    { ...good, members: [{ id: '00000001', address: 'h:1', state: 'alive', incarnation: -1 }] },
  ];
  for (const body of cases) {
    const dir = await tempDir(t);
    await writeFile(join(dir, MEMBER_FILE), typeof body === 'string' ? body : JSON.stringify(body));
    await t.rejects(readMemberFile(dir, 0xa), { code: ErrorCodes.AOF_CORRUPT }, JSON.stringify(body));
  }
});

t.test('I/O failures are AOF_IO', async (t) => {
  const dir = await tempDir(t);
  await t.rejects(writeMemberFile(join(dir, 'missing'), { self: 1, members: [] }), {
    code: ErrorCodes.AOF_IO,
  });
  await mkdir(join(dir, MEMBER_FILE));
  await t.rejects(readMemberFile(dir, 1), { code: ErrorCodes.AOF_IO });
});
