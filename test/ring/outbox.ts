import t from 'tap';
import { Doorbell } from '../../src/ring/doorbell.js';
import { Outbox } from '../../src/ring/outbox.js';
import { SpscRing } from '../../src/ring/spsc-ring.js';

function setup(capacity: number, options = {}) {
  const ringSab = SpscRing.allocate(capacity);
  const doorbellSab = Doorbell.allocate();
  return {
    outbox: new Outbox(ringSab, doorbellSab, options),
    consumer: new SpscRing(ringSab),
    doorbell: new Doorbell(doorbellSab),
  };
}

function message(index: number, length = 12): Uint8Array {
  const bytes = new Uint8Array(length);
  new DataView(bytes.buffer).setUint32(0, index, true);
  return bytes;
}

function indexes(ring: SpscRing): number[] {
  const seen: number[] = [];
  ring.drain((m) => seen.push(new DataView(m.buffer, m.byteOffset, 4).getUint32(0, true)));
  return seen;
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleepMs = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

t.test('sends parts without the caller concatenating them', async (t) => {
  const { outbox, consumer } = setup(64);
  t.ok(outbox.sendParts(new Uint8Array([1, 2]), new Uint8Array([3]), new Uint8Array([4, 5])));
  t.ok(outbox.send(new Uint8Array([6])));
  const seen: number[][] = [];
  consumer.drain((m) => seen.push([...m]));
  t.same(seen, [[1, 2, 3, 4, 5], [6]]);
  t.equal(outbox.stats.messagesSent, 2);
  t.equal(outbox.stats.doorbellsRung, 0, 'an awake consumer is not rung');
  t.equal(outbox.maxMessageBytes, 60);
});

t.test('rings the doorbell once per sleep of the consumer', async (t) => {
  const { outbox, consumer, doorbell } = setup(256);
  doorbell.prepareToSleep();
  for (let i = 0; i < 5; i++) t.ok(outbox.send(message(i)));
  t.equal(outbox.stats.doorbellsRung, 1);
  doorbell.markAwake();
  t.same(indexes(consumer), [0, 1, 2, 3, 4]);
  doorbell.prepareToSleep();
  t.ok(outbox.send(message(5)));
  t.equal(outbox.stats.doorbellsRung, 2);
});

t.test('a full ring queues, in order, and the queue drains as the consumer frees space', async (t) => {
  // 64 bytes hold 4 records of 16 (12-byte messages).
  const { outbox, consumer } = setup(64, { maxQueuedMessages: 100 });
  for (let i = 0; i < 10; i++) t.ok(outbox.send(message(i)), `message ${i} accepted`);
  t.equal(outbox.queuedMessages, 6);
  t.equal(outbox.stats.overflowHighWaterMessages, 6);
  t.equal(outbox.stats.overflowHighWaterBytes, 72);
  t.same(indexes(consumer), [0, 1, 2, 3]);
  // The ring has room now, but FIFO: a new message must queue behind the six.
  t.ok(outbox.send(message(10, 4)));
  t.equal(outbox.queuedMessages, 7);
  t.same(indexes(consumer), [], 'nothing jumped the queue');
  const seen: number[] = [];
  for (let turns = 0; outbox.queuedMessages > 0 || seen.length < 7; turns++) {
    if (turns > 1000) throw new Error('the overflow queue never drained');
    await turn();
    seen.push(...indexes(consumer));
  }
  t.same(seen, [4, 5, 6, 7, 8, 9, 10], 'every queued message arrived once, in order');
  t.equal(outbox.stats.messagesSent, 11);
  t.equal(outbox.stats.messagesQueued, 7);
});

t.test('a full overflow queue refuses (the caller answers 503), and recovers', async (t) => {
  const { outbox, consumer } = setup(64, { maxQueuedMessages: 3, retryDelayMs: 1 });
  const accepted: boolean[] = [];
  for (let i = 0; i < 9; i++) accepted.push(outbox.send(message(i)));
  t.same(accepted, [true, true, true, true, true, true, true, false, false]);
  t.equal(outbox.stats.messagesRejected, 2);
  // No consumer yet: the retries make no progress and back off; nothing is lost or duplicated.
  await sleepMs(10);
  t.equal(outbox.queuedMessages, 3);
  const seen: number[] = [];
  for (let turns = 0; seen.length < 7; turns++) {
    if (turns > 1000) throw new Error('the overflow queue never drained');
    seen.push(...indexes(consumer));
    await sleepMs(1);
  }
  t.same(seen, [0, 1, 2, 3, 4, 5, 6]);
  t.ok(outbox.send(message(7)), 'accepts again once drained');
});

t.test('the byte bound of the overflow queue', async (t) => {
  const { outbox } = setup(64, { maxQueuedBytes: 30 });
  for (let i = 0; i < 4; i++) t.ok(outbox.send(message(i)));
  t.ok(outbox.send(message(4)));
  t.ok(outbox.send(message(5)));
  t.notOk(outbox.send(message(6)), '36 bytes would exceed 30');
  t.ok(outbox.send(message(7, 6)), 'a smaller one still fits the byte bound');
  t.equal(outbox.close(), 3, 'close drops (and reports) what was queued');
  t.notOk(outbox.send(message(8)), 'a closed outbox only writes what fits the ring directly');
});

t.test('a message that can never fit throws, even behind a queue', async (t) => {
  const { outbox } = setup(64);
  t.throws(() => outbox.send(new Uint8Array(61)), { code: 'LALLY_ERR_VALUE_TOO_LARGE' });
  for (let i = 0; i < 5; i++) outbox.send(message(i));
  t.equal(outbox.queuedMessages, 1);
  t.throws(() => outbox.sendParts(new Uint8Array(40), new Uint8Array(40)), {
    code: 'LALLY_ERR_VALUE_TOO_LARGE',
  });
  t.equal(outbox.queuedMessages, 1, 'not queued');
  outbox.close();
});

t.test('answers are never refused, overtake queued requests and are counted', async (t) => {
  // 64 bytes hold 4 records of 16; the request queue holds 2.
  const { outbox, consumer } = setup(64, { maxQueuedMessages: 2 });
  for (let i = 0; i < 6; i++) t.ok(outbox.send(message(i)), `request ${i}`);
  t.notOk(outbox.send(message(6)), 'the request queue is full: a request is refused');
  for (let i = 100; i < 150; i++) t.ok(outbox.sendAnswer(message(i)), `answer ${i} is taken`);
  t.equal(outbox.answerBacklogBytes, 50 * 12, 'queued answers are counted in bytes');
  t.equal(outbox.stats.answersQueued, 50);
  t.equal(outbox.stats.answerHighWaterBytes, 600);
  const seen: number[] = [];
  for (let turns = 0; seen.length < 56; turns++) {
    if (turns > 1000) throw new Error('the queues never drained');
    seen.push(...indexes(consumer));
    await turn();
  }
  t.same(seen.slice(0, 4), [0, 1, 2, 3], 'what was in the ring first');
  t.same(
    seen.slice(4, 54),
    Array.from({ length: 50 }, (_, i) => 100 + i),
    'then every answer, in order, before the queued requests',
  );
  t.same(seen.slice(54), [4, 5]);
  t.equal(outbox.answerBacklogBytes, 0);
  t.ok(outbox.sendAnswer(message(200)), 'an empty answer queue writes straight into the ring');
  t.equal(outbox.stats.answersQueued, 50);
  t.same(indexes(consumer), [200]);
});

t.test('an answer goes straight into the ring even while requests wait in their queue', async (t) => {
  const { outbox, consumer } = setup(64);
  for (let i = 0; i < 5; i++) outbox.send(message(i));
  t.equal(outbox.queuedMessages, 1);
  t.same(indexes(consumer), [0, 1, 2, 3]);
  t.ok(outbox.sendAnswer(message(9)));
  t.equal(outbox.stats.answersQueued, 0, 'not queued behind the request');
  t.same(indexes(consumer), [9]);
  t.throws(() => outbox.sendAnswer(new Uint8Array(61)), { code: 'LALLY_ERR_VALUE_TOO_LARGE' });
  for (let i = 0; i < 10; i++) outbox.sendAnswer(message(i));
  t.equal(outbox.close(), 1 + 6, 'close drops queued requests and answers');
  t.notOk(outbox.sendAnswer(message(1)), 'a closed outbox refuses an answer that does not fit the ring');
});
