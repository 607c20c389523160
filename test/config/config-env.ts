import t from 'tap';
import { readConfigEnv } from '../../src/config/config-env.js';

t.test('readConfigEnv maps LALLY_ variables and warns about the others', async (t) => {
  const layer = readConfigEnv({ LALLY_HTTP_PORT: '1', LALLY_HOOKS: 'a,b', LALLY_NOPE: '1', PATH: '/bin' });
  t.same(Object.fromEntries(layer.values), { httpPort: '1', hooks: 'a,b' });
  t.same(layer.warnings, ['unknown environment variable LALLY_NOPE ignored']);
});
