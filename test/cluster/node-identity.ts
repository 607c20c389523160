import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import {
  loadNodeIdentity,
  NODE_ID_FILE,
  nodeIdToHex,
  parseNodeIdHex,
  randomNodeId,
  readNodeId,
} from '../../src/cluster/node-identity.js';
import { ErrorCodes, LallyError } from '../../src/errors.js';

async function tempDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lally-node-id-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A random source that gives the listed values, in order. */
function values(...list: number[]): () => number {
  return () => {
    const next = list.shift();
    if (next === undefined) throw new Error('random source exhausted');
    return next;
  };
}

t.test('hex form: 8 lower-case digits, 0 and malformed text rejected', async (t) => {
  t.equal(nodeIdToHex(1), '00000001');
  t.equal(nodeIdToHex(0xffffffff), 'ffffffff');
  t.equal(parseNodeIdHex('0a1b2c3d'), 0x0a1b2c3d);
  for (const bad of ['00000000', '0A1B2C3D', 'abc', '123456789', ' 0a1b2c3d', 'zzzzzzzz', '']) {
    t.equal(parseNodeIdHex(bad), undefined, JSON.stringify(bad));
  }
});

t.test('randomNodeId never gives 0 and fails loudly on a broken source', async (t) => {
  t.equal(randomNodeId(values(0, 0, 7)), 7);
  t.equal(randomNodeId(values(-1)), 0xffffffff, 'taken as unsigned');
  t.throws(() => randomNodeId(() => 0), { code: ErrorCodes.INTERNAL });
  for (let i = 0; i < 100; i++) {
    const id = randomNodeId();
    t.ok(Number.isInteger(id) && id > 0 && id <= 0xffffffff);
  }
});

t.test('first start makes and persists an id; a restart reads the same one', async (t) => {
  const dir = await tempDir(t);
  const first = await loadNodeIdentity({ dataDir: dir, random: values(0, 0xdeadbeef) });
  t.same(first, { id: 0xdeadbeef, hex: 'deadbeef', persisted: true, created: true });
  t.equal(await readFile(join(dir, NODE_ID_FILE), 'utf8'), 'deadbeef\n');
  const again = await loadNodeIdentity({ dataDir: dir, random: values(0x12345678) });
  t.same(again, { id: 0xdeadbeef, hex: 'deadbeef', persisted: true, created: false });
  t.same(await readdir(dir), [NODE_ID_FILE], 'no temp file left behind');
  t.equal(await readNodeId(dir), 0xdeadbeef);
});

t.test('two data directories get different ids (the same host and port would not)', async (t) => {
  const a = await loadNodeIdentity({ dataDir: await tempDir(t) });
  const b = await loadNodeIdentity({ dataDir: await tempDir(t) });
  t.not(a.id, b.id);
});

t.test('a node without a data directory gets an id for its lifetime, written nowhere', async (t) => {
  const ident = await loadNodeIdentity({ dataDir: undefined, random: values(42) });
  t.same(ident, { id: 42, hex: '0000002a', persisted: false, created: true });
});

t.test('a corrupt file is an error with a stable code and is left as it was', async (t) => {
  for (const content of [
    '',
    'deadbeef',
    'not an id\n',
    '00000000\n',
    'DEADBEEF\n',
    'deadbeef\n\n',
    'deadbee\n',
  ]) {
    const dir = await tempDir(t);
    await writeFile(join(dir, NODE_ID_FILE), content);
    if (content === 'deadbeef') {
      // No trailing newline is accepted: a hand-written file is usually like that.
      t.equal((await loadNodeIdentity({ dataDir: dir })).id, 0xdeadbeef);
      continue;
    }
    const err = await loadNodeIdentity({ dataDir: dir, random: values(5) }).catch((e: unknown) => e);
    t.ok(err instanceof LallyError, JSON.stringify(content));
    t.equal((err as LallyError).code, ErrorCodes.AOF_CORRUPT);
    t.match((err as LallyError).message, /node-id is corrupt/);
    t.equal(await readFile(join(dir, NODE_ID_FILE), 'utf8'), content, 'not replaced');
  }
});

t.test('an unreadable file or a missing data directory is an I/O error', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, NODE_ID_FILE));
  await t.rejects(loadNodeIdentity({ dataDir: dir }), { code: ErrorCodes.AOF_IO });
  await t.rejects(loadNodeIdentity({ dataDir: join(dir, 'missing') }), { code: ErrorCodes.AOF_IO });
  t.same((await readdir(dir)).sort(), [NODE_ID_FILE], 'no temp file left behind');
});

t.test('processes racing on one directory agree on one id', async (t) => {
  const dir = await tempDir(t);
  const all = await Promise.all(
    Array.from({ length: 8 }, (_, i) => loadNodeIdentity({ dataDir: dir, random: values(1000 + i) })),
  );
  const ids = new Set(all.map((x) => x.id));
  t.equal(ids.size, 1, 'one id');
  t.equal(all.filter((x) => x.created).length, 1, 'exactly one of them created it');
  t.equal(await readNodeId(dir), all[0]!.id);
  t.same(await readdir(dir), [NODE_ID_FILE]);
});
