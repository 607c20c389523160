// A real producer thread against a consumer on this thread: order and content of every byte.
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import t from 'tap';
import { SpscRing } from '../../src/ring/spsc-ring.js';
import { workerExecArgv } from '../fixtures/child-env.js';
import { repoPath } from '../fixtures/paths.js';

// A plain JavaScript fixture shared with the worker, in the source tree (not compiled into dist/).
const { messageBytes, messageSize } = (await import(
  pathToFileURL(repoPath('test/fixtures/ring-load.mjs')).href
)) as { messageBytes: unknown; messageSize: unknown };

type Bytes = (index: number, size: number) => Uint8Array;
type Size = (index: number, maxBytes: number) => number;
const bytesOf = messageBytes as Bytes;
const sizeOf = messageSize as Size;

/** Enough for a 1 KiB ring to wrap thousands of times (the consumer polls, so both threads are busy for the whole run); `LALLY_STRESS_ROUNDS` (npm run stress) asks for more. */
const COUNT = process.env.LALLY_STRESS_ROUNDS === undefined ? 20_000 : 1_000_000;

for (const capacity of [1024, 16 * 1024]) {
  t.test(`${COUNT} messages of random sizes through a ${capacity}-byte ring`, async (t) => {
    // A million messages through 1 KiB took 15 s alone and over 60 s beside the rest of `npm run stress`.
    t.setTimeout(COUNT > 20_000 ? 300_000 : 60_000);
    const ringSab = SpscRing.allocate(capacity);
    const ring = new SpscRing(ringSab);
    const maxBytes = ring.maxMessageBytes;
    const worker = new Worker(repoPath('test/fixtures/ring-stream-producer.mjs'), {
      execArgv: workerExecArgv(),
      workerData: { ringSab, count: COUNT, maxBytes },
    });
    let received = 0;
    let bytes = 0;
    let firstError: string | undefined;
    const onMessage = (message: Uint8Array): void => {
      const index = received++;
      bytes += message.length;
      if (firstError !== undefined) return;
      const size = sizeOf(index, maxBytes);
      if (message.length !== size) {
        firstError = `message ${index}: ${message.length} bytes, expected ${size}`;
        return;
      }
      const want = bytesOf(index, size);
      if (Buffer.compare(message, want) !== 0) firstError = `message ${index}: content differs`;
    };
    const done = new Promise<{ fullRetries: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    // Consume on this thread, yielding to the event loop between batches (the worker's messages and
    // errors must get through).
    await new Promise<void>((resolve) => {
      const pass = (): void => {
        ring.drain(onMessage, 4096);
        if (received >= COUNT) resolve();
        else setImmediate(pass);
      };
      pass();
    });
    const report = await done;
    await worker.terminate();
    t.equal(firstError, undefined, 'every message arrived whole, in order');
    t.equal(received, COUNT);
    t.ok(ring.isEmpty, 'nothing left over');
    t.comment(`${bytes} bytes; the producer found the ring full ${report.fullRetries} times`);
  });
}
