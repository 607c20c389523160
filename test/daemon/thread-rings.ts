import t from 'tap';
import { ringCapacity, ThreadRings } from '../../src/daemon/thread-rings.js';
import { HOP_HEADER_BYTES } from '../../src/hop/hop-messages.js';
import { Doorbell } from '../../src/ring/doorbell.js';
import { SpscRing } from '../../src/ring/spsc-ring.js';

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
    t.doesNotThrow(() => SpscRing.allocate(capacity), 'a valid ring capacity');
  }
  t.equal(ringCapacity(1024, 1024), MIB);
  t.equal(ringCapacity(1024, 512 * 1024 - HOP_HEADER_BYTES - 1024 - 64), MIB);
  t.equal(ringCapacity(1024, 512 * 1024 - HOP_HEADER_BYTES - 1024 - 64 + 1), 2 * MIB);
  t.equal(ringCapacity(1024, MIB), 4 * MIB);
  t.equal(ringCapacity(1024, 100 * MIB), 256 * MIB);
});

t.test('ThreadRings wires one ring per directed pair of threads', async (t) => {
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
  for (let from = 0; from < 4; from++) {
    for (let to = 0; to < 4; to++) {
      const ring = rings.ring(from, to);
      if (from === to) {
        t.equal(ring, undefined, `no ring from ${from} to itself`);
        continue;
      }
      t.ok(ring instanceof SharedArrayBuffer, `ring ${from} -> ${to}`);
      t.equal(new SpscRing(ring!).capacity, capacity, 'a ring of the given capacity');
      seen.add(ring!);
    }
  }
  t.equal(seen.size, 12, 'twelve distinct rings for four threads');
  t.equal(rings.ring(4, 0), undefined, 'out of range');
  t.equal(rings.ring(0, 4), undefined);
  t.equal(rings.ring(-1, 0), undefined);

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
      t.equal(
        view.inbound[other],
        views[other]!.outbound[thread],
        `inbound[${other}] of ${thread} is outbound[${thread}] of ${other}`,
      );
      t.equal(view.inbound[other], rings.ring(other, thread));
      t.equal(view.outbound[other], rings.ring(thread, other));
      t.not(view.inbound[other], view.outbound[other], 'the two directions are separate rings');
    }
  }
});

t.test('a message written by one thread arrives on the peer thread', async (t) => {
  const rings = new ThreadRings(2, 1024);
  const producer = new SpscRing(rings.forThread(0).outbound[2]!);
  const consumer = new SpscRing(rings.forThread(2).inbound[0]!);
  t.ok(producer.tryWrite(Uint8Array.of(1, 2, 3)));
  const received: number[][] = [];
  consumer.drain((message) => received.push([...message]));
  t.same(received, [[1, 2, 3]]);
  // Nothing leaked into the reverse ring.
  const reverse: number[][] = [];
  new SpscRing(rings.forThread(0).inbound[2]!).drain((message) => reverse.push([...message]));
  t.same(reverse, []);
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
