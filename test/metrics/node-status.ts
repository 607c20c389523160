import t from 'tap';
import { EventLoopDelayMonitor } from '../../src/metrics/event-loop-delay.js';
import { NODE_PHASES, NodeStatus, PHASE_REASONS } from '../../src/metrics/node-status.js';

t.test('the phase and the main event loop cross threads in one block', async (t) => {
  const main = new NodeStatus();
  const shard = new NodeStatus(main.buffer);
  t.equal(shard.phase, 'replaying', 'a new node replays first');
  for (const phase of NODE_PHASES) {
    main.phase = phase;
    t.equal(shard.phase, phase);
    t.equal(PHASE_REASONS[phase] === '', phase === 'ready', `${phase}: a reason unless ready`);
  }
  main.mainEventLoopDelay = { maxMs: 7.5, p99Ms: 2 };
  t.same(shard.mainEventLoopDelay, { maxMs: 7.5, p99Ms: 2 });
  t.throws(() => new NodeStatus(new SharedArrayBuffer(4)), RangeError);
});

t.test('the event-loop delay sees a stall, and keeps it one window more', async (t) => {
  const monitor = new EventLoopDelayMonitor(5, 60_000);
  t.teardown(() => monitor.stop());
  await new Promise((r) => setTimeout(r, 30));
  const spin = Date.now() + 60;
  while (Date.now() < spin) {
    // a stall of 60 ms
  }
  await new Promise((r) => setTimeout(r, 30));
  const seen = monitor.read();
  t.ok(seen.maxMs >= 40, `a 60 ms stall shows (max ${seen.maxMs} ms)`);
  t.ok(seen.p99Ms <= seen.maxMs);
  monitor.rotate();
  t.ok(monitor.read().maxMs >= 40, 'still seen in the next window');
  monitor.rotate();
  monitor.rotate();
  t.ok(monitor.read().maxMs < seen.maxMs, 'gone two windows later');
});
