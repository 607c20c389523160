/**
 * The coordinator and the shards' cluster service, in one process: each node is two shards and a main
 * thread joined by real rings (as in the daemon, without the workers), and the nodes talk over real
 * gRPC on 127.0.0.1. What the daemon tests check end to end, here with every branch in reach.
 */
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { HybridLogicalClock } from '../../src/clock/hlc.js';
import { SkewGuard } from '../../src/clock/skew-guard.js';
import { Coordinator } from '../../src/cluster/coordinator.js';
import { HintStore } from '../../src/cluster/hints/hint-store.js';
import { LocalReplica } from '../../src/cluster/local-replica.js';
import { MainEndpoint } from '../../src/daemon/main-endpoint.js';
import { ringCapacity, ThreadRings } from '../../src/daemon/thread-rings.js';
import { hashKey, shardOfKey } from '../../src/hash/key-hash.js';
import type { OpKind, OpResult } from '../../src/kv/key-value-service.js';
import type { MemberView } from '../../src/kv/member-view.js';
import { Topology } from '../../src/placement/topology.js';
import { RpcServer } from '../../src/rpc/grpc-server.js';
import { PeerPool } from '../../src/rpc/peer-pool.js';
import { readHandler } from '../../src/rpc/replica-read.js';
import { replicateHandler } from '../../src/rpc/replication-service.js';
import { ReplicationService } from '../../src/rpc/services.js';
import { ClusterService } from '../../src/shard/cluster-service.js';
import { RingTransport } from '../../src/shard/ring-transport.js';
import { ShardEngine } from '../../src/shard/shard-engine.js';
import { ShardRouter } from '../../src/shard/shard-router.js';
import { ShardStore } from '../../src/store/shard-store.js';

const silent = pino({ level: 'silent' });
const SHARDS = 2;

interface NodeOptions {
  readQuorum?: number;
  writeQuorum?: number;
  factor?: number;
  quorumTimeoutMs?: number;
  dropReplication?: boolean;
  /** Sizes the rings (the daemon sizes them by max_value_bytes). */
  maxValueBytes?: number;
  hints?: HintStore;
  skew?: SkewGuard;
  /** This node's shards stamp writes this far ahead of the real time (a clock that runs fast). */
  clockAheadMs?: number;
}

interface TestNode {
  id: number;
  address: string;
  services: ClusterService[];
  stores: ShardStore[];
  coordinator: Coordinator;
  topology: Topology;
  server: RpcServer;
  setMembers(members: MemberView[]): void;
}

async function buildNode(t: Test, id: number, opts: NodeOptions): Promise<TestNode> {
  const rings = new ThreadRings(SHARDS, ringCapacity(64, opts.maxValueBytes ?? 64 * 1024));
  const services: ClusterService[] = [];
  const stores: ShardStore[] = [];
  const transports: RingTransport[] = [];
  const routers: ShardRouter[] = [];
  for (let shard = 0; shard < SHARDS; shard++) {
    const store = new ShardStore();
    const engine = new ShardEngine({
      shard,
      store,
      clock: new HybridLogicalClock(id, () => Date.now() + (opts.clockAheadMs ?? 0)),
      wal: undefined,
    });
    const transport = new RingTransport(shard, rings.forThread(shard));
    const router = new ShardRouter({
      engine,
      shard,
      shards: SHARDS,
      links: transport.links,
      logger: silent,
      readQuorum: opts.readQuorum,
      writeQuorum: opts.writeQuorum,
    });
    transport.start((from, message) => router.receive(from, message));
    services.push(
      new ClusterService({
        router,
        selfId: id,
        replicationFactor: opts.factor,
        readQuorum: opts.readQuorum ?? 1,
        writeQuorum: opts.writeQuorum ?? 1,
      }),
    );
    stores.push(store);
    transports.push(transport);
    routers.push(router);
  }
  const mainTransport = new RingTransport(SHARDS, rings.forThread(SHARDS));
  const endpoint = new MainEndpoint({
    self: SHARDS,
    shards: SHARDS,
    links: mainTransport.links,
    logger: silent,
  });
  mainTransport.start((from, message) => endpoint.receive(from, message));
  const local = new LocalReplica(endpoint, id, opts.skew);
  const server = new RpcServer({ host: '127.0.0.1', port: 0 });
  server.addService(ReplicationService, {
    replicate: replicateHandler((records, peer) => local.apply(records, peer)),
    read: readHandler((keys) => local.lookup(keys)),
  });
  const port = await server.listen();
  const pool = new PeerPool();
  const topology = new Topology(id, opts.factor);
  const coordinator = new Coordinator({
    endpoint,
    local,
    topology,
    pool,
    readQuorum: opts.readQuorum ?? 1,
    writeQuorum: opts.writeQuorum ?? 1,
    quorumTimeoutMs: opts.quorumTimeoutMs ?? 500,
    logger: silent,
    dropReplication: opts.dropReplication,
    hints: opts.hints,
  });
  t.teardown(async () => {
    coordinator.close();
    pool.closeAll();
    await server.shutdown(100);
    endpoint.close();
    for (const r of routers) r.close();
    for (const tr of transports) await tr.close();
    await mainTransport.close();
  });
  return {
    id,
    address: `127.0.0.1:${port}`,
    services,
    stores,
    coordinator,
    topology,
    server,
    setMembers(members) {
      topology.update(
        members.map((m) => ({ id: Number.parseInt(m.id, 16), address: m.address, state: m.state })),
      );
      coordinator.membersChanged();
      for (const s of services) s.setMembers(members);
    },
  };
}

function view(node: TestNode, self: TestNode, state: MemberView['state'] = 'alive'): MemberView {
  return {
    id: node.id.toString(16).padStart(8, '0'),
    address: node.address,
    state,
    incarnation: 0,
    lastHeard: undefined,
    self: node === self,
    ringShare: undefined,
  };
}

async function cluster(t: Test, count: number, opts: (i: number) => NodeOptions): Promise<TestNode[]> {
  const nodes: TestNode[] = [];
  for (let i = 0; i < count; i++) nodes.push(await buildNode(t, 0x100 + i, opts(i)));
  for (const n of nodes) n.setMembers(nodes.map((m) => view(m, n)));
  return nodes;
}

const run = (node: TestNode, op: OpKind, key: string, value?: string, shard = 0) =>
  new Promise<OpResult>((resolve) => node.services[shard]!.execute(op, key, value, resolve));

/** The key's entry on a node (tombstones included), wherever its shard is. */
function entryOn(node: TestNode, key: string) {
  for (const store of node.stores) {
    const entry = store.getWithTombstone(key);
    if (entry !== undefined) return entry;
  }
  return undefined;
}

async function eventually(check: () => boolean, what: string, limitMs = 3000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > limitMs) throw new Error(`${what}: not within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

t.test('writes reach every replica; the answer counts the acknowledgements', async (t) => {
  // A generous timeout: the first write also opens the streams (a loaded machine may take a while).
  const nodes = await cluster(t, 3, () => ({ writeQuorum: 3, quorumTimeoutMs: 4000 }));
  const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
  for (let i = 0; i < 20; i++) {
    const result = await run(a, 'put', `k${i}`, `v${i}`, i % 2);
    t.same(result.quorum, { required: 3, achieved: 3 }, `k${i} on three`);
    t.equal(result.found, true);
  }
  for (const node of [b, c]) {
    t.ok(
      Array.from({ length: 20 }, (_, i) => entryOn(node, `k${i}`)?.value === `v${i}`).every(Boolean),
      'every value is on the peer when the write answers',
    );
  }
  const removed = await run(b, 'remove', 'k3');
  t.same(
    [removed.found, removed.value, removed.quorum.achieved],
    [true, 'v3', 3],
    'a delete, acknowledged by three',
  );
  t.equal(entryOn(a, 'k3')?.tombstone, true, 'the tombstone reached A');
  const read = await run(c, 'get', 'k4');
  t.same(
    [read.value, read.quorum.required, read.quorum.achieved],
    ['v4', 1, 1],
    'a read at quorum 1 is local',
  );
  t.equal(a.coordinator.counters.replicated, 20, 'A replicated its twenty writes');
  const stats = a.coordinator.stats() as { peers: Record<string, { acknowledged: number }> };
  t.equal(stats.peers[b.address]?.acknowledged, 20, 'the stats count what B acknowledged');
});

t.test('a dead replica: partial within the timeout; a node alone answers as a single node', async (t) => {
  const nodes = await cluster(t, 2, () => ({ writeQuorum: 2, quorumTimeoutMs: 300 }));
  const [a, b] = nodes as [TestNode, TestNode];
  await b.server.shutdown(0);
  const started = Date.now();
  const result = await run(a, 'put', 'x', 'y');
  t.same(result.quorum, { required: 2, achieved: 1 }, 'only this node has it');
  t.ok(Date.now() - started < 5000, 'answered without waiting for the dead peer');
  t.equal(entryOn(a, 'x')?.value, 'y', 'the write is here');
  // Once the member table says B is dead, B holds no replica: a write needs nobody else.
  a.setMembers([view(a, a), view(b, a, 'dead')]);
  t.same((await run(a, 'put', 'x', 'z')).quorum, { required: 2, achieved: 1 });
  a.setMembers([view(a, a)]);
  const alone = await run(a, 'put', 'x', 'w');
  t.same(alone.quorum, { required: 2, achieved: 1 }, 'alone: the router answers, achieved 1');
});

t.test('quorum reads return the newest entry and repair the stale replicas', async (t) => {
  // C sends nothing to its peers: its writes stay on it.
  const nodes = await cluster(t, 3, (i) => ({
    readQuorum: 3,
    dropReplication: i === 2,
    quorumTimeoutMs: 4000,
  }));
  const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
  await run(a, 'put', 'doc', 'v1');
  await eventually(() => entryOn(c, 'doc')?.value === 'v1', 'v1 on C');
  t.same((await run(c, 'put', 'doc', 'v2')).quorum.achieved, 1, 'C wrote v2 alone');
  t.equal(entryOn(b, 'doc')?.value, 'v1');
  const read = await run(a, 'get', 'doc');
  t.same([read.value, read.quorum.required, read.quorum.achieved], ['v2', 3, 3], 'the newest of three');
  await eventually(() => entryOn(a, 'doc')?.value === 'v2' && entryOn(b, 'doc')?.value === 'v2', 'repair');
  t.ok(a.coordinator.counters.readRepairs >= 2, 'A repaired itself and B');
  await run(c, 'remove', 'doc');
  const gone = await run(b, 'get', 'doc');
  t.same([gone.found, gone.value, gone.quorum.achieved], [false, undefined, 3], 'the tombstone wins');
  await eventually(() => entryOn(a, 'doc')?.tombstone === true, 'the delete repaired onto A');
  const missing = await run(a, 'get', 'never');
  t.same([missing.found, missing.quorum.achieved], [false, 3], 'a key nobody has: three answers, none found');
});

t.test('replication factor 1: a node that holds no replica coordinates the whole operation', async (t) => {
  const nodes = await cluster(t, 2, () => ({ factor: 1, writeQuorum: 1 }));
  const [a, b] = nodes as [TestNode, TestNode];
  // A key whose one replica is B.
  let key = '';
  for (let i = 0; !key; i++) if (!a.topology.holds(hashKey(`r${i}`))) key = `r${i}`;
  const put = await run(a, 'put', key, 'remote');
  t.same([put.found, put.value, put.quorum.achieved], [true, undefined, 1], 'written on B');
  t.ok(put.version !== undefined, 'with the version A stamped');
  t.equal(entryOn(b, key)?.value, 'remote', 'B has it');
  t.equal(entryOn(a, key), undefined, 'A keeps no copy');
  const read = await run(a, 'get', key);
  t.same([read.value, read.quorum.achieved], ['remote', 1], 'read through A from B');
  const removed = await run(a, 'remove', key);
  t.same([removed.found, removed.quorum.achieved], [true, 1]);
  t.equal(entryOn(b, key)?.tombstone, true, 'the delete is on B');
  t.equal(a.coordinator.counters.coordinatedWrites, 2);
});

t.test(
  'hints: a dead home replica gets the write it missed once live; a stand-in is not hinted',
  async (t) => {
    const hints = await HintStore.open({ dir: undefined, maxBytes: 1 << 20, maxAgeMs: 60_000 });
    const nodes = await cluster(t, 3, (i) => ({
      factor: 2,
      writeQuorum: 1,
      hints: i === 0 ? hints : undefined,
    }));
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
    a.setMembers([view(a, a), view(b, a), view(c, a, 'dead')]);
    // Keys A holds: one whose other home replica is C (B stands in for it), one whose other is B.
    const home = (key: string) => a.topology.homeReplicas(hashKey(key));
    let withC = '';
    let withB = '';
    for (let i = 0; !withC || !withB; i++) {
      const key = `h${i}`;
      const ids = home(key);
      if (!ids.includes(a.id)) continue;
      if (ids.includes(c.id)) withC ||= key;
      else withB ||= key;
    }
    for (const key of [withC, withB]) {
      await run(a, 'put', key, `v-${key}`);
    }
    await eventually(() => entryOn(b, withC) !== undefined && entryOn(b, withB) !== undefined, 'B has both');
    t.equal(hints.pending(c.id), 1, 'one hint, for C, the home replica that missed it');
    t.equal(hints.pending(b.id), 0, 'none for B');
    t.equal(entryOn(c, withC), undefined, 'C has nothing yet');
    a.setMembers([view(a, a), view(b, a), view(c, a)]);
    await eventually(() => entryOn(c, withC)?.value === `v-${withC}`, 'C gets the hinted write');
    await eventually(() => hints.queued === 0, 'the hint is gone');
    t.equal(entryOn(c, withB), undefined, 'C is sent nothing it is not a home replica of');
    t.match(a.coordinator.stats(), { hints: { delivered: 1, dropped: 0, queued: 0, batches: 1 } });
  },
);

t.test(
  'clock skew: a replica refuses writes stamped too far ahead; the writer keeps them as hints',
  async (t) => {
    const hints = await HintStore.open({ dir: undefined, maxBytes: 1 << 20, maxAgeMs: 60_000 });
    const guard = new SkewGuard({ maxSkewMs: 60_000 });
    const nodes = await cluster(t, 2, (i) =>
      i === 0
        ? { writeQuorum: 2, quorumTimeoutMs: 4000, hints, clockAheadMs: 3_600_000 }
        : { writeQuorum: 2, quorumTimeoutMs: 4000, skew: guard },
    );
    const [a, b] = nodes as [TestNode, TestNode];
    const result = await run(a, 'put', 'fast', 'clock');
    t.same(result.quorum, { required: 2, achieved: 1 }, 'B did not acknowledge it');
    t.equal(entryOn(b, 'fast'), undefined, 'nor apply it');
    t.ok(guard.counters.refusedRecords >= 1, 'B counted the refusal');
    await eventually(() => hints.pending(b.id) === 1, 'A keeps a hint for B');
    const stats = b.coordinator.stats() as { clockSkew?: { refusedBatches: number } };
    t.ok((stats.clockSkew?.refusedBatches ?? 0) >= 1, "B's stats show it");
    // Delivered, the hint meets the same refusal: it is dropped rather than retried for ever.
    // (membersChanged runs every second in a daemon: it retries a delivery the stream's back-off failed.)
    await eventually(
      () => {
        a.coordinator.membersChanged();
        return hints.queued === 0;
      },
      'the refused hint is dropped',
      5000,
    );
    t.match(a.coordinator.stats(), { hints: { dropped: 1, delivered: 0, refusedForSkew: 1 } });
    t.equal(entryOn(b, 'fast'), undefined, 'B still does not have it');
    // B's own writes, stamped by a right clock, still go to A.
    t.same((await run(b, 'put', 'slow', 'ok')).quorum.achieved, 2, 'the other way works');
  },
);

t.test(
  'entries imported from an upstream log (no writer) are read and repaired as this node wrote them',
  async (t) => {
    const nodes = await cluster(t, 2, () => ({ readQuorum: 2, quorumTimeoutMs: 4000 }));
    const [a, b] = nodes as [TestNode, TestNode];
    const key = 'imported';
    b.stores[shardOfKey(key, SHARDS)]!.put(key, 'from upstream', { wall: 1_000, counter: 0, node: 0 });
    const read = await run(a, 'get', key);
    t.same(
      [read.value, read.quorum.achieved],
      ['from upstream', 2],
      'B answered the read: its entry crossed the wire',
    );
    t.equal(read.version?.node, b.id, 'as written by B');
    await eventually(() => entryOn(a, key)?.value === 'from upstream', 'A repaired');
    t.pass('and A was repaired with it');
  },
);

t.test('large values replicate: above grpc-js default 4 MiB message bound, at the ring size', async (t) => {
  const MiB = 1024 * 1024;
  const nodes = await cluster(t, 2, () => ({
    writeQuorum: 2,
    quorumTimeoutMs: 8000,
    maxValueBytes: 6 * MiB,
  }));
  const [a, b] = nodes as [TestNode, TestNode];
  for (const size of [4 * MiB - 1, 4 * MiB, 4 * MiB + 1, 6 * MiB]) {
    const value = 'v'.repeat(size);
    const result = await run(a, 'put', `big-${size}`, value);
    t.same(result.quorum, { required: 2, achieved: 2 }, `${size} bytes: both replicas acknowledged`);
    t.equal(entryOn(b, `big-${size}`)?.value.length, size, `${size} bytes: the peer holds all of it`);
  }
  // Many small writes at once, across both shards of both nodes, while large ones travel.
  const many = await Promise.all(
    Array.from({ length: 400 }, (_, i) => run(i % 2 === 0 ? a : b, 'put', `m${i}`, `x${i}`, i % 2)),
  );
  t.ok(
    many.every((r) => r.error === undefined && r.quorum.achieved === 2),
    '400 concurrent writes through both nodes: all on both',
  );
});
