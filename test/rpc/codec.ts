import t from 'tap';
import type { MemberUpdate } from '../../src/cluster/member.js';
import {
  checkReplicateBatch,
  decodeReplicateAck,
  decodeReplicateBatch,
  decodeUpdates,
  encodeGossip,
  encodePing,
  encodePingReq,
  encodeReplicateAck,
  encodeReplicateBatch,
  encodeSync,
  parseGossip,
  parsePing,
  parsePingReq,
  parseSync,
  type ReplicaRecord,
  type ReplicateBatch,
  wire,
} from '../../src/rpc/codec.js';

function rec(key: string, value: Uint8Array, wall: number, tombstone = false): ReplicaRecord {
  return { key: Buffer.from(key), value, version: { wall, counter: 7, node: 0xffffffff }, tombstone };
}

function roundTrip(batch: ReplicateBatch): ReplicateBatch {
  const decoded = decodeReplicateBatch(encodeReplicateBatch(batch));
  checkReplicateBatch(decoded);
  return decoded;
}

function plain(r: ReplicaRecord) {
  return {
    key: Buffer.from(r.key).toString('hex'),
    value: Buffer.from(r.value).toString('hex'),
    version: { wall: r.version.wall, counter: r.version.counter, node: r.version.node },
    tombstone: r.tombstone,
  };
}

t.test('replication batches round-trip: binary, empty, tombstones, 1 MiB values', async (t) => {
  const everyByte = Buffer.alloc(256);
  for (let i = 0; i < 256; i++) everyByte[i] = i;
  const big = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
  const records = [
    rec('binary', everyByte, 1795596628779),
    rec('empty', new Uint8Array(0), 1),
    rec('gone', new Uint8Array(0), 2 ** 48, true),
    rec('big', big, Number.MAX_SAFE_INTEGER),
    {
      key: Buffer.from('ключ🙂'),
      value: Buffer.from('значение'),
      version: { wall: 5, counter: 0, node: 1 },
      tombstone: false,
    },
  ];
  const decoded = roundTrip({ batchId: 2 ** 40 + 3, records });
  t.equal(decoded.batchId, 2 ** 40 + 3, 'a uint64 batch id above 2^32 comes back as a number');
  t.same(decoded.records.map(plain), records.map(plain));
  for (const r of decoded.records) {
    t.type(r.version.wall, 'number', 'wall is a number, not a Long');
    t.type(r.tombstone, 'boolean');
  }
  t.ok(Buffer.from(decoded.records[3]!.value).equals(big), 'the 1 MiB value is intact');
  t.equal(decoded.records[1]!.value.length, 0);
  t.equal(decoded.records[2]!.tombstone, true);
  t.equal(decoded.records[0]!.tombstone, false, 'an absent flag decodes as false');
  const empty = roundTrip({ batchId: 0, records: [] });
  t.same(empty, { batchId: 0, records: [] });
});

t.test('acks round-trip', async (t) => {
  const ack = { batchId: 123456789012, applied: 1000, superseded: 24 };
  t.same(decodeReplicateAck(encodeReplicateAck(ack)), ack);
  t.same(decodeReplicateAck(encodeReplicateAck({ batchId: 1, applied: 0, superseded: 0 })), {
    batchId: 1,
    applied: 0,
    superseded: 0,
  });
});

t.test('a batch with a record the schema allows but Lally does not is refused', async (t) => {
  const version = { wall: 1, counter: 0, node: 1 };
  const cases: [string, object][] = [
    ['no version', { key: Buffer.from('k'), value: Buffer.from('v') }],
    ['version node 0', { key: Buffer.from('k'), value: Buffer.from('v'), version: { ...version, node: 0 } }],
    ['empty key', { key: Buffer.alloc(0), value: Buffer.from('v'), version }],
    ['tombstone with a value', { key: Buffer.from('k'), value: Buffer.from('v'), version, tombstone: true }],
  ];
  for (const [name, record] of cases) {
    const bytes = wire.ReplicateBatch.encode({ batchId: 1, records: [record] }).finish();
    const batch = decodeReplicateBatch(bytes);
    t.throws(() => checkReplicateBatch(batch), { code: 'LALLY_ERR_INVALID_FIELD' }, name);
  }
});

const alive: MemberUpdate = { id: 0xfffffffe, address: '127.0.0.1:50071', state: 'alive', incarnation: 3 };
const updates: MemberUpdate[] = [
  alive,
  { id: 2, address: '[::1]:7000', state: 'suspect', incarnation: 2 ** 40 },
  { id: 3, address: 'node-3.local:1', state: 'dead', incarnation: 0 },
  { id: 4, address: 'h:2', state: 'left', incarnation: 9 },
];

function wireBytes<T>(type: { encode(m: T): { finish(): Uint8Array } }, m: T): Uint8Array {
  return type.encode(m).finish();
}

t.test('SWIM messages round-trip through their wire types', async (t) => {
  const ping = { seq: 41, from: 1, target: 2, updates };
  t.same(parsePing(wire.Ping.decode(wireBytes(wire.Ping, encodePing(ping)))), { message: ping, invalid: 0 });
  const req = { seq: 42, from: 1, target: 3, targetAddress: 'node-3.local:1', updates: [alive] };
  t.same(parsePingReq(wire.PingReq.decode(wireBytes(wire.PingReq, encodePingReq(req)))), {
    message: req,
    invalid: 0,
  });
  const gossip = { from: 9, updates: [] };
  t.same(parseGossip(wire.Gossip.decode(wireBytes(wire.Gossip, encodeGossip(gossip)))), {
    message: gossip,
    invalid: 0,
  });
  const sync = { from: 9, members: updates };
  t.same(parseSync(wire.StateSync.decode(wireBytes(wire.StateSync, encodeSync(sync)))), {
    message: sync,
    invalid: 0,
  });
});

t.test('malformed member updates are dropped and counted; a message from node 0 is refused', async (t) => {
  const S = wire.MemberState;
  const { updates: kept, invalid } = decodeUpdates([
    { id: 5, address: 'a:1', state: S.MEMBER_STATE_ALIVE, incarnation: 0 },
    { id: 0, address: 'a:1', state: S.MEMBER_STATE_ALIVE, incarnation: 0 },
    { id: 6, address: '', state: S.MEMBER_STATE_ALIVE, incarnation: 0 },
    { id: 7, address: 'a:1', state: S.MEMBER_STATE_UNSPECIFIED, incarnation: 0 },
    { id: 8, address: 'a:1', state: 99 as never, incarnation: 0 },
    { id: 9, address: 'x'.repeat(600), state: S.MEMBER_STATE_DEAD, incarnation: 0 },
  ]);
  t.same(kept, [{ id: 5, address: 'a:1', state: 'alive', incarnation: 0 }]);
  t.equal(invalid, 5);
  t.throws(() => parsePing({ seq: 1, from: 0, target: 2 }), { code: 'LALLY_ERR_INVALID_FIELD' });
  t.throws(() => parsePing({ seq: 1, from: 1, target: 0 }), { code: 'LALLY_ERR_INVALID_FIELD' });
  t.throws(() => parsePingReq({ seq: 1, from: 1, target: 2, targetAddress: '' }), {
    code: 'LALLY_ERR_INVALID_FIELD',
  });
  t.throws(() => parseSync({}), { code: 'LALLY_ERR_INVALID_FIELD' });
});
