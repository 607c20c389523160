import t from 'tap';
import { exposureWarnings, isLoopback } from '../../src/daemon/exposure-warnings.js';

const open = { authToken: undefined, clusterSecret: undefined, tlsCert: undefined };

t.test('loopback addresses', async (t) => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST'])
    t.ok(isLoopback(host), host);
  for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.5', 'node-a.example', '128.0.0.1']) {
    t.notOk(isLoopback(host), host);
  }
});

t.test('an exposed node without a token or a secret is warned about, with the way out', async (t) => {
  t.same(exposureWarnings({ ...open, host: '127.0.0.1' }), [], 'loopback: nothing to say');
  const both = exposureWarnings({ ...open, host: '0.0.0.0' });
  t.equal(both.length, 2);
  t.match(both[0], /HTTP API listens on 0\.0\.0\.0 .*without a token.*--auth-token-file/);
  t.match(both[1], /gRPC port .*without a cluster secret.*--cluster-secret-file/);
  const tokenOnly = exposureWarnings({ ...open, host: '10.0.0.1', authToken: ['t'.repeat(20)] });
  t.equal(tokenOnly.length, 1);
  t.match(tokenOnly[0], /cluster secret/);
  t.same(
    exposureWarnings({
      ...open,
      host: '10.0.0.1',
      authToken: ['t'.repeat(20)],
      clusterSecret: ['s'.repeat(20)],
    }),
    [],
  );
});
