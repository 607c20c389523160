import t from 'tap';
import { LallyError } from '../../src/errors.js';
import { RING_HEADER_BYTES, recordBytes, SpscRing } from '../../src/ring/spsc-ring.js';

/** Deterministic bytes so a failure reproduces: a small LCG seeded per test. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function pattern(length: number, salt: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + salt * 7 + 1) & 0xff;
  return bytes;
}

function drainAll(ring: SpscRing, maxMessages?: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  ring.drain((message) => out.push(message.slice()), maxMessages);
  return out;
}

t.test('allocate validates the capacity', async (t) => {
  for (const bad of [0, 4, 7, 12, 1000, 2 ** 31, 1.5, -8]) {
    t.throws(() => SpscRing.allocate(bad), { code: 'LALLY_ERR_CONFIG' }, `capacity ${bad}`);
  }
  const sab = SpscRing.allocate(64);
  t.equal(sab.byteLength, RING_HEADER_BYTES + 64);
  const ring = new SpscRing(sab);
  t.equal(ring.capacity, 64);
  t.equal(ring.maxMessageBytes, 60);
});

t.test('the constructor refuses a buffer that is not a ring', async (t) => {
  t.throws(() => new SpscRing(new SharedArrayBuffer(256)), { code: 'LALLY_ERR_INTERNAL' });
});

t.test('an empty ring drains nothing', async (t) => {
  const ring = new SpscRing(SpscRing.allocate(64));
  t.ok(ring.isEmpty);
  t.equal(ring.usedBytes, 0);
  t.equal(
    ring.drain(() => t.fail('no message expected')),
    0,
  );
});

t.test('zero-length messages are messages', async (t) => {
  const ring = new SpscRing(SpscRing.allocate(16));
  t.ok(ring.tryWrite(new Uint8Array(0)));
  t.ok(ring.tryWrite(new Uint8Array(0)));
  t.equal(ring.usedBytes, 8);
  const out = drainAll(ring);
  t.same(
    out.map((m) => m.length),
    [0, 0],
  );
  t.ok(ring.isEmpty);
});

t.test('full and exactly full', async (t) => {
  const ring = new SpscRing(SpscRing.allocate(64));
  // One message of maxMessageBytes fills the ring to the last byte.
  const whole = pattern(ring.maxMessageBytes, 1);
  t.ok(ring.tryWrite(whole));
  t.equal(ring.usedBytes, 64);
  t.notOk(ring.tryWrite(new Uint8Array(0)), 'not even an empty message fits a full ring');
  t.same(drainAll(ring), [whole]);
  // Several records that add up to exactly the capacity: 4 x (4 + 12) = 64.
  for (let i = 0; i < 4; i++) t.ok(ring.tryWrite(pattern(12, i)), `record ${i}`);
  t.equal(ring.usedBytes, 64);
  t.notOk(ring.tryWrite(pattern(1, 9)));
  // Freeing one record makes room for exactly one of the same size, not more.
  t.equal(drainAll(ring, 1).length, 1);
  t.notOk(ring.tryWrite(pattern(13, 9)), '13 bytes pad to 16 and need 20');
  t.ok(ring.tryWrite(pattern(12, 4)));
  const out = drainAll(ring);
  t.same(out, [pattern(12, 1), pattern(12, 2), pattern(12, 3), pattern(12, 4)]);
});

t.test('a message larger than the ring throws instead of returning false', async (t) => {
  const ring = new SpscRing(SpscRing.allocate(64));
  const error = t.throws(() => ring.tryWrite(new Uint8Array(61)));
  t.ok(error instanceof LallyError);
  t.match(error, { code: 'LALLY_ERR_VALUE_TOO_LARGE' });
  t.throws(() => ring.tryWriteParts(new Uint8Array(30), new Uint8Array(30), new Uint8Array(1)), {
    code: 'LALLY_ERR_VALUE_TOO_LARGE',
  });
  t.ok(ring.isEmpty, 'nothing was written');
});

t.test('padding: records take 4 + length rounded up to 4', async (t) => {
  t.equal(recordBytes(0), 4);
  t.equal(recordBytes(1), 8);
  t.equal(recordBytes(4), 8);
  t.equal(recordBytes(5), 12);
});

t.test('wrap-around at every offset, for several message sizes', async (t) => {
  const capacity = 64;
  for (const size of [0, 1, 3, 4, 5, 7, 8, 13, 20, 27, 31, 40, 59, 60]) {
    for (let offset = 0; offset < capacity; offset += 4) {
      const ring = new SpscRing(SpscRing.allocate(capacity));
      // Move head and tail to `offset` with filler records, then consume them.
      let moved = 0;
      while (moved < offset) {
        const filler = Math.min(offset - moved, 32) - 4;
        t.ok(ring.tryWrite(new Uint8Array(filler)));
        moved += recordBytes(filler);
      }
      drainAll(ring);
      const message = pattern(size, offset);
      t.ok(ring.tryWrite(message), `size ${size} at ${offset}`);
      let seen: Uint8Array | undefined;
      t.equal(
        ring.drain((m) => {
          seen = m.slice();
        }),
        1,
      );
      t.same(seen, message, `size ${size} at ${offset}`);
      t.ok(ring.isEmpty);
    }
  }
});

t.test('parts are laid out in order, also across the end of the buffer', async (t) => {
  const ring = new SpscRing(SpscRing.allocate(32));
  for (let round = 0; round < 40; round++) {
    const header = pattern(3, round);
    const key = pattern(round % 7, round + 1);
    const value = pattern((round * 5) % 11, round + 2);
    t.ok(ring.tryWriteParts(header, key, value));
    const [message] = drainAll(ring);
    t.same(message, new Uint8Array([...header, ...key, ...value]), `round ${round}`);
  }
});

t.test('a contiguous message is a zero-copy view into the ring; a wrapped one is a copy', async (t) => {
  const sab = SpscRing.allocate(32);
  const ring = new SpscRing(sab);
  t.ok(ring.tryWrite(pattern(8, 1)));
  ring.drain((m) => {
    t.equal(m.buffer, sab, 'contiguous: a view over the shared buffer');
    t.equal(m.byteOffset, RING_HEADER_BYTES + 4);
  });
  // Head and tail at 12: a 24-byte body starts at 16 and wraps.
  t.ok(ring.tryWrite(pattern(24, 2)));
  ring.drain((m) => {
    t.not(m.buffer, sab, 'wrapped: reassembled in the scratch buffer');
    t.same(m, pattern(24, 2));
  });
});

t.test('drain honours maxMessages and advances the tail once per call', async (t) => {
  const ring = new SpscRing(SpscRing.allocate(256));
  for (let i = 0; i < 10; i++) t.ok(ring.tryWrite(pattern(5, i)));
  const usedBefore = ring.usedBytes;
  const during: number[] = [];
  t.equal(
    ring.drain(() => during.push(ring.usedBytes), 3),
    3,
  );
  t.same(during, [usedBefore, usedBefore, usedBefore], 'space is released at the end of the batch');
  t.equal(ring.usedBytes, usedBefore - 3 * recordBytes(5));
  t.equal(
    ring.drain(() => {}, 0),
    0,
  );
  const rest = drainAll(ring);
  t.same(
    rest,
    [3, 4, 5, 6, 7, 8, 9].map((i) => pattern(5, i)),
  );
});

t.test('a throwing handler consumes the message it threw on and keeps the rest', async (t) => {
  const ring = new SpscRing(SpscRing.allocate(64));
  for (let i = 0; i < 4; i++) t.ok(ring.tryWrite(pattern(4, i)));
  let calls = 0;
  t.throws(() =>
    ring.drain(() => {
      calls++;
      if (calls === 2) throw new Error('boom');
    }),
  );
  t.same(drainAll(ring), [pattern(4, 2), pattern(4, 3)]);
});

t.test('random sizes against a model queue, byte for byte', async (t) => {
  for (const capacity of [16, 64, 256, 4096]) {
    const ring = new SpscRing(SpscRing.allocate(capacity));
    const next = random(capacity);
    const model: Uint8Array[] = [];
    let written = 0;
    let read = 0;
    for (let step = 0; step < 20_000; step++) {
      if (next() < 0.55) {
        const size = Math.floor(next() * (ring.maxMessageBytes + 1));
        const message = pattern(size, written);
        const modelUsed = model.reduce((sum, m) => sum + recordBytes(m.length), 0);
        const fits = modelUsed + recordBytes(size) <= capacity;
        const split = Math.floor(next() * (size + 1));
        const ok =
          next() < 0.5
            ? ring.tryWrite(message)
            : ring.tryWriteParts(
                message.subarray(0, split),
                message.subarray(split, size),
                new Uint8Array(0),
              );
        if (ok !== fits) {
          t.fail(`capacity ${capacity} step ${step}: write of ${size} returned ${ok}, model says ${fits}`);
          return;
        }
        if (ok) {
          model.push(message);
          written++;
        }
        if (ring.usedBytes !== modelUsed + (ok ? recordBytes(size) : 0)) {
          t.fail(`capacity ${capacity} step ${step}: usedBytes drifted`);
          return;
        }
      } else {
        const max = 1 + Math.floor(next() * 4);
        let mismatch = false;
        ring.drain((m) => {
          const expected = model.shift();
          if (expected === undefined || Buffer.compare(m, expected) !== 0) mismatch = true;
          read++;
        }, max);
        if (mismatch) {
          t.fail(`capacity ${capacity} step ${step}: message ${read} differs from the model`);
          return;
        }
      }
    }
    ring.drain(() => {
      read++;
      model.shift();
    });
    t.equal(model.length, 0, `capacity ${capacity}: ${written} written, ${read} read`);
    t.equal(read, written);
    t.ok(ring.isEmpty);
  }
});

t.test('head and tail wrap through 2^32 without losing track', async (t) => {
  const sab = SpscRing.allocate(64);
  // Start both counters just below the 32-bit wrap, as after ~4 GiB of traffic.
  const header = new Int32Array(sab, 0, 32);
  header[0] = -24;
  header[16] = -24;
  const ring = new SpscRing(sab);
  t.ok(ring.isEmpty);
  for (let i = 0; i < 20; i++) {
    t.ok(ring.tryWrite(pattern(20, i)));
    t.ok(ring.tryWrite(pattern(8, i)));
    t.equal(ring.usedBytes, 36);
    t.same(drainAll(ring), [pattern(20, i), pattern(8, i)]);
  }
});
