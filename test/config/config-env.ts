import t from 'tap';
import { readConfigEnv } from '../../src/config/config-env.js';

t.test('readConfigEnv maps LALLY_ variables and warns only about likely typos of them', async (t) => {
  const layer = readConfigEnv({
    LALLY_HTTP_PORT: '1',
    LALLY_HOOKS: 'a,b',
    LALLY_SHARD: '2',
    LALLY_AUDIT_FILE: '/tmp/audit.jsonl',
    PATH: '/bin',
  });
  t.same(Object.fromEntries(layer.values), { httpPort: '1', hooks: 'a,b' });
  t.same(layer.warnings, ['unknown environment variable LALLY_SHARD ignored (did you mean LALLY_SHARDS?)']);
});

t.test("a hook's own LALLY_ variable (the documented audit-log example) draws no warning", async (t) => {
  t.same(readConfigEnv({ LALLY_AUDIT_FILE: 'audit.jsonl' }).warnings, []);
});
