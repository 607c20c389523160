/**
 * ClusterNode in-process over real gRPC on 127.0.0.1 (ports bound by the servers themselves): the
 * join through a seed, the member table handed to onChange, members.json written (debounced) and at
 * stop, the leave, and a rejoin from the file at a higher incarnation.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { ClusterNode, type MemberView } from '../../src/cluster/cluster-node.js';
import { MEMBER_FILE } from '../../src/cluster/member-file.js';
import { nodeIdToHex } from '../../src/cluster/node-identity.js';

const logger = pino({ level: 'silent' });

function makeNode(id: number, dataDir: string | undefined, seedNode?: string, replicationFactor?: number) {
  const views: MemberView[][] = [];
  const node = new ClusterNode({
    config: {
      host: '127.0.0.1',
      grpcPort: 0,
      advertise: undefined,
      seedNode,
      joinTimeoutMs: 2000,
      shutdownTimeoutMs: 2000,
      replicationFactor,
      maxKeyBytes: 1024,
      maxValueBytes: 1024 * 1024,
    },
    identity: { id, hex: nodeIdToHex(id), persisted: dataDir !== undefined, created: false },
    dataDir,
    logger,
    onChange: (members) => views.push([...members]),
  });
  return { node, views };
}

async function until(what: string, check: () => boolean | Promise<boolean>, limitMs = 5000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface FileBody {
  self: string;
  members: { id: string; address: string; state: string; incarnation: number }[];
}

const readBody = async (dir: string): Promise<FileBody> =>
  JSON.parse(await readFile(join(dir, MEMBER_FILE), 'utf8')) as FileBody;

t.test('join, member table, member file, leave and rejoin from the file', async (t) => {
  // Stop the nodes before the fixture directory goes: tap runs teardowns in the order they were
  // registered, and a running node may still be writing its member file into the directory.
  const nodes: ClusterNode[] = [];
  t.teardown(() => Promise.all(nodes.map((node) => node.stop(100))));
  // One fixture directory per test: A's member file at its root, B's in b/.
  const dirA = t.testdir({ b: {} });
  const bDir = join(dirA, 'b');
  const a = makeNode(0x0a, dirA);
  nodes.push(a.node);
  await a.node.bind();
  await a.node.join();
  const seed = `127.0.0.1:${a.node.port}`;
  t.same(
    a.views.at(-1)?.map((m) => [m.id, m.address, m.self]),
    [['0000000a', seed, true]],
    'a node without a seed or a file is a cluster of one',
  );

  const b = makeNode(0x0b, bDir, seed);
  nodes.push(b.node);
  await b.node.bind();
  await b.node.join();
  const bAddress = `127.0.0.1:${b.node.port}`;
  await until('A sees B alive', () =>
    (a.views.at(-1) ?? []).some((m) => m.id === '0000000b' && m.state === 'alive' && !m.self),
  );
  t.same(
    b.views.at(-1)?.map((m) => m.ringShare),
    [1, 1],
    'without a replication factor every member holds the whole ring',
  );
  t.same(
    b.views.at(-1)?.map((m) => [m.id, m.state]),
    [
      ['0000000a', 'alive'],
      ['0000000b', 'alive'],
    ],
    'the joiner learns the members from the join answer',
  );

  // Debounced: the file appears shortly after the change, with both members.
  await until('A wrote its member file', async () => {
    const body = await readBody(dirA).catch(() => undefined);
    return body?.members.length === 2;
  });
  const fileA = await readBody(dirA);
  t.equal(fileA.self, '0000000a');
  t.same(fileA.members.find((m) => m.id === '0000000b')?.address, bAddress);

  // B leaves: A takes the news at once; B's file ends with itself as left.
  await b.node.leave();
  await until(
    'A sees B left',
    () => (a.views.at(-1) ?? []).some((m) => m.id === '0000000b' && m.state === 'left'),
    1000,
  );
  await b.node.stop(100);
  const fileB = await readBody(bDir);
  const selfB = fileB.members.find((m) => m.id === '0000000b');
  t.equal(selfB?.state, 'left', 'the stop wrote the last state, the leave included');

  // B again, without a seed: it rejoins A from its file, above its last incarnation.
  const b2 = makeNode(0x0b, bDir);
  nodes.push(b2.node);
  await b2.node.bind();
  await b2.node.join();
  await until('A sees B alive again', () =>
    (a.views.at(-1) ?? []).some((m) => m.id === '0000000b' && m.state === 'alive'),
  );
  const again = a.views.at(-1)?.find((m) => m.id === '0000000b');
  t.ok((again?.incarnation ?? 0) > (selfB?.incarnation ?? 0), 'at a higher incarnation');
  t.equal(b2.node.swim?.self.address, `127.0.0.1:${b2.node.port}`);
});

t.test(
  'a node without a data dir writes no file and still joins; ring shares follow the factor',
  async (t) => {
    const a = makeNode(0x1a, undefined, undefined, 1);
    t.teardown(() => a.node.stop(100));
    await a.node.bind();
    await a.node.join();
    const b = makeNode(0x1b, undefined, `127.0.0.1:${a.node.port}`, 1);
    t.teardown(() => b.node.stop(100));
    await b.node.bind();
    await b.node.join();
    await until('A sees B', () => (a.views.at(-1) ?? []).length === 2);
    const shares = (a.views.at(-1) ?? []).map((m) => m.ringShare ?? 0);
    t.ok(Math.abs(shares[0]! + shares[1]! - 1) < 1e-9, 'at factor 1 the shares sum to the whole ring');
    t.ok(
      shares.every((share) => share > 0.2 && share < 0.8),
      `each holds part of it (${shares.join(', ')})`,
    );
  },
);
