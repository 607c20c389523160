import t from 'tap';
import { Doorbell } from '../../src/ring/doorbell.js';
import { Inbox } from '../../src/ring/inbox.js';
import { Outbox } from '../../src/ring/outbox.js';
import { SpscRing } from '../../src/ring/spsc-ring.js';

/** Resolves once `check` holds, polling on timers; rejects after `ms` so that a hang fails the test. */
async function until(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

function text(message: Uint8Array): string {
  return Buffer.from(message).toString('utf8');
}

t.test('delivers from several rings, tagged with the sender, and sleeps when idle', async (t) => {
  const doorbellSab = Doorbell.allocate();
  const ringA = SpscRing.allocate(1024);
  const ringB = SpscRing.allocate(1024);
  const got: string[] = [];
  const inbox = new Inbox(doorbellSab, (message, from) => got.push(`${from}:${text(message)}`));
  inbox.addRing(7, ringA);
  inbox.addRing(9, ringB);
  const fromA = new Outbox(ringA, doorbellSab);
  const fromB = new Outbox(ringB, doorbellSab);
  inbox.start();
  const doorbell = new Doorbell(doorbellSab);
  await until(() => doorbell.isSleeping);
  fromA.send(Buffer.from('a1'));
  fromB.send(Buffer.from('b1'));
  fromA.send(Buffer.from('a2'));
  await until(() => got.length === 3);
  t.same(got.sort(), ['7:a1', '7:a2', '9:b1']);
  t.equal(fromA.stats.doorbellsRung + fromB.stats.doorbellsRung, 1, 'one ring woke the sleeper');
  t.ok(inbox.stats.sleeps >= 1);
  t.equal(inbox.stats.messagesReceived, 3);
  // Wake from sleep again, many times: no lost wake-up.
  for (let round = 0; round < 50; round++) {
    await until(() => doorbell.isSleeping);
    fromB.send(Buffer.from(`r${round}`));
    await until(() => got.length === 4 + round);
  }
  t.equal(got.at(-1), '9:r49');
  await inbox.close();
});

t.test('maxBatch shares each pass between senders', async (t) => {
  const doorbellSab = Doorbell.allocate();
  const ringA = SpscRing.allocate(4096);
  const ringB = SpscRing.allocate(4096);
  const order: number[] = [];
  const inbox = new Inbox(doorbellSab, (_message, from) => order.push(from), { maxBatch: 2 });
  const fromA = new SpscRing(ringA);
  const fromB = new SpscRing(ringB);
  for (let i = 0; i < 6; i++) fromA.tryWrite(new Uint8Array(1));
  for (let i = 0; i < 2; i++) fromB.tryWrite(new Uint8Array(1));
  inbox.addRing(1, ringA);
  inbox.addRing(2, ringB);
  t.equal(inbox.drainOnce(), 4);
  t.same(order, [1, 1, 2, 2], 'the busy sender got two, then the other sender its turn');
  t.equal(inbox.drainOnce(), 2);
  t.equal(inbox.drainOnce(), 2);
  t.equal(inbox.drainOnce(), 0);
  t.equal(inbox.stats.batches, 3);
});

t.test('a throwing handler is reported and the loop goes on', async (t) => {
  const doorbellSab = Doorbell.allocate();
  const ringSab = SpscRing.allocate(256);
  const errors: string[] = [];
  const got: string[] = [];
  const inbox = new Inbox(
    doorbellSab,
    (message) => {
      if (text(message) === 'bad') throw new Error('handler bug');
      got.push(text(message));
    },
    { onError: (error, from) => errors.push(`${from}:${(error as Error).message}`) },
  );
  inbox.addRing(3, ringSab);
  inbox.start();
  const outbox = new Outbox(ringSab, doorbellSab);
  for (const word of ['x', 'bad', 'y']) outbox.send(Buffer.from(word));
  await until(() => got.length === 2);
  t.same(got, ['x', 'y']);
  t.same(errors, ['3:handler bug']);
  t.equal(inbox.stats.handlerErrors, 1);
  await inbox.close();
});

t.test('the default error report is an uncaught exception outside the loop', async (t) => {
  const doorbellSab = Doorbell.allocate();
  const ringSab = SpscRing.allocate(256);
  const inbox = new Inbox(doorbellSab, () => {
    throw new Error('unhandled handler bug');
  });
  inbox.addRing(1, ringSab);
  const caught = new Promise<Error>((resolve) => {
    const listeners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.once('uncaughtException', (error) => {
      for (const listener of listeners) process.on('uncaughtException', listener);
      resolve(error);
    });
  });
  new SpscRing(ringSab).tryWrite(new Uint8Array(1));
  t.equal(inbox.drainOnce(), 1, 'the pass itself did not throw');
  t.equal((await caught).message, 'unhandled handler bug');
});

t.test('close stops a parked loop, and no handler runs after it resolves', async (t) => {
  const doorbellSab = Doorbell.allocate();
  const ringSab = SpscRing.allocate(256);
  let calls = 0;
  const inbox = new Inbox(doorbellSab, () => calls++);
  inbox.addRing(1, ringSab);
  inbox.start();
  inbox.start(); // idempotent
  await until(() => new Doorbell(doorbellSab).isSleeping);
  await inbox.close();
  await inbox.close(); // idempotent
  t.notOk(new Doorbell(doorbellSab).isSleeping, 'producers will not ring a closed inbox');
  new Outbox(ringSab, doorbellSab).send(new Uint8Array(1));
  await new Promise((resolve) => setTimeout(resolve, 5));
  t.equal(calls, 0);
});

t.test('close from inside a handler, and close before start', async (t) => {
  const doorbellSab = Doorbell.allocate();
  const ringSab = SpscRing.allocate(256);
  let calls = 0;
  const inbox: Inbox = new Inbox(doorbellSab, () => {
    calls++;
    void inbox.close();
  });
  inbox.addRing(1, ringSab);
  const ring = new SpscRing(ringSab);
  ring.tryWrite(new Uint8Array(1));
  inbox.start();
  await until(() => calls > 0);
  await inbox.close();
  ring.tryWrite(new Uint8Array(1));
  await new Promise((resolve) => setTimeout(resolve, 5));
  t.equal(calls, 1);
  await new Inbox(Doorbell.allocate(), () => {}).close();
});

t.test('a ring added to a parked inbox is drained', async (t) => {
  const doorbellSab = Doorbell.allocate();
  const got: number[] = [];
  const inbox = new Inbox(doorbellSab, (_m, from) => got.push(from));
  inbox.start();
  await until(() => new Doorbell(doorbellSab).isSleeping);
  // Written before the inbox knew the ring: the producer saw no sleeper to ring (it was not ours yet).
  const ringSab = SpscRing.allocate(256);
  new SpscRing(ringSab).tryWrite(new Uint8Array(1));
  inbox.addRing(4, ringSab);
  await until(() => got.length === 1);
  t.same(got, [4]);
  await inbox.close();
});
