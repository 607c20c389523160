// Several real sender threads into one shared inbound ring (MpscRing), through Outboxes, drained by
// an Inbox on this thread: every message arrives whole, with its sender, in order per sender, for
// sizes at, just under and just over the ring's boundaries (record padding, half the ring, the
// largest message), and the largest hop message of a max_value_bytes value.
import { Worker } from 'node:worker_threads';
import t, { type Test } from 'tap';
import { ringCapacity } from '../../src/daemon/thread-rings.js';
import { HOP_HEADER_BYTES } from '../../src/hop/hop-messages.js';
import { Doorbell } from '../../src/ring/doorbell.js';
import { Inbox } from '../../src/ring/inbox.js';
import { MPSC_RECORD_HEADER_BYTES, MpscRing } from '../../src/ring/mpsc-ring.js';
import { Outbox } from '../../src/ring/outbox.js';
import { workerExecArgv } from '../fixtures/child-env.js';
import { repoPath } from '../fixtures/paths.js';

/** What test/fixtures/mpsc-sender.mjs sends as message `index` of `sender`. */
function mpscMessage(sender: number, index: number, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 131 + index * 7 + sender * 29) & 0xff;
  if (size >= 8) {
    const view = new DataView(bytes.buffer);
    view.setUint32(0, sender, true);
    view.setUint32(4, index, true);
  }
  return bytes;
}

/** Sizes around every boundary of a ring of `capacity`: padding, a half, a quarter, the largest. */
function boundarySizes(capacity: number): number[] {
  const max = capacity - MPSC_RECORD_HEADER_BYTES;
  const around = (n: number): number[] => [n - 1, n, n + 1].filter((s) => s >= 0 && s <= max);
  return [
    0,
    1,
    3,
    4,
    5,
    ...around(8),
    ...around(100),
    ...around(capacity / 4),
    ...around(capacity / 2 - MPSC_RECORD_HEADER_BYTES),
    ...around(capacity / 2),
    max - 1,
    max,
    17,
    42,
  ];
}

interface Report {
  refused: number;
  stats: { messagesSent: number; messagesQueued: number };
}

async function run(
  t: Test,
  opts: { capacity: number; senders: number; count: number; sizes: number[] },
): Promise<void> {
  const ringSab = MpscRing.allocate(opts.capacity);
  const doorbellSab = Doorbell.allocate();
  const next = new Array<number>(opts.senders).fill(0);
  let received = 0;
  let firstError: string | undefined;
  const total = opts.senders * opts.count;
  let resolveAll: () => void = () => {};
  const all = new Promise<void>((resolve) => {
    resolveAll = resolve;
  });
  const inbox = new Inbox(doorbellSab, (message, from) => {
    received++;
    if (firstError === undefined) {
      const index = next[from];
      if (index === undefined) {
        firstError = `a message from unknown sender ${from}`;
      } else {
        next[from] = index + 1;
        const want = mpscMessage(from, index, opts.sizes[index % opts.sizes.length]!);
        if (Buffer.compare(message, want) !== 0) {
          firstError = `sender ${from} message ${index}: ${message.length} bytes, not the ${want.length} expected, or out of order`;
        }
      }
    }
    if (received === total) resolveAll();
  });
  inbox.addSharedRing(ringSab);
  inbox.start();
  const workers = Array.from(
    { length: opts.senders },
    (_, sender) =>
      new Worker(repoPath('test/fixtures/mpsc-sender.mjs'), {
        execArgv: workerExecArgv(),
        workerData: { ringSab, doorbellSab, sender, count: opts.count, sizes: opts.sizes },
      }),
  );
  const reports = await Promise.all(
    workers.map(
      (worker) =>
        new Promise<Report>((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    ),
  );
  // Cleared once everything arrived: a pending timer would keep the file's process alive for a minute.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    all,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`only ${received} of ${total} arrived`)), 60_000);
    }),
  ]).finally(() => clearTimeout(timer));
  await inbox.close();
  await Promise.all(workers.map((worker) => worker.terminate()));
  t.equal(firstError, undefined, 'every message whole, from its sender, in order per sender');
  t.equal(received, total);
  t.same(next, new Array(opts.senders).fill(opts.count), 'every sender complete');
  t.ok(new MpscRing(ringSab).isEmpty, 'nothing left over');
  const queued = reports.reduce((sum, report) => sum + report.stats.messagesQueued, 0);
  t.comment(`${queued} messages went through overflow queues, ${inbox.stats.sleeps} sleeps of the inbox`);
}

/** `npm run stress` (LALLY_STRESS_ROUNDS) sends ten times as many messages. */
const SCALE = process.env.LALLY_STRESS_ROUNDS === undefined ? 1 : 10;

for (const capacity of [256, 4096, 64 * 1024]) {
  t.test(`4 senders into one ${capacity}-byte ring, sizes at every boundary`, async (t) => {
    t.setTimeout(90_000);
    const sizes = boundarySizes(capacity);
    await run(t, { capacity, senders: 4, count: SCALE * (capacity >= 65536 ? 300 : 1000), sizes });
  });
}

t.test('small messages from 6 senders at once', async (t) => {
  t.setTimeout(90_000);
  await run(t, { capacity: 16 * 1024, senders: 6, count: SCALE * 2000, sizes: [0, 9, 33, 100, 150, 7] });
});

t.test('max_value_bytes values: the largest hop message passes between threads', async (t) => {
  t.setTimeout(90_000);
  const maxKey = 64;
  const maxValue = 256 * 1024;
  const capacity = ringCapacity(maxKey, maxValue);
  const largest = HOP_HEADER_BYTES + maxKey + maxValue;
  t.ok(largest <= new MpscRing(MpscRing.allocate(capacity)).maxMessageBytes);
  await run(t, { capacity, senders: 3, count: 40, sizes: [largest, largest - 1, 100, largest, 20] });
});

t.test('an outbox into a shared ring needs its sender id', async (t) => {
  t.throws(() => new Outbox(MpscRing.allocate(64), Doorbell.allocate()), { code: 'LALLY_ERR_INTERNAL' });
  t.throws(() => new Outbox(MpscRing.allocate(64), Doorbell.allocate(), { sender: -1 }), {
    code: 'LALLY_ERR_INTERNAL',
  });
  const outbox = new Outbox(MpscRing.allocate(64), Doorbell.allocate(), { sender: 2 });
  t.equal(outbox.maxMessageBytes, 64 - MPSC_RECORD_HEADER_BYTES);
  t.throws(
    () => outbox.send(new Uint8Array(57)),
    { code: 'LALLY_ERR_VALUE_TOO_LARGE' },
    'just over the largest',
  );
  t.ok(outbox.send(new Uint8Array(56)), 'the largest');
  outbox.close();
});
