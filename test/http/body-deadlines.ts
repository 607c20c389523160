import t from 'tap';
import { BodyDeadlines } from '../../src/http/body-deadlines.js';

t.test('bodies past their deadline expire once; finished ones never', async (t) => {
  const deadlines = new BodyDeadlines(1000);
  t.teardown(() => deadlines.stop());
  const expired: string[] = [];
  const slow = deadlines.track(() => expired.push('slow'));
  const quick = deadlines.track(() => expired.push('quick'));
  t.equal(deadlines.size, 2);
  deadlines.done(quick);
  deadlines.sweep(Date.now() + 500);
  t.same(expired, [], 'not yet');
  deadlines.sweep(Date.now() + 1001);
  t.same(expired, ['slow']);
  deadlines.sweep(Date.now() + 5000);
  t.same(expired, ['slow'], 'once');
  t.equal(deadlines.size, 0);
  deadlines.done(slow); // harmless after expiry
});

t.test('0 means no deadline: nothing is tracked', async (t) => {
  const deadlines = new BodyDeadlines(0);
  t.equal(
    deadlines.track(() => t.fail('never')),
    undefined,
  );
  t.equal(deadlines.size, 0);
});

t.test('the sweeper expires a body on its own', async (t) => {
  const deadlines = new BodyDeadlines(100);
  t.teardown(() => deadlines.stop());
  const hold = setTimeout(() => t.fail('the sweeper never ran'), 3000); // the sweeper is unref'd
  await new Promise<void>((resolve) => deadlines.track(resolve));
  clearTimeout(hold);
  t.equal(deadlines.size, 0);
});
