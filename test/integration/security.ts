/**
 * Real daemons with the security options (docs/security.md): a token on the API, a cluster secret and
 * mutual TLS between nodes, HTTPS for the API. A node with another secret, or with a certificate from
 * another CA, cannot join.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { makeCa, makeCert, type TestCert } from '../fixtures/certs.js';
import { loopbackArgs, request, runCli, startDaemon, tempDir } from '../fixtures/daemon-process.js';

const TOKEN = 'api-token-0123456789abcdef';
const SECRET = 'cluster-secret-0123456789abcdef';

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One HTTPS request that trusts `ca` (fetch cannot be given a CA). */
function https(url: string, ca: string, init: { method?: string; body?: string; token?: string } = {}) {
  return new Promise<Answer>((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method: init.method ?? 'GET',
        ca: readFileSync(ca),
        headers: init.token === undefined ? {} : { authorization: `Bearer ${init.token}` },
        timeout: 5000,
      },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(init.body);
  });
}

const tlsArgs = (cert: TestCert) => ['--tls-cert', cert.cert, '--tls-key', cert.key, '--tls-ca', cert.ca];

t.test('a token on the API: 401 without it, the data with it', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'tokens');
  await writeFile(file, `# rotated in\n${TOKEN}\n`, { mode: 0o600 });
  const node = await startDaemon(t, {
    shards: 1,
    args: ['--no-aof', '--auth-token-file', file],
    env: { LALLY_AUTH_TOKEN: 'old-token-0123456789abcdef' },
  });
  const refused = await request(`${node.url}/kv/k`, { method: 'PUT', body: 'v' });
  t.equal(refused.status, 401);
  t.equal(refused.headers.get('www-authenticate'), 'Bearer realm="lally"');
  t.equal(refused.json().code, 'LALLY_ERR_UNAUTHENTICATED');
  for (const token of [TOKEN, 'old-token-0123456789abcdef']) {
    const auth = { authorization: `Bearer ${token}` };
    t.equal((await request(`${node.url}/kv/k`, { method: 'PUT', body: token, headers: auth })).status, 200);
    t.equal((await request(`${node.url}/kv/k?raw`, { headers: auth })).text, token);
  }
  for (const path of ['/stats', '/cluster', '/nodes', '/greet']) {
    t.equal((await request(`${node.url}${path}`)).status, 401, `${path} needs the token`);
  }
  t.notOk(
    node.lines.some((l) => l.includes(TOKEN)),
    'the token is never logged',
  );
});

t.test('mutual TLS, a cluster secret and HTTPS: two nodes replicate; intruders cannot join', async (t) => {
  const dir = await tempDir(t);
  const ours = makeCa(dir, 'ours');
  const theirs = makeCa(dir, 'theirs');
  const common = ['--cluster-secret', SECRET, '--auth-token', TOKEN, '--write-quorum', '2'];
  const a = await startDaemon(t, {
    shards: 1,
    args: ['--no-aof', ...common, ...tlsArgs(makeCert(ours, 'a'))],
  });
  const seed = JSON.parse(a.lines.find((l) => l.includes('lally listening on')) ?? '{}') as {
    address: string;
    http: string;
  };
  t.match(seed.http, /^https:/);
  const b = await startDaemon(t, {
    shards: 1,
    args: [...common, ...tlsArgs(makeCert(ours, 'b')), '--seed-node', seed.address],
  });
  const aUrl = a.url.replace('http:', 'https:');
  const bUrl = b.url.replace('http:', 'https:');
  const put = await https(`${aUrl}/kv/secure`, ours.cert, { method: 'PUT', body: 'over tls', token: TOKEN });
  t.equal(put.status, 200);
  t.match(JSON.parse(put.body), { quorum: { required: 2, achieved: 2 } }, 'replicated over mutual TLS');
  const got = await https(`${bUrl}/kv/secure?raw`, ours.cert, { token: TOKEN });
  t.equal(got.body, 'over tls');
  t.equal((await https(`${bUrl}/kv/secure`, ours.cert)).status, 401, 'HTTPS still needs the token');
  await t.rejects(request(`${a.url}/kv/secure`), 'plain HTTP on the HTTPS port gets no answer');

  // A node with the right certificates and the wrong secret: refused at once, exit 2.
  const joinArgs = async (extra: string[]) => [
    ...(await loopbackArgs(1)),
    '--no-aof',
    '--join-timeout-ms',
    '1000',
    '--seed-node',
    seed.address,
    ...extra,
  ];
  // Both intruders at once: one with the right certificates and the wrong secret (refused at once,
  // exit 2), one with the secret and a certificate from another CA (no TLS handshake, no join).
  const [wrong, stranger] = await Promise.all([
    joinArgs(['--cluster-secret', 'not-the-secret-0123456789', ...tlsArgs(makeCert(ours, 'c'))]).then(runCli),
    joinArgs(['--cluster-secret', SECRET, ...tlsArgs(makeCert(theirs, 'd'))]).then(runCli),
  ]);
  t.equal(wrong.code, 2);
  t.match(wrong.stdout + wrong.stderr, /refused this node \(UNAUTHENTICATED\).*same cluster_secret/);
  await waitForLine(t, a.lines, /refused a gRPC call from 127\.0\.0\.1:\d+.*another secret/);
  t.equal(stranger.code, 1);
  t.match(stranger.stdout + stranger.stderr, /cannot join the cluster through/);
  const members = JSON.parse((await https(`${aUrl}/cluster`, ours.cert, { token: TOKEN })).body) as {
    members: unknown[];
  };
  t.equal(members.members.length, 2, 'neither intruder became a member');

  // b restarted with another secret rejoins through its remembered members: refused, exit 2 (not a
  // node that starts alone and serves).
  t.equal((await b.stop()).code, 0);
  const restarted = await runCli([
    ...(await loopbackArgs(1)),
    '--data-dir',
    b.dataDir,
    '--cluster-secret',
    'not-the-secret-0123456789',
    ...tlsArgs(makeCert(ours, 'b2')),
  ]);
  t.equal(restarted.code, 2);
  t.match(
    restarted.stdout + restarted.stderr,
    /the remembered member .* refused this node \(UNAUTHENTICATED\)/,
  );
});

async function waitForLine(t: Test, lines: readonly string[], pattern: RegExp): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!lines.some((l) => pattern.test(l)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  t.ok(
    lines.some((l) => pattern.test(l)),
    `logged: ${pattern}`,
  );
}
