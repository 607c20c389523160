import t from 'tap';
import { ringCapacity, ringMemoryBytes, ThreadRings } from '../../src/daemon/thread-rings.js';
import { HOP_HEADER_BYTES } from '../../src/hop/hop-messages.js';
import { Doorbell } from '../../src/ring/doorbell.js';
import { isMpscRing, MPSC_HEADER_BYTES, MpscProducer, MpscRing } from '../../src/ring/mpsc-ring.js';

const MIB = 1 << 20;

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

t.test('ringCapacity is a power of two, at least 1 MiB and twice the largest message', async (t) => {
  const cases: [number, number][] = [
    [0, 0],
    [1, 1],
    [256, 1024],
    [1024, 256 * 1024],
    [1024, 512 * 1024 - HOP_HEADER_BYTES - 1024 - 64], // largest exactly 512 KiB: 1 MiB suffices
    [1024, 512 * 1024 - HOP_HEADER_BYTES - 1024 - 64 + 1], // one byte more: 2 MiB
    [1024, MIB],
    [64 * 1024, 4 * MIB],
    [1, 16 * MIB],
    [1024, 100 * MIB],
  ];
  for (const [maxKey, maxValue] of cases) {
    const capacity = ringCapacity(maxKey, maxValue);
    const largest = HOP_HEADER_BYTES + maxKey + maxValue;
    t.ok(isPowerOfTwo(capacity), `${maxKey}/${maxValue}: ${capacity} is a power of two`);
    t.ok(capacity >= MIB, 'at least 1 MiB');
    t.ok(capacity >= 2 * largest, 'fits the largest message twice');
    t.ok(capacity === MIB || capacity / 2 < 2 * (largest + 64), 'the smallest such power of two');
    t.doesNotThrow(() => MpscRing.allocate(capacity), 'a valid ring capacity');
  }
  t.equal(ringCapacity(1024, 1024), MIB);
  t.equal(ringCapacity(1024, 512 * 1024 - HOP_HEADER_BYTES - 1024 - 64), MIB);
  t.equal(ringCapacity(1024, 512 * 1024 - HOP_HEADER_BYTES - 1024 - 64 + 1), 2 * MIB);
  t.equal(ringCapacity(1024, MIB), 4 * MIB);
  t.equal(ringCapacity(1024, 100 * MIB), 256 * MIB);
  t.equal(ringCapacity(8 * 1024, 512 * MIB), 1024 * MIB, 'capped at 1 GiB: the largest message fits once');
});

t.test('ThreadRings gives every thread one inbound ring, shared by its senders', async (t) => {
  const capacity = 4096;
  const rings = new ThreadRings(3, capacity);
  t.equal(rings.threads, 4, 'three shards and the main thread');
  t.equal(rings.doorbells.length, 4, 'one doorbell per thread');
  t.equal(new Set(rings.doorbells).size, 4, 'distinct doorbells');
  for (const doorbell of rings.doorbells) {
    t.ok(doorbell instanceof SharedArrayBuffer);
    t.equal(doorbell.byteLength, Doorbell.allocate().byteLength);
    t.doesNotThrow(() => new Doorbell(doorbell));
  }
  const seen = new Set<SharedArrayBuffer>();
  for (let thread = 0; thread < 4; thread++) {
    const ring = rings.inbound(thread);
    t.ok(ring !== undefined && isMpscRing(ring), `thread ${thread}: a shared ring`);
    t.equal(new MpscRing(ring!).capacity, capacity);
    seen.add(ring!);
  }
  t.equal(seen.size, 4, 'four distinct rings for four threads (not twelve)');
  t.equal(rings.inbound(4), undefined, 'out of range');
  t.throws(() => rings.forThread(4), RangeError);

  const views = [0, 1, 2, 3].map((thread) => rings.forThread(thread));
  for (let thread = 0; thread < 4; thread++) {
    const view = views[thread]!;
    t.equal(view.inbound.length, 4);
    t.equal(view.outbound.length, 4);
    t.equal(view.inbound[thread], undefined, `thread ${thread}: no inbound ring from itself`);
    t.equal(view.outbound[thread], undefined, `thread ${thread}: no outbound ring to itself`);
    t.equal(view.doorbells, rings.doorbells, 'every doorbell');
    for (let other = 0; other < 4; other++) {
      if (other === thread) continue;
      t.equal(view.inbound[other], rings.inbound(thread), 'every sender writes into the same ring');
      t.equal(view.outbound[other], rings.inbound(other), 'sends go into the target thread ring');
      t.equal(views[other]!.outbound[thread], view.inbound[other]);
    }
  }
});

t.test('messages from two threads arrive on the third with their senders', async (t) => {
  const rings = new ThreadRings(2, 1024);
  t.ok(new MpscProducer(rings.forThread(0).outbound[2]!, 0).tryWrite(Uint8Array.of(1, 2, 3)));
  t.ok(new MpscProducer(rings.forThread(1).outbound[2]!, 1).tryWrite(Uint8Array.of(4)));
  const received: [number, number[]][] = [];
  new MpscRing(rings.forThread(2).inbound[0]!).drain((message, from) => received.push([from, [...message]]));
  t.same(received, [
    [0, [1, 2, 3]],
    [1, [4]],
  ]);
  // Nothing leaked into the senders' own rings.
  for (const thread of [0, 1]) t.ok(new MpscRing(rings.inbound(thread)!).isEmpty);
});

t.test('a single shard has a ring each way with the main thread', async (t) => {
  const rings = new ThreadRings(1, 64);
  t.equal(rings.threads, 2);
  const shard = rings.forThread(0);
  const main = rings.forThread(1);
  t.same(shard.inbound.length, 2);
  t.equal(shard.inbound[1], main.outbound[0]);
  t.equal(shard.outbound[1], main.inbound[0]);
  t.equal(shard.inbound[0], undefined);
  t.equal(main.outbound[1], undefined);
});

t.test('ring memory is linear in the shard count', async (t) => {
  // Measured on real allocations with small rings (cheap), 2 to 64 shards.
  const capacity = 4096;
  for (const shards of [1, 2, 16, 64]) {
    const rings = new ThreadRings(shards, capacity);
    t.equal(rings.totalBytes, ringMemoryBytes(shards, capacity), `${shards} shards: as computed`);
  }
  const perThread = ringMemoryBytes(1, capacity) / 2;
  t.equal(
    perThread,
    MPSC_HEADER_BYTES + capacity + Doorbell.allocate().byteLength,
    'per thread: a ring and a doorbell',
  );
  for (const shards of [2, 16, 64]) t.equal(ringMemoryBytes(shards, capacity), (shards + 1) * perThread);

  // With the default limits (8 KiB keys, 1 MiB values): 4 MiB rings.
  const defaults = ringCapacity(8 * 1024, MIB);
  t.equal(defaults, 4 * MIB);
  const at = (shards: number): number => ringMemoryBytes(shards, defaults) / MIB;
  t.ok(at(2) < 12.01 && at(2) >= 12, `2 shards: ${at(2).toFixed(2)} MiB (was 24 MiB, one ring per pair)`);
  t.ok(at(16) < 68.01 && at(16) >= 68, `16 shards: ${at(16).toFixed(2)} MiB (was 1088 MiB)`);
  t.ok(at(64) < 260.1 && at(64) >= 260, `64 shards: ${at(64).toFixed(2)} MiB (was 16640 MiB)`);
  t.equal(
    ringMemoryBytes(64, defaults) - ringMemoryBytes(16, defaults),
    48 * (ringMemoryBytes(16, defaults) - ringMemoryBytes(15, defaults)),
    'each shard adds the same amount',
  );
});
