import t from 'tap';
import { CLOCK_OFFSET_ENV, clockOffsetFrom, offsetClock } from '../../src/clock/fault-clock.js';
import { HybridLogicalClock } from '../../src/clock/hlc.js';

t.test('the offset comes from the environment, 0 when unset or blank', async (t) => {
  t.equal(clockOffsetFrom({}), 0);
  t.equal(clockOffsetFrom({ [CLOCK_OFFSET_ENV]: ' ' }), 0);
  t.equal(clockOffsetFrom({ [CLOCK_OFFSET_ENV]: '90000' }), 90_000);
  t.equal(clockOffsetFrom({ [CLOCK_OFFSET_ENV]: '-30000' }), -30_000);
  t.equal(clockOffsetFrom({ [CLOCK_OFFSET_ENV]: '1000000000' }), 1_000_000_000, 'at the bound');
});

t.test('a malformed or out-of-range offset is a configuration error naming the variable', async (t) => {
  for (const text of ['1.5', 'abc', '1e12', '1000000001', '-1000000001', '0x10']) {
    t.throws(
      () => clockOffsetFrom({ [CLOCK_OFFSET_ENV]: text }),
      {
        code: 'LALLY_ERR_CONFIG',
        message: new RegExp(
          `${CLOCK_OFFSET_ENV} must be a whole number.*${JSON.stringify(text).replace(/[.+]/g, '\\$&')}`,
        ),
      },
      text,
    );
  }
});

t.test('no offset is Date.now itself; an offset shifts the stamps of a clock built on it', async (t) => {
  t.equal(offsetClock(0), Date.now, 'the hot path pays nothing');
  const ahead = offsetClock(90_000);
  const before = Date.now();
  const shifted = ahead();
  t.ok(shifted >= before + 90_000 && shifted <= Date.now() + 90_000, 'ahead by the offset');
  const stamp = new HybridLogicalClock(7, offsetClock(-60_000)).tick();
  t.ok(stamp.wall <= Date.now() - 60_000, 'a clock behind stamps behind');
});
