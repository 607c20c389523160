import t from 'tap';
import { ErrorCodes } from '../../src/errors.js';
import type { ReplicaRecord } from '../../src/rpc/codec.js';
import { MAX_READ_KEYS, readHandler, readReplica } from '../../src/rpc/replica-read.js';
import { ReplicationService } from '../../src/rpc/services.js';
import { startPool, startServer } from '../fixtures/rpc-node.js';

const stored = new Map<string, ReplicaRecord>([
  [
    'a',
    {
      key: Buffer.from('a'),
      value: Buffer.from([0, 255]),
      version: { wall: 5, counter: 1, node: 2 },
      tombstone: false,
    },
  ],
  [
    'gone',
    {
      key: Buffer.from('gone'),
      value: Buffer.alloc(0),
      version: { wall: 9, counter: 0, node: 3 },
      tombstone: true,
    },
  ],
]);

t.test(
  'a replica read returns each entry in order, tombstones included, missing keys as undefined',
  async (t) => {
    const none = () => {};
    const server = await startServer(t, [
      [
        ReplicationService,
        {
          replicate: none,
          snapshot: none,
          tree: none,
          read: readHandler((keys) => keys.map((k) => stored.get(Buffer.from(k).toString()))),
        },
      ],
    ]);
    const channel = startPool(t).get(server.address);
    const keys = ['gone', 'missing', 'a'].map((k) => Buffer.from(k));
    const entries = await readReplica(channel, keys, 2000, 77);
    t.equal(entries.length, 3);
    t.equal(entries[0]!.tombstone, true);
    t.same(entries[0]!.version, { wall: 9, counter: 0, node: 3 });
    t.equal(entries[1], undefined);
    t.same([...entries[2]!.value], [0, 255]);
    t.same(await readReplica(channel, [], 2000), []);
    await t.rejects(
      readReplica(
        channel,
        Array.from({ length: MAX_READ_KEYS + 1 }, () => Buffer.from('k')),
        2000,
      ),
      {
        code: ErrorCodes.BATCH_TOO_LARGE,
      },
    );
    await t.rejects(readReplica(channel, [Buffer.alloc(0)], 2000), { code: ErrorCodes.INVALID_FIELD });
  },
);

t.test(
  'a lookup that answers the wrong number of entries is an internal error, not a wrong answer',
  async (t) => {
    const none = () => {};
    const server = await startServer(t, [
      [ReplicationService, { replicate: none, snapshot: none, tree: none, read: readHandler(() => []) }],
    ]);
    const channel = startPool(t).get(server.address);
    await t.rejects(readReplica(channel, [Buffer.from('a')], 2000), { code: ErrorCodes.INTERNAL });
  },
);
