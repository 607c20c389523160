import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import type { MemberState } from '../../src/cluster/member.js';
import { suspicionTimeoutMs } from '../../src/cluster/swim-config.js';
import { ErrorCodes } from '../../src/errors.js';
import { wire } from '../../src/rpc/codec.js';
import { peerHost } from '../../src/rpc/membership-service.js';
import { MembershipService } from '../../src/rpc/services.js';
import { type SwimRpcNode, startPool, startSwimRpcNode } from '../fixtures/rpc-node.js';

// Short timings so the test takes seconds: probes every 200 ms, suspicion timeout 2 * 200 ms.
const CONFIG = {
  probeIntervalMs: 200,
  probeTimeoutMs: 100,
  suspicionMult: 2,
  gossipIntervalMs: 50,
  pushPullIntervalMs: 2000,
  reconnectIntervalMs: 500,
  leaveTimeoutMs: 500,
};

async function until(check: () => boolean, ms: number): Promise<number | undefined> {
  const start = performance.now();
  while (!check()) {
    if (performance.now() - start > ms) return undefined;
    await sleep(10);
  }
  return performance.now() - start;
}

function view(of: SwimRpcNode, about: SwimRpcNode): MemberState | undefined {
  return of.node.get(about.node.self.id)?.state;
}

/** The wiring's join: ask the seed, start knowing its members, then a full exchange with it. */
async function joinThrough(node: SwimRpcNode, seed: SwimRpcNode, sendAddress = true): Promise<string> {
  const port = node.server.port;
  const answer = await node.transport.join(
    seed.address,
    { id: node.node.self.id, address: sendAddress ? node.address : '', port, incarnation: 0 },
    2000,
  );
  node.node.start(answer.members);
  await node.node.join(seed.address, 2000);
  return answer.address;
}

t.test(
  '3 SwimNodes over real gRPC: join through a seed, all alive, a hard kill is dead within the bound',
  async (t) => {
    const [a, b, c] = await Promise.all([1, 2, 3].map((id) => startSwimRpcNode(t, id * 0x1000001, CONFIG)));
    a!.node.start();
    t.equal(await joinThrough(b!, a!), b!.address);
    // C sends no address: the seed takes the host its call came from, with C's port.
    t.equal(await joinThrough(c!, a!, false), c!.address);
    const all = [a!, b!, c!];
    const converged = await until(() => all.every((x) => all.every((y) => view(x, y) === 'alive')), 5000);
    t.not(converged, undefined, `every node sees every node alive (after ${converged?.toFixed(0)} ms)`);
    t.equal(a!.stats.joins, 2);

    // Let probes run for a while: nobody is suspected while all are up.
    await sleep(1000);
    t.ok(
      all.every((x) => all.every((y) => view(x, y) === 'alive')),
      'still all alive after 5 probe rounds',
    );
    t.ok(a!.node.stats.probes > 0 && a!.node.stats.probesFailed === 0, 'probes answered');

    c!.kill();
    const killedAt = performance.now();
    // The bound: C is first probed within a pass of the round-robin (2 targets) plus one interval,
    // suspected within that probe's interval, and dead one suspicion timeout later at the suspecting
    // node; gossip carries the news to the other within a few gossip rounds.
    const bound =
      4 * CONFIG.probeIntervalMs + suspicionTimeoutMs({ ...a!.node.config }, 3) + 4 * CONFIG.gossipIntervalMs;
    const dead = await until(() => view(a!, c!) === 'dead' && view(b!, c!) === 'dead', bound + 6000);
    t.not(dead, undefined, 'both survivors mark the killed node dead');
    const elapsed = performance.now() - killedAt;
    t.ok(
      elapsed <= bound + 5000,
      `dead at both within ${bound} ms (+5 s scheduling slack on a loaded machine): ${elapsed.toFixed(0)} ms`,
    );
    t.equal(view(a!, b!), 'alive');
    t.equal(view(b!, a!), 'alive');
    t.comment(
      `converged in ${converged?.toFixed(0)} ms; killed node dead at both after ${elapsed.toFixed(0)} ms (bound ${bound} ms)`,
    );
  },
);

t.test('a graceful leave reaches the others at once; a colliding id is refused', async (t) => {
  const [a, b] = await Promise.all([11, 12].map((id) => startSwimRpcNode(t, id, CONFIG)));
  a!.node.start();
  await joinThrough(b!, a!);
  t.not(await until(() => view(a!, b!) === 'alive' && view(b!, a!) === 'alive', 3000), undefined);

  const impostor = await startSwimRpcNode(t, 12, CONFIG);
  await t.rejects(
    impostor.transport.join(a!.address, { id: 12, address: impostor.address, port: 0, incarnation: 0 }, 2000),
    { code: ErrorCodes.CONFIG, message: /already member/ },
  );
  t.equal(a!.stats.joinsRefused, 1);

  // The Leave call, as a wiring would make it: the member is dropped at once.
  await b!.transport.leave(a!.address, { ...b!.node.self, state: 'left' }, 1000);
  t.equal(view(a!, b!), 'left');
});

t.test('the membership handlers check their input', async (t) => {
  const a = await startSwimRpcNode(t, 21, CONFIG);
  const channel = startPool(t).get(a.address);
  // A stopped node answers no probe.
  await t.rejects(channel.unary(MembershipService.ping, { seq: 1, from: 5, target: 21 }, 1000), {
    code: ErrorCodes.PEER_UNAVAILABLE,
  });
  a.node.start();
  await t.rejects(channel.unary(MembershipService.ping, { seq: 1, from: 0, target: 21 }, 1000), {
    code: ErrorCodes.INVALID_FIELD,
  });
  await t.rejects(
    channel.unary(MembershipService.ping, { seq: 1, from: 5, target: 99 }, 1000),
    {
      code: ErrorCodes.PEER_UNAVAILABLE,
    },
    'a probe for another member is not answered',
  );
  const ack = await channel.unary(
    MembershipService.ping,
    {
      seq: 7,
      from: 5,
      target: 21,
      updates: [
        { id: 5, address: '127.0.0.1:1', state: wire.MemberState.MEMBER_STATE_ALIVE, incarnation: 0 },
        { id: 0, address: '127.0.0.1:1', state: wire.MemberState.MEMBER_STATE_ALIVE },
        { id: 6, address: '127.0.0.1:1', state: wire.MemberState.MEMBER_STATE_UNSPECIFIED },
      ],
    },
    1000,
  );
  t.equal(ack.seq, 7);
  t.equal(ack.from, 21);
  t.equal(a.stats.invalidUpdates, 2, 'two malformed updates dropped');
  t.equal(a.node.get(5)?.state, 'alive', 'the good one applied');
  await t.rejects(channel.unary(MembershipService.join, { id: 0, address: 'h:1' }, 1000), {
    code: ErrorCodes.INVALID_FIELD,
  });
  await t.rejects(channel.unary(MembershipService.join, { id: 9, address: '', port: 0 }, 1000), {
    code: ErrorCodes.INVALID_FIELD,
    message: /needs a port/,
  });
  await t.rejects(channel.unary(MembershipService.join, { id: 9, address: 'not an address' }, 1000), {
    code: ErrorCodes.INVALID_FIELD,
  });
  // A ping-req for a member that does not answer: UNAVAILABLE after the probe timeout.
  await t.rejects(
    channel.unary(
      MembershipService.pingReq,
      { seq: 3, from: 5, target: 77, targetAddress: '127.0.0.1:1' },
      2000,
    ),
    { code: ErrorCodes.PEER_UNAVAILABLE },
  );
  a.node.stop();
  await t.rejects(channel.unary(MembershipService.sync, { from: 5, members: [] }, 1000), {
    code: ErrorCodes.PEER_UNAVAILABLE,
  });
});

t.test('peerHost reads grpc-js peer strings', async (t) => {
  t.equal(peerHost('10.0.0.7:5123'), '10.0.0.7');
  t.equal(peerHost('[::1]:5123'), '::1');
  t.equal(peerHost('[::ffff:10.0.0.7]:5123'), '10.0.0.7');
  t.equal(peerHost('garbage'), undefined);
});
