import t from 'tap';
import { suggest } from '../../src/config/suggest.js';

t.test('suggest', async (t) => {
  const keys = ['http_port', 'grpc_port', 'aof', 'seed_node'];
  t.equal(suggest('httpPort', keys), 'http_port');
  t.equal(suggest('HTTP-PORT', keys), 'http_port');
  t.equal(suggest('htp_port', keys), 'http_port');
  t.equal(suggest('seed_nodes', keys), 'seed_node');
  t.equal(suggest('foo', keys), undefined);
  t.equal(suggest('zzzzzzzz', keys), undefined);
  t.equal(suggest('LALLY_SEED_NOD', ['LALLY_SEED_NODE', 'LALLY_AOF'], 'LALLY_'), 'LALLY_SEED_NODE');
  t.equal(suggest('LALLY_FOO', ['LALLY_AOF'], 'LALLY_'), undefined);
});
