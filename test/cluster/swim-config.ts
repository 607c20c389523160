import t from 'tap';
import { DEFAULT_SWIM_CONFIG, resolveSwimConfig, suspicionTimeoutMs } from '../../src/cluster/swim-config.js';
import { ErrorCodes } from '../../src/errors.js';

t.test('defaults are memberlist LAN and frozen', async (t) => {
  t.same(resolveSwimConfig(), DEFAULT_SWIM_CONFIG);
  t.ok(Object.isFrozen(DEFAULT_SWIM_CONFIG));
  t.equal(resolveSwimConfig({ probeIntervalMs: 2000 }).probeIntervalMs, 2000);
});

t.test('bad timings are config errors', async (t) => {
  for (const bad of [
    { probeIntervalMs: 0 },
    { probeTimeoutMs: -1 },
    { indirectChecks: 1.5 },
    { suspicionMult: 0 },
    { gossipNodes: Number.NaN },
    { probeTimeoutMs: 1000 },
    { maxPiggyback: 0 },
  ]) {
    t.throws(() => resolveSwimConfig(bad), { code: ErrorCodes.CONFIG }, JSON.stringify(bad));
  }
  t.doesNotThrow(() => resolveSwimConfig({ gossipIntervalMs: 0, pushPullIntervalMs: 0, indirectChecks: 0 }));
});

t.test('the suspicion timeout scales with log10 of the cluster size, at least mult intervals', async (t) => {
  const c = DEFAULT_SWIM_CONFIG;
  t.equal(suspicionTimeoutMs(c, 0), 3000);
  t.equal(suspicionTimeoutMs(c, 3), 3000);
  t.equal(suspicionTimeoutMs(c, 10), 3000);
  t.equal(suspicionTimeoutMs(c, 100), 6000);
  t.equal(suspicionTimeoutMs(c, 1000), 9000);
  t.equal(suspicionTimeoutMs({ ...c, suspicionMult: 4 }, 100), 8000);
});
