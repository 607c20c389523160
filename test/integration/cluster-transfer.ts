/**
 * Data transfer between real daemons (issue 8): a node joining through --seed-node receives the
 * seed's keys (tombstones too) before it answers HTTP; a restarted node catches up on the writes it
 * missed; with --replication-factor 1 a leaving node hands its ranges to the member that gains them.
 * GETs at read quorum 1 read the node's own data when it holds a replica of the key.
 */
import t from 'tap';
import { hashKey } from '../../src/hash/key-hash.js';
import { HashRing } from '../../src/placement/placement.js';
import { type DaemonProcess, startDaemon } from '../fixtures/daemon-process.js';
import { request } from '../fixtures/http-client.js';

function identityOf(daemon: DaemonProcess): { id: string; address: string } {
  const line = daemon.lines.find((l) => l.includes('lally listening on'));
  const fields = JSON.parse(line ?? '{}') as { nodeId?: string; address?: string };
  return { id: fields.nodeId ?? '', address: fields.address ?? '' };
}

async function batch(
  daemon: DaemonProcess,
  ops: { op: string; key: string; value?: string }[],
): Promise<void> {
  for (let i = 0; i < ops.length; i += 1000) {
    const answer = await request(`${daemon.url}/batch`, {
      method: 'POST',
      body: JSON.stringify({ ops: ops.slice(i, i + 1000) }),
    });
    if (answer.status !== 200) throw new Error(`batch answered ${answer.status}: ${answer.text}`);
  }
}

/** The values of `keys` on a node (null: absent), through batch GETs. */
async function values(daemon: DaemonProcess, keys: string[]): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (let i = 0; i < keys.length; i += 1000) {
    const answer = await request(`${daemon.url}/batch`, {
      method: 'POST',
      body: JSON.stringify({ ops: keys.slice(i, i + 1000).map((key) => ({ op: 'get', key })) }),
    });
    const results = answer.json<{ results: { found: boolean; value: string | null }[] }>().results;
    out.push(...results.map((r) => (r.found ? r.value : null)));
  }
  return out;
}

const keys = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}:${i}`);

t.test('a joining node receives the data before it serves; a restarted one catches up', async (t) => {
  const a = await startDaemon(t, { shards: 2 });
  const A = identityOf(a);
  const all = keys(2000, 'user');
  await batch(
    a,
    all.map((key) => ({ op: 'put', key, value: `v-${key}` })),
  );
  const deleted = all.filter((_, i) => i % 10 === 3);
  await batch(
    a,
    deleted.map((key) => ({ op: 'remove', key })),
  );
  // B joins through A: its start-up line comes after the HTTP port opens, so the data is in by then.
  const b = await startDaemon(t, { shards: 2, args: ['--seed-node', A.address] });
  const B = identityOf(b);
  const got = await values(b, all);
  const expected = all.map((key, i) => (i % 10 === 3 ? null : `v-${key}`));
  t.same(got, expected, 'B answers every key with A value, and the deleted keys are absent');
  t.ok(
    b.lines.some((l) => l.includes('caught up: 2000 records received')),
    'B logged the catch-up, tombstones counted (2000 records)',
  );

  // B stops; A takes writes; B restarts without --seed-node (members.json) and has them when ready.
  t.equal((await b.stop('SIGTERM')).code, 0, 'B stops cleanly');
  const later = keys(300, 'later');
  await batch(
    a,
    later.map((key) => ({ op: 'put', key, value: `w-${key}` })),
  );
  await batch(a, [
    { op: 'put', key: 'user:0', value: 'changed' },
    { op: 'remove', key: 'user:1' },
  ]);
  const grpcPort = B.address.split(':')[1]!;
  const b2 = await startDaemon(t, { shards: 2, dataDir: b.dataDir, args: ['--grpc-port', grpcPort] });
  t.same(
    await values(b2, later),
    later.map((key) => `w-${key}`),
    'the restarted node has the writes it missed',
  );
  t.same(
    await values(b2, ['user:0', 'user:1', 'user:2']),
    ['changed', null, 'v-user:2'],
    'and the overwrite and delete',
  );
  await b2.stop();
  await a.stop();
});

t.test('with --replication-factor 1 a leaving node hands its ranges to the remaining one', async (t) => {
  const args = ['--replication-factor', '1'];
  const a = await startDaemon(t, { shards: 2, args });
  const A = identityOf(a);
  const b = await startDaemon(t, { shards: 2, args: [...args, '--seed-node', A.address] });
  const B = identityOf(b);
  // With factor 1 each key has one replica: the keys of B's ranges are on B alone (a GET on A would
  // read them from B). Once B has left, A is the only member and reads its own data.
  const all = keys(1000, 'item');
  await batch(
    b,
    all.map((key) => ({ op: 'put', key, value: `b-${key}` })),
  );
  await batch(b, [{ op: 'remove', key: 'item:7' }]);
  const ring = new HashRing([Number.parseInt(A.id, 16), Number.parseInt(B.id, 16)]);
  const ownedByB = all.filter((key) => ring.preferenceList(hashKey(key), 1)[0] === Number.parseInt(B.id, 16));
  t.ok(
    ownedByB.length > 100 && ownedByB.length < 900,
    `B holds about half of the ring (${ownedByB.length} keys)`,
  );
  t.equal((await b.stop('SIGTERM')).code, 0, 'B leaves cleanly');
  t.ok(
    b.lines.some((l) => l.includes('handed') && l.includes('ranges over')),
    'B logged the handoff',
  );
  const expected = ownedByB.map((key) => (key === 'item:7' ? null : `b-${key}`));
  t.same(await values(a, ownedByB), expected, 'A has every key of the ranges B held, the delete included');
  await a.stop();
});
