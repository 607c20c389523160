/**
 * Replication between real daemons on 127.0.0.1: quorum writes reach every replica and answer with the
 * replicas that acknowledged them; a killed replica makes writes `partial` within the quorum timeout;
 * read repair brings a stale replica up to date (a delete included); with a replication factor below
 * the cluster size each key lives on exactly that many nodes and is readable through any node.
 */
import t, { type Test } from 'tap';
import { hashKey } from '../../src/hash/key-hash.js';
import { HashRing } from '../../src/placement/placement.js';
import { type DaemonProcess, startDaemon } from '../fixtures/daemon-process.js';
import { request } from '../fixtures/http-client.js';

interface KvAnswer {
  status: string;
  key: string;
  value?: string | null;
  quorum: { required: number; achieved: number };
}

function idOf(daemon: DaemonProcess): number {
  const line = daemon.lines.find((l) => l.includes('lally listening on'));
  return Number.parseInt((JSON.parse(line ?? '{}') as { nodeId?: string }).nodeId ?? '0', 16);
}

function addressOf(daemon: DaemonProcess): string {
  const line = daemon.lines.find((l) => l.includes('lally listening on'));
  return (JSON.parse(line ?? '{}') as { address?: string }).address ?? '';
}

async function put(daemon: DaemonProcess, key: string, value: string): Promise<KvAnswer> {
  return (await request(`${daemon.url}/kv/${key}`, { method: 'PUT', body: value })).json() as KvAnswer;
}

async function get(daemon: DaemonProcess, key: string): Promise<KvAnswer> {
  return (await request(`${daemon.url}/kv/${key}`)).json() as KvAnswer;
}

async function remove(daemon: DaemonProcess, key: string): Promise<KvAnswer> {
  return (await request(`${daemon.url}/kv/${key}`, { method: 'DELETE' })).json() as KvAnswer;
}

async function storedKeys(daemon: DaemonProcess): Promise<number> {
  const stats = (await request(`${daemon.url}/stats`)).json() as { totals: { keys: number } };
  return stats.totals.keys;
}

async function within(limitMs: number, what: string, check: () => Promise<boolean>): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (await check()) return;
    if (Date.now() - started > limitMs) throw new Error(`${what}: not within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A seed and `others` nodes joined through it; every node lists all the others before it resolves. */
async function cluster(
  t: Test,
  size: number,
  args: (i: number) => string[] = () => [],
  env: (i: number) => NodeJS.ProcessEnv = () => ({}),
): Promise<DaemonProcess[]> {
  const seed = await startDaemon(t, { shards: 1, args: args(0), env: env(0) });
  const others = await Promise.all(
    Array.from({ length: size - 1 }, (_, i) =>
      startDaemon(t, {
        shards: i === 0 ? 2 : 1,
        args: ['--seed-node', addressOf(seed), ...args(i + 1)],
        env: env(i + 1),
      }),
    ),
  );
  const nodes = [seed, ...others];
  await within(8000, 'every node lists the others', async () => {
    const lists = await Promise.all(nodes.map((n) => request(`${n.url}/nodes`)));
    return lists.every((l) => ((l.json() as { nodes: string[] }).nodes ?? []).length === size - 1);
  });
  return nodes;
}

t.test(
  'three nodes, write quorum 3: every write reaches every node; a dead one makes it partial',
  async (t) => {
    const [a, b, c] = await cluster(t, 3, () => ['--write-quorum', '3', '--quorum-timeout-ms', '2500']);
    const nodes = [a!, b!, c!];
    for (let i = 0; i < 30; i++) {
      const answer = await put(nodes[i % 3]!, `k${i}`, `v${i}`);
      t.equal(answer.status, 'success', `k${i}: success`);
      t.same(answer.quorum, { required: 3, achieved: 3 }, `k${i}: three replicas acknowledged`);
    }
    // Reads at read quorum 1 are local: each node answers from its own store.
    for (const node of nodes) {
      const values = await Promise.all(Array.from({ length: 30 }, (_, i) => get(node, `k${i}`)));
      t.same(
        values.map((v) => v.value),
        Array.from({ length: 30 }, (_, i) => `v${i}`),
        'every value is on every node',
      );
    }
    const removed = await remove(b!, 'k7');
    t.same([removed.value, removed.quorum.achieved], ['v7', 3], 'a delete reaches all three');
    for (const node of nodes) t.equal((await get(node, 'k7')).value, null, 'and k7 is gone everywhere');

    // Concurrent writes that cross shards (node b has two) and nodes.
    const many = await Promise.all(
      Array.from({ length: 200 }, (_, i) => put(nodes[i % 3]!, `c${i}`, `x${i}`.repeat(1 + (i % 50)))),
    );
    const short = many.filter((m) => m.status !== 'success' || m.quorum?.achieved !== 3);
    t.same(short, [], '200 concurrent writes: all acknowledged by three');
    t.equal(await storedKeys(c!), await storedKeys(a!), 'the nodes hold as many keys');

    const batchOn = async (node: DaemonProcess, ops: unknown[]) =>
      (await request(`${node.url}/batch`, { method: 'POST', body: JSON.stringify({ ops }) })).json() as {
        status: string;
        results: { status: string; quorum: { required: number; achieved: number } }[];
      };
    const batch = await batchOn(b!, [
      { op: 'put', key: 'b1', value: 'one' },
      { op: 'remove', key: 'k1' },
      { op: 'get', key: 'b1' },
    ]);
    t.equal(batch.status, 'success', 'a batch meets its quorums');
    t.same(
      batch.results.map((r) => [r.status, r.quorum.required, r.quorum.achieved]),
      [
        ['success', 3, 3],
        ['success', 3, 3],
        ['success', 1, 1],
      ],
      'each item carries its quorum, as the REST routes do',
    );

    // kill -9 C: the writes answer partial with the two that acknowledged, within the quorum timeout.
    await c!.stop('SIGKILL');
    const afterKill = await batchOn(a!, [{ op: 'put', key: 'b2', value: 'two' }]);
    t.same(
      [afterKill.status, afterKill.results[0]!.status, afterKill.results[0]!.quorum.achieved],
      ['partial', 'partial', 2],
      'a batch write with a replica dead is partial, and so is the batch',
    );
    const started = Date.now();
    const partial = await put(a!, 'after', 'kill');
    const took = Date.now() - started;
    t.equal(partial.status, 'partial', 'a write with a replica dead is partial');
    t.same(partial.quorum, { required: 3, achieved: 2 }, 'with the two live replicas counted');
    t.ok(
      took < 2500 + 5000,
      `and answered within the 2.5 s quorum timeout, plus slack for a loaded machine (${took} ms)`,
    );
    t.equal((await get(b!, 'after')).value, 'kill', 'the live replicas have it');
  },
);

t.test('read repair: a read at quorum 3 returns the newest and repairs stale replicas', async (t) => {
  // C sends nothing to its peers: its writes stay on it alone, the others go stale (no anti-entropy
  // rounds either: only the read may repair).
  const noRounds = ['--anti-entropy-interval-ms', '0'];
  const [a, b, c] = await cluster(
    t,
    3,
    (i) => (i === 0 ? ['--read-quorum', '3', ...noRounds] : noRounds),
    (i) => (i === 2 ? { LALLY_FAULT_DROP_REPLICATION: '1' } : {}),
  );
  t.equal((await put(a!, 'doc', 'v1')).quorum.achieved, 1, 'write quorum 1: answered at once');
  await within(3000, 'v1 reaches C', async () => (await get(c!, 'doc')).value === 'v1');
  const stale = await put(c!, 'doc', 'v2');
  t.same([stale.status, stale.quorum.achieved], ['success', 1], 'C wrote v2 alone');
  t.equal((await get(b!, 'doc')).value, 'v1', 'B still has v1');

  const read = await get(a!, 'doc');
  t.equal(read.value, 'v2', 'a quorum-3 read returns the newest value');
  t.same(read.quorum, { required: 3, achieved: 3 }, 'from three answers');
  await within(3000, 'B is repaired', async () => (await get(b!, 'doc')).value === 'v2');
  t.pass('B was repaired to v2 by the read');

  // A delete on C alone: the read returns nothing, and repair deletes the value on B too.
  t.equal((await remove(c!, 'doc')).value, 'v2', 'C removed it alone');
  t.equal((await get(b!, 'doc')).value, 'v2', 'B still has v2');
  const gone = await get(a!, 'doc');
  t.same([gone.value, gone.quorum.achieved], [null, 3], 'the quorum read sees the tombstone');
  await within(3000, 'B gets the tombstone', async () => (await get(b!, 'doc')).value === null);
  t.pass('the delete was repaired onto B');
});

t.test('replication factor 3 on five nodes: each key on exactly 3, readable through any node', async (t) => {
  const nodes = await cluster(t, 5, () => ['--replication-factor', '3', '--write-quorum', '2']);
  const keys = 200;
  const answers = await Promise.all(
    Array.from({ length: keys }, (_, i) => put(nodes[i % 5]!, `rf${i}`, `value-${i}`)),
  );
  t.ok(
    answers.every((a) => a.status === 'success' && a.quorum.required === 2 && a.quorum.achieved >= 2),
    'every write met write quorum 2',
  );
  // Writes at quorum 2 answer before the third replica's ack: wait until all have landed.
  let counts: number[] = [];
  await within(5000, 'three copies of each key', async () => {
    counts = await Promise.all(nodes.map(storedKeys));
    return counts.reduce((s, n) => s + n, 0) === 3 * keys;
  });
  t.pass(`${3 * keys} copies in all (per node: ${counts.join(', ')})`);
  t.ok(
    counts.every((n) => n > keys * 0.3 && n < keys * 0.9),
    'spread over the nodes (each holds some, none all)',
  );
  const reads = await Promise.all(Array.from({ length: keys }, (_, i) => get(nodes[(i + 2) % 5]!, `rf${i}`)));
  t.ok(
    reads.every((r, i) => r.value === `value-${i}`),
    'every key reads back through a node that may hold no replica of it',
  );

  /** Whether every key is on each of its replicas by the ring of `members` (a replica reads locally). */
  const onItsReplicas = async (members: DaemonProcess[]) => {
    const ring = new HashRing(members.map(idOf));
    const byId = new Map(members.map((m) => [idOf(m), m]));
    const checks = Array.from({ length: keys }, (_, i) =>
      ring.preferenceList(hashKey(`rf${i}`), 3).map((id) => get(byId.get(id)!, `rf${i}`)),
    );
    const answers = await Promise.all(checks.flat());
    return answers.every((a) => a.value === `value-${a.key.slice(2)}`);
  };
  t.ok(await onItsReplicas(nodes), 'each key is on the three replicas the ring names');

  // A sixth node joins: it pulls the ranges it now holds before it serves.
  const sixth = await startDaemon(t, {
    shards: 1,
    args: ['--seed-node', addressOf(nodes[0]!), '--replication-factor', '3', '--write-quorum', '2'],
  });
  const six = [...nodes, sixth];
  await within(8000, 'every node lists the five others', async () => {
    const lists = await Promise.all(six.map((n) => request(`${n.url}/nodes`)));
    return lists.every((l) => ((l.json() as { nodes: string[] }).nodes ?? []).length === 5);
  });
  t.ok(await onItsReplicas(six), 'after a join: each key on its three replicas, the newcomer included');
  t.ok((await storedKeys(sixth)) > 0, 'the newcomer holds its share');

  // One leaves (SIGTERM): it hands the ranges it loses to the members that gain them first.
  const leaver = nodes[1]!;
  t.equal((await leaver.stop('SIGTERM')).code, 0, 'the leaving node stops cleanly');
  const five = six.filter((n) => n !== leaver);
  t.ok(await onItsReplicas(five), 'after a leave: each key on its three replicas among the others');
});
