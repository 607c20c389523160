/**
 * The cluster secret and TLS of the gRPC port over real loopback connections: signed calls pass,
 * unsigned or wrongly signed ones are refused UNAUTHENTICATED (and logged with the peer's address);
 * with mutual TLS, a peer whose certificate another CA signed cannot call at all.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, credentials, status, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { ErrorCodes } from '../../src/errors.js';
import { RpcServer, unaryHandler } from '../../src/rpc/grpc-server.js';
import { PeerPool } from '../../src/rpc/peer-pool.js';
import {
  checkSignature,
  INSECURE,
  type RpcSecurity,
  rpcSecurityOf,
  SIGNATURE_WINDOW_MS,
  signCall,
} from '../../src/rpc/rpc-security.js';
import { MembershipService } from '../../src/rpc/services.js';
import { makeCa, makeCert, type TestCert } from '../fixtures/certs.js';

const SECRET = 'cluster-secret-0123456789';
const OTHER = 'another-secret-0123456789';
const PATH = '/lally.Membership/Ping';

t.test('signatures: one method, one secret, a bounded clock window', async (t) => {
  const now = 1_800_000_000_000;
  const signed = signCall(SECRET, PATH, now);
  t.match(signed, /^v1\.\d+\.[0-9a-f]{64}$/);
  t.notOk(signed.includes(SECRET), 'the secret itself is not sent');
  t.equal(checkSignature(signed, PATH, [SECRET], now), undefined);
  t.equal(checkSignature(signed, PATH, [OTHER, SECRET], now + 1000), undefined, 'any accepted secret');
  t.equal(checkSignature(signed, PATH, [OTHER], now), 'wrong');
  t.equal(checkSignature(signed, '/lally.Replication/Read', [SECRET], now), 'wrong', 'bound to its method');
  t.equal(checkSignature(signed, PATH, [SECRET], now + SIGNATURE_WINDOW_MS + 1), 'stale');
  t.equal(checkSignature(undefined, PATH, [SECRET], now), 'missing');
  t.equal(checkSignature(Buffer.from(signed), PATH, [SECRET], now), 'malformed');
  for (const bad of ['v1', 'v2.1.aa', `v1.x.${'a'.repeat(64)}`, `v1.1.${'g'.repeat(64)}`, `${signed}.1`]) {
    t.equal(checkSignature(bad, PATH, [SECRET], now), 'malformed', bad.slice(0, 12));
  }
});

function membership(): UntypedServiceImplementation {
  const never = () => {};
  return {
    ping: unaryHandler((request: { seq: number }) => ({ seq: request.seq, from: 2, updates: [] })),
    pingReq: never,
    gossip: never,
    sync: never,
    join: never,
    leave: never,
  };
}

interface LogLine {
  msg: string;
  peer?: string;
  reason?: string;
}

async function serve(t: Test, security: RpcSecurity, lines: LogLine[] = []): Promise<RpcServer> {
  const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const server = new RpcServer({ host: '127.0.0.1', port: 0, security, logger });
  server.addService(MembershipService, membership());
  await server.listen();
  t.teardown(() => server.forceShutdown());
  return server;
}

function ping(t: Test, server: RpcServer, security: RpcSecurity): Promise<unknown> {
  const pool = new PeerPool(undefined, security);
  t.teardown(() => pool.closeAll());
  return pool
    .get(server.address)
    .unary(MembershipService.ping, { seq: 5, from: 1, target: 2, updates: [] }, 3000);
}

t.test('a server with a cluster secret refuses calls without it, and logs who called', async (t) => {
  const lines: LogLine[] = [];
  const server = await serve(t, { secrets: [SECRET], tls: undefined }, lines);
  t.match(await ping(t, server, { secrets: [SECRET], tls: undefined }), { seq: 5 });
  t.match(await ping(t, server, { secrets: [SECRET, OTHER], tls: undefined }), { seq: 5 }, 'the first signs');
  await t.rejects(ping(t, server, INSECURE), {
    code: ErrorCodes.UNAUTHENTICATED,
    message: /no cluster signature/,
  });
  await t.rejects(ping(t, server, { secrets: [OTHER], tls: undefined }), {
    code: ErrorCodes.UNAUTHENTICATED,
    message: /another secret/,
  });
  const refused = lines.filter((l) => l.msg.startsWith('refused a gRPC call'));
  t.same(
    refused.map((l) => l.reason),
    ['missing', 'wrong'],
  );
  t.match(refused[0]?.peer, /127\.0\.0\.1:\d+/);
});

t.test(
  'mutual TLS: a peer with a certificate of the same CA calls; another CA, or none, cannot',
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'lally-tls-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const ours = makeCa(dir, 'ours');
    const theirs = makeCa(dir, 'theirs');
    const security = (cert: TestCert): RpcSecurity =>
      rpcSecurityOf({ clusterSecret: [SECRET], tlsCert: cert.cert, tlsKey: cert.key, tlsCa: cert.ca });
    const server = await serve(t, security(makeCert(ours, 'a')));
    t.match(await ping(t, server, security(makeCert(ours, 'b'))), { seq: 5 }, 'same CA');
    await t.rejects(ping(t, server, security(makeCert(theirs, 'c'))), { code: ErrorCodes.PEER_UNAVAILABLE });
    await t.rejects(ping(t, server, { secrets: [SECRET], tls: undefined }), {
      code: ErrorCodes.PEER_UNAVAILABLE,
    });
    // TLS towards the server, but no client certificate: the handshake is refused.
    const client = new Client(server.address, credentials.createSsl(readFileSync(ours.cert)));
    t.teardown(() => client.close());
    const bare = await new Promise<{ code?: number } | null>((resolve) => {
      const method = MembershipService.ping;
      client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        { seq: 1, from: 1, target: 2, updates: [] },
        { deadline: Date.now() + 3000 },
        (error) => resolve(error),
      );
    });
    t.equal(bare?.code, status.UNAVAILABLE, 'no client certificate: no call');
    t.throws(
      () =>
        rpcSecurityOf({
          clusterSecret: undefined,
          tlsCert: join(dir, 'nope.pem'),
          tlsKey: 'x',
          tlsCa: undefined,
        }),
      {
        code: ErrorCodes.CONFIG,
      },
    );
  },
);
