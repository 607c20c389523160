import t from 'tap';
import { RateLimitedLog, RateLimitedLogs } from '../../src/log/rate-limited.js';
import { recordingLogger } from '../fixtures/aof-helpers.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

t.test('the first occurrence is logged, then one summary per interval', async (t) => {
  const { logger, lines } = recordingLogger();
  const log = new RateLimitedLog(logger, 'error', 'it failed', 100);
  for (let i = 0; i < 10_000; i++) log.log({ code: 'E', i });
  t.equal(lines.length, 1, 'a flood of 10,000 makes one line at once');
  t.match(lines[0], { level: 50, msg: 'it failed', code: 'E', i: 0 });
  t.equal(log.suppressed, 9999);
  await sleep(150);
  t.equal(lines.length, 2, 'the summary comes at the end of the interval without a new occurrence');
  t.match(lines[1], { msg: 'it failed (9999 more times)', repeated: 9999, i: 9999, intervalMs: 100 });
  log.log({ i: 'again' });
  t.equal(lines.length, 3, 'after a quiet interval the next one is logged at once');
  log.flush();
  t.equal(lines.length, 3, 'nothing counted: no summary');
});

t.test('keyed logs: a flood of one code does not hide another code', async (t) => {
  const { logger, lines } = recordingLogger();
  const logs = new RateLimitedLogs(logger, 10_000);
  for (let i = 0; i < 1000; i++) logs.log('error', 'LALLY_ERR_DISK_FULL', { i }, 'write failed');
  logs.log('warn', 'LALLY_ERR_BUSY', { i: 'other' }, 'write failed');
  t.equal(lines.length, 2, 'one line per key');
  t.match(lines[1], { level: 40, i: 'other' });
  logs.flush();
  t.equal(lines.length, 3, 'flush writes the held-back count');
  t.match(lines[2], { msg: 'write failed (999 more times)', repeated: 999 });
});
