import { setTimeout as sleep } from 'node:timers/promises';
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import t from 'tap';
import { ErrorCodes, LallyError } from '../../src/errors.js';
import { DEFAULT_PEER_SETTINGS, peerSettingsFor } from '../../src/rpc/channel-options.js';
import { RpcServer, unaryHandler } from '../../src/rpc/grpc-server.js';
import { PeerPool } from '../../src/rpc/peer-pool.js';
import { MembershipService } from '../../src/rpc/services.js';
import { startPool, startServer } from '../fixtures/rpc-node.js';

/** A Membership service whose Ping answers with `answer`, and whose other calls never answer. */
function membership(answer: (seq: number) => unknown): UntypedServiceImplementation {
  const never = () => {};
  return {
    ping: unaryHandler((request: { seq: number }) => answer(request.seq)),
    pingReq: never,
    gossip: never,
    sync: never,
    join: never,
    leave: never,
  };
}

const ping = (seq: number) => ({ seq, from: 1, target: 2, updates: [] });

t.test(
  'a call to a server that never answers fails within its deadline as LALLY_ERR_PEER_TIMEOUT',
  async (t) => {
    const server = await startServer(t, [[MembershipService, membership(() => ({ seq: 0, from: 2 }))]]);
    const channel = startPool(t).get(server.address);
    const started = performance.now();
    const error = await channel.unary(MembershipService.gossip, { from: 1, updates: [] }, 300).then(
      () => undefined,
      (e: unknown) => e,
    );
    const elapsed = performance.now() - started;
    t.type(error, LallyError);
    t.equal((error as LallyError).code, ErrorCodes.PEER_TIMEOUT);
    t.match((error as LallyError).message, /Gossip to 127\.0\.0\.1:\d+ failed/);
    t.ok(elapsed >= 250, `not before the deadline (${elapsed.toFixed(0)} ms)`);
    t.ok(
      elapsed < 300 + 4700,
      `within the deadline, plus scheduling slack on a loaded machine (${elapsed.toFixed(0)} ms)`,
    );
    await t.rejects(
      channel.unary(MembershipService.gossip, { from: 1, updates: [] }, 0),
      {
        code: ErrorCodes.INTERNAL,
      },
      'a call without a deadline is refused',
    );
  },
);

t.test("a handler's LallyError reaches the caller with its code; other throws are internal", async (t) => {
  const server = await startServer(t, [
    [
      MembershipService,
      membership((seq) => {
        if (seq === 1) throw new LallyError(ErrorCodes.DISK_FULL, 'no space');
        if (seq === 2) throw new Error('a bug');
        if (seq === 3) return Promise.reject(new LallyError(ErrorCodes.INVALID_FIELD, 'bad'));
        return { seq, from: 2, updates: [] };
      }),
    ],
  ]);
  const channel = startPool(t).get(server.address);
  await t.rejects(channel.unary(MembershipService.ping, ping(1), 2000), {
    code: ErrorCodes.DISK_FULL,
    message: /no space/,
  });
  await t.rejects(channel.unary(MembershipService.ping, ping(2), 2000), {
    code: ErrorCodes.INTERNAL,
    message: /a bug/,
  });
  await t.rejects(channel.unary(MembershipService.ping, ping(3), 2000), { code: ErrorCodes.INVALID_FIELD });
  const ack = await channel.unary(MembershipService.ping, ping(4), 2000);
  t.equal(ack.seq, 4);
});

t.test('one channel per peer, reused; a peer that goes away and comes back is reconnected', async (t) => {
  const implementation = membership((seq) => ({ seq, from: 2, updates: [] }));
  const first = await startServer(t, [[MembershipService, implementation]]);
  const port = first.port;
  const pool = startPool(t);
  const channel = pool.get(first.address);
  t.equal(pool.get(first.address), channel, 'the pool hands out the same channel');
  t.equal((await channel.unary(MembershipService.ping, ping(1), 2000)).seq, 1);

  first.forceShutdown();
  await t.rejects(channel.unary(MembershipService.ping, ping(2), 1000), {
    code: ErrorCodes.PEER_UNAVAILABLE,
  });

  // The same port again (a restarted peer). The channel was not closed or replaced: it reconnects.
  let second: RpcServer | undefined;
  for (let attempt = 0; second === undefined && attempt < 50; attempt++) {
    try {
      second = await startServer(t, [[MembershipService, implementation]], port);
    } catch {
      await sleep(100); // the port may linger for a moment
    }
  }
  t.ok(second, `a server is back on port ${port}`);
  let answered: number | undefined;
  const deadline = Date.now() + 15_000;
  while (answered === undefined && Date.now() < deadline) {
    answered = await channel.unary(MembershipService.ping, ping(3), 1000).then(
      (ack) => ack.seq ?? undefined,
      () => undefined,
    );
    if (answered === undefined) await sleep(100);
  }
  t.equal(answered, 3, 'the pooled channel answers again');
  t.equal(pool.get(first.address), channel, 'still the same channel');
  t.equal(pool.size, 1);
});

t.test('the pool checks addresses and refuses use after closing', async (t) => {
  const pool = new PeerPool();
  t.throws(() => pool.get('no-port'), { code: ErrorCodes.INVALID_FIELD });
  t.throws(() => pool.get('host:0'), { code: ErrorCodes.INVALID_FIELD });
  t.throws(() => pool.get('host:70000'), { code: ErrorCodes.INVALID_FIELD });
  const channel = pool.get('[::1]:9');
  t.ok(pool.has('[::1]:9'));
  pool.close('[::1]:9');
  t.notOk(pool.has('[::1]:9'));
  t.ok(channel.closed);
  await t.rejects(channel.unary(MembershipService.ping, ping(1), 100), { code: ErrorCodes.PEER_UNAVAILABLE });
  pool.closeAll();
  t.throws(() => pool.get('127.0.0.1:9'), { code: ErrorCodes.SHUTTING_DOWN });
});

t.test('the server reports its bound port, refuses a taken one, and shuts down gracefully', async (t) => {
  const server = await startServer(t, [[MembershipService, membership((seq) => ({ seq, from: 2 }))]]);
  t.ok(server.port > 0);
  // grpc-js leaves Nagle on for accepted connections; the server turns it off (its private map of
  // http2 servers is what it patches: a grpc-js that changes it fails here).
  t.equal(server.noDelayServers, 1, "the bound server's connections get TCP_NODELAY");
  const taken = new RpcServer({ host: '127.0.0.1', port: server.port });
  await t.rejects(taken.listen(), { code: ErrorCodes.CONFIG, message: /cannot bind the gRPC port/ });
  t.throws(() => new RpcServer({ host: '127.0.0.1', port: 0 }).port, { code: ErrorCodes.INTERNAL });
  const channel = startPool(t).get(server.address);
  // A call that never ends holds a graceful shutdown only until its grace period ends.
  const hanging = channel.unary(MembershipService.sync, { from: 1, members: [] }, 10_000).catch((e) => e);
  await sleep(100);
  const started = performance.now();
  await server.shutdown(300);
  t.ok(performance.now() - started < 8000, 'the shutdown ended');
  t.equal(
    ((await hanging) as LallyError).code,
    ErrorCodes.PEER_UNAVAILABLE,
    'the cut call fails as unavailable',
  );
  await server.shutdown(); // twice is fine
});

t.test('the message bound follows the largest record a node accepts', async (t) => {
  const MiB = 1024 * 1024;
  t.equal(peerSettingsFor(1024, MiB), DEFAULT_PEER_SETTINGS, 'small values: the defaults');
  const edge = DEFAULT_PEER_SETTINGS.maxMessageBytes - MiB - 1024;
  t.equal(peerSettingsFor(1024, edge), DEFAULT_PEER_SETTINGS, 'one record that just fits: the defaults');
  t.equal(
    peerSettingsFor(1024, edge + 1).maxMessageBytes,
    DEFAULT_PEER_SETTINGS.maxMessageBytes + 1,
    'one byte more: a bound that fits it',
  );
  t.equal(peerSettingsFor(MiB, 512 * MiB).maxMessageBytes, 514 * MiB, 'the largest limits');
});
