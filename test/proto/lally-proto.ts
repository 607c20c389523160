import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import t from 'tap';

const PROTO = fileURLToPath(new URL('../../proto/lally.proto', import.meta.url));

t.test('the gRPC schema parses and a replication batch round-trips', async (t) => {
  const root = await protobuf.load(PROTO);
  const WriteBatch = root.lookupType('lally.v1.WriteBatch');
  const batch = {
    batchId: 7,
    records: [
      {
        op: 1,
        key: 'user:1',
        value: 'alice',
        version: { wall: 1795596628779, counter: 3, node: 4294967295 },
      },
      { op: 2, key: 'gone', value: '', version: { wall: 1, counter: 0, node: 1 } },
    ],
  };
  t.equal(WriteBatch.verify(batch), null);
  const decoded = WriteBatch.toObject(
    WriteBatch.decode(WriteBatch.encode(WriteBatch.create(batch)).finish()),
    {
      longs: Number,
      defaults: true,
    },
  );
  t.same(decoded, batch);
  for (const service of ['lally.v1.Membership', 'lally.v1.Replication']) {
    t.ok(root.lookupService(service), `${service} is declared`);
  }
});
