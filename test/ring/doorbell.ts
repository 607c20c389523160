import t from 'tap';
import { Doorbell } from '../../src/ring/doorbell.js';

t.test('a producer rings only a sleeping consumer, and only once per sleep', async (t) => {
  const sab = Doorbell.allocate();
  const consumer = new Doorbell(sab);
  const producerA = new Doorbell(sab);
  const producerB = new Doorbell(sab);
  t.notOk(producerA.ring(), 'awake: no ring');
  const sequence = consumer.prepareToSleep();
  t.ok(consumer.isSleeping);
  t.ok(producerA.ring(), 'sleeping: rings');
  t.notOk(producerB.ring(), 'already rung: the second producer stays quiet');
  t.notOk(consumer.isSleeping, 'the ringing producer cleared the flag');
  t.equal(consumer.sleep(sequence), undefined, 'the sequence moved: sleep returns at once');
});

t.test('sleep resolves when a producer rings later', async (t) => {
  const sab = Doorbell.allocate();
  const consumer = new Doorbell(sab);
  const sequence = consumer.prepareToSleep();
  const woken = consumer.sleep(sequence);
  t.ok(woken, 'parked');
  setTimeout(() => new Doorbell(sab).ring(), 5);
  t.equal(await woken, 'ok');
  consumer.markAwake();
  t.notOk(consumer.isSleeping);
});

t.test('wakeSelf releases a pending sleep of the same thread', async (t) => {
  const consumer = new Doorbell(Doorbell.allocate());
  const woken = consumer.sleep(consumer.prepareToSleep());
  t.ok(woken);
  consumer.wakeSelf();
  t.equal(await woken, 'ok');
});
