import t from 'tap';
import { SkewGuard } from '../../src/clock/skew-guard.js';
import { ErrorCodes, LallyError } from '../../src/errors.js';
import type { ReplicaRecord } from '../../src/rpc/codec.js';
import { type ApplyBatch, replicateHandler } from '../../src/rpc/replication-service.js';
import { ReplicationStream } from '../../src/rpc/replication-stream.js';
import { ReplicationService } from '../../src/rpc/services.js';
import { startPool, startServer } from '../fixtures/rpc-node.js';

const NOW = 1_800_000_000_000;

function record(key: string, wall: number): ReplicaRecord {
  return {
    key: Buffer.from(key),
    value: Buffer.from('v'),
    version: { wall, counter: 0, node: 9 },
    tombstone: false,
  };
}

function capture() {
  const lines: { obj: Record<string, unknown>; msg: string }[] = [];
  const logger = {
    warn: (obj: Record<string, unknown>, msg: string) => lines.push({ obj, msg }),
  } as unknown as import('pino').Logger;
  return { lines, logger };
}

t.test('a record within the bound passes; one beyond it refuses the batch, counted and logged', async (t) => {
  let now = NOW;
  const { lines, logger } = capture();
  const guard = new SkewGuard({ maxSkewMs: 1000, logger, now: () => now, warnEveryMs: 5000 });
  guard.check([record('a', NOW - 50_000), record('b', NOW + 1000)], 'peer-1');
  t.same(guard.counters, { refusedBatches: 0, refusedRecords: 0 }, 'past stamps and the exact bound pass');
  t.throws(
    () => guard.check([record('a', NOW), record('b', NOW + 1001), record('c', NOW + 9000)], 'peer-1'),
    { code: ErrorCodes.CLOCK_SKEW, message: /2 of 3 records from peer-1 .* 9000 ms ahead/ },
  );
  t.same(guard.counters, { refusedBatches: 1, refusedRecords: 2 });
  t.equal(lines.length, 1, 'one warning');
  t.match(lines[0]!.obj, { peer: 'peer-1', records: 2, aheadMs: 9000 });
  // Rate-limited per peer: a second refusal within warnEveryMs is counted, not logged again.
  t.throws(() => guard.check([record('d', NOW + 5000)], 'peer-1'));
  t.equal(lines.length, 1, 'the second refusal from that peer is not logged');
  t.throws(() => guard.check([record('d', NOW + 5000)], 'peer-2'));
  t.equal(lines.length, 2, 'another peer is named at once');
  now += 6000;
  t.throws(() => guard.check([record('e', now + 2000)], 'peer-1'));
  t.equal(lines.length, 3, 'once the interval passed, the peer is named again');
  t.match(lines[2]!.obj, { suppressed: 1 });
  // Time passes: a stamp once too far ahead is within the bound later.
  now = NOW + 8000;
  t.doesNotThrow(() => guard.check([record('c', NOW + 9000)], 'peer-1'), 'the same stamp passes later');
});

t.test(
  'through a replication stream: the skewed batch fails with LALLY_ERR_CLOCK_SKEW, nothing applied',
  async (t) => {
    const guard = new SkewGuard({ maxSkewMs: 60_000 });
    const applied: string[] = [];
    const peers: string[] = [];
    const apply: ApplyBatch = (records, peer) => {
      peers.push(peer);
      guard.check(records, peer);
      for (const r of records) applied.push(Buffer.from(r.key).toString());
      return { applied: records.length, superseded: 0 };
    };
    const unimplemented = () => {};
    const server = await startServer(t, [
      [
        ReplicationService,
        {
          replicate: replicateHandler(apply),
          read: unimplemented,
          snapshot: unimplemented,
          tree: unimplemented,
        },
      ],
    ]);
    const stream = new ReplicationStream(startPool(t).get(server.address), { backoff: { initialMs: 1 } });
    const now = Date.now();
    t.same(await stream.send([record('ok1', now), record('ok2', now - 1000)]), {
      batchId: 1,
      applied: 2,
      superseded: 0,
    });
    const refused = await stream.send([record('fine', now), record('ahead', now + 3_600_000)]).then(
      () => undefined,
      (error: unknown) => error,
    );
    t.ok(refused instanceof LallyError, 'the send fails');
    t.equal((refused as LallyError).code, ErrorCodes.CLOCK_SKEW, 'with the code the receiver sent');
    t.match((refused as LallyError).message, /ahead of this node's clock/);
    t.same(applied, ['ok1', 'ok2'], 'nothing of the refused batch was applied');
    t.same(guard.counters, { refusedBatches: 1, refusedRecords: 1 });
    t.match(peers[0], /127\.0\.0\.1:\d+/, "the handler names the stream's remote address");
  },
);
