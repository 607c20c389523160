import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { ErrorCodes, LallyError } from '../../src/errors.js';
import type { ReplicaRecord } from '../../src/rpc/codec.js';
import { type ApplyBatch, replicateHandler } from '../../src/rpc/replication-service.js';
import { ReplicationStream } from '../../src/rpc/replication-stream.js';
import { ReplicationService } from '../../src/rpc/services.js';
import { startPool, startServer } from '../fixtures/rpc-node.js';

function records(from: number, count: number, valueBytes = 100): ReplicaRecord[] {
  const out: ReplicaRecord[] = [];
  for (let i = from; i < from + count; i++) {
    const value = Buffer.alloc(valueBytes, i & 0xff);
    value.writeUInt32BE(i, 0);
    out.push({
      key: Buffer.from(`key:${i}`),
      value,
      version: { wall: 1_700_000_000_000 + i, counter: i & 0xffff, node: 7 },
      tombstone: false,
    });
  }
  return out;
}

function replication(apply: ApplyBatch, maxPending?: number) {
  const handler =
    maxPending === undefined ? replicateHandler(apply) : replicateHandler(apply, { maxPending });
  const unimplemented = () => {};
  return { replicate: handler, read: unimplemented, snapshot: unimplemented, tree: unimplemented };
}

t.test('100k records in batches arrive complete and in order, each batch acknowledged', async (t) => {
  const received: number[] = [];
  let batches = 0;
  let maxUnacked = 0;
  let stream: ReplicationStream | undefined;
  const maxInFlight = 4;
  const maxPending = 2;
  const server = await startServer(t, [
    [
      ReplicationService,
      replication(async (batch) => {
        batches++;
        maxUnacked = Math.max(maxUnacked, stream!.stats.batches - stream!.stats.acks);
        for (const r of batch) received.push(Buffer.from(r.value).readUInt32BE(0));
        // A slow applier (a shard waiting for its fsync): the sender must wait, not pile up.
        if (batches % 10 === 0) await sleep(1);
        return { applied: batch.length - 1, superseded: 1 };
      }, maxPending),
    ],
  ]);
  stream = new ReplicationStream(startPool(t).get(server.address), { maxBatchRecords: 1000, maxInFlight });
  const total = 100_000;
  // One big send (split into batches by the stream) and many small ones, concurrently.
  const big = stream.send(records(0, 50_000));
  const small: Promise<unknown>[] = [];
  for (let i = 50_000; i < total; i += 500) small.push(stream.send(records(i, 500)));
  const bigAck = await big;
  await Promise.all(small);
  t.equal(received.length, total, 'every record arrived');
  let inOrder = true;
  for (let i = 0; i < total; i++) if (received[i] !== i) inOrder = false;
  t.ok(inOrder, 'in the order sent');
  t.same(
    { applied: bigAck.applied, superseded: bigAck.superseded },
    { applied: 50_000 - 50, superseded: 50 },
  );
  t.equal(stream.stats.batches, 50 + 100, '50 batches of 1000, 100 of 500');
  t.equal(stream.stats.acks, stream.stats.batches, 'one ack per batch');
  t.equal(stream.stats.streamsOpened, 1, 'one long-lived stream');
  t.ok(maxUnacked <= maxInFlight, `at most ${maxInFlight} batches unacknowledged (saw ${maxUnacked})`);
  t.equal(stream.pending, 0);
  await stream.close();
  await t.rejects(stream.send(records(0, 1)), { code: ErrorCodes.SHUTTING_DOWN });
});

t.test(
  'a sender with a wide window waits for drain when the receiver is slow, and loses nothing',
  async (t) => {
    const received: number[] = [];
    const server = await startServer(t, [
      [
        ReplicationService,
        replication(async (batch) => {
          for (const r of batch) received.push(Buffer.from(r.value).readUInt32BE(0));
          await sleep(2);
          return { applied: batch.length, superseded: 0 };
        }, 1),
      ],
    ]);
    const stream = new ReplicationStream(startPool(t).get(server.address), {
      maxBatchRecords: 250,
      maxInFlight: 1000,
    });
    const ack = await stream.send(records(0, 40_000, 1000));
    t.equal(ack.applied, 40_000);
    t.equal(received.length, 40_000);
    t.ok(
      received.every((v, i) => v === i),
      'complete and in order',
    );
    t.ok(stream.stats.drainWaits > 0, `the sender waited for drain ${stream.stats.drainWaits} times`);
    await stream.close();
  },
);

t.test(
  'a batch the receiver cannot apply fails with its code; the stream backs off, then reopens',
  async (t) => {
    let fail: LallyError | undefined = new LallyError(ErrorCodes.DISK_FULL, 'disk full');
    const server = await startServer(t, [
      [
        ReplicationService,
        replication((batch) => {
          if (fail !== undefined) throw fail;
          return { applied: batch.length, superseded: 0 };
        }),
      ],
    ]);
    let now = 1000;
    const stream = new ReplicationStream(startPool(t).get(server.address), {
      now: () => now,
      backoff: { initialMs: 100, jitter: 0 },
    });
    await t.rejects(stream.send(records(0, 10)), { code: ErrorCodes.DISK_FULL, message: /disk full/ });
    await t.rejects(
      stream.send(records(0, 10)),
      {
        code: ErrorCodes.PEER_UNAVAILABLE,
        message: /next attempt in 100 ms/,
      },
      'fails fast during the back-off',
    );
    now += 100;
    fail = undefined;
    t.same(await stream.send(records(10, 10)), { batchId: 2, applied: 10, superseded: 0 });
    t.equal(stream.stats.streamsOpened, 2);
    t.equal(stream.stats.failures, 1);

    // A record Lally refuses (no version) ends the stream as INVALID_FIELD, not as a crash.
    const bad = { key: Buffer.from('k'), value: Buffer.from('v'), version: null } as unknown as ReplicaRecord;
    await t.rejects(stream.send([bad]), { code: ErrorCodes.INVALID_FIELD, message: /no version/ });
    await t.rejects(stream.send(records(20, 1)), { code: ErrorCodes.PEER_UNAVAILABLE }, 'backing off again');
    // The peer is known to be back (it restarted): no waiting out the back-off.
    stream.retryNow();
    t.same((await stream.send(records(20, 1))).applied, 1, 'retryNow opens a stream at once');
  },
);

t.test('a peer killed mid-stream fails what it did not acknowledge', async (t) => {
  let applied = 0;
  const server = await startServer(t, [
    [
      ReplicationService,
      replication(async (batch) => {
        applied += batch.length;
        await new Promise(() => {}); // never durable: the peer dies first
        return { applied: 0, superseded: 0 };
      }),
    ],
  ]);
  const stream = new ReplicationStream(startPool(t).get(server.address));
  const sent = stream.send(records(0, 100));
  while (applied === 0) await sleep(5);
  server.forceShutdown();
  await t.rejects(sent, { code: ErrorCodes.PEER_UNAVAILABLE });
  t.equal(stream.pending, 0);
  stream.destroy();
});

t.test('a batch is bounded in bytes, and a record larger than the bound travels alone', async (t) => {
  const sizes: number[] = [];
  const server = await startServer(t, [
    [
      ReplicationService,
      replication((batch) => {
        sizes.push(batch.length);
        return { applied: batch.length, superseded: 0 };
      }),
    ],
  ]);
  const stream = new ReplicationStream(startPool(t).get(server.address), { maxBatchBytes: 64 * 1024 });
  const mixed = [...records(0, 3, 1024 * 1024), ...records(3, 200, 1000)];
  const ack = await stream.send(mixed);
  t.equal(ack.applied, 203);
  t.same(sizes.slice(0, 3), [1, 1, 1], 'each 1 MiB record alone');
  t.ok(
    sizes.slice(3).every((n) => n * 1024 <= 64 * 1024),
    `the rest in batches of at most 64 KiB (${sizes.slice(3).join(', ')})`,
  );
  await stream.close();
});
